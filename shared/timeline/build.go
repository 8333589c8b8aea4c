package timeline

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
)

// Input is one extract to put on the timeline.
type Input struct {
	// Source is the evidence source (evidence.SourceCloudTrail, ...): it
	// picks the normalizer.
	Source string
	// ArtifactKey is the extract's key, the events' Artifact.
	ArtifactKey string
	// Open opens the extract: JSON Lines, gzip'd or not (told apart by the
	// gzip magic number).
	Open func() (io.ReadCloser, error)
}

// Options tunes Build. The zero value is the defaults.
type Options struct {
	// ChunkEvents is how many events are sorted in memory at a time before
	// they are spilled to a run on disk (default DefaultChunkEvents). It
	// bounds memory: one chunk is held at a time (the last one, never
	// spilled, during the merge), and the merge holds one event per run.
	ChunkEvents int
	// ChunkBytes bounds a chunk's events' bytes too (default
	// DefaultChunkBytes): a chunk is spilled at ChunkEvents events or
	// ChunkBytes bytes, whichever comes first. A count alone bounded memory
	// only as far as the events are small: 100 k CloudTrail events took a
	// third more than 100 k flow records, so the heap grew with the share
	// of large events rather than staying at one bound.
	ChunkBytes int
	// MaxRuns is how many runs are merged at once (default DefaultMaxRuns);
	// beyond it runs are merged into longer runs first.
	MaxRuns int
	// Now is the time a record's time may not be more than FutureSlack
	// after (default time.Now()).
	Now time.Time
	// MaxKeys bounds the actions and actors counted one by one in Stats
	// (default DefaultMaxKeys); the rest are counted under Other.
	MaxKeys int
	// Workers is how many goroutines normalise records (default
	// runtime.GOMAXPROCS(0) + 1: the reader and Build's own goroutine
	// each wait at times, and one worker more than the cores keeps them
	// busy then; at 2M events on 2 cores, 3 workers built in 7.9 and 6.5 s
	// where 2 took 9.3 and 8.1, runs alternated). The outputs do not
	// depend on it.
	Workers int
}

// Defaults for Options.
const (
	DefaultChunkEvents = 100_000
	DefaultChunkBytes  = 32 << 20
	DefaultMaxRuns     = 64
	DefaultMaxKeys     = 10_000
	// Other is the key the actions and actors beyond MaxKeys are counted under.
	Other = "(other)"
)

// Stats is what Build saw, for the report.
type Stats struct {
	// Records is the lines read per source (blank lines not counted).
	Records map[string]int64 `json:"records"`
	// Events is the events written per source.
	Events map[string]int64 `json:"events"`
	// Untimed counts the untimed records per source and reason.
	Untimed      map[string]map[string]int64 `json:"untimed"`
	TotalEvents  int64                       `json:"totalEvents"`
	TotalUntimed int64                       `json:"totalUntimed"`
	// First and Last are the earliest and latest event (Datetime form).
	First     string    `json:"first,omitempty"`
	Last      string    `json:"last,omitempty"`
	FirstTime time.Time `json:"-"`
	LastTime  time.Time `json:"-"`
	// Actions and Actors count events per action and per actor ("" not counted).
	Actions map[string]int64 `json:"actions"`
	Actors  map[string]int64 `json:"actors"`
	// Runs is the number of sorted runs spilled to disk (0: sorted in memory).
	Runs int `json:"runs"`
	// Duplicates counts per source the copies of records read from more
	// than one extract (the same CloudTrail eventID, the same flow record)
	// and written once, with every origin; Events and the other counts are
	// of the events written.
	Duplicates map[string]int64 `json:"duplicates,omitempty"`
}

func newStats() Stats {
	return Stats{Records: map[string]int64{}, Events: map[string]int64{}, Untimed: map[string]map[string]int64{},
		Actions: map[string]int64{}, Actors: map[string]int64{}}
}

// keyCounts counts the keys of one of Stats' maps (Actions, Actors) while
// the records are read, into Stats once they are (into): one map lookup an
// event, where counting in the map itself took two (a copy of the key had
// to be found first: an event's strings may be its line's bytes
// (unquote), which the read reuses once the event is in the chunk, and a
// map's assignment stores the key it is given even when the map has it).
// The counts are the map's: a key is counted one by one if it came while
// the map had fewer than max keys, else under Other.
type keyCounts struct {
	index map[string]int32 // a key (a copy) to its count in n
	n     []int64
	other int64
}

