// Package s3logs is the part every log source delivered to S3 shares
// (CloudTrail, VPC Flow Logs, S3 server access logs): list only the day
// prefixes a window covers, keep the objects whose delivery time in the key
// falls in the window widened by a delivery pad, copy them unchanged, and
// stream each through its format's decoder into one filtered extract. Each
// collector supplies only the part that differs: its key layout, its
// decoder and its scope test.
package s3logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// ObjectLister lists a log bucket.
type ObjectLister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// ObjectGetter reads a log object.
type ObjectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Object is one log object chosen for a case.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	// KeyTime is the delivery time the key names (zero when it names none).
	KeyTime time.Time `json:"keyTime,omitzero"`
}

// DayPrefixes returns base followed by each UTC day, formatted with layout
// (e.g. "2006/01/02/"), from the window's start to its end, each widened by
// pad: the only prefixes a case needs to list.
func DayPrefixes(base, layout string, w incident.Window, pad time.Duration) []string {
	start := w.Start.Add(-pad).UTC().Truncate(24 * time.Hour)
	end := w.End.Add(pad).UTC()
	var out []string
	for d := start; !d.After(end); d = d.Add(24 * time.Hour) {
		out = append(out, base+d.Format(layout))
	}
	return out
}

// KeyTime extracts the delivery time from a key, reporting false when the
// key names none.
type KeyTime func(key string) (time.Time, bool)

// Listing is what List found.
type Listing struct {
	Objects []Object
	// Listed counts every object under the prefixes; OutOfWindow those
	// left out for their key time; Untimed those whose key names no time,
	// which are kept (a responder would rather have one file too many).
	Listed, OutOfWindow, Untimed int
}

// List lists bucket under each prefix (every page) and keeps the objects
// whose key time falls in the window widened by pad.
func List(ctx context.Context, client ObjectLister, bucket string, prefixes []string, keyTime KeyTime, w incident.Window, pad time.Duration) (Listing, error) {
	var l Listing
	wide := w.Widen(pad)
	for _, prefix := range prefixes {
		p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return l, err
			}
			for _, o := range page.Contents {
				l.Listed++
				key := aws.ToString(o.Key)
				obj := Object{Bucket: bucket, Key: key, Size: aws.ToInt64(o.Size)}
				if t, ok := keyTime(key); ok {
					if !wide.Contains(t) {
						l.OutOfWindow++
						continue
					}
					obj.KeyTime = t
				} else {
					l.Untimed++
				}
				l.Objects = append(l.Objects, obj)
			}
		}
	}
	sort.Slice(l.Objects, func(i, j int) bool { return l.Objects[i].Key < l.Objects[j].Key })
	return l, nil
}

// Copier copies an object unchanged into the case (collect.Output does).
type Copier interface {
	Copy(ctx context.Context, srcBucket, srcKey, srcVersion, name string, meta evidence.PutMeta) (evidence.Artifact, error)
}

// CopyAll copies every object into the case under dir/<original key>,
// server-side, a few at a time. meta describes each copy.
func CopyAll(ctx context.Context, c Copier, objs []Object, dir string, concurrency int, meta func(Object) evidence.PutMeta) ([]evidence.Artifact, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	arts := make([]evidence.Artifact, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, o := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			arts[i], errs[i] = c.Copy(ctx, o.Bucket, o.Key, "", strings.TrimSuffix(dir, "/")+"/"+o.Key, meta(o))
		}()
	}
	wg.Wait()
	return arts, errors.Join(errs...)
}

// Record is one decoded log record.
type Record struct {
	// Time is the record's own time; zero when it has none.
	Time time.Time
	// Value is what the extract stores for the record (JSON-encoded).
	Value any
}

// Decoder reads one log object's records, calling emit for each and bad
// for each record it cannot decode, and goes on after a bad one. Its error
// is for the object as a whole (a truncated stream, say).
type Decoder func(r io.Reader, emit func(Record) error, bad func(error)) error

