package timeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Strings that take every branch of the JSON and CSV encoders.
var encoderCases = []string{
	"", "plain", `quote " and \ backslash`, "\b\f\n\r\t", "\x00\x01\x1f\x7f", "<html> & 'x'",
	"é ü 日本", "\u2028 \u2029", "\xff", "a\xc3", "\xed\xa0\x80 surrogate", "\ufffd", `\.`, `\.x`,
	" lead", "\tlead", "\u00a0lead", "\u3000lead", "a,b", "a\"b", "cr\rlf\n", "trail ", "\"", ",",
}

func randomString(r *rand.Rand) string {
	const pick = "ab ,\"\\\n\r\t\x00\x7f/<>&.\xc3\xa9\xe2\x80\xa8\xff"
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = pick[r.IntN(len(pick))]
	}
	return string(b)
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	if got := appendJSONString(nil, []byte(s)); string(got)+"\n" != want.String() {
		t.Errorf("%q: got %s, encoding/json %s", s, got, want.String())
	}
}

func checkCSVField(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	w := csv.NewWriter(&want)
	w.Write([]string{s})
	w.Flush()
	if got := appendCSVField(nil, []byte(s)); string(got)+"\n" != want.String() {
		t.Errorf("%q: got %q, encoding/csv %q", s, got, want.String())
	}
}

// The timeline's lines are written by hand: byte for byte what
// encoding/json (HTML not escaped) and encoding/csv write.
func TestEncodersMatchStandardLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := append([]string(nil), encoderCases...)
	for range 20000 {
		cases = append(cases, randomString(r))
	}
	for _, s := range cases {
		checkJSONString(t, s)
		checkCSVField(t, s)
	}
}

func FuzzEncoders(f *testing.F) {
	for _, s := range encoderCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONString(t, s)
		checkCSVField(t, s)
	})
}

// The output writes an event as json.Encoder and csv.Writer wrote Event
// and CSVRow.
func TestOutputMatchesEncoders(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		e := Event{Datetime: randomString(r), TimestampDesc: randomString(r), Message: randomString(r),
			Source: randomString(r), Action: randomString(r), Actor: randomString(r), Target: randomString(r),
			SrcIP: randomString(r), Outcome: randomString(r), Artifact: randomString(r), Record: r.Int64N(1e12) - 5}
		if i < len(encoderCases) {
			e.Message = encoderCases[i]
		}
		// The fields the output takes from the entry and the input, not
		// the payload.
		sec, nsec := r.Int64N(1<<33), int32(r.Int64N(1e9))
		e.Timestamp = sec*1_000_000 + int64(nsec)/1000
		e.DataType = DataType(e.Source)
		e.Origins = []Origin{{Artifact: e.Artifact, Record: e.Record}}
		var wantJ, wantC, gotJ, gotC bytes.Buffer
		enc := json.NewEncoder(&wantJ)
		enc.SetEscapeHTML(false)
		enc.Encode(&e)
		cw := csv.NewWriter(&wantC)
		cw.Write(CSVHeader)
		cw.Write(e.CSVRow())
		cw.Flush()

		_, names := rankInputs([]Input{{Source: e.Source, ArtifactKey: e.Artifact}})
		err := writeOutputs(&gotJ, &gotC, names, nil, func(write func(*entry, []byte) error) error {
			return write(&entry{sec: sec, nsec: nsec, record: e.Record}, appendPayload(nil, &e))
		})
		if err != nil {
			t.Fatal(err)
		}
		if gotJ.String() != wantJ.String() || gotC.String() != wantC.String() {
			t.Fatalf("%+v:\n got %s %s\nwant %s %s", e, gotJ.String(), gotC.String(), wantJ.String(), wantC.String())
		}
	}
}

// toGeneric is v as encoding/json decodes it into an any (UseNumber).
func toGeneric(v jv) any {
	switch v.kind() {
	case jNull:
		return nil
	case jTrue:
		return true
	case jFalse:
		return false
	case jNumber:
		return json.Number(v.text())
	case jString:
		return str(v)
	case jArray:
		out := []any{}
		for _, e := range v.elems() {
			out = append(out, toGeneric(e))
		}
		return out
	}
	out := map[string]any{}
	v.children(func(c jv) bool { out[c.keyName()] = toGeneric(c); return true })
	return out
}

