package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
	"github.com/custody-ir/custody/shared/s3logs"
)

// fanOutScenario is the emulator state of TestFanOut: two flow logs to
// S3 on the instance's VPC (A) and subnet (B), and, with cw, a third on its
// interface to CloudWatch Logs.
type fanOutScenario struct {
	flA, flB string
	// inc is the case (the instance, the window); its RunID is the inline
	// run's.
	inc *incident.Incident
	// originals are the S3 objects in the window, by key in flowBucket.
	originals map[string][]byte
	// parquet is the Parquet object's key.
	parquet string
}

// fanOutScenario seeds the scenario's lines (DERIVED: the interface
// replaced by the instance's; with cw, times shifted to the last hours, as
// CloudWatch Logs refuses events older than 14 days). A's objects in the
// window: A1 (two lines of the interface, one of another, a line cut
// short), A2 (a line of the interface, a NODATA line, a line after the
// window) and a Parquet object; one after the window (not listed). B's: B1
// (two lines of the interface and a SKIPDATA line). With cw, the
// interface's stream holds two lines and the NODATA line.
func (e *env) fanOutScenario(t *testing.T, cw bool) fanOutScenario {
	t.Helper()
	base := utc(1604266544) // the scenario's first line's start
	if cw {
		base = time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	}
	delta := base.Unix() - 1604266544
	s := fanOutScenario{originals: map[string][]byte{}}
	s.flA = e.flowLogToS3(t, ec2types.FlowLogsResourceTypeVpc, e.vpc, "")
	s.flB = e.flowLogToS3(t, ec2types.FlowLogsResourceTypeSubnet, e.subnet, "")

	header := fileLines(t, "otel-collector-contrib/vpc_flow_v2_multi.log")[0]
	scen := scenarioLines(t)
	var mine []string
	for _, l := range scen {
		mine = append(mine, shifted(withENI(l, scenarioENI, e.eni), delta))
	}
	other := shifted(withENI(scen[1], scenarioENI, e.otherENI), delta)
	nodataLine := fileLines(t, "otel-collector-contrib/vpc_flow_v2_nodata.log")[1]
	nodata := withTimes(withENI(nodataLine, "eni-0eb1e4178af74336c", e.eni), base.Unix()+300, base.Unix()+360)
	skip := strings.Replace(withTimes(withENI(nodataLine, "eni-0eb1e4178af74336c", e.eni), base.Unix()+900, base.Unix()+960), "NODATA", "SKIPDATA", 1)
	cut := strings.Join(strings.Fields(mine[0])[:10], " ")

	put := func(fl string, at time.Duration, hash string, lines ...string) {
		key := flowKey(fl, base.Add(at), hash, ".log.gz")
		s.originals[key] = e.putFlowFile(t, key, lines...)
	}
	put(s.flA, 5*time.Minute, "a1a1a1a1", header, mine[0], mine[1], other, cut)
	put(s.flA, 10*time.Minute, "a2a2a2a2", header, mine[2], nodata, mine[3])
	put(s.flB, 7*time.Minute, "b1b1b1b1", header, mine[0], mine[2], skip)
	// An opaque stand-in for a Parquet file: copied, never read.
	s.parquet = flowKey(s.flA, base.Add(15*time.Minute), "a3a3a3a3", ".log.parquet")
	s.originals[s.parquet] = []byte("PAR1 not parsed PAR1")
	e.put(t, flowBucket, s.parquet, s.originals[s.parquet])
	// After the window and its pad: not listed.
	e.putFlowFile(t, flowKey(s.flA, base.Add(2*time.Hour), "a4a4a4a4", ".log.gz"), header, mine[4])

	if cw {
		const group = "/custody/vpc/fanout"
		if _, err := e.logs.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		e.flowLogToCW(t, ec2types.FlowLogsResourceTypeNetworkInterface, e.eni, group)
		msgs := []string{mine[0], mine[1], nodata}
		var at []time.Time
		for _, m := range msgs {
			at = append(at, utc(mustInt(t, strings.Fields(m)[10])))
		}
		e.putEvents(t, group, e.eni+"-all", at, msgs)
	}
	s.inc = newIncident(incident.Scope{Instances: []string{e.instance}}, incident.Window{Start: base.Add(-10 * time.Minute), End: base.Add(50 * time.Minute)})
	return s
}

