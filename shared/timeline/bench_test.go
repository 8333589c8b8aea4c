package timeline

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Time placeholders in the benchmark's record templates.
const (
	markRFC3339 = "@@RFC3339@@"
	markS3      = "@@S3TIME@@"
	markEpochS  = `"@@EPOCH_S@@"`
	markEpochMS = `"@@EPOCH_MS@@"`
	// markID is a CloudTrail record's eventID: each generated record gets
	// its own, or the timeline would take repeats of a template in the same
	// second for one record delivered twice.
	markID = "@@EVENTID@@"
)

// benchBase is the time the generated records start at.
var benchBase = time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)

// fillMarks is a template's line with its marks replaced by t, in each
// mark's form, and its eventID by one made of id.
func fillMarks(line []byte, t time.Time, id int) []byte {
	line = bytes.ReplaceAll(line, []byte(markRFC3339), []byte(t.Format("2006-01-02T15:04:05Z")))
	line = bytes.ReplaceAll(line, []byte(markS3), []byte(t.Format("02/Jan/2006:15:04:05 -0700")))
	line = bytes.ReplaceAll(line, []byte(markEpochS), []byte(strconv.FormatInt(t.Unix(), 10)))
	line = bytes.ReplaceAll(line, []byte(markEpochMS), []byte(strconv.FormatInt(t.UnixMilli(), 10)))
	return bytes.ReplaceAll(line, []byte(markID), []byte("bench-"+strconv.Itoa(id)))
}

// benchTemplate is a corpus record with its time fields replaced by marks.
type benchTemplate struct {
	source string
	line   []byte
}

// benchShare is each source's share of the generated events (percent): the
// high-volume sources of a case.
var benchShare = []struct {
	source, file string
	share        int
}{
	{"cloudtrail", "cloudtrail_stratus.derived.jsonl", 25},
	{"cloudtrail", "cloudtrail_opensearch.derived.jsonl", 15},
	{"vpcflow", "vpcflow.derived.jsonl", 30},
	{"s3access", "s3access.derived.jsonl", 15},
	{"cloudwatch", "cloudwatch.derived.jsonl", 10},
	{"dynamodb", "dynamodb_getrecords.derived.jsonl", 5},
}

// markTimes replaces a record's time fields by marks.
func markTimes(source string, m map[string]any) bool {
	switch source {
	case "cloudtrail":
		m["eventTime"] = markRFC3339
		m["eventID"] = markID
	case "vpcflow":
		if _, ok := m["srcaddr"].(string); !ok || m["srcaddr"] == "-" {
			return false
		}
		m["start"], m["end"] = "@@EPOCH_S@@", "@@EPOCH_S@@"
	case "s3access":
		m["time"] = "[" + markS3 + "]"
	case "cloudwatch":
		if _, ok := m["events"]; ok {
			return false
		}
		m["timestamp"], m["ingestionTime"] = "@@EPOCH_MS@@", "@@EPOCH_MS@@"
	case "dynamodb":
		d, ok := m["dynamodb"].(map[string]any)
		if !ok {
			return false
		}
		d["ApproximateCreationDateTime"] = "@@EPOCH_S@@"
	default:
		return false
	}
	return true
}

func loadTemplates(tb testing.TB) map[string][]benchTemplate {
	out := map[string][]benchTemplate{}
	for _, s := range benchShare {
		f, err := os.Open(filepath.Join("testdata", "extracts", s.file))
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil || !markTimes(s.source, m) {
				continue
			}
			b, _ := json.Marshal(m)
			out[s.file] = append(out[s.file], benchTemplate{s.source, b})
		}
		f.Close()
		if len(out[s.file]) == 0 {
			tb.Fatalf("no templates from %s", s.file)
		}
	}
	return out
}

