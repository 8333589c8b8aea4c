package vpcflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// Test data: real public samples, see testdata/SOURCES.md.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fileLines returns the lines of a flow log file as S3 delivers it.
func fileLines(t testing.TB, name string) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, name)))
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// cwMessages returns the messages of a CloudWatch Logs subscription
// DATA_MESSAGE: flow log lines as CloudWatch Logs holds them, no header.
func cwMessages(t testing.TB, name string) [][]byte {
	var env struct {
		LogEvents []struct{ Message string } `json:"logEvents"`
	}
	if err := json.Unmarshal(readTestdata(t, name), &env); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range env.LogEvents {
		out = append(out, []byte(e.Message))
	}
	return out
}

// yamlLines returns the raw flow log lines of a panther-analysis scenario
// file (a YAML list under Logs:).
func yamlLines(t testing.TB, name string) [][]byte {
	var out [][]byte
	for _, l := range strings.Split(string(readTestdata(t, name)), "\n") {
		if s, ok := strings.CutPrefix(l, "  - "); ok {
			out = append(out, []byte(s))
		}
	}
	return out
}

type parsed struct {
	records   []Record
	headers   int
	malformed int
	format    Format
}

func parseAll(lines [][]byte, f Format) parsed {
	p := NewParser(f)
	var out parsed
	for _, l := range lines {
		r, err := p.Parse(l)
		switch {
		case errors.Is(err, ErrHeader):
			out.headers++
		case errors.Is(err, ErrMalformed):
			out.malformed++
		case err != nil:
			panic(err)
		default:
			out.records = append(out.records, r)
		}
	}
	out.format = p.Format()
	return out
}