// driver is a collect.Driver that may fan out (it reads stored results
// from the evidence bucket) with budget.
func (e *env) driver(t *testing.T, budget collect.Budget) *collect.Driver {
	w := evidence.NewWriter(e.s3, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
	return &collect.Driver{Writer: w, Version: "test", Now: func() time.Time { return fixedNow }, Results: e.s3, Bucket: testBucket, Budget: budget}
}

// rawLines reads a stored .jsonl.gz artifact's lines as they are.
func rawLines(t *testing.T, e *env, key string) []string {
	t.Helper()
	b := s3test.Body(t, e.s3, testBucket, key)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var shardExtract = regexp.MustCompile(`^extract-shard(\d{4})\.jsonl\.gz$`)

// TestFanOut runs the collector through collect.Driver with a budget the
// S3 objects exceed, the way the state machine does (the first
// invocation, each shard, the merge), and compares the merged result with
// the same scenario collected inline (no budget) in another run: the
// extracts hold the same records, the copies are the originals under the
// same names, the gaps are the same and each shard wrote its own extract.
func TestFanOut(t *testing.T) {
	cases := []struct {
		name   string
		cw     bool
		budget collect.Budget
		shards int // 0: read inline
	}{
		{name: "within budget: read inline", budget: collect.Budget{Objects: 100}},
		{name: "one object a shard", budget: collect.Budget{Objects: 1}, shards: 4},
		{name: "two objects a shard, across flow logs", budget: collect.Budget{Objects: 2}, shards: 2},
		{name: "by bytes: every object over the budget", budget: collect.Budget{Bytes: 1}, shards: 4},
		{name: "CloudWatch Logs read by the first invocation", cw: true, budget: collect.Budget{Objects: 1}, shards: 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := setup(t)
			s := e.fanOutScenario(t, tc.cw)

			// Inline: no budget.
			inlineRes, inline := e.collectCase(t, s.inc)

			// Fanned out: another run of the same case.
			inc := *s.inc
			inc.RunID = incident.RunIDFor(fixedNow.Add(time.Second))
			d := e.driver(t, tc.budget)
			c := e.handler(t, nil).Collector
			in := collect.Input{Incident: inc, Item: inc.Plan[0]}
			o, err := d.RunAll(ctx, c, in)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			first, final := o.First, o.Final
			var plan struct {
				Result evidence.CollectorResult `json:"result"`
				Shards []piece                  `json:"shards"`
			}
			if tc.shards == 0 {
				if first.Status != incident.StatusOK || first.Shards != nil {
					t.Fatalf("first invocation %+v, want ok without shards", first)
				}
			} else {
				if first.Status != incident.StatusFannedOut || len(first.Shards) != tc.shards {
					t.Fatalf("first invocation %+v, want fanned out to %d shards", first, tc.shards)
				}
				planKey, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, Name, "plan.json")
				if err != nil {
					t.Fatal(err)
				}
				b := s3test.Body(t, e.s3, testBucket, planKey)
				if err := json.Unmarshal(b, &plan); err != nil {
					t.Fatal(err)
				}
				checkPlan(t, e, s, plan.Shards, tc.budget)
				// The first invocation wrote no extract for the S3
				// objects: only the CloudWatch Logs destination's.
				want := []string{"flowlogs.json"}
				if tc.cw {
					want = []string{"cwl-custody_vpc_fanout-" + e.eni + ".jsonl.gz", "extract.jsonl.gz", "flowlogs.json"}
				}
				if got := artifactNames(&inc, plan.Result); !reflect.DeepEqual(got, want) {
					t.Errorf("first invocation's artifacts %q, want %q", got, want)
				}

				for _, r := range o.Shards {
					if r.Status != incident.StatusOK || r.Shard == nil {
						t.Fatalf("shard answered %+v", r)
					}
				}

				// The plan and the shards' results, under results/vpcflow/.
				dir := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/results/" + Name + "/"
				var work []string
				for _, k := range s3test.Keys(t, e.s3, testBucket, dir) {
					work = append(work, strings.TrimPrefix(k, dir))
				}
				wantWork := []string{"plan.json"}
				for i := 1; i <= tc.shards; i++ {
					wantWork = append(wantWork, fmt.Sprintf("shard-%04d.json", i))
				}
				sort.Strings(work)
				sort.Strings(wantWork)
				if !reflect.DeepEqual(work, wantWork) {
					t.Errorf("work files %q, want %q", work, wantWork)
				}
			}
			resKey, err := evidence.ResultKey(inc.CaseID, inc.RunID, Name)
			if err != nil {
				t.Fatal(err)
			}
			merged := e.stored(t, resKey)
			if final.Status != incident.StatusOK || merged.Status != incident.StatusOK || final.Records != inlineRes.Records {
				t.Errorf("merged %+v (%s), inline %+v", final, merged.Error, inlineRes)
			}
			compareFanOut(t, e, s, tc.cw, tc.shards, plan.Shards, s.inc, inline, &inc, merged)
		})
	}
}