// RecordWriter is where an extract goes (an evidence stream).
type RecordWriter interface {
	WriteRecord(v any, at time.Time) error
}

// OversizeError is a record (or line) longer than its decoder's bound: it
// is not read into memory, not decoded and not in the extract; it stays,
// byte for byte, in the log object the collector copies unchanged.
// Decoders report it to bad; Stats counts it as malformed and in Oversize.
type OversizeError struct {
	What  string // "record 3", "line 12"
	Bytes int64  // its size, or at least this many bytes when it went on past what was read
	Limit int64  // the bound
}

func (e *OversizeError) Error() string {
	return fmt.Sprintf("%s: %d bytes, longer than the %d-byte bound: not decoded, kept only in the copied log object", e.What, e.Bytes, e.Limit)
}

// Stats counts what Extract read.
type Stats struct {
	Objects   int   `json:"objects"`
	Records   int64 `json:"records"`            // decoded
	Kept      int64 `json:"kept"`               // in scope and window: written
	Malformed int64 `json:"malformed"`          // records that would not decode (oversize ones included)
	Oversize  int64 `json:"oversize,omitempty"` // records longer than the decoder's bound (OversizeError)
	// Bombs counts objects whose decompression stopped at MaxRatio.
	Bombs int64 `json:"bombs,omitempty"`
	// Problems names each object that could not be read whole (truncated
	// gzip, a read error) and the first malformed records, for the gaps.
	Problems []string `json:"problems,omitempty"`
}

const maxProblems = 20

// BoundWarnings says what the readers' bounds left out, for a collector's
// warnings: records past their decoder's bound (named in Problems) and
// objects whose decompression stopped at MaxRatio. Empty when nothing was.
func (s Stats) BoundWarnings() []string {
	var out []string
	if s.Oversize > 0 {
		out = append(out, fmt.Sprintf("%d records too long to decode are not in the extract; they are in the copied log objects, unchanged (see the problems named)", s.Oversize))
	}
	if s.Bombs > 0 {
		out = append(out, fmt.Sprintf("%d log objects gave more than %d bytes for each compressed byte (a gzip bomb?) and were read no further than that; the copied objects are unchanged", s.Bombs, MaxRatio))
	}
	return out
}

func (s *Stats) problem(format string, args ...any) {
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
}

// Extract streams every object through decode and writes the records that
// keep accepts and whose own time is in the window, in one pass: read,
// decompress, decode, filter, write (the writer compresses and hashes). A
// record without a time is written when keep accepts it. An object that
// cannot be read whole is reported in Stats and the rest still collected.
//
// Several objects are read at once (one per CPU): decode and keep may be
// called concurrently for different objects, never for one object. What
// reaches dst, and Stats, are as if the objects were read one after the
// other, in order; only the records kept from the objects in flight (at
// most twice as many as the CPUs, read or being read and not yet written)
// are held in memory.
func Extract(ctx context.Context, client ObjectGetter, objs []Object, decode Decoder, keep func(Record) bool, w incident.Window, dst RecordWriter) (Stats, error) {
	return ExtractEach(ctx, client, objs, func(Object) Decoder { return decode }, keep, w, dst)
}

