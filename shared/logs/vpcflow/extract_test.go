package vpcflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

// benchENI is the interface in scope of the synthetic objects.
const benchENI = "eni-0be4c4cafe0b1e2f3"

// syntheticObject is a flow log object as S3 delivers one of a busy VPC:
// a header, then n default-format records on 400 interfaces, one in 50 on
// benchENI.
func syntheticObject(n int) []byte {
	var b bytes.Buffer
	b.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	for i := 0; i < n; i++ {
		eni := fmt.Sprintf("eni-0%016x", uint64(i*7919%400)*0x9e3779b97f4a7c1)
		if i%50 == 25 {
			eni = benchENI
		}
		start := 1722470400 + i/10
		if i%97 == 0 {
			fmt.Fprintf(&b, "2 111122223333 %s - - - - - - - %d %d - NODATA\n", eni, start, start+60)
			continue
		}
		fmt.Fprintf(&b, "2 111122223333 %s 172.31.%d.%d 10.0.%d.%d %d 443 6 %d %d %d %d ACCEPT OK\n",
			eni, i%256, i*7%256, i*3%256, i*11%256, 32768+i%28000, 1+i%200, (1+i%200)*(40+i%1400), start, start+60)
	}
	return b.Bytes()
}

// BenchmarkObjectDecoder is the S3 reader's decoding of one decompressed
// object: every line split, prefiltered and counted, the 2 % in scope
// parsed into Lines.
func BenchmarkObjectDecoder(b *testing.B) {
	obj := syntheticObject(80000)
	m := NewMatcher(incident.Scope{ENIs: []string{benchENI}}, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)})
	dec := ObjectDecoder(m, "fl-0bench0000000001", Default, evidence.Origin{Bucket: "b", Key: "k"}, nil)
	b.SetBytes(int64(len(obj)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kept := 0
		err := dec(bytes.NewReader(obj), func(r s3logs.Record) error {
			if m.Keep(r) {
				kept++
			}
			return nil
		}, func(err error) { b.Fatal(err) })
		if err != nil || kept != 1600 {
			b.Fatalf("kept %d: %v", kept, err)
		}
	}
}

// reflectLine is Line without its methods: what encoding/json writes of
// the struct itself.
type reflectLine Line

// checkLineJSON fails t when AppendJSON and MarshalJSON do not write the
// bytes encoding/json writes of the Line struct.
func checkLineJSON(t testing.TB, l *Line) {
	t.Helper()
	want, werr := json.Marshal((*reflectLine)(l))
	got, gerr := l.AppendJSON([]byte("prefix"))
	if (werr != nil) != (gerr != nil) || (werr == nil && string(got) != "prefix"+string(want)) {
		t.Fatalf("AppendJSON:\n%s (%v)\nencoding/json:\n%s (%v)", got, gerr, want, werr)
	}
	viaMarshal, err := json.Marshal(l)
	if werr == nil && (err != nil || !bytes.Equal(viaMarshal, want)) {
		t.Fatalf("json.Marshal through MarshalJSON:\n%s (%v)\nencoding/json:\n%s", viaMarshal, err, want)
	}
}

// TestLineJSON checks the extract line's own encoder against encoding/json
// on every kind of line the collector writes, and on values it escapes.
func TestLineJSON(t *testing.T) {
	at := time.Date(2024, 8, 1, 0, 0, 1, 500, time.FixedZone("x", 3600))
	custom := MustFormat("${version} ${interface-id} ${ecs-cluster-arn} ${start} ${end} ${log-status}")
	for _, c := range []struct {
		name   string
		format Format
		line   string
		origin evidence.Origin
		edit   func(*Line)
	}{
		{name: "default", format: Default, line: "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
			origin: evidence.Origin{Bucket: "b", Key: "AWSLogs/1/vpcflowlogs/x.log.gz"}},
		{name: "NODATA", format: Default, line: "2 12345678910 eni-0eb1e4178af74336c - - - - - - - 1742570089 1742570142 - NODATA",
			origin: evidence.Origin{Bucket: "b", Key: "k"}},
		{name: "no start or end", format: MustFormat("${version} ${interface-id}"), line: "5 eni-1", origin: evidence.Origin{Bucket: "b"}},
		{name: "CloudWatch Logs event", format: Default, line: "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK",
			origin: evidence.Origin{LogGroup: "g", LogStream: "eni-1-all"},
			edit:   func(l *Line) { l.EventID, l.EventTime = "3698", &at }},
		{name: "values escaped", format: custom,
			line:   "8 eni-<a>&b arn:aws:ecs:\u2028\xff\x01\"\\/é 1 2 OK",
			origin: evidence.Origin{Bucket: "b<", Key: "k&\"\u00a0", Description: "tab\there"}},
		{name: "a record changed after parsing", format: Default, line: "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			edit: func(l *Line) {
				l.Record["extra"] = 1.5
				l.Record["flag"] = true
				l.Record["list"] = []string{"<"}
			}},
		{name: "a record's field renamed after parsing", format: Default, line: "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			edit: func(l *Line) {
				l.Record["a-first"] = l.Record["version"]
				delete(l.Record, "version")
			}},
		{name: "the format changed after parsing", format: Default, line: "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			edit: func(l *Line) { l.Format = "<${version}>" }},
		{name: "no record", format: Default, line: "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			edit: func(l *Line) { l.Record = nil; l.Start = nil }},
		{name: "a time RFC 3339 cannot write", format: Default, line: "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK",
			edit: func(l *Line) { far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC); l.End = &far }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := NewParser(c.format)
			rec, err := p.Parse([]byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			l := NewLine(rec, "fl-0123456789abcdef0", c.origin, p, []byte(c.line))
			if c.edit != nil {
				c.edit(l)
			}
			checkLineJSON(t, l)
		})
	}
}