// checkPlan: every object of the window is in exactly one piece, pieces
// within the budget's object count, each object with its flow log, the
// default format and the destination, and the scope as EC2 widened it.
func checkPlan(t *testing.T, e *env, s fanOutScenario, pieces []piece, budget collect.Budget) {
	t.Helper()
	seen := map[string]int{}
	for i, p := range pieces {
		n := 0
		for _, b := range p.FlowLogs {
			if b.Format != vpcflow.Default.String() || b.Bucket != flowBucket || !strings.HasPrefix(b.Base, "AWSLogs/"+account+"/vpcflowlogs/") || len(b.Objects) == 0 {
				t.Errorf("piece %d: batch %+v", i+1, b)
			}
			for _, o := range b.Objects {
				n++
				seen[o.Key]++
				if k, ok := ParseKeyName(o.Key); ok && k.FlowLogID != b.FlowLogID || o.Bucket != flowBucket || o.Size != int64(len(s.originals[o.Key])) {
					t.Errorf("piece %d: object %+v in the batch of %s", i+1, o, b.FlowLogID)
				}
			}
		}
		if budget.Objects > 0 && n > budget.Objects {
			t.Errorf("piece %d holds %d objects, over the budget's %d", i+1, n, budget.Objects)
		}
		if !reflect.DeepEqual(p.Scope.ENIs, []string{e.eni}) || !reflect.DeepEqual(p.Scope.PrivateIPs, []string{e.eniIP}) {
			t.Errorf("piece %d: scope %+v", i+1, p.Scope)
		}
	}
	for key := range s.originals {
		if seen[key] != 1 {
			t.Errorf("%s is in %d pieces", key, seen[key])
		}
	}
	if len(seen) != len(s.originals) {
		t.Errorf("pieces hold %d objects, want %d", len(seen), len(s.originals))
	}
}