func (c *keyCounts) count(k string, max int) {
	if k == "" {
		return
	}
	if i, ok := c.index[k]; ok {
		c.n[i]++
		return
	}
	// Until the first key counted under Other the map would have as
	// many keys as index; after it, never fewer than max.
	if len(c.index) >= max {
		c.other++
		return
	}
	c.index[strings.Clone(k)] = int32(len(c.n))
	c.n = append(c.n, 1)
}

// into puts the counts in m, empty until then.
func (c *keyCounts) into(m map[string]int64) {
	for k, i := range c.index {
		m[k] = c.n[i]
	}
	if c.other > 0 {
		m[Other] += c.other // a key "(other)" of its own shares its count
	}
}

func (s *Stats) addEvent(e *Event, maxKeys int, keys *countedKeys) {
	s.Events[e.Source]++
	s.TotalEvents++
	if s.FirstTime.IsZero() || e.Time.Before(s.FirstTime) {
		s.FirstTime, s.First = e.Time, e.Datetime
	}
	if s.LastTime.IsZero() || e.Time.After(s.LastTime) {
		s.LastTime, s.Last = e.Time, e.Datetime
	}
	keys.actions.count(e.Action, maxKeys)
	keys.actors.count(e.Actor, maxKeys)
}

// countedKeys is the counts of Stats' Actions and Actors while the records
// are read (see keyCounts).
type countedKeys struct{ actions, actors keyCounts }

func newCountedKeys() *countedKeys {
	return &countedKeys{actions: keyCounts{index: map[string]int32{}}, actors: keyCounts{index: map[string]int32{}}}
}

// into puts the counts in s, once the records are read.
func (k *countedKeys) into(s *Stats) {
	k.actions.into(s.Actions)
	k.actors.into(s.Actors)
}

// entry is an event in a chunk or a run: what orders it, and its payload
// (the rest of its fields, see appendPayload).
type entry struct {
	// sec, nsec are the event's time.
	sec    int64
	record int64
	sub    int
	// n, blk, off locate the payload in the chunk's blocks.
	n    int
	nsec int32
	// rank stands for the event's (source, artifact): their rank among the
	// inputs', so that one integer compares as the two strings do.
	rank     int32
	blk, off int32
}

// compareEntries orders events: by time, then source, artifact, record and
// the order within the record, so equal times sort the same on every run.
func compareEntries(a, b entry) int {
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	if c := cmp.Compare(a.record, b.record); c != 0 {
		return c
	}
	return cmp.Compare(a.sub, b.sub)
}

// payloadFields is the number of an event's fields in its payload, in this
// order: datetime, timestamp_desc, message, action, actor, target, srcIp,
// outcome, and the record identity it is deduplicated by (not written).
// Source, artifact and record are in its entry.
const payloadFields = 9

// Payload field indexes the output reads by name.
const (
	fieldAction  = 3
	fieldActor   = 4
	fieldOutcome = 7
	fieldDedupe  = 8
)

