package evidence

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	// klauspost's gzip writes the same format several times faster than
	// compress/gzip: the extracts are compressed as they are written, on
	// the collector's critical path (gzipLevel says at what level).
	"github.com/klauspost/compress/gzip"

	"github.com/custody-ir/custody/shared/faults"
)

// objectAPI is the part of the S3 client the writer calls.
type objectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// MaxPutSize is the largest object one PutObject or CopyObject may write
// (5 GiB). Larger spools would need a multipart upload (and larger copies
// UploadPartCopy), which the writer does not do yet: it refuses them with
// ErrTooLarge rather than fail half-way.
const MaxPutSize int64 = 5 << 30

// Content types the writer sets when the caller names none.
const (
	ContentTypeJSON   = "application/json"
	ContentTypeGzip   = "application/gzip"
	ContentTypeBinary = "application/octet-stream"
)

// gzipLevel is the compression of gzip artifacts: klauspost's fastest.
// An extract is compressed on the goroutine every reader's records pass
// through; on a flow log extract (JSON lines that repeat the format, the
// origin and the field names) level 1 took half the CPU of the default
// level 5 for a file about a third larger (6.6 % of the JSON instead of
// 5.0 %, measured on a 66 MB extract), and the evidence is stored, not
// shipped.
const gzipLevel = gzip.BestSpeed

// ErrExists is matched (errors.Is) by every refused write to a key that
// already holds evidence. Evidence is never overwritten: each put is
// conditional (If-None-Match: *).
var ErrExists = errors.New("evidence object already exists")

// ErrTooLarge is matched by a write or copy above MaxPutSize.
var ErrTooLarge = errors.New("object larger than a single put or copy allows")

// ExistsError is a conditional write refused because the key exists (S3
// answered 412 PreconditionFailed). It matches ErrExists with errors.Is and
// arrives wrapped in a *faults.EvidenceError.
type ExistsError struct {
	Bucket string
	Key    string
	Err    error
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("s3://%s/%s already exists: evidence is never overwritten", e.Bucket, e.Key)
}

// Is makes errors.Is(err, ErrExists) hold.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// Unwrap returns the S3 error.
func (e *ExistsError) Unwrap() error { return e.Err }

// PutMeta describes an artifact being written: where it came from and how,
// as the manifest records it, plus what S3 should store with it.
type PutMeta struct {
	// Source is one of Sources; required, since the manifest schema requires it.
	Source string
	// API is the call that produced the content, e.g. "cloudtrail:LookupEvents".
	API string
	// Request holds the call's parameters.
	Request map[string]any
	// Origin is where the content came from; Copy fills it from its source
	// when nil.
	Origin *Origin
	// Records is the number of records in the artifact. An ArtifactWriter
	// adds the records written with WriteRecord to it.
	Records int64
	// FirstEvent and LastEvent bound the records' own times; WriteRecord
	// widens them.
	FirstEvent *time.Time
	LastEvent  *time.Time
	// Collector and CollectorVersion name what wrote the artifact.
	Collector        string
	CollectorVersion string
	// ReadWith is the account, region and role the content was read with.
	ReadWith *ReadWith

	// ContentType is stored with the object; a default is chosen when empty.
	ContentType string
	// Metadata is stored as x-amz-meta-* (Put only: a Copy keeps the
	// source's metadata).
	Metadata map[string]string
	// Overwrite drops If-None-Match: * so the put adds a new version over an
	// existing key. Only for records that are meant to change, such as
	// case.json; the earlier versions stay locked. Never for evidence.
	Overwrite bool
	// AcceptIdentical makes a put onto a key whose current version already
	// holds exactly these bytes (same size, same SHA-256 as S3 stored it) a
	// success that returns that version, instead of ErrExists. It is for a
	// collector retried after a partial run, or an SDK retry whose first
	// attempt landed: writing the same evidence again is not an overwrite.
	// Put, PutJSON and Create only; never for a run marker.
	AcceptIdentical bool
}

func (m PutMeta) check() error {
	if !ValidSource(m.Source) {
		return fmt.Errorf("source %q is not one of %s", m.Source, strings.Join(Sources, ", "))
	}
	return nil
}