func TestParseCorpus(t *testing.T) {
	const (
		otel    = "otel-collector-contrib/"
		eniDoc  = "eni-1235b8ca123456789"
		eniScen = "eni-0b13344793d4fde67"
	)
	cases := []struct {
		name      string
		lines     [][]byte
		logFormat string // the flow log's LogFormat; "" is the default
		headers   int
		malformed int
		fields    int // fields of the format in force at the end
		first     map[string]any
		records   int
		statuses  map[string]int
		start     time.Time
		end       time.Time
	}{
		{
			name: "v2 default with header", lines: fileLines(t, otel+"vpc_flow_v2_multi.log"),
			headers: 1, records: 2, fields: 14, statuses: map[string]int{"OK": 2},
			first: map[string]any{"version": int64(2), "account-id": "123456789010", "interface-id": eniDoc,
				"srcaddr": "172.31.16.139", "dstaddr": "172.31.16.21", "srcport": int64(20641), "dstport": int64(22),
				"protocol": int64(6), "packets": int64(20), "bytes": int64(4249), "start": int64(1418530010),
				"end": int64(1418530070), "action": "ACCEPT", "log-status": "OK"},
			start: time.Unix(1418530010, 0), end: time.Unix(1418530070, 0),
		},
		{
			name: "v2 NODATA", lines: fileLines(t, otel+"vpc_flow_v2_nodata.log"),
			headers: 1, records: 1, fields: 14, statuses: map[string]int{"NODATA": 1},
			first: map[string]any{"version": int64(2), "account-id": "12345678910", "interface-id": "eni-0eb1e4178af74336c",
				"srcaddr": nil, "dstaddr": nil, "srcport": nil, "dstport": nil, "protocol": nil, "packets": nil, "bytes": nil,
				"start": int64(1742570089), "end": int64(1742570142), "action": nil, "log-status": "NODATA"},
			start: time.Unix(1742570089, 0), end: time.Unix(1742570142, 0),
		},
		{
			name: "custom v7 ECS by header", lines: fileLines(t, otel+"vpc_flow_v5_custom_ecs.log"),
			headers: 1, records: 1, fields: 24, statuses: map[string]int{"OK": 1},
			first: map[string]any{"version": int64(5), "account-id": "123456789012", "interface-id": "eni-0abc1234def567890",
				"srcaddr": "10.0.1.100", "dstaddr": "10.0.2.200", "srcport": int64(49152), "dstport": int64(22),
				"protocol": int64(6), "packets": int64(15), "bytes": int64(3500), "start": int64(1700000000),
				"end": int64(1700000060), "action": "ACCEPT", "log-status": "OK",
				"ecs-cluster-arn":            "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster",
				"ecs-cluster-name":           "my-cluster",
				"ecs-container-instance-arn": "arn:aws:ecs:us-east-1:123456789012:container-instance/my-cluster/abcdef",
				"ecs-container-instance-id":  "abcdef1234567890",
				"ecs-container-id":           "container-1",
				"ecs-second-container-id":    "container-2",
				"ecs-service-name":           "my-service",
				"ecs-task-definition-arn":    "arn:aws:ecs:us-east-1:123456789012:task-definition/my-task:1",
				"ecs-task-arn":               "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/abcdef",
				"ecs-task-id":                "abcdef1234567890"},
			start: time.Unix(1700000000, 0), end: time.Unix(1700000060, 0),
		},
		{
			name: "transit gateway v6 by header", lines: fileLines(t, otel+"tgw_flow_v6_custom.log"),
			headers: 1, records: 1, fields: 31, statuses: map[string]int{"OK": 1},
			first: map[string]any{"version": int64(6), "account-id": "123456789012", "tgw-id": "tgw-0abc12345def67890",
				"tgw-attachment-id": "tgw-attach-0abc12345def67890", "tgw-src-vpc-id": "vpc-0abc12345def67890",
				"tgw-dst-vpc-id": "vpc-0def12345abc67890", "tgw-src-subnet-id": "subnet-0abc12345def67890",
				"tgw-dst-subnet-id": "subnet-0def12345abc67890", "tgw-src-eni": "eni-0abc12345def67890",
				"tgw-dst-eni": "eni-0def12345abc67890", "tgw-src-az-id": "use1-az1", "tgw-dst-az-id": "use1-az2",
				"tgw-pair-attachment-id": "tgw-attach-0def12345abc67890", "srcaddr": "10.0.0.1", "dstaddr": "10.0.1.1",
				"srcport": int64(12345), "dstport": int64(443), "protocol": int64(6), "packets": int64(10), "bytes": int64(1000),
				"packets-lost-no-route": int64(1), "packets-lost-blackhole": int64(2), "packets-lost-mtu-exceeded": int64(3),
				"packets-lost-ttl-expired": int64(4), "start": int64(1700000000), "end": int64(1700000060), "log-status": "OK",
				"type": "IPv4", "tcp-flags": int64(2), "flow-direction": "ingress", "region": "us-east-1"},
			start: time.Unix(1700000000, 0), end: time.Unix(1700000060, 0),
		},
		{
			name: "CloudWatch Logs events, default format", lines: cwMessages(t, otel+"vpc_flow_cwlogs_subscription_default.json"),
			records: 2, fields: 14, statuses: map[string]int{"OK": 2},
			first: map[string]any{"version": int64(2), "account-id": "123456789010", "interface-id": eniDoc,
				"srcaddr": "172.31.16.139", "dstaddr": "172.31.16.21", "srcport": int64(20641), "dstport": int64(22),
				"protocol": int64(6), "packets": int64(20), "bytes": int64(4249), "start": int64(1418530010),
				"end": int64(1418530070), "action": "ACCEPT", "log-status": "OK"},
			start: time.Unix(1418530010, 0), end: time.Unix(1418530070, 0),
		},
		{
			// Four-field lines read with the default format: too few fields.
			name: "CloudWatch Logs custom events without their LogFormat", lines: cwMessages(t, otel+"vpc_flow_cwlogs_subscription_custom.json"),
			malformed: 2, fields: 14,
		},
		{
			name: "CloudWatch Logs custom events by LogFormat", lines: cwMessages(t, otel+"vpc_flow_cwlogs_subscription_custom.json"),
			logFormat: "${version} ${interface-id} ${srcaddr} ${dstaddr}",
			records:   2, fields: 4, statuses: map[string]int{"": 2},
			first: map[string]any{"version": int64(2), "interface-id": eniDoc, "srcaddr": "172.31.16.139", "dstaddr": "172.31.16.21"},
		},
		{
			name: "scenario raw v2 lines", lines: yamlLines(t, "panther-analysis/attacker_vpc.yml"),
			records: 6, fields: 14, statuses: map[string]int{"OK": 6},
			first: map[string]any{"version": int64(2), "account-id": "493859302102", "interface-id": eniScen,
				"srcaddr": "92.55.146.245", "dstaddr": "172.31.77.31", "srcport": int64(48316), "dstport": int64(22),
				"protocol": int64(6), "packets": int64(19), "bytes": int64(7119), "start": int64(1604266544),
				"end": int64(1604266560), "action": "ACCEPT", "log-status": "OK"},
			start: time.Unix(1604266544, 0), end: time.Unix(1604266560, 0),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFormat(c.logFormat)
			if err != nil {
				t.Fatal(err)
			}
			got := parseAll(c.lines, f)
			if got.headers != c.headers || got.malformed != c.malformed || len(got.records) != c.records {
				t.Fatalf("headers %d malformed %d records %d, want %d %d %d", got.headers, got.malformed, len(got.records), c.headers, c.malformed, c.records)
			}
			if got.format.Len() != c.fields {
				t.Errorf("format has %d fields, want %d", got.format.Len(), c.fields)
			}
			statuses := map[string]int{}
			for _, r := range got.records {
				statuses[r.LogStatus()]++
				if len(r.Fields) != c.fields {
					t.Errorf("record has %d fields, want %d", len(r.Fields), c.fields)
				}
			}
			if c.records == 0 {
				return
			}
			if !reflect.DeepEqual(statuses, c.statuses) {
				t.Errorf("log statuses %v, want %v", statuses, c.statuses)
			}
			r := got.records[0]
			if !reflect.DeepEqual(r.Fields, c.first) {
				t.Errorf("first record\n%#v\nwant\n%#v", r.Fields, c.first)
			}
			if !r.Start.Equal(c.start) || !r.End.Equal(c.end) {
				t.Errorf("start %v end %v, want %v %v", r.Start, r.End, c.start, c.end)
			}
		})
	}
}

