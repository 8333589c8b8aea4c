package timeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testNow is the "now" of every golden build: after every corpus record,
// before the Timesketch fixture's 2227 event.
var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// sourceOf names an extract's source from its file name (cloudtrail_x.jsonl).
func sourceOf(name string) string {
	b := filepath.Base(name)
	if i := strings.IndexAny(b, "_."); i > 0 {
		return b[:i]
	}
	return b
}

// corpusInputs are the testdata extracts, keyed as <source>/<file>.
func corpusInputs(t testing.TB) []Input {
	files, err := filepath.Glob("testdata/extracts/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no extracts: %v", err)
	}
	var ins []Input
	for _, f := range files {
		ins = append(ins, Input{Source: sourceOf(f), ArtifactKey: sourceOf(f) + "/" + filepath.Base(f),
			Open: func() (io.ReadCloser, error) { return os.Open(f) }})
	}
	return ins
}

type built struct {
	jsonl, csv, untimed []byte
	stats               Stats
}

func build(t testing.TB, ins []Input, opts Options) built {
	t.Helper()
	var j, c, u bytes.Buffer
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	st, err := Build(context.Background(), ins, &j, &c, &u, t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return built{j.Bytes(), c.Bytes(), u.Bytes(), st}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got %s\nwant %s\n(run go test -update if intended)", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs: %d lines, want %d (run go test -update if intended)", name, len(gl), len(wl))
	}
}

func TestBuildGolden(t *testing.T) {
	b := build(t, corpusInputs(t), Options{})
	golden(t, "timeline.jsonl", b.jsonl)
	golden(t, "timeline.csv", b.csv)
	golden(t, "untimed.jsonl", b.untimed)
	st, _ := json.MarshalIndent(b.stats, "", "  ")
	golden(t, "stats.json", append(st, '\n'))

	// Every source of the corpus is on the timeline.
	for _, s := range SupportedSources() {
		if b.stats.Events[s] == 0 {
			t.Errorf("no events from %s", s)
		}
	}
	// Nothing is lost: every event and untimed record is accounted for.
	if n := int64(bytes.Count(b.jsonl, []byte("\n"))); n != b.stats.TotalEvents {
		t.Errorf("timeline.jsonl has %d lines, stats say %d events", n, b.stats.TotalEvents)
	}
	if n := int64(bytes.Count(b.untimed, []byte("\n"))); n != b.stats.TotalUntimed {
		t.Errorf("untimed.jsonl has %d lines, stats say %d", n, b.stats.TotalUntimed)
	}
}

// Every line of timeline.jsonl parses and has what Timesketch's importer
// requires (message, datetime, timestamp_desc; timestamp an integer in
// microseconds, data_type), in timestamp order, with datetime in one width
// (so that the lines' text order is their time order) and equal to
// timestamp; timeline.csv parses back with encoding/csv to the same events.
func TestOutputsParse(t *testing.T) {
	b := build(t, corpusInputs(t), Options{})
	var evs []map[string]any
	var last int64
	var lastDT string
	for i, line := range strings.Split(strings.TrimSuffix(string(b.jsonl), "\n"), "\n") {
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, k := range []string{"datetime", "timestamp_desc", "message", "data_type"} {
			if s, _ := m[k].(string); s == "" {
				t.Errorf("line %d: no %s", i+1, k)
			}
		}
		n, _ := m["timestamp"].(json.Number)
		us, err := n.Int64()
		if err != nil {
			t.Fatalf("line %d: timestamp %v is not an integer: %v", i+1, m["timestamp"], err)
		}
		dt, _ := m["datetime"].(string)
		if want := FormatTime(time.UnixMicro(us), DatetimePrecision); dt != want {
			t.Errorf("line %d: datetime %s, timestamp %d is %s", i+1, dt, us, want)
		}
		if us < last || dt < lastDT {
			t.Errorf("line %d: %d %s before the line above (%d %s)", i+1, us, dt, last, lastDT)
		}
		if o, _ := m["origins"].([]any); len(o) == 0 {
			t.Errorf("line %d: no origins", i+1)
		}
		last, lastDT = us, dt
		evs = append(evs, m)
	}
	rows, err := csv.NewReader(bytes.NewReader(b.csv)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	if !slices.Equal(rows[0], CSVHeader) {
		t.Fatalf("CSV header %v", rows[0])
	}
	if len(rows)-1 != len(evs) {
		t.Fatalf("CSV has %d rows, JSONL %d", len(rows)-1, len(evs))
	}
	jsonName := map[string]string{"datetime_utc": "datetime", "timestamp_utc_us": "timestamp"}
	for i, r := range rows[1:] {
		for j, k := range CSVHeader[:13] {
			if jk, ok := jsonName[k]; ok {
				k = jk
			}
			if want := CSVSafe(fmt.Sprint(evs[i][k])); r[j] != want {
				t.Errorf("row %d %s: CSV %q, JSONL %q", i+1, k, r[j], want)
			}
		}
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(b.untimed), "\n"), "\n") {
		var u Untimed
		if err := json.Unmarshal([]byte(line), &u); err != nil || u.Reason == "" || u.Source == "" || u.Artifact == "" {
			t.Errorf("untimed line %d: %v %+v", i+1, err, u)
		}
	}
}