// appendPayload appends e's payload: each field as its length (uvarint)
// and its bytes. Events are kept and spilled in this form, which is read
// back without decoding anything and written out once, at the end.
func appendPayload(b []byte, e *Event) []byte {
	for _, f := range [payloadFields]string{e.Datetime, e.TimestampDesc, e.Message, e.Action, e.Actor, e.Target, e.SrcIP, e.Outcome, e.dedupe} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// payloadSize is the length of e's payload.
func payloadSize(e *Event) int {
	n := 0
	for _, f := range [payloadFields]string{e.Datetime, e.TimestampDesc, e.Message, e.Action, e.Actor, e.Target, e.SrcIP, e.Outcome, e.dedupe} {
		n += uvarintLen(uint64(len(f))) + len(f)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// splitPayload is appendPayload undone into f; false if p is not a payload.
func splitPayload(p []byte, f *[payloadFields][]byte) bool {
	for i := range f {
		// A field's length is one byte but for a long message: read in
		// place, Uvarint's call was most of a split's cost.
		n, k := uint64(0), 1
		if len(p) > 0 && p[0] < 0x80 {
			n = uint64(p[0])
		} else {
			n, k = binary.Uvarint(p)
		}
		if k <= 0 || n > uint64(len(p)-k) {
			return false
		}
		f[i], p = p[k:k+int(n)], p[k+int(n):]
	}
	return len(p) == 0
}

// chunk is the events sorted in memory at a time: their entries and their
// payloads, packed in blocks (a few large allocations with no pointers for
// the garbage collector to follow, rather than ten strings an event). The
// blocks are kept from one chunk to the next: one growing slice was copied
// over and over as it grew, and each copy was fresh memory to fault in.
type chunk struct {
	entries []entry
	blocks  [][]byte
	cur     int // the block being filled
	size    int // the payloads' bytes
}

// blockSize is the size of a chunk's payload blocks; a larger payload gets
// a block of its own.
const blockSize = 1 << 20

func (c *chunk) add(e *Event, rank int32) {
	c.room(payloadSize(e))
	b := c.blocks[c.cur]
	off := len(b)
	b = appendPayload(b, e)
	c.blocks[c.cur] = b
	c.size += len(b) - off
	c.entries = append(c.entries, entry{sec: e.Time.Unix(), nsec: int32(e.Time.Nanosecond()), rank: rank,
		record: e.Record, sub: e.sub, blk: int32(c.cur), off: int32(off), n: len(b) - off})
}

// room makes the current block one with room for n more bytes.
func (c *chunk) room(n int) {
	if len(c.blocks) > 0 && len(c.blocks[c.cur])+n <= cap(c.blocks[c.cur]) {
		return
	}
	if len(c.blocks) > 0 && len(c.blocks[c.cur]) > 0 {
		c.cur++
	}
	if c.cur == len(c.blocks) {
		c.blocks = append(c.blocks, make([]byte, 0, max(blockSize, n)))
	} else if cap(c.blocks[c.cur]) < n {
		c.blocks[c.cur] = make([]byte, 0, n)
	}
}

func (c *chunk) sort() { slices.SortFunc(c.entries, compareEntries) }

func (c *chunk) payload(e *entry) []byte { return c.blocks[e.blk][int(e.off) : int(e.off)+e.n] }

func (c *chunk) reset() {
	c.entries, c.size = c.entries[:0], 0
	for i := range c.blocks {
		if cap(c.blocks[i]) > blockSize { // a large payload's: not kept
			c.blocks[i] = make([]byte, 0, blockSize)
		}
		c.blocks[i] = c.blocks[i][:0]
	}
	c.cur = 0
}

// inputName is an input's source and artifact, and their encodings in
// timeline.jsonl and timeline.csv, made once rather than for every event.
type inputName struct {
	source, artifact                       string
	jsonSource, jsonArtifact, jsonDataType []byte
	csvSource, csvArtifact, csvDataType    []byte
}

// rankInputs gives each input the rank of its (source, artifact) among
// the inputs' (equal pairs share one), and the names by rank.
func rankInputs(inputs []Input) ([]int32, []inputName) {
	var names []inputName
	for _, in := range inputs {
		names = append(names, inputName{source: in.Source, artifact: in.ArtifactKey})
	}
	byName := func(a, b inputName) int {
		if c := cmp.Compare(a.source, b.source); c != 0 {
			return c
		}
		return cmp.Compare(a.artifact, b.artifact)
	}
	slices.SortFunc(names, byName)
	names = slices.CompactFunc(names, func(a, b inputName) bool { return byName(a, b) == 0 })
	ranks := make([]int32, len(inputs))
	for i, in := range inputs {
		r, _ := slices.BinarySearchFunc(names, inputName{source: in.Source, artifact: in.ArtifactKey}, byName)
		ranks[i] = int32(r)
	}
	for i := range names {
		n := &names[i]
		n.jsonSource = appendJSONString(nil, []byte(n.source))
		n.jsonArtifact = appendJSONString(nil, []byte(n.artifact))
		n.jsonDataType = appendJSONString(nil, []byte(DataType(n.source)))
		n.csvSource = appendCSVCell(nil, []byte(n.source))
		n.csvArtifact = appendCSVCell(nil, []byte(n.artifact))
		n.csvDataType = appendCSVCell(nil, []byte(DataType(n.source)))
	}
	return ranks, names
}

// Build normalises every record of every input and writes the events
// sorted by time across sources: to outJSONL one Event per line
// (timeline.jsonl), to outCSV with CSVHeader (timeline.csv), and the records
// without a usable time to untimed (untimed.jsonl, one Untimed per line, in
// input order). A nil writer is skipped.
//
// Memory is bounded by opts.ChunkEvents and opts.ChunkBytes: events are
// sorted a chunk at a time and, when there is more than one chunk, each
// sorted chunk but the last is spilled to a run in tmpDir ("" is
// os.TempDir()) and the runs are merged with a heap. The runs are removed
// before Build returns.
//
// The records are normalised by opts.Workers goroutines and the outputs
// encoded by two (read.go, output.go); the bytes written do not depend on
// them, and the writers are written from Build's goroutine only. Inputs are
// opened one at a time, in order, from a goroutine of Build's.
func Build(ctx context.Context, inputs []Input, outJSONL, outCSV, untimed io.Writer, tmpDir string, opts Options) (Stats, error) {
	if opts.ChunkEvents <= 0 {
		opts.ChunkEvents = DefaultChunkEvents
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	if opts.MaxRuns < 2 {
		opts.MaxRuns = DefaultMaxRuns
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) + 1
	}
	b := &builder{opts: opts, tmpDir: tmpDir, stats: newStats(), keys: newCountedKeys()}
	defer b.cleanup()
	ranks, names := rankInputs(inputs)
	if untimed != nil {
		b.untimedBuf = bufio.NewWriterSize(untimed, 64<<10)
		b.untimedEnc = json.NewEncoder(b.untimedBuf)
		b.untimedEnc.SetEscapeHTML(false)
	}
	p := startPipeline(ctx, inputs, opts.Now, opts.Workers)
	defer p.close()
	for bt := range p.order {
		<-bt.done
		if err := ctx.Err(); err != nil {
			b.keys.into(&b.stats)
			return b.stats, err
		}
		if err := b.take(bt, inputs[bt.in], ranks[bt.in]); err != nil {
			b.keys.into(&b.stats)
			return b.stats, err
		}
		p.recycle(bt)
	}
	b.keys.into(&b.stats) // before the output, which takes the duplicates out
	if b.untimedBuf != nil {
		if err := b.untimedBuf.Flush(); err != nil {
			return b.stats, fmt.Errorf("write untimed: %w", err)
		}
	}
	if len(b.runs) == 0 && !b.full {
		b.chunk.sort()
		err := writeOutputs(outJSONL, outCSV, names, &b.stats, func(write func(*entry, []byte) error) error {
			for i := range b.chunk.entries {
				e := &b.chunk.entries[i]
				if err := write(e, b.chunk.payload(e)); err != nil {
					return err
				}
			}
			return nil
		})
		return b.stats, err
	}
	if len(b.chunk.entries) > 0 {
		// The last chunk is merged from memory: writing it to disk and
		// reading it back would only cost time.
		if !b.full {
			b.chunk.sort()
		}
		b.runs = append(b.runs, run{mem: &b.chunk})
	}
	b.stats.Runs = len(b.runs)
	for len(b.runs) > opts.MaxRuns {
		if err := b.mergeOnce(ctx); err != nil {
			return b.stats, err
		}
	}
	err := writeOutputs(outJSONL, outCSV, names, &b.stats, func(write func(*entry, []byte) error) error {
		return merge(ctx, b.runs, write)
	})
	return b.stats, err
}

// run is a sorted run: a file on disk, or the last chunk in memory.
type run struct {
	name string
	mem  *chunk
}

type builder struct {
	opts   Options
	tmpDir string
	stats  Stats
	chunk  chunk
	// full: the chunk reached ChunkEvents or ChunkBytes and is sorted; it is spilled
	// when another event comes (so the last one never is).
	full       bool
	runs       []run
	keys       *countedKeys
	untimedBuf *bufio.Writer
	untimedEnc *json.Encoder
}

func (b *builder) cleanup() {
	for _, r := range b.runs {
		if r.mem == nil {
			os.Remove(r.name)
		}
	}
}

func (b *builder) addUntimed(u *Untimed) error {
	m := b.stats.Untimed[u.Source]
	if m == nil {
		m = map[string]int64{}
		b.stats.Untimed[u.Source] = m
	}
	m[u.Reason]++
	b.stats.TotalUntimed++
	if b.untimedEnc != nil {
		if err := b.untimedEnc.Encode(u); err != nil {
			return fmt.Errorf("write untimed: %w", err)
		}
	}
	return nil
}

// ErrRecordTooLong is what an Input's Open returns for an artifact that is
// one record longer than its opener reads (a JSON document): the record is
// untimed (ReasonOversize), and Build goes on.
var ErrRecordTooLong = errors.New("one record longer than the timeline reads: not decoded, it is in its artifact")

// MaxRecordBytes bounds the extract line the timeline reads into memory:
// a longer one is untimed (ReasonOversize), its bytes skipped as they
// stream past. The collectors' own bounds keep their records far below it.
const MaxRecordBytes = 16 << 20

// readLine appends the next line (without its newline) to buf, and says
// how many bytes it had (with its newline). Past MaxRecordBytes, the line
// is skipped, not appended: buf is returned empty and size is past the
// bound.
func readLine(r *bufio.Reader, buf []byte) (_ []byte, size int64, _ error) {
	start := len(buf)
	for {
		frag, err := r.ReadSlice('\n')
		size += int64(len(frag))
		if size <= MaxRecordBytes {
			if need := len(buf) + len(frag); need > cap(buf) {
				// Doubling (append grows a large slice by a quarter:
				// five times the line in garbage on the way to it).
				nb := make([]byte, len(buf), min(max(2*cap(buf), need), MaxRecordBytes+start))
				copy(nb, buf)
				buf = nb
			}
			buf = append(buf, frag...)
		} else {
			buf = buf[:start]
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(buf); n > start && buf[n-1] == '\n' {
			buf = buf[:n-1]
		}
		return buf, size, err
	}
}

// spill writes the full, sorted chunk to a new run.
func (b *builder) spill() error {
	w, err := newRunWriter(b.tmpDir)
	if err != nil {
		return err
	}
	b.runs = append(b.runs, run{name: w.f.Name()})
	for i := range b.chunk.entries {
		e := &b.chunk.entries[i]
		if err := w.write(e, b.chunk.payload(e)); err != nil {
			w.close()
			return err
		}
	}
	b.chunk.reset()
	b.full = false
	return w.close()
}

// mergeOnce merges the first MaxRuns runs into one, put last.
func (b *builder) mergeOnce(ctx context.Context) error {
	w, err := newRunWriter(b.tmpDir)
	if err != nil {
		return err
	}
	b.runs = append(b.runs, run{name: w.f.Name()}) // removed by cleanup whatever happens
	group := b.runs[:b.opts.MaxRuns]
	if err := merge(ctx, group, w.write); err != nil {
		w.close()
		return err
	}
	if err := w.close(); err != nil {
		return err
	}
	for _, r := range group {
		if r.mem == nil {
			os.Remove(r.name)
		}
	}
	b.runs = b.runs[b.opts.MaxRuns:]
	return nil
}

// A run file is an S2 stream (klauspost/compress/s2) of records, each:
// its length (uvarint), then the entry's sec (varint), nsec, rank
// (uvarints), record (varint), sub (uvarint), then the payload. The events
// are neither encoded as JSON nor decoded again on their way through the
// runs. S2 rather than gzip: deflate was a tenth of a large build's time
// (its runs compressed and inflated once each), S2 costs a fraction of
// that and still keeps the runs a few times smaller than the events.
type runWriter struct {
	f   *os.File
	buf *bufio.Writer
	s2  *s2.Writer
	// rec gathers records so that the compressor gets large writes.
	rec []byte
}

// runBlock is the S2 block size of a run: what a run's reader holds
// decoded, once per run in a merge (the default 1 MiB, times MaxRuns, would
// be most of the heap).
const runBlock = 64 << 10

func newRunWriter(dir string) (*runWriter, error) {
	f, err := os.CreateTemp(dir, "timeline-run-*.s2")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	w := &runWriter{f: f, buf: bufio.NewWriterSize(f, 256<<10), rec: make([]byte, 0, 256<<10)}
	w.s2 = s2.NewWriter(w.buf, s2.WriterConcurrency(1), s2.WriterBlockSize(runBlock))
	return w, nil
}

// maxRunHeader is the most bytes a record's header takes.
const maxRunHeader = 5 * binary.MaxVarintLen64

func (w *runWriter) write(e *entry, payload []byte) error {
	var h [maxRunHeader]byte
	head := binary.AppendVarint(h[:0], e.sec)
	head = binary.AppendUvarint(head, uint64(e.nsec))
	head = binary.AppendUvarint(head, uint64(e.rank))
	head = binary.AppendVarint(head, e.record)
	head = binary.AppendUvarint(head, uint64(e.sub))
	w.rec = binary.AppendUvarint(w.rec, uint64(len(head)+len(payload)))
	w.rec = append(w.rec, head...)
	w.rec = append(w.rec, payload...)
	if len(w.rec) >= 128<<10 {
		return w.flushRecords()
	}
	return nil
}

func (w *runWriter) flushRecords() error {
	_, err := w.s2.Write(w.rec)
	w.rec = w.rec[:0]
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

func (w *runWriter) close() error {
	err := w.flushRecords()
	if gerr := w.s2.Close(); err == nil && gerr != nil {
		err = fmt.Errorf("spill: %w", gerr)
	}
	if err == nil {
		if ferr := w.buf.Flush(); ferr != nil {
			err = fmt.Errorf("spill: %w", ferr)
		}
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spill: %w", cerr)
	}
	return err
}

// runReader reads a run back, one event at a time.
type runReader struct {
	// A run on disk,
	f   *os.File
	s2  *s2.Reader
	rec []byte
	// or the last chunk, in memory.
	mem *chunk
	pos int

	cur     entry
	payload []byte
}

func openRun(r run) (*runReader, error) {
	if r.mem != nil {
		return &runReader{mem: r.mem}, nil
	}
	f, err := os.Open(r.name)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	return &runReader{f: f, s2: s2.NewReader(f, s2.ReaderMaxBlockSize(runBlock))}, nil
}

// next reads the next event into cur and payload; false at the end.
func (r *runReader) next() (bool, error) {
	if r.mem != nil {
		if r.pos == len(r.mem.entries) {
			return false, nil
		}
		r.cur = r.mem.entries[r.pos]
		r.payload = r.mem.payload(&r.cur)
		r.pos++
		return true, nil
	}
	n, err := binary.ReadUvarint(r.s2)
	if err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("merge: %w", err)
	}
	if n > uint64(math.MaxInt32) {
		return false, errors.New("merge: bad run record")
	}
	r.rec = slices.Grow(r.rec[:0], int(n))[:n]
	if _, err := io.ReadFull(r.s2, r.rec); err != nil {
		return false, fmt.Errorf("merge: %w", err)
	}
	p := r.rec
	var vals [5]uint64
	for i := range vals {
		var k int
		if i == 0 || i == 3 {
			var v int64
			v, k = binary.Varint(p)
			vals[i] = uint64(v)
		} else {
			vals[i], k = binary.Uvarint(p)
		}
		if k <= 0 {
			return false, errors.New("merge: bad run record")
		}
		p = p[k:]
	}
	r.cur = entry{sec: int64(vals[0]), nsec: int32(vals[1]), rank: int32(vals[2]), record: int64(vals[3]), sub: int(vals[4])}
	r.payload = p
	return true, nil
}

func (r *runReader) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// runHeap is a min-heap of runs by their current event. It is sifted by
// hand rather than through container/heap, whose interface calls to Less
// and Swap were most of the merge's own time (a few levels of them for
// every event of a large timeline).
type runHeap []*runReader

// down restores the heap below i after h[i] changed.
func (h runHeap) down(i int) {
	for {
		j := 2*i + 1
		if j >= len(h) {
			return
		}
		if r := j + 1; r < len(h) && compareEntries(h[r].cur, h[j].cur) < 0 {
			j = r
		}
		if compareEntries(h[j].cur, h[i].cur) >= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// merge k-way merges sorted runs, calling emit for each event in order.
func merge(ctx context.Context, runs []run, emit func(*entry, []byte) error) error {
	h := make(runHeap, 0, len(runs))
	defer func() {
		for _, r := range h {
			r.close()
		}
	}()
	for _, rn := range runs {
		r, err := openRun(rn)
		if err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			r.close()
			return err
		}
		if !ok {
			r.close()
			continue
		}
		h = append(h, r)
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for n := 0; len(h) > 0; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		top := h[0]
		if err := emit(&top.cur, top.payload); err != nil {
			return err
		}
		ok, err := top.next()
		if err != nil {
			return err
		}
		if !ok {
			top.close()
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		h.down(0)
	}
	return nil
}