// TestObjectDecoder reads objects as S3 delivers them, through the
// decoder the collector and custody-bench use: a header sets the format,
// lines out of scope are skipped but counted (and refused when their
// fields do not fit the format), a line in scope is a Line whose JSON is
// encoding/json's even with its origin encoded once, and a last line
// without a newline, CRLF line ends and a line across the reader's buffer
// are read like any other.
func TestObjectDecoder(t *testing.T) {
	in := "2 1 " + benchENI + " 10.0.0.1 10.0.0.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK"
	out := "2 1 eni-0aaaaaaaaaaaaaaaa 10.0.0.1 10.0.0.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK"
	header := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
	long := strings.Repeat(out+"\n", (96<<10)/len(out)) // past bufio's 64 KiB: a line is cut by the buffer
	for _, c := range []struct {
		name               string
		format             Format
		in                 string
		lines, kept, bad   int
		wantFormat, wantFr string
	}{
		{name: "header then records", format: MustFormat("${version} ${interface-id}"), in: header + "\n" + out + "\n" + in + "\n",
			lines: 2, kept: 1, wantFormat: Default.String(), wantFr: "header"},
		{name: "no header, the flow log's format", format: Default, in: out + "\n" + in + "\n", lines: 2, kept: 1, wantFormat: Default.String(), wantFr: "logFormat"},
		{name: "a last line without newline", format: Default, in: out + "\n" + in, lines: 2, kept: 1, wantFormat: Default.String(), wantFr: "logFormat"},
		{name: "CRLF", format: Default, in: header + "\r\n" + out + "\r\n" + in + "\r\n", lines: 2, kept: 1, wantFormat: Default.String(), wantFr: "header"},
		{name: "malformed lines in and out of scope", format: Default, in: out + " extra\n" + in + " extra\n" + out + "\n", lines: 3, bad: 2},
		{name: "lines across the buffer", format: Default, in: long + in + "\n" + long + in, lines: 2*strings.Count(long, "\n") + 2, kept: 2,
			wantFormat: Default.String(), wantFr: "logFormat"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewMatcher(incident.Scope{ENIs: []string{benchENI}}, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)})
			origin := evidence.Origin{Bucket: "b", Key: "AWSLogs/x&y.log.gz"}
			var lines atomic.Int64
			dec := ObjectDecoder(m, "fl-1", c.format, origin, &lines)
			kept, bad := 0, 0
			err := dec(strings.NewReader(c.in), func(r s3logs.Record) error {
				l, ok := r.Value.(*Line)
				if !ok || !m.Keep(r) {
					t.Fatalf("emitted %#v, not a Line in scope", r.Value)
				}
				if l.Message != in || l.Format != c.wantFormat || l.FormatFrom != c.wantFr || l.Origin != origin {
					t.Errorf("line %+v", l)
				}
				checkLineJSON(t, l)
				// An origin changed after decoding is not the one encoded.
				l.Origin.Key += "2"
				checkLineJSON(t, l)
				kept++
				return nil
			}, func(error) { bad++ })
			if err != nil || kept != c.kept || bad != c.bad || lines.Load() != int64(c.lines) {
				t.Fatalf("kept %d, %d bad, %d lines (%v); want %d, %d, %d", kept, bad, lines.Load(), err, c.kept, c.bad, c.lines)
			}
		})
	}
}