// compareFanOut compares the merged result of a fanned-out run with the
// inline one.
func compareFanOut(t *testing.T, e *env, s fanOutScenario, cw bool, shards int, pieces []piece,
	inlineInc *incident.Incident, inline evidence.CollectorResult, inc *incident.Incident, merged evidence.CollectorResult) {
	t.Helper()
	byName := func(inc *incident.Incident, r evidence.CollectorResult) map[string]evidence.Artifact {
		m := map[string]evidence.Artifact{}
		for _, a := range r.Artifacts {
			m[strings.TrimPrefix(a.Key, runPrefix(inc))] = a
		}
		return m
	}
	in, out := byName(inlineInc, inline), byName(inc, merged)

	for name := range out {
		if _, ok := in[name]; !ok && !shardExtract.MatchString(name) {
			t.Errorf("merged result has %s, the inline one has not", name)
		}
	}
	// Everything but the extracts: the same names and bytes (the copies
	// byte for byte the originals), the same request and origin.
	copies := 0
	for name, a := range in {
		if name == ExtractName {
			continue
		}
		b, ok := out[name]
		if !ok {
			t.Errorf("merged result lacks %s", name)
			continue
		}
		if b.SHA256 != a.SHA256 || b.Size != a.Size || b.API != a.API || b.Records != a.Records ||
			!reflect.DeepEqual(b.Origin, a.Origin) || !reflect.DeepEqual(b.Request, a.Request) {
			t.Errorf("%s: merged %+v, inline %+v", name, b, a)
		}
		if a.API == "s3:CopyObject" {
			copies++
			orig, ok := s.originals[a.Origin.Key]
			body := s3test.Body(t, e.s3, testBucket, b.Key)
			if !ok || name != "s3/"+flowBucket+"/"+a.Origin.Key || !bytes.Equal(body, orig) {
				t.Errorf("%s is not the original %s", name, a.Origin.Key)
			}
		}
	}
	if copies != len(s.originals) {
		t.Errorf("%d copies, want %d", copies, len(s.originals))
	}

	// The extracts: the first invocation's holds the CloudWatch Logs
	// records (none without cw: no artifact), the shards' the S3 records,
	// in shard order, each shard with text objects its own artifact.
	inExt := in[ExtractName]
	cwLines, s3Lines := byOrigin(t, rawLines(t, e, inExt.Key))
	if len(s3Lines) != 7 || (cw && len(cwLines) != 3) || (!cw && cwLines != nil) {
		t.Fatalf("inline extract: %d S3 records, %d CloudWatch Logs records", len(s3Lines), len(cwLines))
	}
	var exts []string
	for name := range out {
		if name == ExtractName || shardExtract.MatchString(name) {
			exts = append(exts, name)
		}
	}
	sort.Strings(exts)
	var wantExts []string
	for i, p := range pieces {
		for _, b := range p.FlowLogs {
			if text := func() bool {
				for _, o := range b.Objects {
					if o.Key != s.parquet {
						return true
					}
				}
				return false
			}(); text {
				wantExts = append(wantExts, fmt.Sprintf("extract-shard%04d.jsonl.gz", i+1))
				break
			}
		}
	}
	if shards == 0 || cw {
		wantExts = append(wantExts, ExtractName)
	}
	if !reflect.DeepEqual(exts, wantExts) {
		t.Fatalf("merged extracts %q, want %q", exts, wantExts)
	}
	var gotS3, gotCW []string
	var records int64
	var firstEv, lastEv time.Time
	keys := map[string]bool{}
	for _, name := range exts {
		a := out[name]
		lines := rawLines(t, e, a.Key)
		if a.Records != int64(len(lines)) || a.API != inExt.API || !reflect.DeepEqual(a.Origin, inExt.Origin) || keys[a.Key] {
			t.Errorf("%s: %+v with %d lines", name, a, len(lines))
		}
		keys[a.Key] = true
		records += a.Records
		if a.FirstEvent != nil && (firstEv.IsZero() || a.FirstEvent.Before(firstEv)) {
			firstEv = *a.FirstEvent
		}
		if a.LastEvent != nil && a.LastEvent.After(lastEv) {
			lastEv = *a.LastEvent
		}
		cwl, s3l := byOrigin(t, lines)
		gotCW, gotS3 = append(gotCW, cwl...), append(gotS3, s3l...)
	}
	if !reflect.DeepEqual(gotS3, s3Lines) || !reflect.DeepEqual(gotCW, cwLines) {
		t.Errorf("merged extract records\nS3 %q\nCWL %q\nwant\nS3 %q\nCWL %q", gotS3, gotCW, s3Lines, cwLines)
	}
	if records != inExt.Records || inExt.FirstEvent == nil || !firstEv.Equal(*inExt.FirstEvent) || !lastEv.Equal(*inExt.LastEvent) {
		t.Errorf("merged extracts: %d records, %v to %v; inline %d, %v to %v", records, firstEv, lastEv, inExt.Records, inExt.FirstEvent, inExt.LastEvent)
	}

	// The same gaps (the Parquet object's among them); the same warnings,
	// the malformed line's named by its shard.
	sortGaps := func(g []evidence.Gap) []evidence.Gap {
		g = append([]evidence.Gap(nil), g...)
		sort.Slice(g, func(i, j int) bool { return g[i].Reason < g[j].Reason })
		return g
	}
	if !reflect.DeepEqual(sortGaps(merged.Gaps), sortGaps(inline.Gaps)) {
		t.Errorf("merged gaps %+v\ninline %+v", merged.Gaps, inline.Gaps)
	}
	parquetGap := false
	for _, g := range inline.Gaps {
		parquetGap = parquetGap || strings.HasPrefix(g.Reason, "flow log "+s.flA+": 1 Parquet objects in s3://"+flowBucket+"/")
	}
	if !parquetGap {
		t.Errorf("no Parquet gap in %+v", inline.Gaps)
	}
	malformed := "flow log " + s.flA + ": 1 of 7 lines in 2 objects could not be read"
	wantWarnings := inline.Warnings
	if shards > 0 {
		re := regexp.MustCompile(`^shard \d+ of ` + fmt.Sprint(shards) + `: flow log ` + s.flA + `: 1 of \d+ lines in [12] objects could not be read .*malformed record: 10 fields`)
		wantWarnings = nil
		for _, w := range inline.Warnings {
			if !strings.HasPrefix(w, malformed) {
				wantWarnings = append(wantWarnings, w)
			}
		}
		var rest []string
		n := 0
		for _, w := range merged.Warnings {
			if re.MatchString(w) {
				n++
			} else {
				rest = append(rest, w)
			}
		}
		if n != 1 || !reflect.DeepEqual(rest, wantWarnings) {
			t.Errorf("merged warnings %q, inline %q", merged.Warnings, inline.Warnings)
		}
	} else if !reflect.DeepEqual(merged.Warnings, wantWarnings) {
		t.Errorf("merged warnings %q, inline %q", merged.Warnings, inline.Warnings)
	}
	found := false
	for _, w := range inline.Warnings {
		found = found || strings.HasPrefix(w, malformed)
	}
	if !found {
		t.Errorf("inline warnings %q lack %q", inline.Warnings, malformed)
	}
}

