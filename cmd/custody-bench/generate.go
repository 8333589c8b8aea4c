package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// corpus is where the real samples are (the repository's shared corpus).
type corpus struct {
	cloudTrail []string // JSON files: a bare array or {"Records":[...]}
	flowLogs   []string // v2 flow log files with a header
}

// defaultCorpus is the repository's copies of the samples.
var defaultCorpus = []string{"shared/logs/cloudtrail/testdata", "shared/logs/vpcflow/testdata"}

// findCorpus finds the samples under each root (the repository's testdata
// folders, or the shared corpus they were copied from).
func findCorpus(roots []string) (corpus, error) {
	var c corpus
	seen := map[string]bool{}
	add := func(list *[]string, files ...string) {
		for _, f := range files {
			if b := filepath.Base(f); !seen[b] && !strings.Contains(b, "malformed") {
				seen[b] = true
				*list = append(*list, f)
			}
		}
	}
	for _, root := range roots {
		for _, g := range []string{"stratus-red-team/*.json", "stratus-red-team/detonation-logs/*.json",
			"opensearch-catalog/*CloudTrail*.json.gz", "opensearch-catalog/cloudtrail_*.json"} {
			m, _ := filepath.Glob(filepath.Join(root, g))
			add(&c.cloudTrail, m...)
		}
		m, _ := filepath.Glob(filepath.Join(root, "otel-collector-contrib/vpc_flow_v2_*.log"))
		add(&c.flowLogs, m...)
	}
	if len(c.cloudTrail) == 0 || len(c.flowLogs) == 0 {
		return c, fmt.Errorf("no samples under %v (want stratus-red-team/*.json and otel-collector-contrib/vpc_flow_v2_*.log): run from the repository root or pass -corpus", roots)
	}
	return c, nil
}

// template is one real record, compacted, split around its eventID and
// eventTime values (in that order: the keys are sorted) so a copy with
// another ID and time is a few appends.
type template struct{ parts [3][]byte }

func (t template) render(dst []byte, at time.Time, id string) []byte {
	dst = append(dst, t.parts[0]...)
	dst = append(dst, id...)
	dst = append(dst, t.parts[1]...)
	dst = at.AppendFormat(dst, "2006-01-02T15:04:05Z")
	return append(dst, t.parts[2]...)
}

func newTemplate(rec map[string]any) (template, error) {
	rec["eventTime"], rec["eventID"] = "\x01TIME\x01", "\x01ID\x01"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return template{}, err
	}
	s := bytes.TrimSpace(b.Bytes())
	id, tm := []byte(`\u0001ID\u0001`), []byte(`\u0001TIME\u0001`)
	i, j := bytes.Index(s, id), bytes.Index(s, tm)
	if i < 0 || j < 0 || j < i {
		return template{}, fmt.Errorf("template markers not found")
	}
	return template{parts: [3][]byte{
		append([]byte(nil), s[:i]...),
		append([]byte(nil), s[i+len(id):j]...),
		append([]byte(nil), s[j+len(tm):]...),
	}}, nil
}

