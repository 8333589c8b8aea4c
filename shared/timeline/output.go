package timeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// output writes timeline.jsonl and timeline.csv. It writes the bytes
// encoding/json (an Event, HTML not escaped) and encoding/csv would, with
// appendJSONString and appendCSVField, from the payload as it is.
//
// The same record read from two extracts (CloudTrail's eventID, a flow
// record's fields: the payload's dedupe key) has the same time in both, so
// the events of one instant are held until the time moves on, and a
// record's copies are written as one event with every origin. That is the
// only thing held: memory is bounded by the events of one instant (of one
// microsecond for most sources, one second for those that give seconds),
// never by the timeline.
//
// Writing is a pipeline too, as reading is (read.go): after the read, the
// merge and the encoding of two lines an event were one core's work while
// the other had none. The merge, with the grouping of an instant's copies,
// runs in a goroutine of its own and hands the events on in batches; a
// worker encodes each batch's CSV rows while Build's goroutine encodes its
// JSON lines, then writes both, batch by batch in order. Build's writers
// are written from its goroutine alone, in the order one goroutine wrote
// them.
type output struct {
	names []inputName
	err   error

	// group is the events at the current time, in order, with their
	// origins; its payloads and origins are reused from one instant to the
	// next. stats loses the duplicates it counted when they were read.
	at    entry
	group []pending
	n     int
	// index finds a key's event among the group once it is large (a
	// busy second of a source that gives seconds): a scan of each would
	// be quadratic in the events of the instant. It is keyed by the key
	// alone, the first event of that key (a lookup by a []byte's string
	// allocates nothing, a key joined with its source did): an event of
	// another source with the same key, which no source's keys make, is
	// told apart by a scan.
	index map[string]int
	stats *Stats

	// pipe takes the events the groups are done with.
	pipe *outPipe
	cur  *outBatch
}

// indexFrom is the group size from which index is used.
const indexFrom = 32

// pending is an event held until its instant is over.
type pending struct {
	e       entry
	payload []byte
	f       [payloadFields][]byte
	origins []origin
}

// origin is one copy of a record: its input's rank and its line.
type origin struct {
	rank   int32
	record int64
}

// write takes the next event in time order.
func (o *output) write(e *entry, payload []byte) error {
	if o.err != nil {
		return o.err
	}
	if o.n > 0 && (e.sec != o.at.sec || e.nsec != o.at.nsec) {
		if err := o.flushGroup(); err != nil {
			return err
		}
	}
	o.at = *e
	var f [payloadFields][]byte
	if !splitPayload(payload, &f) {
		o.err = errors.New("timeline: bad event payload") // not reached
		return o.err
	}
	src := o.names[e.rank].source
	id := f[fieldDedupe]
	if len(id) > 0 {
		if i, ok := o.find(src, id); ok {
			p := &o.group[i]
			p.origins = append(p.origins, origin{e.rank, e.record})
			o.uncount(src, &f)
			return nil
		}
	}
	if o.n == len(o.group) {
		o.group = append(o.group, pending{})
	}
	p := &o.group[o.n]
	o.n++
	p.e = *e
	p.payload = append(p.payload[:0], payload...)
	splitPayload(p.payload, &p.f) // the copy's fields, as f was the original's
	p.origins = append(p.origins[:0], origin{e.rank, e.record})
	if o.n == indexFrom {
		if o.index == nil {
			o.index = map[string]int{}
		}
		for i := range o.group[:o.n] {
			if q := &o.group[i]; len(q.f[fieldDedupe]) > 0 {
				o.indexAdd(q.f[fieldDedupe], i)
			}
		}
	} else if o.n > indexFrom && len(id) > 0 {
		o.indexAdd(id, o.n-1)
	}
	return nil
}

// find is the index in the group of the event of source src with key id.
func (o *output) find(src string, id []byte) (int, bool) {
	if o.n >= indexFrom {
		i, ok := o.index[string(id)]
		if !ok {
			return 0, false
		}
		if o.names[o.group[i].e.rank].source == src {
			return i, true
		}
	}
	for i := range o.group[:o.n] {
		p := &o.group[i]
		if o.names[p.e.rank].source == src && bytes.Equal(p.f[fieldDedupe], id) {
			return i, true
		}
	}
	return 0, false
}

// indexAdd puts the group's event i, of key id, in the index, unless an
// earlier event of that key is there.
func (o *output) indexAdd(id []byte, i int) {
	if _, ok := o.index[string(id)]; !ok {
		o.index[string(id)] = i
	}
}

// uncount takes a duplicate out of the counts made when it was read.
func (o *output) uncount(src string, f *[payloadFields][]byte) {
	s := o.stats
	if s == nil {
		return
	}
	if s.Duplicates == nil {
		s.Duplicates = map[string]int64{}
	}
	s.Duplicates[src]++
	s.Events[src]--
	s.TotalEvents--
	uncount(s.Actions, string(f[fieldAction]))
	uncount(s.Actors, string(f[fieldActor]))
}

