package timeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// The outputs and the stats do not depend on how many workers normalise
// the records, nor on where the batches are cut: inputs of several batches
// each (blank, malformed and untimed lines among them, a truncated gzip
// stream, a record from two extracts) give the bytes a single worker gives.
func TestWorkersSameOutput(t *testing.T) {
	var cw strings.Builder
	for i := range 3*batchLines + 17 {
		switch {
		case i%97 == 0:
			cw.WriteString("\n")
		case i%89 == 0:
			cw.WriteString("not json\n")
		case i%83 == 0:
			cw.WriteString(`{"message":"no time"}` + "\n")
		default:
			fmt.Fprintf(&cw, `{"timestamp":%d,"message":"m%d"}`+"\n", 1722586990000+int64(i%50)*7, i)
		}
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(strings.Repeat(`{"timestamp":1722586990000,"message":"x"}`+"\n", 3000)))
	zw.Close()
	trunc := z.Bytes()[:z.Len()/2]
	ct := `{"eventTime":"2024-08-02T08:23:10Z","eventID":"e1","recipientAccountId":"1","eventName":"X"}` + "\n"
	ins := []Input{
		stringInput("cloudwatch", "cloudwatch/many.jsonl", cw.String()),
		stringInput("cloudtrail", "cloudtrail/a.jsonl", ct),
		{Source: "cloudwatch", ArtifactKey: "cloudwatch/trunc.jsonl.gz", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(trunc)), nil
		}},
		stringInput("cloudtrail", "cloudtrail/b.jsonl", ct),
	}
	want := build(t, ins, Options{Workers: 1})
	if want.stats.Duplicates["cloudtrail"] != 1 || want.stats.Untimed["cloudwatch"][ReasonUnreadable] != 1 {
		t.Fatalf("the inputs are not what the test needs: %+v", want.stats)
	}
	for _, o := range []Options{{Workers: 2}, {Workers: 8}, {Workers: 3, ChunkEvents: 500}, {Workers: 1, ChunkEvents: 500, MaxRuns: 2}} {
		got := build(t, ins, o)
		if !bytes.Equal(got.jsonl, want.jsonl) || !bytes.Equal(got.csv, want.csv) || !bytes.Equal(got.untimed, want.untimed) {
			t.Errorf("%+v: output differs from one worker's", o)
		}
		got.stats.Runs = want.stats.Runs
		if !reflect.DeepEqual(got.stats, want.stats) {
			t.Errorf("%+v: stats %+v, want %+v", o, got.stats, want.stats)
		}
	}
}

// failAfter is a writer that fails once it has taken n bytes.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// A write error on either output ends Build with that error, from the
// in-memory sort and from the merge alike, early or late, with the
// merge and the workers stopped (the race detector and the test's
// timeout see the rest).
func TestOutputWriteError(t *testing.T) {
	var body strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&body, `{"timestamp":%d,"message":"a message of some length %d"}`+"\n", 1722586990000-int64(i%977)*1000, i)
	}
	ins := []Input{stringInput("cloudwatch", "cloudwatch/a.jsonl", body.String())}
	for _, c := range []struct {
		name  string
		jsonl bool
		after int
		chunk int
	}{
		{"jsonl at once", true, 0, 0},
		{"jsonl late", true, 2 << 20, 0},
		{"csv at once", false, 0, 0},
		{"csv late", false, 1 << 20, 0},
		{"jsonl late, merged", true, 2 << 20, 3000},
		{"csv late, merged", false, 1 << 20, 3000},
	} {
		j, cs := io.Writer(io.Discard), io.Writer(io.Discard)
		if c.jsonl {
			j = &failAfter{c.after}
		} else {
			cs = &failAfter{c.after}
		}
		_, err := Build(context.Background(), ins, j, cs, io.Discard, t.TempDir(), Options{ChunkEvents: c.chunk, Now: testNow})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: %v, want the write error", c.name, err)
		}
	}
}

// A cancelled context ends Build with its error, whether it was cancelled
// before Build or while an input is being read.
func TestBuildCancelled(t *testing.T) {
	var body strings.Builder
	for i := range 3 * batchLines {
		fmt.Fprintf(&body, `{"timestamp":%d,"message":"m%d"}`+"\n", 1722586990000+int64(i), i)
	}
	for _, c := range []struct {
		name   string
		before bool
	}{{"before", true}, {"while reading", false}} {
		ctx, cancel := context.WithCancel(context.Background())
		if c.before {
			cancel()
		}
		ins := []Input{
			stringInput("cloudwatch", "cloudwatch/a.jsonl", body.String()),
			{Source: "cloudwatch", ArtifactKey: "cloudwatch/b.jsonl", Open: func() (io.ReadCloser, error) {
				cancel() // the build is stopped as this input is read
				return io.NopCloser(strings.NewReader(body.String())), nil
			}},
			stringInput("cloudwatch", "cloudwatch/c.jsonl", body.String()),
		}
		_, err := Build(ctx, ins, io.Discard, io.Discard, io.Discard, t.TempDir(), Options{Now: testNow})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", c.name, err)
		}
		cancel()
	}
}