// cloudTrailTemplates reads every real record and returns, for each, a
// template as it is and one moved into the bench scope (its caller's
// access key and ARN replaced).
func cloudTrailTemplates(files []string) (plain, scoped []template, err error) {
	for _, f := range files {
		recs, err := readRecords(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, r := range recs {
			if _, ok := r["eventTime"]; !ok {
				continue
			}
			p, err := newTemplate(r)
			if err != nil {
				return nil, nil, err
			}
			id, _ := r["userIdentity"].(map[string]any)
			if id == nil {
				id = map[string]any{}
			}
			id["accessKeyId"], id["arn"], id["type"], id["accountId"] = scopeAccessKey, scopePrincipal, "IAMUser", scopeAccount
			delete(id, "sessionContext")
			r["userIdentity"] = id
			s, err := newTemplate(r)
			if err != nil {
				return nil, nil, err
			}
			plain, scoped = append(plain, p), append(scoped, s)
		}
	}
	if len(plain) == 0 {
		return nil, nil, fmt.Errorf("no CloudTrail records in %d sample files", len(files))
	}
	return plain, scoped, nil
}

func readRecords(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var list []any
	switch t := v.(type) {
	case []any:
		list = t
	case map[string]any:
		list, _ = t["Records"].([]any)
	}
	var out []map[string]any
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// genStats is what a generator wrote.
type genStats struct {
	Files   int
	Records int64
	InScope int64
	Bytes   int64 // decompressed
}

// fileBytes is the decompressed size of each generated file, about that of
// a busy account's CloudTrail file or flow log object.
const fileBytes = 8 << 20

// genCloudTrail writes CloudTrail log files under dir in the S3 layout
// (AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/..._CloudTrail_..json.gz)
// until total decompressed bytes are written: the real records repeated,
// each copy with its own eventTime and eventID, one in inScopeEvery moved
// into the bench scope.
func genCloudTrail(dir string, total int64, plain, scoped []template) (genStats, error) {
	nfiles := int((total + fileBytes - 1) / fileBytes)
	// Records a file: from the average template size.
	var avg int
	for _, t := range plain {
		avg += len(t.parts[0]) + len(t.parts[1]) + len(t.parts[2]) + 60
	}
	avg /= len(plain)
	perFile := fileBytes / avg
	step := 50 * time.Millisecond
	return generate(nfiles, func(i int) (string, func(w io.Writer) (genStats, error)) {
		first := i * perFile
		t0 := genStart.Add(time.Duration(first) * step)
		delivered := t0.Add(time.Duration(perFile)*step + 5*time.Minute).Truncate(time.Minute)
		name := filepath.Join(dir, "AWSLogs", scopeAccount, "CloudTrail", region, delivered.Format("2006/01/02"),
			fmt.Sprintf("%s_CloudTrail_%s_%s_%08x.json.gz", scopeAccount, region, delivered.Format("20060102T1504Z"), i))
		return name, func(w io.Writer) (genStats, error) {
			var st genStats
			buf := make([]byte, 0, 64<<10)
			buf = append(buf, `{"Records":[`...)
			for k := 0; k < perFile; k++ {
				n := first + k
				if k > 0 {
					buf = append(buf, ',')
				}
				tpl := plain[n%len(plain)]
				if n%inScopeEvery == inScopeEvery/2 {
					tpl = scoped[n%len(scoped)]
					st.InScope++
				}
				buf = tpl.render(buf, genStart.Add(time.Duration(n)*step), eventID(n))
				st.Records++
				if len(buf) > 48<<10 {
					if _, err := w.Write(buf); err != nil {
						return st, err
					}
					st.Bytes += int64(len(buf))
					buf = buf[:0]
				}
			}
			buf = append(buf, "]}"...)
			_, err := w.Write(buf)
			st.Bytes += int64(len(buf))
			return st, err
		}
	})
}

func eventID(n int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(n*2654435761), n>>16&0xffff, n&0xfff, (n>>12)&0xfff, uint64(n)*0x9e3779b97f4a7c15>>16)
}

// flowLine is one real v2 flow log record, as fields.
type flowLine []string

// flowSamples reads the real v2 records (header lines skipped).
func flowSamples(files []string) ([]flowLine, error) {
	var out []flowLine
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			fs := strings.Fields(l)
			if len(fs) != 14 || fs[0] != "2" {
				continue
			}
			out = append(out, fs)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no v2 flow log records in %v", files)
	}
	return out, nil
}