// generate writes about n records, one .jsonl.gz per template file, by
// repeating the corpus records with shifted times: record i of the whole
// set gets base + perm(i) milliseconds, perm a permutation of [0, n), so
// each extract is out of order and the sort has work to do.
func generate(tb testing.TB, dir string, n int) []Input {
	tpl := loadTemplates(tb)
	const prime = 1_000_003 // coprime with every n used
	var ins []Input
	i := 0
	for _, s := range benchShare {
		count := n * s.share / 100
		path := filepath.Join(dir, s.file+".gz")
		f, err := os.Create(path)
		if err != nil {
			tb.Fatal(err)
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
		ts := tpl[s.file]
		for k := 0; k < count; k++ {
			ms := int64((uint64(i) * prime) % uint64(n))
			i++
			line := fillMarks(ts[k%len(ts)].line, benchBase.Add(time.Duration(ms)*time.Millisecond), i)
			// A flow record's identity is its fields (timeline copies of
			// one record are one event): a port of its own keeps the
			// repeated templates of one second distinct records.
			line = flowSrcPort.ReplaceAll(line, []byte(`"srcport":`+strconv.Itoa(1024+i%60000)))
			zw.Write(line)
			zw.Write([]byte{'\n'})
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		bw.Flush()
		f.Close()
		ins = append(ins, Input{Source: s.source, ArtifactKey: s.source + "/" + s.file + ".gz",
			Open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	return ins
}

var flowSrcPort = regexp.MustCompile(`"srcport":[0-9]+`)

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// peakSampler samples the heap while a build runs, with runtime/metrics
// (no stop-the-world, unlike runtime.ReadMemStats).
type peakSampler struct {
	stop           chan struct{}
	done           sync.WaitGroup
	heapInuse, sys uint64
	baseInuse      uint64
	samples        []metrics.Sample
}

const (
	metricHeapObjects = "/memory/classes/heap/objects:bytes"
	metricHeapUnused  = "/memory/classes/heap/unused:bytes"
	metricTotal       = "/memory/classes/total:bytes"
)

func startSampler() *peakSampler {
	runtime.GC()
	p := &peakSampler{stop: make(chan struct{}), samples: []metrics.Sample{
		{Name: metricHeapObjects}, {Name: metricHeapUnused}, {Name: metricTotal}}}
	p.sample()
	p.baseInuse = p.heapInuse
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				p.sample()
			}
		}
	}()
	return p
}

// sample records HeapInuse (heap objects plus unused heap spans) and Sys.
func (p *peakSampler) sample() {
	metrics.Read(p.samples)
	inuse := p.samples[0].Value.Uint64() + p.samples[1].Value.Uint64()
	p.heapInuse = max(p.heapInuse, inuse)
	p.sys = max(p.sys, p.samples[2].Value.Uint64())
}

func (p *peakSampler) finish() { close(p.stop); p.done.Wait(); p.sample() }

// BenchmarkBuild builds a timeline of about 200 k and 2 M events generated
// from the corpus records (CloudTrail, VPC flow, S3 access, CloudWatch,
// DynamoDB) by repetition with shifted times, with the default chunk (100 k
// events or 32 MiB): the 2 M build spills about 20 runs and merges them. It
// reports events/s, the peak heap in use and the process's peak Sys memory
// during the builds (sampled every 10 ms), the bytes written, and x-sort:
// the fastest build over the fastest LC_ALL=C sort of the same lines, the
// two run alternately pairRounds times (see sortLines); its last line
// judges the goal (goalVerdict): PASS or FAIL.
func BenchmarkBuild(b *testing.B) {
	// The inputs are generated once a size and live as long as this parent
	// benchmark: the testing package calls each sub-benchmark's function
	// again with a larger b.N, and a sub-benchmark's own cleanup runs after
	// each call.
	root := b.TempDir()
	inputs := map[int][]Input{}
	results := map[string]benchResult{}
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			ins, ok := inputs[size.n]
			if !ok {
				dir := filepath.Join(root, size.name)
				if err := os.Mkdir(dir, 0o700); err != nil {
					b.Fatal(err)
				}
				ins = generate(b, dir, size.n)
				inputs[size.n] = ins
			}
			tmp := b.TempDir()
			build := func() buildRun {
				cpu0, _ := processCPU()
				peak := startSampler()
				out := countWriter{}
				start := time.Now()
				st, err := Build(context.Background(), ins, &out, &out, io.Discard, tmp, Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
				wall := time.Since(start)
				peak.finish()
				cpu1, _ := processCPU()
				if err != nil {
					b.Fatal(err)
				}
				if st.TotalUntimed != 0 {
					b.Fatalf("%d untimed: %v", st.TotalUntimed, st.Untimed)
				}
				return buildRun{wall: wall, cpu: cpu1 - cpu0, peak: peak, stats: st, out: out.n}
			}
			b.ResetTimer()
			var runs []buildRun
			var events int64
			for range b.N {
				r := build()
				runs = append(runs, r)
				events += r.stats.TotalEvents
			}
			b.StopTimer()
			last := runs[len(runs)-1]
			st := last.stats
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(st.TotalEvents), "events")
			b.ReportMetric(float64(st.Runs), "runs")
			peakHeap, peakSys := 0.0, 0.0
			for _, r := range runs {
				peakHeap = max(peakHeap, float64(r.peak.heapInuse)/(1<<20))
				peakSys = max(peakSys, float64(r.peak.sys)/(1<<20))
			}
			res := benchResult{peakHeapMiB: peakHeap}
			if sorted, ok := sortLines(b, root, size.name, ins); ok {
				// Build's time over sort's, each the fastest of
				// pairRounds runs alternated with the other's (the
				// timed builds count as rounds): one build and then
				// two sorts gave ratios from 1.5 to 2.1 for one
				// binary, as the machine's other work came and went.
				var sorts []sortRun
				for i := 0; i < pairRounds; i++ {
					sorts = append(sorts, sorted())
					if i >= len(runs) {
						r := build()
						runs = append(runs, r)
						peakHeap = max(peakHeap, float64(r.peak.heapInuse)/(1<<20))
						peakSys = max(peakSys, float64(r.peak.sys)/(1<<20))
					}
				}
				res.peakHeapMiB = peakHeap
				bb, bs := fastestBuild(runs), fastestSort(sorts)
				ratio := bb.wall.Seconds() / bs.wall.Seconds()
				res.xSort = ratio
				b.ReportMetric(ratio, "x-sort")
				b.Logf("%s: fastest of %d builds %.2fs, of %d LC_ALL=C sorts of the same lines %.2fs, alternated: the build is %.2fx that",
					size.name, len(runs), bb.wall.Seconds(), len(sorts), bs.wall.Seconds(), ratio)
				if bb.cpu > 0 && bs.cpu > 0 {
					// The same in CPU time, which other work on the
					// machine moves far less than wall time.
					cpuRatio := bb.cpu.Seconds() / bs.cpu.Seconds()
					res.xSortCPU = cpuRatio
					b.ReportMetric(cpuRatio, "x-sort-cpu")
					b.Logf("%s: CPU time of those: build %.2fs, sort %.2fs: %.2fx", size.name, bb.cpu.Seconds(), bs.cpu.Seconds(), cpuRatio)
				}
			}
			b.ReportMetric(peakHeap, "peak-heap-MiB")
			b.ReportMetric(peakSys, "peak-sys-MiB")
			b.ReportMetric(float64(last.out)/(1<<20), "out-MiB")
			results[size.name] = res
			b.Logf("%s: records %v, duplicates %v", size.name, st.Records, st.Duplicates)
			b.Logf("%s: %d events, %d runs, peak HeapInuse %.1f MiB (%.1f before the last build), peak Sys %.1f MiB (of %d builds), output %.1f MiB",
				size.name, st.TotalEvents, st.Runs, peakHeap, float64(last.peak.baseInuse)/(1<<20), peakSys, len(runs), float64(last.out)/(1<<20))
			if size == benchSizes[len(benchSizes)-1] {
				// In the last size's log: a parent benchmark's own log
				// is not printed.
				b.Log(goalVerdict(results))
			}
		})
	}
}

