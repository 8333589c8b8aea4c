package evidence

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/faults"
)

// payload is n deterministic pseudo-random bytes.
func payload(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// onlyReader hides every method but Read, so Put cannot seek or size the
// body: it must stream it.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestPutStreamsAndHashes(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	spool := t.TempDir()
	w := NewWriter(client, testBucket, WithTempDir(spool), WithClock(func() time.Time { return fixedNow.In(time.FixedZone("x", 3600)) }))
	ctx := context.Background()
	data := payload(3 << 20)
	first := fixedNow.Add(-time.Hour)
	key, err := ArtifactKey("case1", "run1", SourceCloudTrail, "extract.bin")
	if err != nil {
		t.Fatal(err)
	}
	art, err := w.Put(ctx, key, onlyReader{bytes.NewReader(data)}, PutMeta{
		Source: SourceCloudTrail, API: "cloudtrail:LookupEvents", Request: map[string]any{"MaxResults": 50},
		Records: 7, FirstEvent: &first, Collector: "cloudtrail", CollectorVersion: "1.0.0",
		Metadata: map[string]string{"case-id": "case1"},
	})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := hexSHA(data)
	if art.SHA256 != want || art.Size != int64(len(data)) {
		t.Errorf("artifact sha256/size = %s/%d, want %s/%d", art.SHA256, art.Size, want, len(data))
	}
	sum := sha256.Sum256(data)
	if art.S3ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("S3ChecksumSHA256 = %q", art.S3ChecksumSHA256)
	}
	if art.VersionID == "" {
		t.Error("no version ID")
	}
	if !art.CollectedAt.Equal(fixedNow) || art.CollectedAt.Location() != time.UTC {
		t.Errorf("CollectedAt = %v, want %v in UTC", art.CollectedAt, fixedNow)
	}
	if art.Key != key || art.Source != SourceCloudTrail || art.API != "cloudtrail:LookupEvents" || art.Records != 7 ||
		art.FirstEvent == nil || !art.FirstEvent.Equal(first) || art.Collector != "cloudtrail" || art.CollectorVersion != "1.0.0" ||
		art.ContentType != ContentTypeBinary {
		t.Errorf("artifact meta = %+v", art)
	}
	if got := s3test.VersionBody(t, client, testBucket, key, art.VersionID); hexSHA(got) != want {
		t.Error("stored bytes differ from the body")
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), VersionId: aws.String(art.VersionID)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil {
		t.Errorf("lock = %q until %v, want the bucket's default GOVERNANCE retention", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	if head.Metadata["case-id"] != "case1" {
		t.Errorf("metadata = %v", head.Metadata)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}

func TestPutNeverOverwrites(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	ctx := context.Background()
	meta := PutMeta{Source: SourceCase}
	first, err := w.Put(ctx, "cases/c/runs/r/input.json", strings.NewReader(`{"a":1}`), meta)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Put(ctx, "cases/c/runs/r/input.json", strings.NewReader(`{"a":2}`), meta)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Put: err = %v, want ErrExists", err)
	}
	var ee *ExistsError
	var evi *faults.EvidenceError
	if !errors.As(err, &ee) || !errors.As(err, &evi) || ee.Key != "cases/c/runs/r/input.json" {
		t.Errorf("second Put: err = %#v, want *ExistsError inside *faults.EvidenceError", err)
	}
	if got := string(s3test.Body(t, client, testBucket, "cases/c/runs/r/input.json")); got != `{"a":1}` {
		t.Errorf("latest = %q, want the first write", got)
	}
	// Overwrite is the explicit way to add a version (case.json).
	second, err := w.Put(ctx, "cases/c/runs/r/input.json", strings.NewReader(`{"a":3}`), PutMeta{Source: SourceCase, Overwrite: true})
	if err != nil {
		t.Fatalf("Put with Overwrite: %v", err)
	}
	if second.VersionID == first.VersionID {
		t.Error("overwrite did not make a new version")
	}
	if got := string(s3test.VersionBody(t, client, testBucket, "cases/c/runs/r/input.json", first.VersionID)); got != `{"a":1}` {
		t.Errorf("first version = %q after overwrite", got)
	}
}

func TestPutRefusesBadInput(t *testing.T) {
	w := NewWriter(nil, testBucket, WithTempDir(t.TempDir()))
	ctx := context.Background()
	var evi *faults.EvidenceError
	if _, err := w.Put(ctx, "k", strings.NewReader("x"), PutMeta{Source: "nope"}); !errors.As(err, &evi) {
		t.Errorf("bad source: err = %v, want EvidenceError", err)
	}
	if _, err := w.Put(ctx, "", strings.NewReader("x"), PutMeta{Source: SourceCase}); !errors.As(err, &evi) {
		t.Errorf("empty key: err = %v, want EvidenceError", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.Put(cctx, "k", strings.NewReader("x"), PutMeta{Source: SourceCase}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestCreateGzipRecords(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	ctx := context.Background()
	aw, err := w.CreateGzip("cases/c/runs/r/cloudtrail/extract.jsonl.gz", PutMeta{Source: SourceCloudTrail, API: "s3:GetObject"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 20000
	for i := range n {
		// Out of order on purpose, and one record without a time.
		at := base.Add(time.Duration((i*7919)%n) * time.Second)
		if i == 5 {
			at = time.Time{}
		}
		if err := aw.WriteRecord(map[string]any{"i": i, "eventName": "GetObject"}, at); err != nil {
			t.Fatal(err)
		}
	}
	art, err := aw.Close(ctx)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if art.Records != n || art.ContentType != ContentTypeGzip {
		t.Errorf("records/content type = %d/%q", art.Records, art.ContentType)
	}
	if !art.FirstEvent.Equal(base) || !art.LastEvent.Equal(base.Add((n-1)*time.Second)) {
		t.Errorf("first/last = %v/%v", art.FirstEvent, art.LastEvent)
	}
	stored := s3test.VersionBody(t, client, testBucket, art.Key, art.VersionID)
	if hexSHA(stored) != art.SHA256 || int64(len(stored)) != art.Size {
		t.Error("sha256/size are not those of the stored (compressed) bytes")
	}
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines++
	}
	if lines != n {
		t.Errorf("%d lines, want %d", lines, n)
	}
	if _, err := aw.Close(ctx); err == nil {
		t.Error("second Close succeeded")
	}
}

func TestPutJSON(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	art, err := w.PutJSON(context.Background(), "cases/c/runs/r/results/guardduty.json", map[string]string{"status": "ok"}, PutMeta{Source: SourceCase})
	if err != nil {
		t.Fatal(err)
	}
	got := s3test.VersionBody(t, client, testBucket, art.Key, art.VersionID)
	if !strings.Contains(string(got), `"status": "ok"`) || art.ContentType != ContentTypeJSON || hexSHA(got) != art.SHA256 {
		t.Errorf("stored %q, artifact %+v", got, art)
	}
}

func TestCopyKeepsMetadataAndHashes(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	const trail = "trail-bucket"
	plainBucket(t, client, trail)
	ctx := context.Background()
	srcKey := "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/05/06/123456789012_CloudTrail-Digest_us-east-1_trail_us-east-1_20240506T0708Z.json.gz"
	body := payload(100 << 10)
	put, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(trail), Key: aws.String(srcKey), Body: bytes.NewReader(body),
		ContentType: aws.String("application/x-gzip"),
		Metadata:    map[string]string{"signature": "3a8b9c", "signature-algorithm": "SHA256withRSA"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A newer version: the copy must take the one asked for.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(trail), Key: aws.String(srcKey), Body: strings.NewReader("newer")}); err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, client)
	dst, err := ArtifactKey("c", "r", SourceCloudTrail, srcKey)
	if err != nil {
		t.Fatal(err)
	}
	art, err := w.Copy(ctx, trail, srcKey, aws.ToString(put.VersionId), dst, PutMeta{Source: SourceCloudTrail, Collector: "cloudtrail", CollectorVersion: "1"})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if art.SHA256 != hexSHA(body) || art.Size != int64(len(body)) || art.VersionID == "" {
		t.Errorf("artifact = %+v, want sha256 %s size %d", art, hexSHA(body), len(body))
	}
	if art.Origin == nil || art.Origin.Bucket != trail || art.Origin.Key != srcKey || art.Origin.VersionID != aws.ToString(put.VersionId) {
		t.Errorf("origin = %+v", art.Origin)
	}
	if art.API != "s3:CopyObject" || !art.CollectedAt.Equal(fixedNow) || art.ContentType != "application/x-gzip" {
		t.Errorf("artifact = %+v", art)
	}
	t.Logf("S3 checksum on the copy: %q", art.S3ChecksumSHA256)
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(dst), VersionId: aws.String(art.VersionID)})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["signature"] != "3a8b9c" || head.Metadata["signature-algorithm"] != "SHA256withRSA" {
		t.Errorf("copy lost the source metadata: %v", head.Metadata)
	}
	if head.ObjectLockMode != types.ObjectLockModeGovernance {
		t.Errorf("copy lock mode = %q", head.ObjectLockMode)
	}
	if got := s3test.VersionBody(t, client, testBucket, dst, art.VersionID); !bytes.Equal(got, body) {
		t.Error("copied bytes differ")
	}

	// Without a version, the current one is pinned.
	art2, err := w.Copy(ctx, trail, srcKey, "", dst+".latest", PutMeta{Source: SourceCloudTrail})
	if err != nil {
		t.Fatalf("Copy latest: %v", err)
	}
	if art2.SHA256 != hexSHA([]byte("newer")) || art2.Origin.VersionID == "" || art2.Origin.VersionID == aws.ToString(put.VersionId) {
		t.Errorf("copy of latest = %+v origin %+v", art2, art2.Origin)
	}

	// A copy onto existing evidence is refused.
	if _, err := w.Copy(ctx, trail, srcKey, "", dst, PutMeta{Source: SourceCloudTrail}); !errors.Is(err, ErrExists) {
		t.Errorf("copy onto existing key: err = %v, want ErrExists", err)
	}
	if got := s3test.Body(t, client, testBucket, dst); !bytes.Equal(got, body) {
		t.Error("copy onto existing key replaced the evidence")
	}
}

func TestCopyKeyWithSpecialCharacters(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	plainBucket(t, client, "src")
	ctx := context.Background()
	srcKey := "logs/a b+c/ümlaut&x=1.log"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), Body: strings.NewReader("line\n")}); err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, client)
	art, err := w.Copy(ctx, "src", srcKey, "", "cases/c/runs/r/s3access/x.log", PutMeta{Source: SourceS3Access})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if art.SHA256 != hexSHA([]byte("line\n")) {
		t.Errorf("sha256 = %s", art.SHA256)
	}
}

