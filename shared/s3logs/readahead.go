package s3logs

import "io"

// readAhead reads its source in a goroutine of its own, a few chunks
// ahead of its reader: decompression and decoding run on two cores.
type readAhead struct {
	full   chan chunk
	free   chan []byte
	cur    chunk
	off    int
	quit   chan struct{}
	done   chan struct{}
	closed bool
}

type chunk struct {
	b   []byte
	err error
}

const (
	readAheadChunks = 4
	readAheadSize   = 256 << 10
)

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{
		full: make(chan chunk, readAheadChunks),
		free: make(chan []byte, readAheadChunks),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	for i := 0; i < readAheadChunks; i++ {
		ra.free <- make([]byte, readAheadSize)
	}
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.quit:
			return
		}
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		ra.full <- chunk{buf[:n], err}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader: the source's bytes, then its error.
func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off == len(ra.cur.b) {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.b != nil {
			ra.free <- ra.cur.b[:cap(ra.cur.b)]
		}
		ra.cur, ra.off = <-ra.full, 0
	}
	n := copy(p, ra.cur.b[ra.off:])
	ra.off += n
	return n, nil
}

// WriteTo implements io.WriterTo: each chunk as the goroutine filled it,
// not copied again into the reader's buffer; then the source's error (nil
// for io.EOF).
func (ra *readAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if ra.off < len(ra.cur.b) {
			n, err := w.Write(ra.cur.b[ra.off:])
			total += int64(n)
			ra.off += n
			if err != nil {
				return total, err
			}
		}
		if ra.cur.err != nil {
			if ra.cur.err == io.EOF {
				return total, nil
			}
			return total, ra.cur.err
		}
		if ra.cur.b != nil {
			ra.free <- ra.cur.b[:cap(ra.cur.b)]
		}
		ra.cur, ra.off = <-ra.full, 0
	}
}

// stop tells the goroutine to read no further; wait waits for it (after
// the source is closed, which ends a read it is blocked in).
func (ra *readAhead) stop() {
	if !ra.closed {
		ra.closed = true
		close(ra.quit)
	}
}

func (ra *readAhead) wait() { <-ra.done }