// The external sort (tiny chunks, several merge passes) writes exactly what
// the in-memory sort writes; gzip'd inputs read the same as plain ones.
func TestExternalSortMatchesInMemory(t *testing.T) {
	mem := build(t, corpusInputs(t), Options{})
	if mem.stats.Runs != 0 {
		t.Fatalf("in-memory build spilled %d runs", mem.stats.Runs)
	}
	var gz []Input
	for _, in := range corpusInputs(t) {
		raw, err := os.ReadFile(strings.Replace(in.ArtifactKey, in.Source+"/", "testdata/extracts/", 1))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		data := buf.Bytes()
		in.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		gz = append(gz, in)
	}
	for _, o := range []Options{{ChunkEvents: 3}, {ChunkEvents: 3, MaxRuns: 2}, {ChunkEvents: 1}} {
		ext := build(t, gz, o)
		if ext.stats.Runs < 2 {
			t.Errorf("%+v: %d runs, want an external sort", o, ext.stats.Runs)
		}
		if !bytes.Equal(ext.jsonl, mem.jsonl) || !bytes.Equal(ext.csv, mem.csv) || !bytes.Equal(ext.untimed, mem.untimed) {
			t.Errorf("%+v: external sort output differs from in-memory", o)
		}
		ext.stats.Runs = 0
		a, _ := json.Marshal(ext.stats)
		b, _ := json.Marshal(mem.stats)
		if !bytes.Equal(a, b) {
			t.Errorf("%+v: stats differ:\n%s\n%s", o, a, b)
		}
	}
	dir := t.TempDir()
	if _, err := Build(context.Background(), gz, io.Discard, io.Discard, io.Discard, dir, Options{ChunkEvents: 2, MaxRuns: 3, Now: testNow}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("runs left behind: %v", entries)
	}
}