func TestLockedVersionSurvivesDeleteAndOverwrite(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	ctx := context.Background()
	key := "cases/c/runs/r/guardduty/finding.json"
	original := []byte(`{"id":"finding-1"}`)
	art, err := w.Put(ctx, key, bytes.NewReader(original), PutMeta{Source: SourceGuardDuty})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), VersionId: aws.String(art.VersionID)})
	if err == nil {
		t.Fatal("deleting a locked version succeeded")
	}
	t.Logf("delete of locked version refused: %v", err)
	// An overwrite with the raw client (no If-None-Match) adds a version...
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), Body: strings.NewReader(`{"id":"forged"}`),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatalf("raw overwrite: %v", err)
	}
	// ...and the original version still reads back byte for byte.
	if got := s3test.VersionBody(t, client, testBucket, key, art.VersionID); !bytes.Equal(got, original) {
		t.Errorf("original version now %q", got)
	}
	vers, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vers.Versions) != 2 {
		t.Errorf("%d versions, want 2", len(vers.Versions))
	}
	// Deleting the key only adds a delete marker; the version stays.
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("delete marker: %v", err)
	}
	if got := s3test.VersionBody(t, client, testBucket, key, art.VersionID); !bytes.Equal(got, original) {
		t.Errorf("original version after delete marker: %q", got)
	}
}

