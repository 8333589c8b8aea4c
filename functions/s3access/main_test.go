package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow stamps the evidence writer in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// testdata is the real access log samples copied into the project (see
// shared/logs/s3access/testdata/SOURCES.md for origin and license).
const testdata = "../../shared/logs/s3access/testdata"

// corpusLines returns the non-empty lines of a testdata file; for the
// Panther scenario (YAML), the lines of its Logs list.
func corpusLines(t testing.TB, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(name, ".yml") {
			var ok bool
			if l, ok = strings.CutPrefix(l, "  - "); !ok {
				continue
			}
		}
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

var bracketTime = regexp.MustCompile(`\[[^\]]*\]`)

// derive rewrites a real line for a test bucket: every occurrence of its
// bucket name (the bucket field, host header, request-URI) becomes bucket
// and, when at is not zero, its bracketed time becomes at. The result is
// DERIVED from the corpus line.
func derive(t testing.TB, line, bucket string, at time.Time) string {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("not an access log line: %q", line)
	}
	line = strings.ReplaceAll(line, f[1], bucket)
	if !at.IsZero() {
		line = bracketTime.ReplaceAllLiteralString(line, "["+at.UTC().Format("02/Jan/2006:15:04:05 -0700")+"]")
	}
	return line
}

func createBucket(t testing.TB, client *s3.Client, name string) {
	t.Helper()
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

// loggingPolicy lets the S3 logging service put objects in target, as
// shared/scenario's seeder writes it (moto refuses PutBucketLogging to a
// target without it).
func loggingPolicy(target string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::` +
		target + `/*","Condition":{"StringEquals":{"aws:SourceAccount":"` + emulator.AccountID + `"}}}]}`
}

func putObject(t testing.TB, client *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

// gunzipLines returns the JSON lines of a .jsonl.gz artifact.
func gunzipLines(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("extract line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func newWriter(t testing.TB, client *s3.Client) *evidence.Writer {
	return evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
}

// canon returns v (a JSON string or a decoded value) as compact JSON with
// sorted keys, for comparison.
func canon(t testing.TB, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("canon %q: %v", s, err)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
