package timeline

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"container/heap"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
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
	// bounds memory: the merge holds one event per run.
	ChunkEvents int
	// MaxRuns is how many runs are merged at once (default DefaultMaxRuns);
	// beyond it runs are merged into longer runs first.
	MaxRuns int
	// Now is the time a record's time may not be more than FutureSlack
	// after (default time.Now()).
	Now time.Time
	// MaxKeys bounds the actions and actors counted one by one in Stats
	// (default DefaultMaxKeys); the rest are counted under Other.
	MaxKeys int
}

// Defaults for Options.
const (
	DefaultChunkEvents = 100_000
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
}

func newStats() Stats {
	return Stats{Records: map[string]int64{}, Events: map[string]int64{}, Untimed: map[string]map[string]int64{},
		Actions: map[string]int64{}, Actors: map[string]int64{}}
}

func countKey(m map[string]int64, k string, max int) {
	if k == "" {
		return
	}
	if _, ok := m[k]; !ok && len(m) >= max {
		k = Other
	}
	m[k]++
}

func (s *Stats) addEvent(e *Event, maxKeys int) {
	s.Events[e.Source]++
	s.TotalEvents++
	if s.FirstTime.IsZero() || e.Time.Before(s.FirstTime) {
		s.FirstTime, s.First = e.Time, e.Datetime
	}
	if s.LastTime.IsZero() || e.Time.After(s.LastTime) {
		s.LastTime, s.Last = e.Time, e.Datetime
	}
	countKey(s.Actions, e.Action, maxKeys)
	countKey(s.Actors, e.Actor, maxKeys)
}

// less orders events: by time, then source, artifact, record and the
// order within the record, so equal times sort the same on every run.
func less(a, b *Event) bool { return compare(a, b) < 0 }

func compare(a, b *Event) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Artifact, b.Artifact); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Record, b.Record); c != 0 {
		return c
	}
	return cmp.Compare(a.sub, b.sub)
}