func TestRunMarkerRace(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	ctx := context.Background()
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		errs    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := w.PutRunMarker(ctx, "case-race", "run-1", fmt.Appendf(nil, `{"delivery":%d}`, i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				created++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 || created != 1 {
		t.Fatalf("created %d markers (want exactly 1), errors %v", created, errs)
	}
	ok, err := w.PutRunMarker(ctx, "case-race", "run-1", []byte(`{}`))
	if ok || err != nil {
		t.Errorf("late duplicate: created=%v err=%v", ok, err)
	}
	vers, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket), Prefix: aws.String("cases/case-race/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(vers.Versions) != 1 {
		t.Errorf("%d marker versions, want 1", len(vers.Versions))
	}
	if _, err := w.PutRunMarker(ctx, "../x", "run-1", nil); err == nil {
		t.Error("marker with a bad case ID accepted")
	}
}

// fakeS3 answers every call with err, or with the canned outputs.
type fakeS3 struct {
	err  error
	head *s3.HeadObjectOutput
}

func (f *fakeS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, f.err
}

func (f *fakeS3) CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	return nil, f.err
}

func (f *fakeS3) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if f.head != nil {
		return f.head, nil
	}
	return nil, f.err
}

func (f *fakeS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, f.err
}

func TestWriterNamesErrors(t *testing.T) {
	ctx := context.Background()
	meta := PutMeta{Source: SourceCase}
	cases := []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"throttled", &smithy.GenericAPIError{Code: "SlowDown", Message: "slow"}, func(err error) bool {
			var e *faults.ThrottledError
			return errors.As(err, &e)
		}},
		{"server fault", &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}, func(err error) bool {
			var e *faults.TransientError
			return errors.As(err, &e)
		}},
		{"conditional conflict", &smithy.GenericAPIError{Code: "ConditionalRequestConflict"}, func(err error) bool {
			var e *faults.TransientError
			return errors.As(err, &e)
		}},
		{"precondition", &smithy.GenericAPIError{Code: "PreconditionFailed"}, func(err error) bool {
			return errors.Is(err, ErrExists)
		}},
		{"denied", &smithy.GenericAPIError{Code: "AccessDenied"}, func(err error) bool {
			var e *faults.EvidenceError
			return errors.As(err, &e) && !errors.Is(err, ErrExists)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewWriter(&fakeS3{err: c.err}, testBucket, WithTempDir(t.TempDir()))
			_, err := w.Put(ctx, "k", strings.NewReader("x"), meta)
			if !c.check(err) {
				t.Errorf("err = %#v", err)
			}
		})
	}
}