// The goal the benchmark judges (issue #14): at 2 M events the build takes
// at most goalXSort times LC_ALL=C sort of the same lines, and its peak heap
// is flat: at most goalHeapGrowth times the 200 k build's for ten times the
// events (not 1.0: the collector's pacing moves a peak by a few MiB).
const (
	goalXSort      = 1.5
	goalHeapGrowth = 1.25
)

// benchResult is what goalVerdict judges of one size.
type benchResult struct {
	xSort       float64 // 0: no sort(1) to compare with
	xSortCPU    float64 // the same in CPU time (0: not measured); shown, not judged
	peakHeapMiB float64
}

// goalVerdict is the benchmark's PASS or FAIL line for the goal, from the
// sizes that ran (both are needed: the heap is judged 2M against 200k).
func goalVerdict(r map[string]benchResult) string {
	small, okSmall := r["events=200k"]
	large, okLarge := r["events=2M"]
	if !okSmall || !okLarge {
		return "goal (x-sort <= 1.5 at 2M, flat peak heap): not judged, it needs both sizes (-bench Build)"
	}
	if large.xSort == 0 {
		return "goal: not judged, no sort(1) to compare with"
	}
	growth := large.peakHeapMiB / small.peakHeapMiB
	verdict := "PASS"
	if large.xSort > goalXSort || growth > goalHeapGrowth {
		verdict = "FAIL"
	}
	return fmt.Sprintf("goal %s: x-sort at 2M %.2f (goal <= %.2f), peak heap 2M/200k %.1f/%.1f MiB = %.2f (goal <= %.2f); x-sort-cpu at 2M %.2f",
		verdict, large.xSort, goalXSort, large.peakHeapMiB, small.peakHeapMiB, growth, goalHeapGrowth, large.xSortCPU)
}