// BenchmarkKeptLines is the path of the lines an extract keeps, alone:
// each in-scope line of the synthetic object parsed, made a Line and
// encoded as the evidence writer encodes it (AppendJSON into a reused
// buffer). "each" encodes a line as soon as it is made, its memory still
// in cache; "object" makes the Lines of the whole object first and then
// encodes them, as s3logs.ExtractEach holds an object's records until the
// writer takes them. ns/op is for one line.
func BenchmarkKeptLines(b *testing.B) {
	var lines [][]byte
	for _, l := range bytes.Split(syntheticObject(80000), []byte("\n")) {
		if bytes.Contains(l, []byte(benchENI)) {
			lines = append(lines, l)
		}
	}
	origin := evidence.Origin{Bucket: "b", Key: "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/08/01/x.log.gz"}
	ob, err := json.Marshal(origin)
	if err != nil {
		b.Fatal(err)
	}
	enc := &originJSON{of: origin, json: ob}
	newLine := func(p *Parser, line []byte) *Line {
		rec, err := p.Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		l := NewLine(rec, "fl-0bench0000000001", origin, p, line)
		l.origin = enc
		return l
	}
	var buf []byte
	write := func(l *Line) {
		if buf, err = l.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("each", func(b *testing.B) {
		p := NewParser(Default)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			write(newLine(p, lines[i%len(lines)]))
		}
	})
	b.Run("object", func(b *testing.B) {
		b.ReportAllocs()
		kept := make([]*Line, 0, len(lines))
		for i := 0; i < b.N; i += len(lines) {
			p := NewParser(Default)
			kept = kept[:0]
			for _, l := range lines[:min(len(lines), b.N-i)] {
				kept = append(kept, newLine(p, l))
			}
			for _, l := range kept {
				write(l)
			}
		}
	})
}

// TestAppendString checks the JSON string encoder against encoding/json
// for every byte value at every place of the eight-byte words it reads
// and of the bytes after them, and on strings of runes it must escape.
func TestAppendString(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, _ := json.Marshal(s)
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json %s", s, got[1:], want)
		}
	}
	for n := 1; n <= 17; n++ {
		for at := 0; at < n; at++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[at] = byte(c)
				check(string(b))
			}
		}
	}
	for _, s := range []string{"", "eni-0be4c4cafe0b1e2f3", "a\u2028b", "a\u2029", "é", "\xff", "tab\there", "<script>", "a&b", `"quoted"`, `back\slash`, "del\x7f", strings.Repeat("ok ", 40) + "<"} {
		check(s)
	}
}

// FuzzAppendString compares the JSON string encoder with encoding/json.
func FuzzAppendString(f *testing.F) {
	f.Add("2 123456789010 eni-1235b8ca123456789 172.31.16.139 ACCEPT OK")
	f.Add("arn:aws:ecs:\u2028\xff\x01\"\\/é")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

// TestAppendTime checks the times AppendJSON writes itself against
// time.Time's MarshalJSON: whole seconds in UTC from the epoch to year
// 9999 (leap days, century years, the ends of the range), and the times it
// leaves to MarshalJSON (other zones, fractions of a second, before 1970).
func TestAppendTime(t *testing.T) {
	check := func(at time.Time) {
		t.Helper()
		want, werr := at.MarshalJSON()
		got, gerr := appendTime([]byte("x"), at)
		if (werr != nil) != (gerr != nil) || (werr == nil && string(got) != "x"+string(want)) {
			t.Fatalf("appendTime(%v) = %s (%v), MarshalJSON %s (%v)", at, got, gerr, want, werr)
		}
	}
	for _, s := range []int64{0, 1, 59, 60, 86399, 86400, 951782400, 951868799, 951868800, 4107542400, 4107628800,
		1418530010, 1722470400, 253402300799, 253402300800, -1, -62167219200} {
		check(time.Unix(s, 0).UTC())
	}
	for y := 1970; y <= 9999; y += 7 {
		for _, d := range []time.Time{time.Date(y, 2, 28, 23, 59, 59, 0, time.UTC), time.Date(y, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(y, 12, 31, 12, 30, 7, 0, time.UTC)} {
			check(d)
		}
	}
	for s := int64(0); s < 253402300799; s += 86400*29 + 3607 {
		check(time.Unix(s, 0).UTC())
	}
	check(time.Date(2024, 8, 1, 0, 0, 1, 500, time.UTC))
	check(time.Date(2024, 8, 1, 0, 0, 1, 0, time.FixedZone("x", 3600)))
	check(time.Date(2024, 8, 1, 0, 0, 1, 0, time.FixedZone("UTC", 0)))
	check(time.Unix(1722470400, 0))
}