// uncount takes back one countKey of k: under k when it has its own
// count, else under Other (where countKey put it when the map was full).
func uncount(m map[string]int64, k string) {
	if k == "" {
		return
	}
	if _, ok := m[k]; !ok {
		k = Other
	}
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// flushGroup hands on the events held for the current instant.
func (o *output) flushGroup() error {
	for i := range o.group[:o.n] {
		p := &o.group[i]
		if o.cur == nil {
			if o.cur = o.pipe.next(); o.cur == nil {
				o.err = errOutputStopped
				return o.err
			}
		}
		o.cur.add(p)
		if o.cur.full() {
			o.pipe.send(o.cur)
			o.cur = nil
		}
	}
	if o.n >= indexFrom {
		clear(o.index)
	}
	o.n = 0
	return nil
}

// finish hands on the last instant's events.
func (o *output) finish() error {
	if o.err != nil {
		return o.err
	}
	if err := o.flushGroup(); err != nil {
		return err
	}
	if o.cur != nil {
		o.pipe.send(o.cur)
		o.cur = nil
	}
	return nil
}

// errOutputStopped is what the merge gets once Build has stopped writing
// (on a write error, which Build returns).
var errOutputStopped = errors.New("timeline: output stopped")

// outBatch is a run of events ready to be written, with their origins, and
// their encodings.
type outBatch struct {
	evs     []outEvent
	data    []byte // the events' payloads back to back
	origins []origin
	j, c    []byte // the JSON lines and the CSV rows
	done    chan struct{}
}

// outEvent is an event of an outBatch: its payload and origins by offset.
type outEvent struct {
	e      entry
	off, n int
	o0, o1 int
}

// outBatchBytes is where a batch is cut: a few hundred events.
const outBatchBytes = 128 << 10

func (b *outBatch) add(p *pending) {
	b.evs = append(b.evs, outEvent{e: p.e, off: len(b.data), n: len(p.payload), o0: len(b.origins), o1: len(b.origins) + len(p.origins)})
	b.data = append(b.data, p.payload...)
	b.origins = append(b.origins, p.origins...)
}

func (b *outBatch) full() bool { return len(b.data) >= outBatchBytes }

// each calls f with each event of b, its fields and origins.
func (b *outBatch) each(f func(e *entry, fields *[payloadFields][]byte, origins []origin)) {
	var fields [payloadFields][]byte
	for i := range b.evs {
		ev := &b.evs[i]
		splitPayload(b.data[ev.off:ev.off+ev.n], &fields) // checked when the event was grouped
		f(&ev.e, &fields, b.origins[ev.o0:ev.o1])
	}
}

// outPipe is the batches between the merge and the writer.
type outPipe struct {
	free, order, csv chan *outBatch
	stop             chan struct{}
}

func (p *outPipe) next() *outBatch {
	select {
	case b := <-p.free:
		return b
	case <-p.stop:
		return nil
	}
}

func (p *outPipe) send(b *outBatch) {
	p.order <- b
	if p.csv != nil {
		p.csv <- b
	}
}

// outBatches is how many batches are between the merge and the writer:
// with 4, the merge, the CSV worker and Build's goroutine waited on one
// another, and the output used 1.6 of 2 cores at 2M events (2.3 s); with
// 16 it used 1.9 (1.4 s), for some 6 MiB more of the heap.
const outBatches = 16

// writeOutputs runs produce, which calls the output's write with every
// event in time order, in a goroutine, and writes timeline.jsonl to j and
// timeline.csv (header first) to c as the events come; a nil writer is
// skipped.
func writeOutputs(j, c io.Writer, names []inputName, stats *Stats, produce func(write func(*entry, []byte) error) error) error {
	p := &outPipe{free: make(chan *outBatch, outBatches), order: make(chan *outBatch, outBatches), stop: make(chan struct{})}
	for range outBatches {
		p.free <- &outBatch{done: make(chan struct{}, 1)}
	}
	var wg sync.WaitGroup
	if c != nil {
		p.csv = make(chan *outBatch, outBatches)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range p.csv {
				b.c = b.c[:0]
				b.each(func(e *entry, f *[payloadFields][]byte, origins []origin) {
					b.c = appendCSVRow(b.c, names, e, f, origins)
				})
				b.done <- struct{}{}
			}
		}()
	}
	o := &output{names: names, stats: stats, pipe: p}
	var mergeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			close(p.order)
			if p.csv != nil {
				close(p.csv)
			}
		}()
		if mergeErr = produce(o.write); mergeErr == nil {
			mergeErr = o.finish()
		}
	}()
	err := writeBatches(j, c, names, p)
	close(p.stop)
	wg.Wait() // the merge's error is read after it is done
	if err != nil {
		return err
	}
	return mergeErr
}