// artifact is the manifest entry for meta, without what the write returns.
func (m PutMeta) artifact(key string, at time.Time) Artifact {
	return Artifact{
		Key:              key,
		ContentType:      m.ContentType,
		Source:           m.Source,
		API:              m.API,
		Request:          m.Request,
		Origin:           m.Origin,
		Records:          m.Records,
		FirstEvent:       utcPtr(m.FirstEvent),
		LastEvent:        utcPtr(m.LastEvent),
		CollectedAt:      at.UTC(),
		Collector:        m.Collector,
		CollectorVersion: m.CollectorVersion,
		ReadWith:         m.ReadWith,
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Writer writes evidence into the locked bucket: streamed and hashed puts
// that never overwrite, and server-side copies that ask S3 for the SHA-256.
// It is safe for concurrent use.
type Writer struct {
	client  objectAPI
	bucket  string
	tempDir string
	now     func() time.Time
}

// Option configures a Writer.
type Option func(*Writer)

// WithTempDir sets the directory bodies are spooled to (default
// os.TempDir(), which is Lambda's ephemeral /tmp).
func WithTempDir(dir string) Option { return func(w *Writer) { w.tempDir = dir } }

// WithClock sets the clock that stamps CollectedAt (default time.Now).
func WithClock(now func() time.Time) Option { return func(w *Writer) { w.now = now } }

// NewWriter returns a Writer for bucket. client is normally an *s3.Client
// built with awsconfig.S3Options.
func NewWriter(client objectAPI, bucket string, opts ...Option) *Writer {
	w := &Writer{client: client, bucket: bucket, now: time.Now}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Bucket is the evidence bucket's name.
func (w *Writer) Bucket() string { return w.bucket }

// Put streams body into the evidence bucket at key. The body goes to a spool
// file on local disk while its SHA-256 and size are computed in the same
// pass, so memory stays bounded whatever the size; the spool is then
// uploaded as a seekable body with its SHA-256 (the SDK will not send an
// unseekable body with a checksum over plain HTTP, and the emulator refuses
// a put to a locked bucket without one). The write is conditional: a key
// that exists fails with an error matching ErrExists.
func (w *Writer) Put(ctx context.Context, key string, body io.Reader, meta PutMeta) (Artifact, error) {
	aw, err := w.Create(key, meta)
	if err != nil {
		return Artifact{}, err
	}
	if _, err := io.Copy(aw, ctxReader{ctx, body}); err != nil {
		aw.Abort()
		return Artifact{}, &faults.EvidenceError{Key: key, Err: fmt.Errorf("read body: %w", err)}
	}
	return aw.Close(ctx)
}

// PutJSON writes v as indented JSON at key, like Put.
func (w *Writer) PutJSON(ctx context.Context, key string, v any, meta PutMeta) (Artifact, error) {
	if meta.ContentType == "" {
		meta.ContentType = ContentTypeJSON
	}
	aw, err := w.Create(key, meta)
	if err != nil {
		return Artifact{}, err
	}
	enc := json.NewEncoder(aw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		aw.Abort()
		return Artifact{}, &faults.EvidenceError{Key: key, Err: fmt.Errorf("encode JSON: %w", err)}
	}
	return aw.Close(ctx)
}

// Create opens an artifact to be written piece by piece: what is written
// goes to a spool file and is hashed on the way; Close uploads it. Use it
// to stream records without holding them in memory.
func (w *Writer) Create(key string, meta PutMeta) (*ArtifactWriter, error) {
	return w.create(key, meta, false)
}

// CreateGzip is Create for a gzip artifact (.jsonl.gz extracts): what is
// written is compressed, and the size and SHA-256 are those of the
// compressed bytes, the ones stored.
func (w *Writer) CreateGzip(key string, meta PutMeta) (*ArtifactWriter, error) {
	if meta.ContentType == "" {
		meta.ContentType = ContentTypeGzip
	}
	return w.create(key, meta, true)
}

func (w *Writer) create(key string, meta PutMeta, gz bool) (*ArtifactWriter, error) {
	if key == "" {
		return nil, &faults.EvidenceError{Key: key, Err: errors.New("empty key")}
	}
	if err := meta.check(); err != nil {
		return nil, &faults.EvidenceError{Key: key, Err: err}
	}
	f, err := os.CreateTemp(w.tempDir, "custody-spool-*")
	if err != nil {
		return nil, &faults.EvidenceError{Key: key, Err: fmt.Errorf("spool: %w", err)}
	}
	a := &ArtifactWriter{w: w, key: key, meta: meta, file: f, hash: sha256.New()}
	a.buf = bufio.NewWriterSize(io.MultiWriter(f, a.hash, &a.size), 256<<10)
	a.sink = a.buf
	if gz {
		// gzipLevel is a constant the package accepts: no error.
		a.gz, _ = gzip.NewWriterLevel(a.buf, gzipLevel)
		a.sink = a.gz
	}
	return a, nil
}

// counter counts the bytes written through it.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// ArtifactWriter is an artifact being written; see Writer.Create. It is not
// safe for concurrent use. Close or Abort it exactly once: both remove the
// spool file.
type ArtifactWriter struct {
	w       *Writer
	key     string
	meta    PutMeta
	file    *os.File
	hash    hash.Hash
	size    counter
	buf     *bufio.Writer
	gz      *gzip.Writer
	sink    io.Writer
	records int64
	line    []byte // WriteRecord's buffer for a JSONAppender
	done    bool
	err     error
}

// Key is the key the artifact will have.
func (a *ArtifactWriter) Key() string { return a.key }

// Write adds p to the artifact (compressed, for CreateGzip).
func (a *ArtifactWriter) Write(p []byte) (int, error) {
	if a.done {
		return 0, errors.New("evidence: write to a closed artifact")
	}
	if a.err != nil {
		return 0, a.err
	}
	n, err := a.sink.Write(p)
	if err != nil {
		a.err = fmt.Errorf("spool %s: %w", a.key, err)
	}
	return n, a.err
}

// WriteRecord appends v as one JSON line, counts it as a record and widens
// FirstEvent/LastEvent by at (a zero at is counted but not timed: a record
// without a usable time is kept, never dropped).
//
// A v that is a JSONAppender encodes itself into a buffer the writer
// reuses; any other v goes through encoding/json.
func (a *ArtifactWriter) WriteRecord(v any, at time.Time) error {
	var line []byte
	var err error
	if j, ok := v.(JSONAppender); ok {
		line, err = j.AppendJSON(a.line[:0])
		if err == nil {
			a.line = line
		}
	} else {
		line, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	line = append(line, '\n')
	if _, err := a.Write(line); err != nil {
		return err
	}
	a.records++
	if !at.IsZero() {
		at = at.UTC()
		if a.meta.FirstEvent == nil || at.Before(*a.meta.FirstEvent) {
			t := at
			a.meta.FirstEvent = &t
		}
		if a.meta.LastEvent == nil || at.After(*a.meta.LastEvent) {
			t := at
			a.meta.LastEvent = &t
		}
	}
	return nil
}

// JSONAppender is a record that writes its own JSON: AppendJSON appends to
// b the bytes json.Marshal would give for it (compact, one value, no
// newline). An extract's record type implements it to spare the writer
// encoding/json's reflection and its compaction of a MarshalJSON's output,
// once a record.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// Records is the number of records written with WriteRecord so far.
func (a *ArtifactWriter) Records() int64 { return a.records }

// Abort discards the artifact: nothing is uploaded.
func (a *ArtifactWriter) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.file.Close()
	os.Remove(a.file.Name())
}

// Close finishes the artifact, uploads it with If-None-Match: * and returns
// its manifest entry. The spool file is removed whatever happens.
func (a *ArtifactWriter) Close(ctx context.Context) (Artifact, error) {
	if a.done {
		return Artifact{}, &faults.EvidenceError{Key: a.key, Err: errors.New("artifact already closed")}
	}
	defer a.Abort()
	if a.err != nil {
		return Artifact{}, &faults.EvidenceError{Key: a.key, Err: a.err}
	}
	if a.gz != nil {
		if err := a.gz.Close(); err != nil {
			return Artifact{}, &faults.EvidenceError{Key: a.key, Err: fmt.Errorf("gzip: %w", err)}
		}
	}
	if err := a.buf.Flush(); err != nil {
		return Artifact{}, &faults.EvidenceError{Key: a.key, Err: fmt.Errorf("spool: %w", err)}
	}
	meta := a.meta
	meta.Records += a.records
	return a.w.putSeekable(ctx, a.key, a.file, int64(a.size), a.hash.Sum(nil), meta)
}

// putSeekable uploads a body whose size and SHA-256 are known.
func (w *Writer) putSeekable(ctx context.Context, key string, body io.ReadSeeker, size int64, sum []byte, meta PutMeta) (Artifact, error) {
	if size > MaxPutSize {
		return Artifact{}, &faults.EvidenceError{Key: key, Err: fmt.Errorf("%w: %d bytes (multipart upload not implemented)", ErrTooLarge, size)}
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return Artifact{}, &faults.EvidenceError{Key: key, Err: fmt.Errorf("rewind spool: %w", err)}
	}
	if meta.ContentType == "" {
		meta.ContentType = ContentTypeBinary
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(w.bucket),
		Key:           aws.String(key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(meta.ContentType),
		// Both set: the algorithm makes S3 store a SHA-256 with the object
		// (and the emulator accept the put to a locked bucket), and the
		// value we computed means the SDK sends it as a header instead of
		// hashing the body again or trailing it.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		Metadata:          meta.Metadata,
	}
	if !meta.Overwrite {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := w.client.PutObject(ctx, in)
	if err != nil {
		err = w.fail("PutObject", key, err)
		if meta.AcceptIdentical && errors.Is(err, ErrExists) {
			return w.existingIdentical(ctx, key, size, sum, meta, err)
		}
		return Artifact{}, err
	}
	art := meta.artifact(key, w.now())
	art.VersionID = aws.ToString(out.VersionId)
	art.Size = size
	art.SHA256 = hex.EncodeToString(sum)
	art.S3ChecksumSHA256 = aws.ToString(out.ChecksumSHA256)
	return art, nil
}

// existingIdentical returns the current version of key as the artifact when
// it holds the bytes we meant to write, and exists otherwise.
func (w *Writer) existingIdentical(ctx context.Context, key string, size int64, sum []byte, meta PutMeta, exists error) (Artifact, error) {
	head, err := w.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return Artifact{}, exists
	}
	b64 := base64.StdEncoding.EncodeToString(sum)
	if aws.ToInt64(head.ContentLength) != size || aws.ToString(head.ChecksumSHA256) != b64 {
		return Artifact{}, exists
	}
	art := meta.artifact(key, w.now())
	art.VersionID = aws.ToString(head.VersionId)
	art.Size = size
	art.SHA256 = hex.EncodeToString(sum)
	art.S3ChecksumSHA256 = b64
	return art, nil
}

// PutRunMarker writes the run marker with If-None-Match: *. It is how two
// deliveries of the same finding, even at once, make one run: the one whose
// marker is created goes on (created true); the other gets created false
// and a nil error, and stops.
func (w *Writer) PutRunMarker(ctx context.Context, caseID, runID string, body []byte) (created bool, err error) {
	key, err := RunMarkerKey(caseID, runID)
	if err != nil {
		return false, &faults.EvidenceError{Key: key, Err: err}
	}
	sum := sha256.Sum256(body)
	_, err = w.putSeekable(ctx, key, bytes.NewReader(body), int64(len(body)), sum[:],
		PutMeta{Source: SourceCase, ContentType: ContentTypeJSON})
	if errors.Is(err, ErrExists) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// Copy copies one object version into the evidence bucket at dstKey, server
// side: no bytes pass through the function. S3 computes the SHA-256 of the
// copy (ChecksumAlgorithm SHA256), and the source's metadata is kept
// (MetadataDirective COPY), so a CloudTrail digest keeps its
// x-amz-meta-signature. The artifact's SHA256 is S3's full-object checksum;
// where S3 gives none, or only a checksum of parts, the copy is read back
// through SHA-256 instead. srcVersion may be empty: the version current at
// the time is pinned and recorded in Origin. Objects above MaxPutSize fail
// with ErrTooLarge (they need UploadPartCopy, not implemented).
func (w *Writer) Copy(ctx context.Context, srcBucket, srcKey, srcVersion, dstKey string, meta PutMeta) (Artifact, error) {
	if err := meta.check(); err != nil {
		return Artifact{}, &faults.EvidenceError{Key: dstKey, Err: err}
	}
	if srcBucket == "" || srcKey == "" || dstKey == "" {
		return Artifact{}, &faults.EvidenceError{Key: dstKey, Err: errors.New("copy needs a source bucket, source key and destination key")}
	}
	src := fmt.Sprintf("s3://%s/%s", srcBucket, srcKey)
	hin := &s3.HeadObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(srcKey)}
	if srcVersion != "" {
		hin.VersionId = aws.String(srcVersion)
	}
	head, err := w.client.HeadObject(ctx, hin)
	if err != nil {
		return Artifact{}, w.fail("HeadObject", src, err)
	}
	if size := aws.ToInt64(head.ContentLength); size > MaxPutSize {
		return Artifact{}, &faults.EvidenceError{Key: dstKey, Err: fmt.Errorf("%w: %s is %d bytes (UploadPartCopy not implemented)", ErrTooLarge, src, size)}
	}
	// Pin the version we looked at, so the copy is of the object we sized
	// and the manifest names exactly what was copied. An unversioned bucket
	// reports "null": pin the ETag instead.
	if v := aws.ToString(head.VersionId); srcVersion == "" && v != "" && v != "null" {
		srcVersion = v
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(w.bucket),
		Key:               aws.String(dstKey),
		CopySource:        aws.String(copySource(srcBucket, srcKey, srcVersion)),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		MetadataDirective: types.MetadataDirectiveCopy,
	}
	if srcVersion == "" && head.ETag != nil {
		in.CopySourceIfMatch = head.ETag
	}
	if !meta.Overwrite {
		in.IfNoneMatch = aws.String("*")
		// S3 honours If-None-Match on CopyObject; the emulator ignores it
		// and would add a version over existing evidence. A HEAD first
		// makes both refuse. Any error but "found" goes on to the
		// conditional copy: a role without s3:ListBucket gets 403, not 404,
		// for a missing key.
		if existing, err := w.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(dstKey)}); err == nil {
			exists := &faults.EvidenceError{Key: dstKey, Err: &ExistsError{Bucket: w.bucket, Key: dstKey}}
			if !meta.AcceptIdentical {
				return Artifact{}, exists
			}
			// A retried collector copying the same original again: the
			// same bytes are the same evidence. Anything else is refused.
			return w.copiedIdentical(ctx, dstKey, aws.ToString(existing.VersionId), meta, srcBucket, srcKey, srcVersion, exists)
		}
	}
	out, err := w.client.CopyObject(ctx, in)
	if apiCode(err) == "MissingUploadObjectWithObjectLockHeaders" {
		// The SDK sends CopyObject's ChecksumAlgorithm as
		// x-amz-checksum-algorithm; the emulator wants
		// x-amz-sdk-checksum-algorithm (or Content-MD5) on any write to a
		// bucket with default retention, as for a put. Retry once with it
		// only when asked, so real S3 never sees the extra header.
		out, err = w.client.CopyObject(ctx, in, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-amz-sdk-checksum-algorithm", string(types.ChecksumAlgorithmSha256)))
		})
	}
	if err != nil {
		err = w.fail("CopyObject", dstKey, err)
		if meta.AcceptIdentical && errors.Is(err, ErrExists) {
			// The key appeared between the HEAD and the copy: most often
			// this very copy, whose answer was lost and which the SDK
			// retried (S3 then answers 412). The same bytes are the same
			// evidence.
			existing, herr := w.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(dstKey)})
			if herr != nil {
				return Artifact{}, err
			}
			return w.copiedIdentical(ctx, dstKey, aws.ToString(existing.VersionId), meta, srcBucket, srcKey, srcVersion, err)
		}
		return Artifact{}, err
	}
	var s3sum string
	if out.CopyObjectResult != nil {
		s3sum = aws.ToString(out.CopyObjectResult.ChecksumSHA256)
	}
	return w.copied(ctx, dstKey, aws.ToString(out.VersionId), s3sum, meta, srcBucket, srcKey, srcVersion)
}

