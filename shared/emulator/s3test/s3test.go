// Package s3test reads back what a test stored in S3 (the emulator's, or
// any client's): an object's bytes and version, an object decoded from
// JSON, the keys under a prefix, the records of a .jsonl.gz extract. Each
// helper fails the test on an error, so a test reads as the checks it
// makes.
//
// It is a package of its own, not part of shared/emulator, because the
// emulator is also imported by the local run (cmd/custody), which has no
// use for helpers that take a testing.TB.
package s3test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ObjectGetter is the S3 call the object readers make: *s3.Client has it,
// as does a test's wrapper around one.
type ObjectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Object reads the current version of bucket/key: its bytes and its
// version ID ("" in a bucket without versioning).
func Object(t testing.TB, client ObjectGetter, bucket, key string) (body []byte, versionID string) {
	t.Helper()
	return get(t, client, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
}

// Body is the bytes of the current version of bucket/key, for a test that
// does not look at the version.
func Body(t testing.TB, client ObjectGetter, bucket, key string) []byte {
	t.Helper()
	body, _ := Object(t, client, bucket, key)
	return body
}

// VersionBody is the bytes of version versionID of bucket/key; an empty
// versionID reads the current version, as Body does.
func VersionBody(t testing.TB, client ObjectGetter, bucket, key, versionID string) []byte {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	body, _ := get(t, client, in)
	return body
}

// ObjectJSON decodes the current version of bucket/key into v, as
// json.Unmarshal does.
func ObjectJSON(t testing.TB, client ObjectGetter, bucket, key string, v any) {
	t.Helper()
	body := Body(t, client, bucket, key)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode s3://%s/%s: %v\n%s", bucket, key, err, body)
	}
}

// Keys lists the keys under prefix in bucket, every page of them, sorted.
// An empty prefix lists the whole bucket.
func Keys(t testing.TB, client s3.ListObjectsV2APIClient, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListObjectsV2 s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

// JSONLines gunzips body, a JSON Lines extract as the collectors store
// them (.jsonl.gz), and decodes each line into a fresh T. A line that does
// not decode, or is longer than 1 MiB, fails the test.
func JSONLines[T any](t testing.TB, body []byte) []T {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	var out []T
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t testing.TB, client ObjectGetter, in *s3.GetObjectInput) (body []byte, versionID string) {
	t.Helper()
	out, err := client.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject s3://%s/%s (version %q): %v", aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.VersionId), err)
	}
	defer out.Body.Close()
	body, err = io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	return body, aws.ToString(out.VersionId)
}
