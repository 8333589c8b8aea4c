package s3logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDayPrefixes(t *testing.T) {
	tests := []struct {
		name string
		w    incident.Window
		pad  time.Duration
		want []string
	}{
		{name: "one day", w: incident.Window{Start: day("2024-08-02T02:00:00Z"), End: day("2024-08-02T09:00:00Z")}, pad: 15 * time.Minute,
			want: []string{"p/2024/08/02/"}},
		{name: "the pad crosses midnight", w: incident.Window{Start: day("2024-08-02T00:10:00Z"), End: day("2024-08-02T23:50:00Z")}, pad: 15 * time.Minute,
			want: []string{"p/2024/08/01/", "p/2024/08/02/", "p/2024/08/03/"}},
		{name: "month and year roll over", w: incident.Window{Start: day("2024-12-31T20:00:00Z"), End: day("2025-01-01T01:00:00Z")},
			want: []string{"p/2024/12/31/", "p/2025/01/01/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DayPrefixes("p/", "2006/01/02/", tc.w, tc.pad); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// keyTime reads "<day>/<HHMM>-name" keys, as the test seeds them.
func keyTime(key string) (time.Time, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 || len(key) < i+5 {
		return time.Time{}, false
	}
	t, err := time.Parse("2006/01/02/1504", key[i-10:i]+"/"+key[i+1:i+5])
	return t, err == nil
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

type sink struct {
	lines []string
	times []time.Time
}

func (s *sink) WriteRecord(v any, at time.Time) error {
	s.lines = append(s.lines, fmt.Sprint(v))
	s.times = append(s.times, at)
	return nil
}

// parse reads "<RFC3339> <who> <what>" lines.
func parse(line []byte) (Record, error) {
	f := strings.Fields(string(line))
	if len(f) == 1 && f[0] == "#header" {
		return Record{}, ErrSkip
	}
	if len(f) != 3 {
		return Record{}, fmt.Errorf("want 3 fields, have %d", len(f))
	}
	t, err := time.Parse(time.RFC3339, f[0])
	if err != nil {
		return Record{}, err
	}
	return Record{Time: t, Value: f[1] + " " + f[2]}, nil
}

func TestListAndExtract(t *testing.T) {
	ctx := context.Background()
	client := s3.NewFromConfig(emu.Fresh(t), awsconfig.S3Options)
	const bucket = "logs"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		// delivered in the window
		"p/2024/08/02/0830-a.log.gz": gz("#header\n2024-08-02T08:20:00Z alice GetObject\n2024-08-02T08:21:00Z bob GetObject\n2024-08-02T07:00:00Z alice TooEarly\n"),
		// in the delivery pad, records in the window; a malformed line mid-file
		"p/2024/08/02/0910-b.log": []byte("2024-08-02T08:59:00Z alice PutObject\nbroken\n2024-08-02T08:59:30Z alice DeleteObject\n"),
		// delivered after the pad: not listed for the case
		"p/2024/08/02/1100-c.log.gz": gz("2024-08-02T08:40:00Z alice Late\n"),
		// truncated gzip: what was read is kept, the object reported
		"p/2024/08/02/0840-d.log.gz": gz("2024-08-02T08:30:00Z alice Partial\n2024-08-02T08:31:00Z alice Partial2\n")[:40],
		// another day entirely: not even listed
		"p/2024/08/05/0830-e.log": []byte("2024-08-05T08:30:00Z alice Other\n"),
	}
	for k, v := range objects {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}
	w := incident.Window{Start: day("2024-08-02T08:00:00Z"), End: day("2024-08-02T09:00:00Z")}
	pad := 15 * time.Minute
	l, err := List(ctx, client, bucket, DayPrefixes("p/", "2006/01/02/", w, pad), keyTime, w, pad)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range l.Objects {
		keys = append(keys, o.Key)
	}
	wantKeys := []string{"p/2024/08/02/0830-a.log.gz", "p/2024/08/02/0840-d.log.gz", "p/2024/08/02/0910-b.log"}
	if !reflect.DeepEqual(keys, wantKeys) || l.Listed != 4 || l.OutOfWindow != 1 {
		t.Fatalf("listed %q (%d listed, %d out of window), want %q", keys, l.Listed, l.OutOfWindow, wantKeys)
	}

	var out sink
	keepAlice := func(r Record) bool { return strings.HasPrefix(r.Value.(string), "alice") }
	st, err := Extract(ctx, client, l.Objects, Lines(parse), keepAlice, w, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alice GetObject", "alice PutObject", "alice DeleteObject"}
	if !reflect.DeepEqual(out.lines, want) {
		t.Fatalf("extract %q, want %q", out.lines, want)
	}
	if st.Objects != 3 || st.Malformed != 1 || st.Kept != 3 {
		t.Fatalf("stats %+v", st)
	}
	// One problem for the malformed line, one for the truncated object.
	if len(st.Problems) != 2 || !strings.Contains(strings.Join(st.Problems, "\n"), "0840-d.log.gz: read stopped") {
		t.Fatalf("problems %q", st.Problems)
	}
}

func TestDeniedAndMissing(t *testing.T) {
	ctx := context.Background()
	client := s3.NewFromConfig(emu.Fresh(t), awsconfig.S3Options)
	_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	if !Missing(err) || Denied(err) {
		t.Fatalf("missing bucket: Missing=%v Denied=%v (%v)", Missing(err), Denied(err), err)
	}
	if Missing(errors.New("x")) || Denied(nil) {
		t.Fatal("plain errors are neither")
	}
}

func TestLines(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	tests := []struct {
		name      string
		in        string
		want      []string
		wantBad   int
		wantError bool
	}{
		{name: "lines with and without a final newline", in: "2024-08-02T08:00:00Z a b\n\n2024-08-02T08:00:01Z c d", want: []string{"a b", "c d"}},
		{name: "CRLF and a header", in: "#header\r\n2024-08-02T08:00:00Z a b\r\n", want: []string{"a b"}},
		{name: "a malformed line in the middle", in: "2024-08-02T08:00:00Z a b\nbad\n2024-08-02T08:00:01Z c d\n", want: []string{"a b", "c d"}, wantBad: 1},
		{name: "a line past MaxLine", in: "2024-08-02T08:00:00Z a b\n" + long + "\n2024-08-02T08:00:01Z c d\n", want: []string{"a b", "c d"}, wantBad: 1},
		// Blank lines (white space only, Unicode spaces included) are no
		// records; a line ending in a lone '\r' keeps its other bytes.
		{name: "blank lines", in: " \t\v\f\r\n\u00a0\u0085 \n\r\n2024-08-02T08:00:00Z a b\r\r\n", want: []string{"a b"}},
		{name: "a last line without a newline after CR", in: "2024-08-02T08:00:00Z a b\r", want: []string{"a b"}},
		{name: "a line that is spaces then a record", in: "   2024-08-02T08:00:00Z a b\n", want: []string{"a b"}},
		{name: "a malformed line of UTF-8", in: "\u00e9t\u00e9\n", wantBad: 1},
		{name: "a line longer than the buffer but under MaxLine", in: "2024-08-02T08:00:00Z a " + strings.Repeat("y", 100<<10) + "\n", want: []string{"a " + strings.Repeat("y", 100<<10)}},
		{name: "a line of MaxLine bytes with its newline", in: "2024-08-02T08:00:00Z a " + atMax + "\nbad\n", want: []string{"a " + atMax}, wantBad: 1},
		{name: "one byte past MaxLine, then a record", in: "2024-08-02T08:00:00Z a " + atMax + "y\n2024-08-02T08:00:01Z c d", want: []string{"c d"}, wantBad: 1},
		{name: "a last line past MaxLine with no newline", in: "2024-08-02T08:00:00Z a b\n" + long, want: []string{"a b"}, wantBad: 1},
	}
	// The same lines however the stream is cut: all in one Write (the
	// reader's WriteTo), one byte a Write (a reader with no WriteTo), and
	// through the gzip reader's own window.
	readers := []struct {
		name string
		of   func(t *testing.T, s string) io.Reader
	}{
		{"one write", func(_ *testing.T, s string) io.Reader { return strings.NewReader(s) }},
		{"one byte a write", func(_ *testing.T, s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		{"gzip", func(t *testing.T, s string) io.Reader {
			r, err := Decompressed(bytes.NewReader(gzipOf(t, strings.NewReader(s))))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				var got []string
				bad := 0
				err := Lines(parse)(rd.of(t, tc.in), func(r Record) error {
					got = append(got, r.Value.(string))
					return nil
				}, func(error) { bad++ })
				if (err != nil) != tc.wantError || !reflect.DeepEqual(got, tc.want) || bad != tc.wantBad {
					t.Fatalf("got %d records (err %v, %d bad), want %d (%d bad)", len(got), err, bad, len(tc.want), tc.wantBad)
				}
			})
		}
	}
}

// atMax makes "2024-08-02T08:00:00Z a " + atMax + "\n" exactly MaxLine
// bytes.
var atMax = strings.Repeat("z", MaxLine-len("2024-08-02T08:00:00Z a ")-1)

// TestNumberedLinesNumbers checks the numbers lines get and that emit's
// error stops the read as emit gave it, however the stream is cut.
func TestNumberedLinesNumbers(t *testing.T) {
	in := "a\n\nb\r\nc"
	stop := errors.New("stop")
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		var got []int
		err := NumberedLines(func(n int, line []byte) (Record, error) {
			got = append(got, n)
			return Record{Value: string(line)}, nil
		})(r, func(rec Record) error {
			if rec.Value == "b" {
				return stop
			}
			return nil
		}, func(err error) { t.Error(err) })
		if !errors.Is(err, stop) || !slices.Equal(got, []int{1, 3}) {
			t.Errorf("lines %v, err %v; want [1 3] and the emit's error", got, err)
		}
	}
}
