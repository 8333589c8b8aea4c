package cloudtrail

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

// repeat is a reader of n bytes: unit repeated (cut at n). A hostile value
// of any size is generated as it is read, never held by the test.
type repeat struct {
	unit []byte
	n    int64
	off  int64
}

func (r *repeat) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && r.off < r.n {
		c := copy(p[k:], r.unit[r.off%int64(len(r.unit)):])
		if rest := r.n - r.off; int64(c) > rest {
			c = int(rest)
		}
		k += c
		r.off += int64(c)
	}
	return k, nil
}

// hostile is one generated record: head, body (bodyUnit repeated to
// bodyBytes), tail.
type hostile struct {
	head, bodyUnit, tail string
	bodyBytes            int64
}

func (h hostile) size() int64 { return int64(len(h.head)+len(h.tail)) + h.bodyBytes }

func (h hostile) reader() io.Reader {
	return io.MultiReader(strings.NewReader(h.head), &repeat{unit: []byte(h.bodyUnit), n: h.bodyBytes}, strings.NewReader(h.tail))
}

const bigTime = `{"eventVersion":"1.08","eventTime":"2024-08-02T08:23:00Z","eventName":"PutObject","requestParameters":{"x":"`

// TestOversizeRecords: a record longer than MaxRecord, between two real
// ones, is skipped unread and reported to bad as an *s3logs.OversizeError
// with its number and exact size; the records around it are read. Another
// top-level member of any size is skipped without a report.
func TestOversizeRecords(t *testing.T) {
	rs := records(t, steal)[:2]
	first, last := string(rs[0]), string(rs[1])
	const size = MaxRecord + 3<<20
	tests := []struct {
		name     string
		big      hostile
		bare     bool // a bare JSON array, not {"Records":[...]}
		other    bool // the big value is another top-level member, not a record
		reported bool
	}{
		{name: "a long string", big: hostile{head: bigTime, bodyUnit: "abcdefgh", tail: `"}}`, bodyBytes: size}, reported: true},
		{name: "escaped quotes and backslashes", big: hostile{head: bigTime, bodyUnit: `\"\\\"`, tail: `"}}`, bodyBytes: size / 6 * 6}, reported: true},
		{name: "a long array", big: hostile{head: `{"eventTime":"2024-08-02T08:23:00Z","resources":[`, bodyUnit: `{"ARN":"]"},`, tail: `{}]}`, bodyBytes: size / 12 * 12}, reported: true},
		{name: "deep nesting", big: hostile{head: `{"eventTime":"2024-08-02T08:23:00Z","x":`, bodyUnit: `[`, tail: strings.Repeat("]", 1<<10) + `}`, bodyBytes: 1 << 10}, reported: false},
		{name: "a bare array", big: hostile{head: bigTime, bodyUnit: "z", tail: `"}}`, bodyBytes: size}, bare: true, reported: true},
		{name: "another top-level member", big: hostile{head: `"`, bodyUnit: "q", tail: `"`, bodyBytes: size}, other: true},
	}
	decoders := map[string]s3logs.Decoder{
		"Decode":    Decode,
		"DecodeFor": DecodeFor(NewMatcher(incident.Scope{AccessKeys: []string{"ASIAQ5ZJ4ADXKQ7DGOB4"}})),
	}
	for _, tc := range tests {
		for dname, decode := range decoders {
			t.Run(tc.name+"/"+dname, func(t *testing.T) {
				var parts []io.Reader
				switch {
				case tc.other:
					parts = []io.Reader{strings.NewReader(`{"Other":`), tc.big.reader(), strings.NewReader(`,"Records":[` + first + "," + last + "]}")}
				case tc.bare:
					parts = []io.Reader{strings.NewReader("[" + first + ","), tc.big.reader(), strings.NewReader("," + last + "]")}
				default:
					parts = []io.Reader{strings.NewReader(`{"Records":[` + first + ","), tc.big.reader(), strings.NewReader("," + last + "]}")}
				}
				var n int
				var bad []error
				err := decode(io.MultiReader(parts...), func(s3logs.Record) error { n++; return nil }, func(e error) { bad = append(bad, e) })
				if err != nil {
					t.Fatal(err)
				}
				want := 3
				if tc.other || tc.reported {
					want = 2
				}
				if n != want {
					t.Errorf("%d records emitted, want %d", n, want)
				}
				if !tc.reported {
					if len(bad) != 0 {
						t.Errorf("reported %v", bad)
					}
					return
				}
				var big *s3logs.OversizeError
				if len(bad) != 1 || !errors.As(bad[0], &big) {
					t.Fatalf("bad = %v, want one OversizeError", bad)
				}
				if big.What != "record 2" || big.Bytes != tc.big.size() || big.Limit != MaxRecord {
					t.Errorf("OversizeError %+v, want record 2 of %d bytes, limit %d", *big, tc.big.size(), MaxRecord)
				}
			})
		}
	}
}

// TestOversizeRecordMemory: reading a file whose one record is 256 MiB
// allocates a bounded amount (the stream's buffer grows to MaxRecord, then
// the record streams past), not the record's size.
func TestOversizeRecordMemory(t *testing.T) {
	const size = 256 << 20
	big := hostile{head: `{"Records":[` + bigTime, bodyUnit: "0123456789abcdef", tail: `"}}]}`, bodyBytes: size}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var bad []error
	if err := Decode(big.reader(), func(s3logs.Record) error { return nil }, func(e error) { bad = append(bad, e) }); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(bad) != 1 {
		t.Fatalf("bad = %v", bad)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*MaxRecord {
		t.Fatalf("reading a %d MiB record allocated %d MiB, want at most %d MiB", size>>20, alloc>>20, 4*MaxRecord>>20)
	}
}