// Build normalises every record of every input and writes the events
// sorted by time across sources: to outJSONL one Event per line
// (timeline.jsonl), to outCSV with CSVHeader (timeline.csv), and the records
// without a usable time to untimed (untimed.jsonl, one Untimed per line, in
// input order). A nil writer is skipped.
//
// Memory is bounded by opts.ChunkEvents: events are sorted a chunk at a time
// and, when there is more than one chunk, each sorted chunk is spilled to a
// gzip'd JSON Lines run in tmpDir ("" is os.TempDir()) and the runs are
// merged with a heap. The runs are removed before Build returns.
func Build(ctx context.Context, inputs []Input, outJSONL, outCSV, untimed io.Writer, tmpDir string, opts Options) (Stats, error) {
	if opts.ChunkEvents <= 0 {
		opts.ChunkEvents = DefaultChunkEvents
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
	b := &builder{opts: opts, tmpDir: tmpDir, stats: newStats()}
	defer b.cleanup()
	if untimed != nil {
		b.untimedBuf = bufio.NewWriterSize(untimed, 64<<10)
		b.untimedEnc = json.NewEncoder(b.untimedBuf)
		b.untimedEnc.SetEscapeHTML(false)
	}
	for _, in := range inputs {
		if err := b.read(ctx, in); err != nil {
			return b.stats, err
		}
	}
	if b.untimedBuf != nil {
		if err := b.untimedBuf.Flush(); err != nil {
			return b.stats, fmt.Errorf("write untimed: %w", err)
		}
	}
	out := newOutput(outJSONL, outCSV)
	if len(b.runs) == 0 {
		slices.SortFunc(b.chunk, func(x, y Event) int { return compare(&x, &y) })
		for i := range b.chunk {
			if err := out.write(&b.chunk[i]); err != nil {
				return b.stats, err
			}
		}
	} else {
		if len(b.chunk) > 0 {
			if err := b.spill(); err != nil {
				return b.stats, err
			}
		}
		b.chunk = nil
		b.stats.Runs = len(b.runs)
		for len(b.runs) > opts.MaxRuns {
			if err := b.mergeOnce(ctx); err != nil {
				return b.stats, err
			}
		}
		if err := merge(ctx, b.runs, out.write); err != nil {
			return b.stats, err
		}
	}
	return b.stats, out.flush()
}

type builder struct {
	opts       Options
	tmpDir     string
	stats      Stats
	chunk      []Event
	runs       []string
	untimedBuf *bufio.Writer
	untimedEnc *json.Encoder
	evs        []Event
	un         []Untimed
}

func (b *builder) cleanup() {
	for _, r := range b.runs {
		os.Remove(r)
	}
}

// read normalises one input into the chunk, spilling when it is full.
func (b *builder) read(ctx context.Context, in Input) error {
	rc, err := in.Open()
	if err != nil {
		return fmt.Errorf("open %s: %w", in.ArtifactKey, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 256<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read %s: %w", in.ArtifactKey, err)
		}
		defer gz.Close()
		r = bufio.NewReaderSize(gz, 256<<10)
	}
	lr := r.(*bufio.Reader)
	var line []byte
	for rec := int64(0); ; rec++ {
		if rec&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err = readLine(lr, line[:0])
		if len(line) == 0 && err != nil {
			return b.readErr(in, rec, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			b.stats.Records[in.Source]++
		}
		b.evs, b.un = b.evs[:0], b.un[:0]
		normalizeInto(in.Source, in.ArtifactKey, rec, line, b.opts.Now, &b.evs, &b.un)
		for i := range b.un {
			if err := b.addUntimed(&b.un[i]); err != nil {
				return err
			}
		}
		for i := range b.evs {
			b.stats.addEvent(&b.evs[i], b.opts.MaxKeys)
			b.chunk = append(b.chunk, b.evs[i])
			if len(b.chunk) >= b.opts.ChunkEvents {
				if err := b.spill(); err != nil {
					return err
				}
			}
		}
		clear(b.evs)
		clear(b.un)
		if err != nil { // a last line without a newline
			return b.readErr(in, rec+1, err)
		}
	}
}

// readErr ends reading an input: at EOF quietly; on a read error (a
// truncated or corrupt gzip stream) the rest of the extract is recorded as
// untimed with ReasonUnreadable where it broke off, and Build goes on with
// the other inputs: what was read stays on the timeline.
func (b *builder) readErr(in Input, rec int64, err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	u := Untimed{Source: in.Source, Artifact: in.ArtifactKey, Record: rec, Reason: ReasonUnreadable,
		Detail: "extract unreadable from this line on: " + err.Error()}
	return b.addUntimed(&u)
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

// readLine appends the next line (without its newline) to buf.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
		}
		return buf, err
	}
}

// spillLine is an event in a run: the event and what orders it.
type spillLine struct {
	N   int64 `json:"n"`
	Sub int   `json:"i,omitempty"`
	Event
}

// spill sorts the chunk and writes it to a new run.
func (b *builder) spill() error {
	slices.SortFunc(b.chunk, func(x, y Event) int { return compare(&x, &y) })
	w, err := newRunWriter(b.tmpDir)
	if err != nil {
		return err
	}
	b.runs = append(b.runs, w.f.Name())
	for i := range b.chunk {
		if err := w.write(&b.chunk[i]); err != nil {
			w.close()
			return err
		}
	}
	clear(b.chunk)
	b.chunk = b.chunk[:0]
	return w.close()
}

// mergeOnce merges the first MaxRuns runs into one, put last.
func (b *builder) mergeOnce(ctx context.Context) error {
	w, err := newRunWriter(b.tmpDir)
	if err != nil {
		return err
	}
	b.runs = append(b.runs, w.f.Name()) // removed by cleanup whatever happens
	group := b.runs[:b.opts.MaxRuns]
	if err := merge(ctx, group, w.write); err != nil {
		w.close()
		return err
	}
	if err := w.close(); err != nil {
		return err
	}
	for _, r := range group {
		os.Remove(r)
	}
	b.runs = b.runs[b.opts.MaxRuns:]
	return nil
}

type runWriter struct {
	f   *os.File
	buf *bufio.Writer
	gz  *gzip.Writer
	enc *json.Encoder
}

