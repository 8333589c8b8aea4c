package timeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
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

// Every line of timeline.jsonl parses and has what Timesketch requires, in
// time order; timeline.csv parses back with encoding/csv to the same events.
func TestOutputsParse(t *testing.T) {
	b := build(t, corpusInputs(t), Options{})
	var evs []map[string]any
	var last time.Time
	for i, line := range strings.Split(strings.TrimSuffix(string(b.jsonl), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, k := range []string{"datetime", "timestamp_desc", "message"} {
			if s, _ := m[k].(string); s == "" {
				t.Errorf("line %d: no %s", i+1, k)
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, m["datetime"].(string))
		if err != nil {
			t.Errorf("line %d: datetime: %v", i+1, err)
		}
		if ts.Before(last) {
			t.Errorf("line %d: %s before the line above", i+1, m["datetime"])
		}
		last = ts
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
	for i, r := range rows[1:] {
		for j, k := range CSVHeader[:10] {
			if r[j] != evs[i][k] {
				t.Errorf("row %d %s: CSV %q, JSONL %q", i+1, k, r[j], evs[i][k])
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
