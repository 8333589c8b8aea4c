// Package hostile generates hostile input for tests as it is read: a
// record of any size, a gzip bomb. Nothing big is committed or held by the
// test; only the compressed form is kept, and it is small.
package hostile

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"
)

// fill is a reader of n bytes, each buffer made by gen.
type fill struct {
	n   int64
	gen func(p []byte)
}

func (f *fill) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	f.gen(p)
	f.n -= int64(len(p))
	return len(p), nil
}

// LowEntropy is n bytes of 'a' with one of 20 other letters every 1 to 500
// bytes (seeded: the same bytes every run). It compresses about 60 times:
// more than real logs (5 to 30), less than a gzip bomb, so a file of it is
// read to its end. It holds no quote, backslash or newline, so it may be
// the inside of a JSON string or a line.
func LowEntropy(n int64, seed uint64) io.Reader {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	return &fill{n: n, gen: func(p []byte) {
		for i := range p {
			p[i] = 'a'
		}
		for i := 0; i < len(p); i += 1 + rng.IntN(500) {
			p[i] = byte('b' + rng.IntN(20))
		}
	}}
}

// Spaces is n spaces (JSON whitespace; a blank line's content).
func Spaces(n int64) io.Reader {
	return &fill{n: n, gen: func(p []byte) {
		for i := range p {
			p[i] = ' '
		}
	}}
}

// Gzip compresses r at level.
func Gzip(t testing.TB, level int, r io.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, r); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Bomb is a gzip file of head, then 1 GiB of spaces, then tail, in
// members (as a log file may be): about 1 MB, compressed once per member
// kind, a ratio of about 1000.
func Bomb(t testing.TB, head, tail string) []byte {
	t.Helper()
	const member, members = 64 << 20, 16
	out := Gzip(t, gzip.BestCompression, io.MultiReader(bytes.NewReader([]byte(head)), Spaces(member)))
	out = append(out, bytes.Repeat(Gzip(t, gzip.BestCompression, Spaces(member)), members-1)...)
	return append(out, Gzip(t, gzip.BestCompression, bytes.NewReader([]byte(tail)))...)
}