func newRunWriter(dir string) (*runWriter, error) {
	f, err := os.CreateTemp(dir, "timeline-run-*.jsonl.gz")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	w := &runWriter{f: f, buf: bufio.NewWriterSize(f, 256<<10)}
	w.gz, _ = gzip.NewWriterLevel(w.buf, gzip.BestSpeed)
	w.enc = json.NewEncoder(w.gz)
	w.enc.SetEscapeHTML(false)
	return w, nil
}

func (w *runWriter) write(e *Event) error {
	if err := w.enc.Encode(spillLine{N: e.Time.UnixNano(), Sub: e.sub, Event: *e}); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

func (w *runWriter) close() error {
	err := w.gz.Close()
	if err == nil {
		err = w.buf.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

// runReader reads a run back, one event at a time.
type runReader struct {
	f    *os.File
	gz   *gzip.Reader
	br   *bufio.Reader
	cur  Event
	line []byte
}

func openRun(name string) (*runReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("merge %s: %w", name, err)
	}
	return &runReader{f: f, gz: gz, br: bufio.NewReaderSize(gz, 64<<10)}, nil
}

// next reads the next event into cur; false at the end.
func (r *runReader) next() (bool, error) {
	var err error
	r.line, err = readLine(r.br, r.line[:0])
	if len(r.line) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("merge: %w", err)
	}
	var s spillLine
	if err := json.Unmarshal(r.line, &s); err != nil {
		return false, fmt.Errorf("merge: bad run line: %w", err)
	}
	r.cur = s.Event
	r.cur.Time = time.Unix(0, s.N).UTC()
	r.cur.sub = s.Sub
	return true, nil
}

func (r *runReader) close() { r.gz.Close(); r.f.Close() }

// runHeap is a min-heap of runs by their current event.
type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return less(&h[i].cur, &h[j].cur) }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge k-way merges sorted runs, calling emit for each event in order.
func merge(ctx context.Context, runs []string, emit func(*Event) error) error {
	h := make(runHeap, 0, len(runs))
	defer func() {
		for _, r := range h {
			r.close()
		}
	}()
	for _, name := range runs {
		r, err := openRun(name)
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
	heap.Init(&h)
	for n := 0; len(h) > 0; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		top := h[0]
		if err := emit(&top.cur); err != nil {
			return err
		}
		ok, err := top.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
			top.close()
		}
	}
	return nil
}

// output writes timeline.jsonl and timeline.csv.
type output struct {
	jb  *bufio.Writer
	enc *json.Encoder
	cb  *bufio.Writer
	cw  *csv.Writer
	err error
}

func newOutput(j, c io.Writer) *output {
	o := &output{}
	if j != nil {
		o.jb = bufio.NewWriterSize(j, 256<<10)
		o.enc = json.NewEncoder(o.jb)
		o.enc.SetEscapeHTML(false)
	}
	if c != nil {
		o.cb = bufio.NewWriterSize(c, 256<<10)
		o.cw = csv.NewWriter(o.cb)
		o.err = o.cw.Write(CSVHeader)
	}
	return o
}

func (o *output) write(e *Event) error {
	if o.err != nil {
		return o.err
	}
	if o.enc != nil {
		if err := o.enc.Encode(e); err != nil {
			o.err = fmt.Errorf("write timeline.jsonl: %w", err)
			return o.err
		}
	}
	if o.cw != nil {
		if err := o.cw.Write(e.CSVRow()); err != nil {
			o.err = fmt.Errorf("write timeline.csv: %w", err)
			return o.err
		}
	}
	return nil
}

func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	if o.jb != nil {
		if err := o.jb.Flush(); err != nil {
			return fmt.Errorf("write timeline.jsonl: %w", err)
		}
	}
	if o.cw != nil {
		o.cw.Flush()
		if err := o.cw.Error(); err != nil {
			return fmt.Errorf("write timeline.csv: %w", err)
		}
		if err := o.cb.Flush(); err != nil {
			return fmt.Errorf("write timeline.csv: %w", err)
		}
	}
	return nil
}