// byOrigin splits extract lines into those of CloudWatch Logs events and
// those of S3 objects, each in order.
func byOrigin(t *testing.T, lines []string) (cw, s3 []string) {
	t.Helper()
	for _, l := range lines {
		var v Line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if v.Origin.LogGroup != "" {
			cw = append(cw, l)
		} else {
			s3 = append(s3, l)
		}
	}
	return cw, s3
}

// TestCutPieces: the objects of every batch, in order, cut by the budget;
// a piece holds parts of one or more flow logs, each with its format and
// destination.
func TestCutPieces(t *testing.T) {
	obj := func(key string, size int64) s3logs.Object { return s3logs.Object{Bucket: "b", Key: key, Size: size} }
	a := &s3Batch{FlowLogID: "fl-a", Format: vpcflow.Default.String(), Bucket: "b", Base: "AWSLogs/1/vpcflowlogs/r/",
		Objects: []s3logs.Object{obj("a1", 10), obj("a2", 10), obj("a3.parquet", 30)}}
	empty := &s3Batch{FlowLogID: "fl-e", Format: "${version}", Bucket: "b"}
	b := &s3Batch{FlowLogID: "fl-b", Format: "${version} ${srcaddr}", Bucket: "b", Base: "p/AWSLogs/1/vpcflowlogs/r/",
		Objects: []s3logs.Object{obj("b1", 10)}}
	sc := shardScope{ENIs: []string{"eni-1"}, PrivateIPs: []string{"10.0.0.1"}}
	part := func(from *s3Batch, objs ...s3logs.Object) s3Batch {
		c := *from
		c.Objects = objs
		return c
	}
	cases := []struct {
		name   string
		budget collect.Budget
		want   [][]s3Batch
	}{
		{name: "no budget", budget: collect.Budget{}},
		{name: "fits", budget: collect.Budget{Objects: 4, Bytes: 60}},
		{name: "one object a piece", budget: collect.Budget{Objects: 1}, want: [][]s3Batch{
			{part(a, obj("a1", 10))}, {part(a, obj("a2", 10))}, {part(a, obj("a3.parquet", 30))}, {part(b, obj("b1", 10))}}},
		{name: "across flow logs", budget: collect.Budget{Objects: 2}, want: [][]s3Batch{
			{part(a, obj("a1", 10), obj("a2", 10))}, {part(a, obj("a3.parquet", 30)), part(b, obj("b1", 10))}}},
		{name: "by bytes", budget: collect.Budget{Bytes: 25}, want: [][]s3Batch{
			{part(a, obj("a1", 10), obj("a2", 10))}, {part(a, obj("a3.parquet", 30))}, {part(b, obj("b1", 10))}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := cutPieces([]*s3Batch{a, empty, b}, sc, tc.budget)
			var want []piece
			for _, w := range tc.want {
				want = append(want, piece{Scope: sc, FlowLogs: w})
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("cutPieces\n%+v\nwant\n%+v", got, want)
			}
			// A piece is what the plan stores: it reads back the same.
			for i, p := range got {
				raw, err := json.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				var back piece
				if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, p) {
					t.Errorf("piece %d reads back as %+v (%v)", i+1, back, err)
				}
			}
		})
	}
}