// copiedIdentical is the manifest entry of dstKey's version dstVersion
// when it holds the same bytes as the source version, and exists
// otherwise.
func (w *Writer) copiedIdentical(ctx context.Context, dstKey, dstVersion string, meta PutMeta, srcBucket, srcKey, srcVersion string, exists error) (Artifact, error) {
	srcSum, srcSize, err := hashObject(ctx, w.client, srcBucket, srcKey, srcVersion)
	if err != nil {
		return Artifact{}, err
	}
	dstSum, dstSize, err := w.hashObject(ctx, w.bucket, dstKey, dstVersion)
	if err != nil {
		return Artifact{}, err
	}
	if srcSum != dstSum || srcSize != dstSize {
		return Artifact{}, exists
	}
	return w.copied(ctx, dstKey, dstVersion, "", meta, srcBucket, srcKey, srcVersion)
}

// copied is the manifest entry of the copy stored as dstKey's version,
// with its size and SHA-256 read back from that version.
func (w *Writer) copied(ctx context.Context, dstKey, version, s3sum string, meta PutMeta, srcBucket, srcKey, srcVersion string) (Artifact, error) {
	// The copy result carries no size, and may carry no checksum: read both
	// back from the new version itself.
	dhin := &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(dstKey), ChecksumMode: types.ChecksumModeEnabled}
	if version != "" {
		dhin.VersionId = aws.String(version)
	}
	dhead, err := w.client.HeadObject(ctx, dhin)
	if err != nil {
		return Artifact{}, w.fail("HeadObject", dstKey, err)
	}
	if s3sum == "" {
		s3sum = aws.ToString(dhead.ChecksumSHA256)
	}
	if meta.ContentType == "" {
		meta.ContentType = aws.ToString(dhead.ContentType)
	}
	if meta.Origin == nil {
		meta.Origin = &Origin{}
	}
	if meta.Origin.Bucket == "" && meta.Origin.Key == "" {
		meta.Origin.Bucket, meta.Origin.Key = srcBucket, srcKey
	}
	if meta.Origin.VersionID == "" {
		meta.Origin.VersionID = srcVersion
	}
	if meta.API == "" {
		meta.API = "s3:CopyObject"
	}
	art := meta.artifact(dstKey, w.now())
	art.VersionID = version
	art.Size = aws.ToInt64(dhead.ContentLength)
	art.S3ChecksumSHA256 = s3sum
	if sum, ok := fullObjectSHA256(s3sum, dhead.ChecksumType); ok {
		art.SHA256 = sum
		return art, nil
	}
	// No usable checksum from S3 (an emulator that does not compute one on
	// copy, or a composite checksum of parts): hash the stored bytes
	// ourselves, streaming, so the manifest still holds a whole-object
	// SHA-256 of exactly this version.
	sum, size, err := w.hashObject(ctx, w.bucket, dstKey, version)
	if err != nil {
		return Artifact{}, err
	}
	art.SHA256, art.Size = sum, size
	return art, nil
}