func stringInput(source, key, body string) Input {
	return Input{Source: source, ArtifactKey: key, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

// Equal times sort by source, artifact, record, then order within a record,
// whatever the input order and chunking.
func TestMergeOrderTies(t *testing.T) {
	ct := `{"eventTime":"2024-08-02T08:23:10Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"}
{"eventTime":"2024-08-02T08:23:10Z","eventSource":"s3.amazonaws.com","eventName":"PutObject"}
{"eventTime":"2024-08-02T08:23:09.999999999Z","eventSource":"s3.amazonaws.com","eventName":"Earlier"}
`
	fl := `{"srcaddr":"198.51.100.7","dstaddr":"10.0.0.5","srcport":443,"dstport":51000,"protocol":6,"start":1722586990,"end":1722587050,"action":"ACCEPT","log-status":"OK"}
`
	cw := `{"timestamp":1722586990000,"message":"ms precision, same instant"}
`
	ins := []Input{stringInput("vpcflow", "vpcflow/b.jsonl", fl), stringInput("cloudtrail", "cloudtrail/b.jsonl", ct),
		stringInput("cloudtrail", "cloudtrail/a.jsonl", ct), stringInput("cloudwatch", "cloudwatch/a.jsonl", cw)}
	want := []string{
		"cloudtrail cloudtrail/a.jsonl 2", "cloudtrail cloudtrail/b.jsonl 2",
		"cloudtrail cloudtrail/a.jsonl 0", "cloudtrail cloudtrail/a.jsonl 1",
		"cloudtrail cloudtrail/b.jsonl 0", "cloudtrail cloudtrail/b.jsonl 1",
		"cloudwatch cloudwatch/a.jsonl 0", "vpcflow vpcflow/b.jsonl 0",
	}
	for _, chunk := range []int{0, 1, 2} {
		b := build(t, ins, Options{ChunkEvents: chunk})
		got := order(b)
		if !slices.Equal(got, want) {
			t.Errorf("chunk %d:\n got %q\nwant %q", chunk, got, want)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// order is the timeline's events as "source artifact record", in order.
func order(b built) []string {
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b.jsonl)), "\n") {
		var e Event
		json.Unmarshal([]byte(line), &e)
		got = append(got, e.Source+" "+e.Artifact+" "+itoa(e.Record))
	}
	return got
}

// Bad lines are kept in untimed.jsonl with a reason, never dropped; a
// truncated gzip extract keeps what was read and says where it broke off.
func TestUntimedNeverDropped(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(strings.Repeat(`{"timestamp":1722586990000,"message":"x"}`+"\n", 2000)))
	zw.Close()
	trunc := z.Bytes()[:z.Len()/2]
	ins := []Input{
		stringInput("cloudtrail", "cloudtrail/bad.jsonl", "not json\n[1,2]\n\n{\"eventName\":\"NoTime\"}\n{\"eventTime\":\"2004-01-01T00:00:00Z\"}"),
		stringInput("ec2", "ec2/describe.jsonl", `{"Reservations":[]}`+"\n"),
		{Source: "cloudwatch", ArtifactKey: "cloudwatch/trunc.jsonl.gz", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(trunc)), nil
		}},
	}
	b := build(t, ins, Options{})
	if b.stats.Events["cloudtrail"] != 1 {
		t.Errorf("the 2004-01-01 record (no newline at the end) is not on the timeline: %s", b.jsonl)
	}
	wantReasons := map[string]map[string]int64{
		"cloudtrail": {ReasonMalformed: 2, ReasonMissingTime: 1},
		"ec2":        {ReasonUnsupportedSource: 1},
		"cloudwatch": {ReasonUnreadable: 1},
	}
	for src, rs := range wantReasons {
		for r, n := range rs {
			if got := b.stats.Untimed[src][r]; got != n {
				t.Errorf("%s %q: %d untimed, want %d (%v)", src, r, got, n, b.stats.Untimed)
			}
		}
	}
	if b.stats.Events["cloudwatch"] == 0 {
		t.Error("a truncated extract lost what could be read")
	}
	if !bytes.Contains(b.untimed, []byte(`"record":3,"reason":"missing time"`)) {
		t.Errorf("untimed pointer wrong (blank line 2 must still count):\n%s", b.untimed)
	}
}

// Out-of-range times use the "now" passed in.
func TestFutureBound(t *testing.T) {
	line := []byte(`{"eventTime":"2026-01-02T00:00:01Z"}`)
	if evs, _ := Normalize("cloudtrail", "k", 0, line, testNow); len(evs) != 0 {
		t.Error("more than a day after now accepted")
	}
	if evs, _ := Normalize("cloudtrail", "k", 0, line, testNow.Add(time.Second)); len(evs) != 1 {
		t.Error("within a day after now refused")
	}
}

