package s3logs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// zeros is a reader of n zero bytes, generated as it is read.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := int64(len(p))
	if k > z.n {
		k = z.n
	}
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// gzipOf compresses r (at the best ratio, as a bomb would be made).
func gzipOf(t testing.TB, r io.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := io.Copy(zw, r); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const flowLine = "2 123456789012 eni-0a1b2c3d 10.0.0.1 18.236.253.47 443 51234 6 12 3456 1722587000 1722587060 ACCEPT OK\n"

// TestDecompressedRatio: a gzip stream past MaxRatio (after MinBombBytes)
// stops with ErrBomb, having given about MinBombBytes; one under it is
// read whole.
func TestDecompressedRatio(t *testing.T) {
	tests := []struct {
		name    string
		plain   func() io.Reader
		bomb    bool // 16 gzip members of 64 MiB of zeros each (compressed once)
		size    int64
		wantErr bool
	}{
		// 1 GiB of zeros is about 1 MiB of gzip (a ratio of about 1000).
		{name: "a bomb of 1 GiB", bomb: true, size: 1 << 30, wantErr: true},
		// Under MinBombBytes any ratio is read.
		{name: "small and very compressible", plain: func() io.Reader { return &zeros{n: MinBombBytes / 2} }, size: MinBombBytes / 2},
		// Real logs: about 10 times.
		{name: "log lines", plain: func() io.Reader { return strings.NewReader(strings.Repeat(flowLine, 1<<19)) }, size: int64(len(flowLine)) << 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var z []byte
			if tc.bomb {
				z = bytes.Repeat(gzipOf(t, &zeros{n: 64 << 20}), 16)
			} else {
				z = gzipOf(t, tc.plain())
			}
			r, err := Decompressed(bytes.NewReader(z))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if tc.wantErr {
				if !errors.Is(err, ErrBomb) {
					t.Fatalf("read %d bytes, err %v; want ErrBomb", n, err)
				}
				if n > MinBombBytes+1<<20 {
					t.Fatalf("read %d bytes before stopping, want about %d", n, MinBombBytes)
				}
				return
			}
			if err != nil || n != tc.size {
				t.Fatalf("read %d bytes, err %v; want %d", n, err, tc.size)
			}
		})
	}
}

// TestLinesOversizeMemory: a 256 MiB line (no newline) is reported as an
// OversizeError with its size, and reading it allocates about MaxLine, not
// the line.
func TestLinesOversizeMemory(t *testing.T) {
	const size = 256 << 20
	in := io.MultiReader(strings.NewReader("2024-08-02T08:00:00Z a b\n"), &zeros{n: size}, strings.NewReader("\n2024-08-02T08:00:01Z c d\n"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got int
	var bad []error
	err := Lines(parse)(in, func(Record) error { got++; return nil }, func(e error) { bad = append(bad, e) })
	runtime.ReadMemStats(&after)
	if err != nil || got != 2 {
		t.Fatalf("%d records, err %v; want 2", got, err)
	}
	var big *OversizeError
	if len(bad) != 1 || !errors.As(bad[0], &big) || big.Bytes != size+1 || big.What != "line 2" {
		t.Fatalf("bad = %v, want one OversizeError for line 2 of %d bytes", bad, size+1)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*MaxLine {
		t.Fatalf("a %d MiB line allocated %d MiB", size>>20, alloc>>20)
	}
}