func TestMalformedLinesGoOn(t *testing.T) {
	lines := fileLines(t, "otel-collector-contrib/vpc_flow_v2_multi.log")
	// The first record cut after its bytes field, and one with a word
	// where a port goes: both malformed; the record after each still read.
	cut := bytes.Join(bytes.Fields(lines[1])[:10], []byte(" "))
	word := bytes.Replace(lines[1], []byte(" 20641 "), []byte(" http "), 1)
	long := append(append([]byte(nil), lines[2]...), " extra"...)
	in := [][]byte{lines[0], cut, lines[1], word, long, lines[2]}
	got := parseAll(in, Default)
	if got.headers != 1 || got.malformed != 3 || len(got.records) != 2 {
		t.Fatalf("headers %d malformed %d records %d, want 1 3 2", got.headers, got.malformed, len(got.records))
	}
	_, err := Default.Parse(cut)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "10 fields, the format has 14 (too few)") {
		t.Errorf("cut line: %v", err)
	}
	_, err = Default.Parse(word)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `srcport is "http"`) {
		t.Errorf("word line: %v", err)
	}
}

func TestSkipData(t *testing.T) {
	// A SKIPDATA record has the NODATA record's shape (AWS writes "-" for
	// every field but the interface, times and status).
	line := bytes.Replace(fileLines(t, "otel-collector-contrib/vpc_flow_v2_nodata.log")[1], []byte("NODATA"), []byte("SKIPDATA"), 1)
	r, err := Default.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if r.LogStatus() != StatusSkipData || r.Fields["bytes"] != nil || r.String("interface-id") != "eni-0eb1e4178af74336c" {
		t.Errorf("%#v", r.Fields)
	}
}