// A CloudTrail record read from two extracts (two trails delivering one
// event, two shards of a fanned-out collector) is one event: the first by
// artifact order, with the counts taking the other out. Records without an
// eventID, or with different ones, are all kept however alike.
func TestCloudTrailDuplicatesAcrossExtracts(t *testing.T) {
	rec := func(id, name string) string {
		return `{"eventTime":"2024-08-02T08:23:10Z","eventSource":"s3.amazonaws.com","eventName":"` + name +
			`","userIdentity":{"arn":"arn:aws:iam::123456789012:user/a"}` + id + "}\n"
	}
	shard1 := rec(`,"eventID":"e-1"`, "GetObject") + rec(`,"eventID":"e-2"`, "GetObject") + rec("", "ListBucket")
	shard2 := rec(`,"eventID":"e-2"`, "GetObject") + rec(`,"eventID":"e-3"`, "GetObject") + rec("", "ListBucket")
	// The same eventID in another source is another record.
	other := `{"timestamp":1722586990000,"message":"x","eventID":"e-1"}` + "\n"
	ins := []Input{stringInput("cloudtrail", "cloudtrail/extract-shard0002.jsonl", shard2),
		stringInput("cloudtrail", "cloudtrail/extract-shard0001.jsonl", shard1),
		stringInput("cloudwatch", "cloudwatch/a.jsonl", other)}
	want := []string{
		"cloudtrail cloudtrail/extract-shard0001.jsonl 0", "cloudtrail cloudtrail/extract-shard0001.jsonl 1",
		"cloudtrail cloudtrail/extract-shard0001.jsonl 2",
		"cloudtrail cloudtrail/extract-shard0002.jsonl 1", "cloudtrail cloudtrail/extract-shard0002.jsonl 2",
		"cloudwatch cloudwatch/a.jsonl 0",
	}
	for _, chunk := range []int{0, 1, 2} {
		b := build(t, ins, Options{ChunkEvents: chunk})
		got := order(b)
		if !slices.Equal(got, want) {
			t.Errorf("chunk %d:\n got %q\nwant %q", chunk, got, want)
		}
		if n := strings.Count(string(b.csv), "\n"); n != len(want)+1 {
			t.Errorf("chunk %d: %d csv lines, want %d and the header", chunk, n, len(want))
		}
		st := b.stats
		if st.TotalEvents != 6 || st.Events["cloudtrail"] != 5 || st.Duplicates["cloudtrail"] != 1 || st.Actions["s3:GetObject"] != 3 ||
			st.Actors["arn:aws:iam::123456789012:user/a"] != 5 || st.Records["cloudtrail"] != 6 {
			t.Errorf("chunk %d: stats %+v", chunk, st)
		}
	}
}

// extractLines are lines of a testdata extract (1-based, in the order
// given), each with its newline.
func extractLines(t *testing.T, name string, nums ...int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "extracts", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out strings.Builder
	for _, n := range nums {
		out.WriteString(lines[n-1] + "\n")
	}
	return out.String()
}