// genFlowLogs writes v2 flow log objects (gzip, header first) under dir in
// the S3 layout: the real records repeated with shifted start and end, on
// a few hundred interfaces, one line in inScopeEvery on scopeENI.
func genFlowLogs(dir string, total int64, samples []flowLine) (genStats, error) {
	nfiles := int((total + fileBytes - 1) / fileBytes)
	const header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	perFile := fileBytes / 110
	return generate(nfiles, func(i int) (string, func(w io.Writer) (genStats, error)) {
		first := i * perFile
		delivered := genStart.Add(time.Duration(first+perFile)*100*time.Millisecond + 10*time.Minute).Truncate(5 * time.Minute)
		name := filepath.Join(dir, "AWSLogs", scopeAccount, "vpcflowlogs", region, delivered.Format("2006/01/02"),
			fmt.Sprintf("%s_vpcflowlogs_%s_fl-0bench0000000001_%s_%08x.log.gz", scopeAccount, region, delivered.Format("20060102T1504Z"), i))
		return name, func(w io.Writer) (genStats, error) {
			var st genStats
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			buf := make([]byte, 0, 64<<10)
			buf = append(buf, header...)
			for k := 0; k < perFile; k++ {
				n := first + k
				s := samples[n%len(samples)]
				eni := fmt.Sprintf("eni-0%016x", uint64(rng.IntN(400))*0x9e3779b97f4a7c1&0xffffffffffffffff)
				if n%inScopeEvery == inScopeEvery/2 {
					eni = scopeENI
					st.InScope++
				}
				start := genStart.Unix() + int64(n/10)
				buf = append(buf, s[0]...)
				buf = append(buf, ' ')
				buf = append(buf, scopeAccount...)
				buf = append(buf, ' ')
				buf = append(buf, eni...)
				for _, f := range s[3:5] {
					buf = append(buf, ' ')
					buf = append(buf, f...)
				}
				if s[5] == "-" { // NODATA
					buf = append(buf, " - - - - -"...)
				} else {
					buf = append(buf, ' ')
					buf = strconv.AppendInt(buf, int64(32768+rng.IntN(28000)), 10)
					for _, f := range s[6:8] {
						buf = append(buf, ' ')
						buf = append(buf, f...)
					}
					pk := 1 + rng.IntN(200)
					buf = append(buf, ' ')
					buf = strconv.AppendInt(buf, int64(pk), 10)
					buf = append(buf, ' ')
					buf = strconv.AppendInt(buf, int64(pk*(40+rng.IntN(1400))), 10)
				}
				buf = append(buf, ' ')
				buf = strconv.AppendInt(buf, start, 10)
				buf = append(buf, ' ')
				buf = strconv.AppendInt(buf, start+60, 10)
				for _, f := range s[12:14] {
					buf = append(buf, ' ')
					buf = append(buf, f...)
				}
				buf = append(buf, '\n')
				st.Records++
				if len(buf) > 48<<10 {
					if _, err := w.Write(buf); err != nil {
						return st, err
					}
					st.Bytes += int64(len(buf))
					buf = buf[:0]
				}
			}
			_, err := w.Write(buf)
			st.Bytes += int64(len(buf))
			return st, err
		}
	})
}

// generate writes n gzip files, a few at a time; file(i) names the i-th
// and returns what writes its decompressed content.
func generate(n int, file func(i int) (string, func(io.Writer) (genStats, error))) (genStats, error) {
	var (
		mu    sync.Mutex
		total genStats
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name, write := file(i)
			st, err := writeGzip(name, write)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			total.Files++
			total.Records += st.Records
			total.InScope += st.InScope
			total.Bytes += st.Bytes
		}()
	}
	wg.Wait()
	return total, first
}

func writeGzip(name string, write func(io.Writer) (genStats, error)) (genStats, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return genStats{}, err
	}
	f, err := os.Create(name)
	if err != nil {
		return genStats{}, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	zw := gzip.NewWriter(bw) // the default level, as CloudTrail and flow logs are delivered
	st, err := write(zw)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st, err
}

// gzFiles lists the .gz files under dir, sorted (as S3 lists keys).
func gzFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".gz") {
			out = append(out, p)
		}
		return err
	})
	sort.Strings(out)
	return out, err
}