// ExtractEach is Extract with a decoder per object (decodeFor), for
// sources whose records name the object they came from or whose format
// differs by object. Objects are still read a few at a time and their
// records written in object order.
func ExtractEach(ctx context.Context, client ObjectGetter, objs []Object, decodeFor func(Object) Decoder, keep func(Record) bool, w incident.Window, dst RecordWriter) (Stats, error) {
	var st Stats
	workers := runtime.GOMAXPROCS(0)
	if len(objs) < 2 || workers < 2 {
		for _, o := range objs {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			st.Objects++
			// One object on several cores: decompression runs ahead of
			// decoding, on another.
			one, err := extractObject(ctx, client, o, decodeFor(o), keep, w, workers >= 2, dst.WriteRecord)
			st.add(one)
			if err != nil {
				return st, err
			}
		}
		return st, nil
	}
	type result struct {
		st   Stats
		kept []Record
		err  error
	}
	results := make([]chan result, len(objs))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	// running bounds the objects being read (one per CPU); ahead bounds
	// those read or being read that the writer has not taken yet, so a
	// reader that finishes before an earlier object starts the next one
	// at once (its CPU not left idle behind a slower one), and the
	// records held wait for at most twice as many objects.
	running := make(chan struct{}, workers)
	ahead := make(chan struct{}, 2*workers)
	go func() {
		for i, o := range objs {
			for _, sem := range []chan struct{}{ahead, running} {
				select {
				case sem <- struct{}{}:
				case <-inner.Done():
					return
				}
			}
			go func() {
				var kept []Record
				// While objects remain for every core, each core reads one
				// whole (decompression and decoding on the same core, the
				// data still in its cache); the last ones read ahead on
				// the cores that would otherwise be idle.
				ahead := len(objs)-i < workers
				one, err := extractObject(inner, client, o, decodeFor(o), keep, w, ahead, func(v any, at time.Time) error {
					kept = append(kept, Record{Time: at, Value: v})
					return nil
				})
				<-running
				results[i] <- result{one, kept, err}
			}()
		}
	}()
	for i := range objs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Objects++
		var r result
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return st, ctx.Err()
		}
		<-ahead
		st.add(r.st)
		for _, rec := range r.kept {
			if err := dst.WriteRecord(rec.Value, rec.Time); err != nil {
				return st, err
			}
		}
		if r.err != nil {
			return st, r.err
		}
	}
	return st, nil
}

// add counts one object's stats into s.
func (s *Stats) add(o Stats) {
	s.Records += o.Records
	s.Kept += o.Kept
	s.Malformed += o.Malformed
	s.Oversize += o.Oversize
	s.Bombs += o.Bombs
	for _, p := range o.Problems {
		if len(s.Problems) < maxProblems {
			s.Problems = append(s.Problems, p)
		}
	}
}

// extractObject reads one object for Extract, giving each record kept to
// write; an error from write or a failed read that is not a denial or a
// missing object stops it. With readAhead, decompression runs in a
// goroutine of its own, a few chunks ahead of decoding.
func extractObject(ctx context.Context, client ObjectGetter, o Object, decode Decoder, keep func(Record) bool, w incident.Window, readAhead bool, write func(any, time.Time) error) (Stats, error) {
	var st Stats
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
	if err != nil {
		if Denied(err) || Missing(err) {
			st.problem("s3://%s/%s: %v", o.Bucket, o.Key, err)
			return st, nil
		}
		return st, faults.Classify("s3:GetObject", err, func(err error) error { return err })
	}
	var werr error
	emit := func(r Record) error {
		st.Records++
		if !keep(r) || (!r.Time.IsZero() && !w.Contains(r.Time)) {
			return nil
		}
		st.Kept++
		if err := write(r.Value, r.Time); err != nil {
			werr = err
			return err
		}
		return nil
	}
	bad := func(err error) {
		st.Malformed++
		var big *OversizeError
		if errors.As(err, &big) {
			st.Oversize++
		}
		st.problem("s3://%s/%s: %v", o.Bucket, o.Key, err)
	}
	body, err := Decompressed(out.Body)
	if err == nil && readAhead {
		// Decompression runs ahead of decoding, on another core.
		ra := newReadAhead(body)
		err = decode(ra, emit, bad)
		ra.stop()
		out.Body.Close()
		ra.wait()
	} else if err == nil {
		err = decode(body, emit, bad)
		out.Body.Close()
	} else {
		out.Body.Close()
	}
	if werr != nil {
		return st, werr
	}
	if err != nil {
		if errors.Is(err, ErrBomb) {
			st.Bombs++
		}
		st.problem("s3://%s/%s: read stopped: %v", o.Bucket, o.Key, err)
	}
	return st, nil
}