// A small mixed case, golden: a VPC flow record delivered to both an S3
// and a CloudWatch Logs destination (the CloudWatch copy parsed from its
// text line, so its numbers are strings), a CloudTrail event from an
// organization trail and the account's own trail, and records of other
// sources at the same instants. Each duplicate is one line with both
// origins; a flow record that differs in one field (bytes) stays apart.
func TestDuplicatesGolden(t *testing.T) {
	s3 := extractLines(t, "vpcflow.derived.jsonl", 1, 2)
	cwl := `{"version":"2","account-id":"123456789010","interface-id":"eni-1235b8ca123456789","srcaddr":"172.31.16.139","dstaddr":"172.31.16.21","srcport":"20641","dstport":"22","protocol":"6","packets":"20","bytes":"4249","start":"1418530010","end":"1418530070","action":"ACCEPT","log-status":"OK"}` + "\n" +
		`{"version":"2","account-id":"123456789010","interface-id":"eni-1235b8ca123456789","srcaddr":"172.31.16.139","dstaddr":"172.31.16.21","srcport":"20641","dstport":"22","protocol":"6","packets":"20","bytes":"4250","start":"1418530010","end":"1418530070","action":"ACCEPT","log-status":"OK"}` + "\n"
	trail := extractLines(t, "cloudtrail_stratus.derived.jsonl", 1, 2)
	ins := []Input{
		stringInput("vpcflow", "vpcflow/s3-flowlogs-bucket.jsonl", s3),
		stringInput("vpcflow", "vpcflow/cwl-aws_vpc_flowlogs-eni-1235b8ca123456789.jsonl", cwl),
		stringInput("cloudtrail", "cloudtrail/org-trail.jsonl", trail),
		stringInput("cloudtrail", "cloudtrail/account-trail.jsonl", extractLines(t, "cloudtrail_stratus.derived.jsonl", 1)),
		stringInput("cloudwatch", "cloudwatch/app.jsonl", extractLines(t, "cloudwatch.derived.jsonl", 1, 2)),
	}
	for _, chunk := range []int{0, 1, 2} { // in memory, and through runs on disk
		b := build(t, ins, Options{ChunkEvents: chunk})
		golden(t, "duplicates.jsonl", b.jsonl)
		golden(t, "duplicates.csv", b.csv)
		if b.stats.Duplicates["vpcflow"] != 1 || b.stats.Duplicates["cloudtrail"] != 1 || b.stats.Duplicates["cloudwatch"] != 0 {
			t.Errorf("chunk %d: duplicates %v", chunk, b.stats.Duplicates)
		}
	}
}

// A cell a spreadsheet would run as a formula is text in timeline.csv:
// each of OWASP's leading characters gets a single quote, wherever the
// cell comes from (a record's field, an artifact key), and the rest of
// the row parses as it was.
func TestCSVFormulaInjection(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"equals", "=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"plus", "+1+1", "'+1+1"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"plain", "GetObject", "GetObject"},
		{"inner equals", "a=b", "a=b"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CSVSafe(tc.value); got != tc.want {
				t.Errorf("CSVSafe(%q) = %q, want %q", tc.value, got, tc.want)
			}
			v, _ := json.Marshal(tc.value)
			line := `{"eventTime":"2024-08-02T08:23:10Z","eventName":` + string(v) + `,"userAgent":"x"}` + "\n"
			b := build(t, []Input{stringInput("cloudtrail", "cloudtrail/"+tc.value, line)}, Options{})
			rows, err := csv.NewReader(bytes.NewReader(b.csv)).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("CSV %q: %v", b.csv, err)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			if got := rows[1][col["action"]]; got != tc.want {
				t.Errorf("action cell %q, want %q", got, tc.want)
			}
			if got, want := rows[1][col["artifact"]], CSVSafe("cloudtrail/"+tc.value); got != want {
				t.Errorf("artifact cell %q, want %q", got, want)
			}
			if got := rows[1][col["datetime_utc"]]; got != "2024-08-02T08:23:10.000000Z" {
				t.Errorf("datetime cell %q", got)
			}
		})
	}
}