var benchSizes = []struct {
	name string
	n    int
}{{"events=200k", 200_000}, {"events=2M", 2_000_000}}

// pairRounds is how many times the benchmark runs LC_ALL=C sort, each
// before a build of its own (the b.N timed builds are the first of them):
// the fastest of each is compared, since on a shared machine one sort took
// from 4 to 49 seconds at 2 M, and one build's CPU time for the same work
// from 12 to 19 seconds.
const pairRounds = 3

// buildRun is one timed Build of the benchmark.
type buildRun struct {
	wall, cpu time.Duration
	peak      *peakSampler
	stats     Stats
	out       int64
}

// sortRun is one timed sort(1).
type sortRun struct{ wall, cpu time.Duration }

func fastestBuild(rs []buildRun) buildRun {
	return slices.MinFunc(rs, func(a, b buildRun) int { return cmp.Compare(a.wall, b.wall) })
}

func fastestSort(rs []sortRun) sortRun {
	return slices.MinFunc(rs, func(a, b sortRun) int { return cmp.Compare(a.wall, b.wall) })
}

// sortLines writes the inputs' lines, decompressed, to one file (once a
// size) and returns a function that times LC_ALL=C sort of it (to
// /dev/null), wall and CPU time (user and system): the plain sort of the
// same bytes the build reads, the floor a timeline build is compared with.
// False when there is no sort(1).
func sortLines(b *testing.B, root, name string, ins []Input) (func() sortRun, bool) {
	b.Helper()
	sortBin, err := exec.LookPath("sort")
	if err != nil {
		b.Logf("no sort(1): %v", err)
		return nil, false
	}
	path := filepath.Join(root, name+".lines")
	if _, err := os.Stat(path); err != nil {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, in := range ins {
			rc, err := in.Open()
			if err != nil {
				b.Fatal(err)
			}
			zr, err := gzip.NewReader(rc)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(f, zr); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return func() sortRun {
		cmd := exec.Command(sortBin, "-T", root, "-o", os.DevNull, path)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("sort: %v: %s", err, out)
		}
		return sortRun{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	}, true
}

// The verdict passes only when both goals are met, and judges nothing
// without both sizes and a sort to compare with.
func TestGoalVerdict(t *testing.T) {
	for _, c := range []struct {
		name string
		r    map[string]benchResult
		want string
	}{
		{"pass", map[string]benchResult{"events=200k": {3, 4, 80}, "events=2M": {1.2, 4, 90}}, "goal PASS"},
		{"slow", map[string]benchResult{"events=200k": {3, 4, 80}, "events=2M": {1.6, 1, 80}}, "goal FAIL"},
		{"heap grows", map[string]benchResult{"events=200k": {3, 4, 80}, "events=2M": {1, 1, 120}}, "goal FAIL"},
		{"one size", map[string]benchResult{"events=2M": {1, 1, 80}}, "not judged"},
		{"no sort", map[string]benchResult{"events=200k": {0, 0, 80}, "events=2M": {0, 0, 80}}, "not judged"},
	} {
		if got := goalVerdict(c.r); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q in it", c.name, got, c.want)
		}
	}
}