// MaxRatio bounds decompression: past MinBombBytes of output, a gzip
// stream that has given more than MaxRatio bytes for each compressed byte
// read stops with ErrBomb. Real logs compress 5 to 30 times (a log of one
// line repeated, about 200 times); a gzip bomb, up to about 1000 times. The
// object is still copied unchanged: only its extract stops.
const (
	MaxRatio     = 400
	MinBombBytes = 64 << 20
)

// ErrBomb is a gzip stream that decompresses past MaxRatio.
var ErrBomb = errors.New("decompression stopped: more than MaxRatio bytes out per compressed byte (a gzip bomb?)")

// Decompressed returns r, gunzipped when it starts with the gzip magic;
// the gunzipped stream stops with ErrBomb past MaxRatio.
func Decompressed(r io.Reader) (io.Reader, error) {
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		zr.Multistream(true)
		return &ratioReader{r: zr, in: in}, nil
	}
	return br, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ratioReader is a decompressed stream that stops with ErrBomb when its
// output passes MaxRatio times the compressed input read (past
// MinBombBytes).
type ratioReader struct {
	r   io.Reader
	in  *countingReader
	out int64
}

// WriteTo implements io.WriterTo: the decompressor's own WriteTo, each
// piece counted and judged as Read judges it, so a line reader is handed
// the decompressor's window instead of a copy of it.
func (z *ratioReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := z.r.(io.WriterTo)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{z})
	}
	return wt.WriteTo(ratioWriter{z: z, w: w})
}

// ratioWriter is a ratioReader's WriteTo destination.
type ratioWriter struct {
	z *ratioReader
	w io.Writer
}

func (rw ratioWriter) Write(p []byte) (int, error) {
	n, err := rw.w.Write(p)
	rw.z.out += int64(n)
	if err == nil && rw.z.out > MinBombBytes && rw.z.out > MaxRatio*rw.z.in.n {
		return n, fmt.Errorf("%w: %d bytes from %d", ErrBomb, rw.z.out, rw.z.in.n)
	}
	return n, err
}

func (z *ratioReader) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	z.out += int64(n)
	if z.out > MinBombBytes && z.out > MaxRatio*z.in.n {
		return n, fmt.Errorf("%w: %d bytes from %d", ErrBomb, z.out, z.in.n)
	}
	return n, err
}

// ErrSkip tells Lines a line is not a record (a header, a comment).
var ErrSkip = errors.New("not a record")

// MaxLine is the longest line Lines reads; a longer one is malformed.
const MaxLine = 1 << 20

// Lines makes a Decoder of a line parser: one record a line, empty lines
// and lines parse answers ErrSkip for skipped. A line longer than MaxLine is
// not held (its bytes stream past) and is malformed, an *OversizeError; a last line cut off by a read error (a truncated gzip) is not
// a record and is not passed to parse.
func Lines(parse func(line []byte) (Record, error)) Decoder {
	return NumberedLines(func(_ int, line []byte) (Record, error) { return parse(line) })
}

// NumberedLines is Lines for a parser that wants each line's number (from
// 1), to point a record back at its place in the original object.
func NumberedLines(parse func(n int, line []byte) (Record, error)) Decoder {
	return func(r io.Reader, emit func(Record) error, bad func(error)) error {
		s := &lineSplitter{parse: parse, emit: emit, bad: bad}
		var err error
		// The decompressor hands over its own window (WriteTo): the
		// lines are split where it wrote them, with no copy of every
		// byte into a reader's buffer first.
		if wt, ok := r.(io.WriterTo); ok {
			_, err = wt.WriteTo(s)
		} else {
			_, err = io.CopyBuffer(s, struct{ io.Reader }{r}, make([]byte, 64<<10))
		}
		if s.err != nil {
			return s.err // emit's error, as emit gave it
		}
		if err != nil {
			return err // the partial last line is dropped with the error
		}
		if s.started {
			return s.end(nil) // a last line with no newline
		}
		return nil
	}
}

