package timeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Reading is most of a build's work (decompressing, scanning and
// normalising every line), and one core did all of it while the others
// waited. It is now a pipeline: one goroutine reads the inputs in order and
// cuts their lines into batches, workers normalise the batches, and Build's
// own goroutine takes each batch's events and untimed records in input
// order. Everything that depends on order (the chunk, the counts, which keys
// Stats counts one by one, untimed.jsonl) happens there, as a single reader
// did it, so the outputs are the same bytes whatever the scheduling and the
// number of workers.
//
// Memory: the batches are a fixed set (pipeBatches), recycled, so that
// many at most are read ahead of Build. A batch is cut at batchBytes, so it
// holds that much text plus one line; a line may be up to MaxRecordBytes,
// so the bound is pipeBatches such lines where one was held before (a case
// of nothing but 16 MiB documents; the collectors' records are far below).

// batchBytes and batchLines are where the reader cuts a batch: large enough
// that handing it over costs nothing next to normalising it, small enough
// that the set of batches in flight is a few MiB.
const (
	batchBytes = 128 << 10
	batchLines = 1024
)

// pipeBatches is the number of batches of a pipeline of so many workers:
// one being read, one being taken, and four a worker so that none waits.
// Two a worker were used up while Build's goroutine sorted and spilled a
// chunk (some 45 ms, 23 times at 2M events): the workers then stood idle,
// and the read used 1.6 of 2 cores; with four or eight, 1.7 to 1.8 (eight
// held 20 MiB more of the heap for no more speed).
func pipeBatches(workers int) int { return 4*workers + 2 }

// batch is a run of consecutive lines of one input, and what a worker made
// of them.
type batch struct {
	in int // the input's index
	// Filled by the reader: the lines' bytes back to back in data.
	data  []byte
	lines []batchLine
	// end is set on an input's last batch: what ended it.
	end batchEnd
	// Filled by the worker.
	evs  []Event
	un   []Untimed
	done chan struct{}
}

// batchLine is one line of a batch.
type batchLine struct {
	rec int64
	// end is where the line ends in the batch's data (it starts where the
	// previous one ends).
	end int
	// oversize is the size of a line past MaxRecordBytes, whose bytes were
	// skipped, not kept; 0 for a line that was read.
	oversize int64
	// Set by the worker: whether the line is not blank, and where its
	// events and untimed records end in the batch's evs and un.
	nonBlank     bool
	evEnd, unEnd int
}

// endKind is what ended an input.
type endKind uint8

const (
	endNone        endKind = iota // not the input's last batch
	endEOF                        // read to its end
	endRead                       // a read error: the rest is untimed (ReasonUnreadable)
	endOpenTooLong                // Open returned ErrRecordTooLong
	endFatal                      // an error that ends the build
)

type batchEnd struct {
	kind endKind
	rec  int64 // endRead: the record it broke off at
	err  error
}

// pipeline is the reader and the workers of one Build.
type pipeline struct {
	inputs []Input
	now    time.Time
	// free holds the batches not in use; order the batches read, in input
	// order, for Build; work the same batches, for the workers. Both have
	// room for every batch: a send never blocks.
	free, order, work chan *batch
	stop              chan struct{}
	wg                sync.WaitGroup
}

// startPipeline starts reading inputs with the given number of workers.
func startPipeline(ctx context.Context, inputs []Input, now time.Time, workers int) *pipeline {
	n := pipeBatches(workers)
	p := &pipeline{inputs: inputs, now: now, free: make(chan *batch, n), order: make(chan *batch, n),
		work: make(chan *batch, n), stop: make(chan struct{})}
	for range n {
		p.free <- &batch{done: make(chan struct{}, 1)}
	}
	p.wg.Add(1 + workers)
	go func() {
		defer p.wg.Done()
		defer close(p.work)
		defer close(p.order)
		for i, in := range inputs {
			if !p.readInput(ctx, i, in) {
				return
			}
		}
	}()
	for range workers {
		go func() {
			defer p.wg.Done()
			var d jdoc
			for b := range p.work {
				p.normalize(b, &d)
				b.done <- struct{}{}
			}
		}()
	}
	return p
}

// close stops the reader and waits for it and the workers: no input is
// left open and nothing runs once Build has returned.
func (p *pipeline) close() {
	close(p.stop)
	p.wg.Wait()
}

// next is a free batch for input i; nil once the build has stopped.
func (p *pipeline) next(i int) *batch {
	select {
	case b := <-p.free:
		b.in = i
		return b
	case <-p.stop:
		return nil
	}
}

// send hands b on to a worker and to Build.
func (p *pipeline) send(b *batch) {
	p.order <- b
	p.work <- b
}

// recycle makes b free again, keeping its buffers unless a huge line
// grew them.
func (p *pipeline) recycle(b *batch) {
	if cap(b.data) > 4*batchBytes {
		b.data = nil
	}
	clear(b.evs) // the events' strings are not kept alive by a free batch
	clear(b.un)
	b.data, b.lines, b.evs, b.un, b.end = b.data[:0], b.lines[:0], b.evs[:0], b.un[:0], batchEnd{}
	p.free <- b
}