var scanCases = []string{
	`{}`, `[]`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,2,{"c":null}]}}`, ` {"a" : [ true , false ] } `,
	`{"k\u0061":"v\u00e9\n\"\\\/\b\f\r\t"}`, `{"\u00e9":1,"é":2}`, "{\"\xff\":1,\"\xfe\":2}", "{\"a\":\"\xff\xed\xa0\x80\"}",
	`{"a":"\ud83d\ude00 \ud800 \udc00x"}`, `"str"`, `12`, `-0.5e+10`, `1E5`, `true`, `null`, `false`,
	`{"a":1} trailing`, `{"a":1}{"b":2}`, `12abc`, `01`, `truex`, `[1,2]x`,
	// refused by both
	``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{,}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
	`{"a":1e}`, `{"a":+1}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x01\"}", `{"a":tru}`,
	`{"a":nul}`, `{'a':1}`, `{a:1}`, `[1 2]`, `{"a":1 "b":2}`, "\xef\xbb\xbf{}", `{"a":"\'"}`, `-`, `-a`, `[`, `"abc`,
	`{"a":[}`, `{"a":NaN}`, `{"a":Infinity}`,
}

func checkScan(t *testing.T, line []byte) {
	t.Helper()
	var d jdoc
	ok := d.parse(line, fastMaxDepth)
	var want any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	err := dec.Decode(&want)
	if ok && err != nil {
		t.Errorf("%q: scanned, but encoding/json refuses it: %v", line, err)
		return
	}
	if ok && !reflect.DeepEqual(toGeneric(d.root()), want) {
		t.Errorf("%q: scanned %#v, encoding/json %#v", line, toGeneric(d.root()), want)
	}
	if !ok && err == nil && nesting(line) <= fastMaxDepth {
		t.Errorf("%q: not scanned, but encoding/json takes it", line)
	}
}

// nesting is the deepest nesting of objects and arrays in a JSON value.
func nesting(line []byte) int {
	dec := json.NewDecoder(bytes.NewReader(line))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return deepest
		}
	}
}

// The scanner takes only what encoding/json takes, and reads it the same.
func TestScanMatchesEncodingJSON(t *testing.T) {
	for _, c := range scanCases {
		checkScan(t, []byte(c))
	}
	// Every prefix of a real record, and the record with a byte changed.
	rec := []byte(`{"eventTime":"2024-08-02T08:23:10.5Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"n":[1,-2.5e3,true,null,"x\"y"],"e":{}}`)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range rec {
		checkScan(t, rec[:i])
		for range 20 {
			b := append([]byte(nil), rec...)
			const pick = "{}[]\":,.-+eE0123456789tfnul\\ \x00\xff"
			b[i] = pick[r.IntN(len(pick))]
			checkScan(t, b)
		}
	}
}

func FuzzScan(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkScan(t, line) })
}

// What the scanner does not take goes through encoding/json: its error is
// the untimed record's detail, and a record nested deeper than the scanner
// follows is still read.
func TestScanFallback(t *testing.T) {
	_, un := Normalize("cloudtrail", "k", 0, []byte(`{"eventTime":"2024-08-02T08:23:10Z",}`), testNow)
	if len(un) != 1 || un[0].Detail != "not JSON: invalid character '}' looking for beginning of object key string" {
		t.Errorf("malformed line: %+v", un)
	}
	deep := strings.Repeat(`{"a":`, fastMaxDepth+10) + "1" + strings.Repeat("}", fastMaxDepth+10)
	line := []byte(`{"eventTime":"2024-08-02T08:23:10Z","eventName":"Deep","requestParameters":{"roleName":"r","x":` + deep + `}}`)
	evs, un := Normalize("cloudtrail", "k", 0, line, testNow)
	if len(evs) != 1 || len(un) != 0 || evs[0].Target != "r" || evs[0].Action != "Deep" {
		t.Errorf("deep record: %+v %+v", evs, un)
	}
	// Deeper than encoding/json goes: refused with its error.
	deeper := bytes.Repeat([]byte("["), 10001)
	_, un = Normalize("cloudtrail", "k", 0, deeper, testNow)
	if len(un) != 1 || !strings.Contains(un[0].Detail, "exceeded max depth") {
		t.Errorf("too deep: %+v", un)
	}
}

