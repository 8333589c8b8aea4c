package timeline

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// filler is n bytes of 'x', generated as it is read.
type filler struct{ n int64 }

func (f *filler) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	f.n -= int64(len(p))
	return len(p), nil
}

// TestOversizeRecords: an extract line past MaxRecordBytes (here 256 MiB,
// generated as it is read) is untimed with ReasonOversize and its size,
// the lines around it are on the timeline, and reading it allocates a
// bounded amount; an artifact whose opener finds one record too long to
// read is untimed the same way.
func TestOversizeRecords(t *testing.T) {
	const size = 256 << 20
	line := `{"eventTime":"2024-08-02T08:23:00Z","eventName":"GetObject"}` + "\n"
	ins := []Input{
		{Source: "cloudtrail", ArtifactKey: "cloudtrail/extract.jsonl", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader(line+`{"eventTime":"2024-08-02T08:23:01Z","x":"`), &filler{n: size}, strings.NewReader("\"}\n"+line))), nil
		}},
		{Source: "guardduty", ArtifactKey: "guardduty/finding.json", Open: func() (io.ReadCloser, error) {
			return nil, errors.Join(errors.New("guardduty/finding.json: more than the bound"), ErrRecordTooLong)
		}},
	}
	allocated := func(ins []Input) (built, uint64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b := build(t, ins, Options{})
		runtime.ReadMemStats(&after)
		return b, after.TotalAlloc - before.TotalAlloc
	}
	// The same build with the long line left out: Build's own buffers.
	_, base := allocated([]Input{stringInput("cloudtrail", "cloudtrail/extract.jsonl", line+line)})
	b, alloc := allocated(ins)
	if b.stats.Events["cloudtrail"] != 2 {
		t.Errorf("%d cloudtrail events, want the 2 around the long line", b.stats.Events["cloudtrail"])
	}
	for _, src := range []string{"cloudtrail", "guardduty"} {
		if n := b.stats.Untimed[src][ReasonOversize]; n != 1 {
			t.Errorf("%s: %d untimed %q, want 1 (%v)", src, n, ReasonOversize, b.stats.Untimed)
		}
	}
	if !strings.Contains(string(b.untimed), `"record":1,"reason":"record too long"`) {
		t.Errorf("untimed does not point at record 1:\n%s", b.untimed)
	}
	if alloc > base+4*MaxRecordBytes {
		t.Errorf("a %d MiB line allocated %d MiB (%d MiB without it)", size>>20, alloc>>20, base>>20)
	}
}