// readInput reads input i into batches; false when the build is to stop.
func (p *pipeline) readInput(ctx context.Context, i int, in Input) bool {
	b := p.next(i)
	if b == nil {
		return false
	}
	rc, err := in.Open()
	if errors.Is(err, ErrRecordTooLong) {
		b.end = batchEnd{kind: endOpenTooLong, err: err}
		p.send(b)
		return true
	}
	if err != nil {
		b.end = batchEnd{kind: endFatal, err: fmt.Errorf("open %s: %w", in.ArtifactKey, err)}
		p.send(b)
		return false
	}
	defer rc.Close()
	lr := bufio.NewReaderSize(rc, 256<<10)
	if magic, _ := lr.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(lr)
		if err != nil {
			b.end = batchEnd{kind: endFatal, err: fmt.Errorf("read %s: %w", in.ArtifactKey, err)}
			p.send(b)
			return false
		}
		defer gz.Close()
		lr = bufio.NewReaderSize(gz, 256<<10)
	}
	for rec := int64(0); ; rec++ {
		if len(b.lines) >= batchLines || len(b.data) >= batchBytes {
			p.send(b)
			if b = p.next(i); b == nil {
				return false
			}
			if err := ctx.Err(); err != nil {
				b.end = batchEnd{kind: endFatal, err: err}
				p.send(b)
				return false
			}
		}
		start := len(b.data)
		var size int64
		b.data, size, err = readLine(lr, b.data)
		if size > MaxRecordBytes {
			// Counted and kept apart, never decoded: the record is in
			// its artifact.
			b.lines = append(b.lines, batchLine{rec: rec, end: len(b.data), oversize: size})
			if err != nil {
				return p.finish(b, rec+1, err)
			}
			continue
		}
		if len(b.data) == start && err != nil {
			return p.finish(b, rec, err)
		}
		b.lines = append(b.lines, batchLine{rec: rec, end: len(b.data)})
		if err != nil { // a last line without a newline
			return p.finish(b, rec+1, err)
		}
	}
}

// finish sends an input's last batch, ended by err at record rec.
func (p *pipeline) finish(b *batch, rec int64, err error) bool {
	b.end = batchEnd{kind: endEOF}
	if !errors.Is(err, io.EOF) {
		b.end = batchEnd{kind: endRead, rec: rec, err: err}
	}
	p.send(b)
	return true
}

// normalize is a worker's part: b's lines normalised into b.evs and b.un.
func (p *pipeline) normalize(b *batch, d *jdoc) {
	in := &p.inputs[b.in]
	start := 0
	for k := range b.lines {
		l := &b.lines[k]
		line := b.data[start:l.end]
		start = l.end
		if l.oversize == 0 {
			l.nonBlank = len(bytes.TrimSpace(line)) > 0
			normalizeInto(d, in.Source, in.ArtifactKey, l.rec, line, p.now, &b.evs, &b.un)
		}
		l.evEnd, l.unEnd = len(b.evs), len(b.un)
	}
}

// take is Build's part: b's records counted, its untimed records written
// and its events put in the chunk, line by line in input order.
func (bd *builder) take(b *batch, in Input, rank int32) error {
	ev, un := 0, 0
	for k := range b.lines {
		l := &b.lines[k]
		if l.oversize > 0 {
			bd.stats.Records[in.Source]++
			u := Untimed{Source: in.Source, Artifact: in.ArtifactKey, Record: l.rec, Reason: ReasonOversize,
				Detail: fmt.Sprintf("%d bytes, longer than the %d the timeline reads", l.oversize, MaxRecordBytes)}
			if err := bd.addUntimed(&u); err != nil {
				return err
			}
			continue
		}
		if l.nonBlank {
			bd.stats.Records[in.Source]++
		}
		for ; un < l.unEnd; un++ {
			if err := bd.addUntimed(&b.un[un]); err != nil {
				return err
			}
		}
		for ; ev < l.evEnd; ev++ {
			e := &b.evs[ev]
			bd.stats.addEvent(e, bd.opts.MaxKeys, bd.keys)
			if bd.full {
				if err := bd.spill(); err != nil {
					return err
				}
			}
			bd.chunk.add(e, rank)
			if len(bd.chunk.entries) >= bd.opts.ChunkEvents || bd.chunk.size >= bd.opts.ChunkBytes {
				bd.chunk.sort()
				bd.full = true
			}
		}
	}
	switch b.end.kind {
	case endRead:
		// The rest of the extract (a truncated or corrupt gzip stream) is
		// untimed where it broke off, and Build goes on with the other
		// inputs: what was read stays on the timeline.
		u := Untimed{Source: in.Source, Artifact: in.ArtifactKey, Record: b.end.rec, Reason: ReasonUnreadable,
			Detail: "extract unreadable from this line on: " + b.end.err.Error()}
		return bd.addUntimed(&u)
	case endOpenTooLong:
		bd.stats.Records[in.Source]++
		u := Untimed{Source: in.Source, Artifact: in.ArtifactKey, Reason: ReasonOversize, Detail: b.end.err.Error()}
		return bd.addUntimed(&u)
	case endFatal:
		return b.end.err
	}
	return nil
}