func TestCopyTooLarge(t *testing.T) {
	w := NewWriter(&fakeS3{head: &s3.HeadObjectOutput{ContentLength: aws.Int64(MaxPutSize + 1)}}, testBucket)
	_, err := w.Copy(context.Background(), "src", "big", "", "cases/c/runs/r/ec2/big", PutMeta{Source: SourceEC2})
	var evi *faults.EvidenceError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &evi) {
		t.Errorf("err = %v, want ErrTooLarge in an EvidenceError", err)
	}
}

func TestCopyFromUnversionedBucket(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("flat")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("flat"), Key: aws.String("a.log"), Body: strings.NewReader("abc")}); err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, client)
	art, err := w.Copy(ctx, "flat", "a.log", "", "cases/c/runs/r/s3access/a.log", PutMeta{Source: SourceS3Access})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if art.SHA256 != hexSHA([]byte("abc")) || art.Origin.VersionID != "" || art.Size != 3 {
		t.Errorf("artifact = %+v origin %+v", art, art.Origin)
	}
}

func BenchmarkPut(b *testing.B) {
	client := emu.FreshLockedBucket(b, testBucket)
	w := newTestWriter(b, client)
	data := payload(8 << 20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := w.Put(context.Background(), fmt.Sprintf("cases/b/runs/r/ec2/%d", i), bytes.NewReader(data), PutMeta{Source: SourceEC2}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPutAcceptIdentical(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	ctx := context.Background()
	key := "cases/c/runs/r/iam/policies.json"
	first, err := w.Put(ctx, key, strings.NewReader("same"), PutMeta{Source: SourceIAM})
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.Put(ctx, key, strings.NewReader("same"), PutMeta{Source: SourceIAM, AcceptIdentical: true})
	if err != nil || again.VersionID != first.VersionID || again.SHA256 != first.SHA256 {
		t.Errorf("identical rewrite: %+v, %v; want version %s", again, err, first.VersionID)
	}
	if _, err := w.Put(ctx, key, strings.NewReader("different"), PutMeta{Source: SourceIAM, AcceptIdentical: true}); !errors.Is(err, ErrExists) {
		t.Errorf("different bytes: err = %v, want ErrExists", err)
	}
	vers, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket), Prefix: aws.String(key)})
	if err != nil || len(vers.Versions) != 1 {
		t.Errorf("versions = %d, %v; want 1", len(vers.Versions), err)
	}
}