func TestFormats(t *testing.T) {
	if got := Default.Fields(); len(got) != 14 || got[0] != "version" || got[13] != "log-status" {
		t.Errorf("default fields %q", got)
	}
	if Default.String() != DefaultFormat {
		t.Errorf("default format %q", Default.String())
	}
	f, err := ParseFormat("  ${vpc-id} ${interface-id}  ${new-field-2030} ")
	if err != nil || f.Len() != 3 || !f.Has("new-field-2030") {
		t.Errorf("ParseFormat: %v %v", f, err)
	}
	for _, bad := range []string{"version srcaddr", "${} x", "${srcaddr"} {
		if _, err := ParseFormat(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseFormat(%q): %v", bad, err)
		}
	}
	for _, line := range []string{"2 123 eni-1 - - - - - - - 1 2 - NODATA", "- eni-1", "eni-1 10.0.0.1", ""} {
		if _, ok := HeaderFormat([]byte(line)); ok {
			t.Errorf("%q read as a header", line)
		}
	}
	// A header without version: every field a documented one.
	if f, ok := HeaderFormat([]byte("interface-id srcaddr dstaddr start end")); !ok || f.Len() != 5 {
		t.Errorf("header without version: %v %v", f, ok)
	}
	for _, fl := range Fields {
		if !Known(fl.Name) {
			t.Errorf("%s not known", fl.Name)
		}
	}
	seen := map[string]bool{}
	for _, fl := range Fields {
		if seen[fl.Name] {
			t.Errorf("%s listed twice", fl.Name)
		}
		seen[fl.Name] = true
	}
}

func TestMatcher(t *testing.T) {
	lines := yamlLines(t, "panther-analysis/attacker_vpc.yml")
	recs := parseAll(lines, Default).records
	at := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	// Record starts: 1604266544, 1604266545, 1604266590, 1604271590, 1604271600, 1604271660.
	// Record ends:   1604266560, 1604266560, 1604266591, 1604271595, 1604271660, 1604271690.
	cases := []struct {
		name  string
		scope incident.Scope
		w     incident.Window
		want  []int
	}{
		{"ENI, whole scenario", incident.Scope{ENIs: []string{"eni-0b13344793d4fde67"}}, incident.Window{Start: at(1604266000), End: at(1604272000)}, []int{0, 1, 2, 3, 4, 5}},
		{"other ENI", incident.Scope{ENIs: []string{"eni-1235b8ca123456789"}}, incident.Window{Start: at(1604266000), End: at(1604272000)}, nil},
		{"remote IP", incident.Scope{RemoteIPs: []string{"92.55.146.245"}}, incident.Window{Start: at(1604266000), End: at(1604272000)}, []int{0, 1, 4, 5}},
		{"public IP", incident.Scope{PublicIPs: []string{"52.216.229.53"}}, incident.Window{Start: at(1604266000), End: at(1604272000)}, []int{3}},
		{"private IP", incident.Scope{PrivateIPs: []string{"172.31.77.1"}}, incident.Window{Start: at(1604266000), End: at(1604272000)}, []int{2}},
		// A record that started before the window and ended in it overlaps.
		{"end overlaps window start", incident.Scope{ENIs: []string{"eni-0b13344793d4fde67"}}, incident.Window{Start: at(1604266560), End: at(1604271590)}, []int{0, 1, 2, 3}},
		{"one second after", incident.Scope{ENIs: []string{"eni-0b13344793d4fde67"}}, incident.Window{Start: at(1604266561), End: at(1604271589)}, []int{2}},
		{"empty scope", incident.Scope{}, incident.Window{Start: at(1604266000), End: at(1604272000)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMatcher(c.scope, c.w)
			var got []int
			for i, r := range recs {
				if m.Match(r) {
					got = append(got, i)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("matched %v, want %v", got, c.want)
			}
		})
	}

	// Transit Gateway records name their interfaces in tgw-src-eni and
	// tgw-dst-eni; pkt-srcaddr counts like srcaddr; IPv6 compares
	// canonically.
	tgw := parseAll(fileLines(t, "otel-collector-contrib/tgw_flow_v6_custom.log"), Default).records[0]
	all := incident.Window{Start: at(0), End: at(2000000000)}
	if !NewMatcher(incident.Scope{ENIs: []string{"eni-0def12345abc67890"}}, all).Match(tgw) {
		t.Error("tgw-dst-eni not matched")
	}
	pkt := Record{Fields: map[string]any{"pkt-srcaddr": "2001:db8:0:0:0:0:0:1", "srcaddr": "10.0.0.9"}}
	if !NewMatcher(incident.Scope{RemoteIPs: []string{"2001:db8::1"}}, all).Match(pkt) {
		t.Error("pkt-srcaddr IPv6 not matched")
	}
	if NewMatcher(incident.Scope{RemoteIPs: []string{"10.0.0.10"}}, all).Match(pkt) {
		t.Error("matched another address")
	}
}

// BenchmarkParseMatch parses and matches the scenario's lines (not part of
// the tests; for the flow log extract's throughput).
func BenchmarkParseMatch(b *testing.B) {
	lines := yamlLines(b, "panther-analysis/attacker_vpc.yml")
	m := NewMatcher(incident.Scope{ENIs: []string{"eni-0123456789abcdef0"}, PrivateIPs: []string{"10.0.0.1"}},
		incident.Window{Start: time.Unix(1604266000, 0), End: time.Unix(1604272000, 0)})
	var n int64
	for _, l := range lines {
		n += int64(len(l) + 1)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	p := NewParser(Default)
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			r, err := p.Parse(l)
			if err != nil {
				b.Fatal(err)
			}
			m.Match(r)
		}
	}
}