// fullObjectSHA256 turns S3's base64 checksum into hex when it is a
// whole-object one (a composite checksum of parts ends in "-<parts>").
func fullObjectSHA256(b64 string, typ types.ChecksumType) (string, bool) {
	if b64 == "" || typ == types.ChecksumTypeComposite || strings.Contains(b64, "-") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// hashObject streams one object version through SHA-256.
func (w *Writer) hashObject(ctx context.Context, bucket, key, version string) (string, int64, error) {
	return hashObject(ctx, w.client, bucket, key, version)
}

type objectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

func hashObject(ctx context.Context, client objectGetter, bucket, key, version string) (string, int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	// We hash every byte ourselves; the SDK's own response validation would
	// hash them twice, and turn a stored checksum that disagrees with the
	// bytes into a read error instead of the mismatch we report.
	out, err := client.GetObject(ctx, in, func(o *s3.Options) {
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if err != nil {
		return "", 0, classify("GetObject", key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return "", 0, classify("GetObject", key, fmt.Errorf("read: %w", err))
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// copySource is the x-amz-copy-source value: bucket/key?versionId=v, URL
// encoded segment by segment ("+" too, which S3 would read as a space).
func copySource(bucket, key, version string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	v := url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
	if version != "" {
		v += "?versionId=" + url.QueryEscape(version)
	}
	return v
}

// fail names an S3 error: a refused conditional write is an ExistsError;
// a conditional write racing another is transient (S3 answers 409 and
// asks for a retry); throttling and 5xx are faults.ThrottledError and
// faults.TransientError; anything else is a faults.EvidenceError.
func (w *Writer) fail(op, key string, err error) error {
	switch apiCode(err) {
	case "PreconditionFailed":
		return &faults.EvidenceError{Key: key, Err: &ExistsError{Bucket: w.bucket, Key: key, Err: err}}
	case "ConditionalRequestConflict":
		return &faults.TransientError{Op: op + " " + key, Err: err}
	}
	if httpStatus(err) == 412 {
		return &faults.EvidenceError{Key: key, Err: &ExistsError{Bucket: w.bucket, Key: key, Err: err}}
	}
	return classify(op, key, err)
}

func classify(op, key string, err error) error {
	return faults.Classify(op+" "+key, err, func(err error) error {
		return &faults.EvidenceError{Key: key, Err: fmt.Errorf("%s: %w", op, err)}
	})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// ctxReader stops a long copy when the context ends (a Lambda nearing its
// deadline), which io.Copy alone would not notice.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