// Duplicate keys read as a map read them: the last one wins.
func TestDuplicateKeys(t *testing.T) {
	evs, _ := Normalize("cloudtrail", "k", 0, []byte(`{"eventTime":"2020-01-01T00:00:00Z","eventName":"A","eventTime":"2021-01-01T00:00:00Z","eventName":"B"}`), testNow)
	if len(evs) != 1 || evs[0].Datetime != "2021-01-01T00:00:00.000000Z" || evs[0].Action != "B" {
		t.Errorf("%+v", evs)
	}
	evs, _ = Normalize("vpcflow", "k", 0, []byte(`{"srcAddr":"1.1.1.1","src_addr":"2.2.2.2","srcAddr":"3.3.3.3","start":1418530010}`), testNow)
	if len(evs) != 1 || evs[0].SrcIP != "3.3.3.3" {
		t.Errorf("%+v", evs)
	}
}

// The last chunk is merged from memory, not spilled, yet Stats.Runs counts
// it as before and the output is the in-memory sort's.
func TestLastChunkNotSpilled(t *testing.T) {
	var body strings.Builder
	for i := range 10 {
		fmt.Fprintf(&body, `{"timestamp":%d,"message":"m%d"}`+"\n", 1722586990000-int64(i%4)*1000, i)
	}
	ins := []Input{stringInput("cloudwatch", "cloudwatch/a.jsonl", body.String())}
	mem := build(t, ins, Options{})
	// A chunk is full at ChunkEvents events or ChunkBytes bytes (one byte:
	// every event is a chunk; each of these events' payloads is under 100
	// bytes, so 200 bytes holds at least two of them, fewer than five).
	for _, c := range []struct{ chunk, bytes, runs int }{{10, 0, 1}, {11, 0, 0}, {9, 0, 2}, {5, 0, 2}, {4, 0, 3}, {1, 0, 10},
		{0, 1, 10}, {0, 1 << 20, 0}, {4, 1, 10}} {
		dir := t.TempDir()
		var j, cs bytes.Buffer
		st, err := Build(context.Background(), ins, &j, &cs, io.Discard, dir, Options{ChunkEvents: c.chunk, ChunkBytes: c.bytes, MaxRuns: 3, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if st.Runs != c.runs {
			t.Errorf("chunk %d events %d bytes: %d runs, want %d", c.chunk, c.bytes, st.Runs, c.runs)
		}
		if !bytes.Equal(j.Bytes(), mem.jsonl) || !bytes.Equal(cs.Bytes(), mem.csv) {
			t.Errorf("chunk %d events %d bytes: output differs from the in-memory sort", c.chunk, c.bytes)
		}
	}
	st := build(t, ins, Options{ChunkBytes: 200}).stats
	if st.Runs < 3 || st.Runs > 5 {
		t.Errorf("200-byte chunks: %d runs, want 3 to 5", st.Runs)
	}
}

// Normalize may be called from several goroutines: nothing the scanner
// writes (lookup tables) is shared between calls.
func TestNormalizeConcurrent(t *testing.T) {
	type line struct {
		source string
		b      []byte
	}
	var lines []line
	for _, in := range corpusInputs(t) {
		rc, _ := in.Open()
		all, _ := io.ReadAll(rc)
		rc.Close()
		for _, l := range bytes.Split(all, []byte("\n")) {
			lines = append(lines, line{in.Source, l})
		}
	}
	lines = append(lines, line{"cloudtrail", []byte(`{"EventTime":"2021-11-18T09:41:02Z","EventName":"X","CloudTrailEvent":"[1]"}`)})
	want := make([]string, len(lines))
	for i, l := range lines {
		evs, un := Normalize(l.source, "k", 0, l.b, testNow)
		want[i] = fmt.Sprint(evs, un)
	}
	done := make(chan error)
	for range 4 {
		go func() {
			for i, l := range lines {
				if evs, un := Normalize(l.source, "k", 0, l.b, testNow); fmt.Sprint(evs, un) != want[i] {
					done <- fmt.Errorf("line %d differs when run concurrently", i)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// The encoders read eight or sixteen bytes at a time and the tail as an
// overlapping word: a special byte is found at every position of every
// length, in the words, the tail and the overlap, and a byte that only
// looks like one to csvSpecial8 (a tab, a control) quotes nothing.
func TestEncodersEveryPosition(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for _, c := range []byte{',', '"', '\\', '\n', '\r', '\t', 0x1f, 0, ' ', 0x7f, 0xc3, 0xff} {
			for at := range n {
				s := []byte(strings.Repeat("a", n))
				s[at] = c
				checkCSVField(t, string(s))
				checkJSONString(t, string(s))
			}
		}
	}
}