// writeBatches is Build's part of writeOutputs: each batch's JSON lines
// encoded and both files written, in order, until the merge is done.
func writeBatches(j, c io.Writer, names []inputName, p *outPipe) error {
	if c != nil {
		var row []byte
		for i, h := range CSVHeader {
			if i > 0 {
				row = append(row, ',')
			}
			row = appendCSVField(row, []byte(h))
		}
		if _, err := c.Write(append(row, '\n')); err != nil {
			return fmt.Errorf("write timeline.csv: %w", err)
		}
	}
	for b := range p.order {
		if j != nil {
			b.j = b.j[:0]
			b.each(func(e *entry, f *[payloadFields][]byte, origins []origin) {
				b.j = appendJSONLine(b.j, names, e, f, origins)
			})
			if _, err := j.Write(b.j); err != nil {
				return fmt.Errorf("write timeline.jsonl: %w", err)
			}
		}
		if c != nil {
			<-b.done
			if _, err := c.Write(b.c); err != nil {
				return fmt.Errorf("write timeline.csv: %w", err)
			}
		}
		b.evs, b.data, b.origins = b.evs[:0], b.data[:0], b.origins[:0]
		p.free <- b
	}
	return nil
}

// appendJSONLine appends an event's timeline.jsonl line.
func appendJSONLine(j []byte, names []inputName, e *entry, f *[payloadFields][]byte, origins []origin) []byte {
	name := &names[e.rank]
	// Microseconds, as Datetime shows them (a nanosecond source's last
	// digits are in neither: the order of the lines keeps them).
	us := e.sec*1_000_000 + int64(e.nsec)/1000
	j = append(j, `{"datetime":`...)
	j = appendJSONString(j, f[0])
	j = append(j, `,"timestamp":`...)
	j = strconv.AppendInt(j, us, 10)
	j = append(j, `,"timestamp_desc":`...)
	j = appendJSONString(j, f[1])
	j = append(j, `,"message":`...)
	j = appendJSONString(j, f[2])
	j = append(j, `,"data_type":`...)
	j = append(j, name.jsonDataType...)
	j = append(j, `,"source":`...)
	j = append(j, name.jsonSource...)
	j = append(j, `,"action":`...)
	j = appendJSONString(j, f[3])
	j = append(j, `,"actor":`...)
	j = appendJSONString(j, f[4])
	j = append(j, `,"target":`...)
	j = appendJSONString(j, f[5])
	j = append(j, `,"srcIp":`...)
	j = appendJSONString(j, f[6])
	j = append(j, `,"outcome":`...)
	j = appendJSONString(j, f[7])
	j = append(j, `,"artifact":`...)
	j = append(j, name.jsonArtifact...)
	j = append(j, `,"record":`...)
	j = strconv.AppendInt(j, e.record, 10)
	j = append(j, `,"origins":[`...)
	for i, or := range origins {
		if i > 0 {
			j = append(j, ',')
		}
		j = append(j, `{"artifact":`...)
		j = append(j, names[or.rank].jsonArtifact...)
		j = append(j, `,"record":`...)
		j = strconv.AppendInt(j, or.record, 10)
		j = append(j, '}')
	}
	return append(j, "]}\n"...)
}

// appendCSVRow appends an event's timeline.csv row.
func appendCSVRow(c []byte, names []inputName, e *entry, f *[payloadFields][]byte, origins []origin) []byte {
	name := &names[e.rank]
	us := e.sec*1_000_000 + int64(e.nsec)/1000
	c = appendCSVCell(c, f[0])
	c = append(c, ',')
	c = strconv.AppendInt(c, us, 10)
	c = append(c, ',')
	c = appendCSVCell(c, f[1])
	c = append(c, ',')
	c = appendCSVCell(c, f[2])
	c = append(c, ',')
	c = append(c, name.csvDataType...)
	c = append(c, ',')
	c = append(c, name.csvSource...)
	for _, x := range f[fieldAction : fieldOutcome+1] {
		c = append(c, ',')
		c = appendCSVCell(c, x)
	}
	c = append(c, ',')
	c = append(c, name.csvArtifact...)
	c = append(c, ',')
	c = strconv.AppendInt(c, e.record, 10)
	c = append(c, ',')
	var buf [256]byte // the origins' cell: most are short
	cell := buf[:0]
	for i, or := range origins {
		if i > 0 {
			cell = append(cell, " | "...)
		}
		cell = append(cell, names[or.rank].artifact...)
		cell = append(cell, ':')
		cell = strconv.AppendInt(cell, or.record, 10)
	}
	c = appendCSVCell(c, cell)
	return append(c, '\n')
}