// Copies are found however many events share their instant: below and
// past the size from which the group is indexed, each record of one busy
// second read from two trails is one event with both origins, in order.
func TestDuplicatesBusyInstant(t *testing.T) {
	for _, n := range []int{3, indexFrom - 1, indexFrom, indexFrom + 1, 4 * indexFrom} {
		var a, b strings.Builder
		for i := range n {
			fmt.Fprintf(&a, `{"eventTime":"2024-08-02T08:23:10Z","eventName":"E%d","eventID":"id-%d","recipientAccountId":"123456789012"}`+"\n", i, i)
			// The other trail has them in reverse, and one of its own.
			fmt.Fprintf(&b, `{"eventTime":"2024-08-02T08:23:10Z","eventName":"E%d","eventID":"id-%d","recipientAccountId":"123456789012"}`+"\n", n-1-i, n-1-i)
		}
		b.WriteString(`{"eventTime":"2024-08-02T08:23:10Z","eventName":"Only","eventID":"id-only","recipientAccountId":"123456789012"}` + "\n")
		got := build(t, []Input{stringInput("cloudtrail", "cloudtrail/a.jsonl", a.String()), stringInput("cloudtrail", "cloudtrail/b.jsonl", b.String())}, Options{})
		lines := strings.Split(strings.TrimSuffix(string(got.jsonl), "\n"), "\n")
		if len(lines) != n+1 || got.stats.Duplicates["cloudtrail"] != int64(n) || got.stats.TotalEvents != int64(n+1) {
			t.Fatalf("n=%d: %d lines, stats %+v", n, len(lines), got.stats)
		}
		for i, l := range lines[:n] {
			var e Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatal(err)
			}
			want := []Origin{{"cloudtrail/a.jsonl", int64(i)}, {"cloudtrail/b.jsonl", int64(n - 1 - i)}}
			if e.Action != fmt.Sprintf("E%d", i) || !slices.Equal(e.Origins, want) {
				t.Errorf("n=%d line %d: %s %v, want E%d %v", n, i, e.Action, e.Origins, i, want)
			}
		}
		if !strings.Contains(lines[n], `"Only"`) {
			t.Errorf("n=%d: last line %s", n, lines[n])
		}
	}
}

// Two sources' records of one key at one instant are two events, however
// busy the instant (the index is keyed by the key alone): a CloudTrail
// event whose account/eventID reads as a flow record's identity is not
// taken for the flow record, and the flow record's own copy still is.
func TestDuplicatesKeyAcrossSources(t *testing.T) {
	// The flow record's identity: its 14 key fields, space-joined, "a b/c
	// ..."; the CloudTrail record's: recipientAccountId "/" eventID.
	flow := `{"version":"a","account-id":"b/c","interface-id":"eni-1","srcaddr":"10.0.0.1","dstaddr":"10.0.0.2","srcport":1,"dstport":2,"protocol":6,"packets":1,"bytes":1,"start":1722586990,"end":1722586990,"action":"ACCEPT","log-status":"OK"}` + "\n"
	ctKey := `"recipientAccountId":"a b","eventID":"c eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1722586990 1722586990 ACCEPT OK"`
	for _, n := range []int{1, indexFrom, 2 * indexFrom} {
		var ct strings.Builder
		fmt.Fprintf(&ct, `{"eventTime":"2024-08-02T08:23:10Z","eventName":"Same",%s}`+"\n", ctKey)
		for i := range n {
			fmt.Fprintf(&ct, `{"eventTime":"2024-08-02T08:23:10Z","eventName":"E%d","eventID":"id-%d"}`+"\n", i, i)
		}
		ins := []Input{stringInput("cloudtrail", "cloudtrail/a.jsonl", ct.String()),
			stringInput("vpcflow", "vpcflow/s3.jsonl", flow), stringInput("vpcflow", "vpcflow/cwl.jsonl", flow)}
		got := build(t, ins, Options{})
		if got.stats.TotalEvents != int64(n+2) || got.stats.Duplicates["vpcflow"] != 1 || got.stats.Duplicates["cloudtrail"] != 0 {
			t.Errorf("n=%d: stats %+v, want %d events, the flow record's copy its only duplicate", n, got.stats, n+2)
		}
		if !bytes.Contains(got.jsonl, []byte(`"origins":[{"artifact":"vpcflow/cwl.jsonl","record":0},{"artifact":"vpcflow/s3.jsonl","record":0}]`)) {
			t.Errorf("n=%d: the flow record is not one event with both origins:\n%s", n, got.jsonl)
		}
	}
}