// TestCopyAgain: a retried collector copies the same original again; with
// AcceptIdentical that is the existing version, and a different original
// under the same name is still refused.
func TestCopyAgain(t *testing.T) {
	tests := []struct {
		name      string
		accept    bool
		change    bool
		wantError bool
	}{
		{name: "same bytes, accepted", accept: true},
		{name: "same bytes, not accepted", wantError: true},
		{name: "other bytes, accepted flag", accept: true, change: true, wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			plainBucket(t, client, "src")
			ctx := context.Background()
			put := func(body string) {
				if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a.log"), Body: strings.NewReader(body)}); err != nil {
					t.Fatal(err)
				}
			}
			put("line one\n")
			w := newTestWriter(t, client)
			meta := PutMeta{Source: SourceCloudTrail, AcceptIdentical: tc.accept}
			first, err := w.Copy(ctx, "src", "a.log", "", "cases/c/runs/r/cloudtrail/a.log", meta)
			if err != nil {
				t.Fatal(err)
			}
			if tc.change {
				put("line two\n")
			}
			again, err := w.Copy(ctx, "src", "a.log", "", "cases/c/runs/r/cloudtrail/a.log", meta)
			if tc.wantError {
				if !errors.Is(err, ErrExists) {
					t.Fatalf("second copy: %v, want ErrExists", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if again.VersionID != first.VersionID || again.SHA256 != first.SHA256 || again.Size != first.Size {
				t.Fatalf("second copy %+v, want the first %+v", again, first)
			}
		})
	}
}

// appendRecord is a record that writes its own JSON, or fails to.
type appendRecord struct {
	json string
	err  error
}

func (r appendRecord) AppendJSON(b []byte) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	return append(b, r.json...), nil
}

// TestWriteRecordJSONAppender checks that a JSONAppender's bytes are the
// line written, as they are, between records encoding/json writes (the
// writer's reused buffer never leaks one record into the next), and that
// its error is WriteRecord's, with nothing written.
func TestWriteRecordJSONAppender(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	w := newTestWriter(t, client)
	aw, err := w.Create("cases/c/runs/r/vpcflow/extract.jsonl", PutMeta{Source: SourceVPCFlow, API: "s3:GetObject"})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, c := range []struct {
		v       any
		wantErr error
	}{
		{appendRecord{json: `{"a":"a long first record"}`}, nil},
		{appendRecord{json: `{"b":1}`}, nil},
		{map[string]int{"c": 2}, nil},
		{appendRecord{err: boom}, boom},
		{appendRecord{json: `{"d":"<&>"}`}, nil},
	} {
		if err := aw.WriteRecord(c.v, time.Time{}); !errors.Is(err, c.wantErr) {
			t.Fatalf("WriteRecord(%v) = %v, want %v", c.v, err, c.wantErr)
		}
	}
	art, err := aw.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := string(s3test.VersionBody(t, client, testBucket, art.Key, art.VersionID))
	if want := "{\"a\":\"a long first record\"}\n{\"b\":1}\n{\"c\":2}\n{\"d\":\"<&>\"}\n"; got != want || art.Records != 4 {
		t.Errorf("stored %q (%d records), want %q (4)", got, art.Records, want)
	}
}