func TestMayMatch(t *testing.T) {
	lines := yamlLines(t, "panther-analysis/attacker_vpc.yml")
	all := incident.Window{Start: time.Unix(0, 0), End: time.Unix(2000000000, 0)}
	for _, c := range []struct {
		scope incident.Scope
		want  int
	}{
		{incident.Scope{ENIs: []string{"eni-0b13344793d4fde67"}}, 6},
		{incident.Scope{ENIs: []string{"eni-1235b8ca123456789"}}, 0},
		{incident.Scope{RemoteIPs: []string{"92.55.146.245"}}, 4},
		{incident.Scope{PrivateIPs: []string{"172.31.77.1"}}, 1},
		{incident.Scope{PrivateIPs: []string{"172.31.77.3"}}, 6}, // a prefix of 172.31.77.31: a candidate, not a match
		{incident.Scope{RemoteIPs: []string{"2001:db8::1"}}, 6},  // IPv6: every line
		{incident.Scope{}, 0},
	} {
		m := NewMatcher(c.scope, all)
		n, matched := 0, 0
		for _, l := range lines {
			if m.MayMatch(l) {
				n++
			}
			r, _ := Default.Parse(l)
			if m.Match(r) {
				matched++
				if !m.MayMatch(l) {
					t.Errorf("%+v: %s matches but is no candidate", c.scope, l)
				}
			}
		}
		if n != c.want {
			t.Errorf("%+v: %d candidates, want %d", c.scope, n, c.want)
		}
	}
	for line, want := range map[string]int{"": 0, "  a  b\tc ": 3, "2 123 eni-1 - - - - - - - 1 2 - NODATA": 14} {
		if got := CountFields([]byte(line)); got != want {
			t.Errorf("CountFields(%q) = %d, want %d", line, got, want)
		}
	}
}

// BenchmarkCandidates is the reader's common case: lines of other
// interfaces, skipped after MayMatch and CountFields.
func BenchmarkCandidates(b *testing.B) {
	lines := yamlLines(b, "panther-analysis/attacker_vpc.yml")
	m := NewMatcher(incident.Scope{ENIs: []string{"eni-0123456789abcdef0"}, PrivateIPs: []string{"10.0.0.1"}},
		incident.Window{Start: time.Unix(1604266000, 0), End: time.Unix(1604272000, 0)})
	var n int64
	for _, l := range lines {
		n += int64(len(l) + 1)
	}
	b.SetBytes(n)
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			if _, h := HeaderFormat(l); !h && !m.MayMatch(l) && CountFields(l) != Default.Len() {
				b.Fatal("malformed")
			}
		}
	}
}