// lineSplitter is NumberedLines' io.Writer: it cuts what is written to it
// into lines and hands each to parse. A line that spans two writes is
// carried over in its own buffer, at most MaxLine bytes of it.
type lineSplitter struct {
	parse func(n int, line []byte) (Record, error)
	emit  func(Record) error
	bad   func(error)
	// carry is the current line's start when an earlier write held it;
	// size counts its bytes (all of them, when it is too long to hold).
	carry   []byte
	size    int
	started bool
	tooLong bool
	n       int // the number of the last line ended
	err     error
}

// Write implements io.Writer. Its error is emit's, which stops the read.
func (s *lineSplitter) Write(p []byte) (int, error) {
	total := len(p)
	if s.started {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.hold(p)
			return total, nil
		}
		s.hold(p[:i+1])
		p = p[i+1:]
		if err := s.end(nil); err != nil {
			return 0, err
		}
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		if err := s.end(p[:i+1]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	if len(p) > 0 {
		s.hold(p)
	}
	return total, nil
}

// hold adds b, part of a line not ended yet, to the carried line, or only
// counts it once the line is longer than MaxLine.
func (s *lineSplitter) hold(b []byte) {
	s.started = true
	s.size += len(b)
	if s.tooLong || s.size > MaxLine {
		s.tooLong, s.carry = true, nil
		return
	}
	s.carry = append(s.carry, b...)
}

// end ends a line: whole, the carried line when whole is nil. It reports
// a line longer than MaxLine, skips a blank one and parses the others.
func (s *lineSplitter) end(whole []byte) error {
	s.n++
	line, size, tooLong := whole, len(whole), len(whole) > MaxLine
	if whole == nil {
		line, size, tooLong = s.carry, s.size, s.tooLong
		s.carry, s.size, s.started, s.tooLong = s.carry[:0], 0, false, false
	}
	if tooLong {
		s.bad(&OversizeError{What: fmt.Sprintf("line %d", s.n), Bytes: int64(size), Limit: MaxLine})
		return nil
	}
	l := trimEOL(line)
	if blank(l) {
		return nil
	}
	rec, err := s.parse(s.n, l)
	switch {
	case err == ErrSkip || errors.Is(err, ErrSkip): // most lines of a prefiltered log are skipped: spare them errors.Is
	case err != nil:
		s.bad(fmt.Errorf("line %d: %w", s.n, err))
	default:
		if err := s.emit(rec); err != nil {
			s.err = err
			return err
		}
	}
	return nil
}

// trimEOL is line without its trailing '\r' and '\n' bytes
// (bytes.TrimRight(line, "\r\n"), without building a cutset each line).
func trimEOL(line []byte) []byte {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	return line[:n]
}

// blank reports a line of white space only (bytes.TrimSpace empties it);
// a record's first byte answers at once.
func blank(line []byte) bool {
	for i, c := range line {
		if c >= utf8.RuneSelf {
			return len(bytes.TrimSpace(line[i:])) == 0
		}
		if c != ' ' && (c < '\t' || c > '\r') {
			return false
		}
	}
	return true
}

// Denied reports an S3 error that says this role may not read (class
// Denied, faults.Of).
func Denied(err error) bool { return faults.Is(err, faults.Denied) }

// Missing reports an S3 error that says the bucket or key is not there: the
// service's own refusal (class InvalidRequest, faults.Of) with one of S3's
// not-found codes.
func Missing(err error) bool {
	if !faults.Is(err, faults.InvalidRequest) {
		return false
	}
	var nsb *s3types.NoSuchBucket
	var nsk *s3types.NoSuchKey
	var ae smithy.APIError
	return errors.As(err, &nsb) || errors.As(err, &nsk) ||
		(errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchBucket" || ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound"))
}