// TestParserSharesBoxes reads lines with one Parser, which shares the
// boxed values of a line with the next: every record, checked after all
// were read, has the fields Format.Parse (which shares nothing) reads,
// across values that repeat, change, go to "-" and back, and a header that
// moves the fields; a Line made of a record has its message whether or not
// it is the line parsed last.
func TestParserSharesBoxes(t *testing.T) {
	header := "version interface-id srcaddr start end bytes log-status"
	lines := []string{
		"2 123 eni-1 10.0.0.1 10.0.0.2 40000 443 6 300 70000 1418530010 1418530070 ACCEPT OK",
		"2 123 eni-1 10.0.0.1 10.0.0.2 40000 443 6 300 70000 1418530010 1418530070 ACCEPT OK",
		"2 123 eni-1 10.0.0.3 10.0.0.2 40001 443 6 301 70000 1418530011 1418530070 REJECT OK",
		"2 123 eni-2 - - - - - - - 1418530011 1418530070 - NODATA",
		"2 123 eni-2 10.0.0.3 10.0.0.2 40001 443 6 301 70000 1418530011 1418530070 REJECT OK",
		"2\t123  eni-2 10.0.0.3 10.0.0.2 0040001 443 6 +301 9223372036854775807 1418530011 1418530070 REJECT OK ",
		header,
		"5 eni-2 10.0.0.3 1418530011 1418530070 70000 OK",
		"5 1418530011 10.0.0.3 1418530011 1418530070 eni-2 OK", // malformed: start of a text field's value
		"5 eni-3 10.0.0.3 1418530011 1418530070 70000 OK",
		"5 eni-2 10.0.0.3 1418530011 1418530070 70001 OK", // the value before the last
		"5 eni-3 10.0.0.4 1418530011 1418530070 70000 OK",
	}
	p := NewParser(Default)
	type read struct {
		line   string
		format Format
		rec    Record
	}
	var got []read
	for _, s := range lines {
		f := p.Format()
		rec, err := p.Parse([]byte(s))
		if errors.Is(err, ErrHeader) {
			continue
		}
		_, want := f.Parse([]byte(s))
		if (err == nil) != (want == nil) || (err != nil && err.Error() != want.Error()) {
			t.Fatalf("%q: Parser %v, Format %v", s, err, want)
		}
		if err == nil {
			got = append(got, read{s, f, rec})
			if l := NewLine(rec, "fl-1", evidence.Origin{}, p, []byte(s)); l.Message != s {
				t.Errorf("message %q, want %q", l.Message, s)
			}
		}
	}
	if len(got) != 10 {
		t.Fatalf("%d records, want 10", len(got))
	}
	for _, r := range got {
		want, _ := r.format.Parse([]byte(r.line))
		if !reflect.DeepEqual(r.rec, want) {
			t.Errorf("%q: %+v, want %+v", r.line, r.rec, want)
		}
		// A line of a record read before the last one.
		if l := NewLine(r.rec, "fl-1", evidence.Origin{}, p, []byte(r.line)); l.Message != r.line {
			t.Errorf("message %q, want %q", l.Message, r.line)
		}
	}
}

// TestParseDecimal checks Parse's numbers against strconv.ParseInt.
func TestParseDecimal(t *testing.T) {
	for _, s := range []string{"0", "7", "007", "255", "256", "65535", "1418530010", "999999999999999999",
		"1000000000000000000", "9223372036854775807", "9223372036854775808", "-1", "+1", "", "1a", "a", "1_000", "0x10", "١٢"} {
		want, err := strconv.ParseInt(s, 10, 64)
		if got, ok := parseDecimal(s); ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseDecimal(%q) = %d, %v; strconv %d, %v", s, got, ok, want, err)
		}
	}
}
