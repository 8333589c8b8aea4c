package s3test

import (
	"bytes"
	"compress/gzip"
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const bucket = "custody-s3test"

func put(t *testing.T, client *s3.Client, key, body string) string {
	t.Helper()
	out, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return aws.ToString(out.VersionId)
}

func TestReadObjects(t *testing.T) {
	client := emu.FreshLockedBucket(t, bucket)
	first := put(t, client, "cases/c/doc.json", `{"n":1}`)
	second := put(t, client, "cases/c/doc.json", `{"n":2}`)
	put(t, client, "cases/c/b.txt", "b")
	put(t, client, "other/a.txt", "a")
	if first == "" || first == second {
		t.Fatalf("versions %q, %q", first, second)
	}

	if body, version := Object(t, client, bucket, "cases/c/doc.json"); string(body) != `{"n":2}` || version != second {
		t.Errorf("Object: %s version %s, want the second (%s)", body, version, second)
	}
	if body := Body(t, client, bucket, "cases/c/doc.json"); string(body) != `{"n":2}` {
		t.Errorf("Body: %s", body)
	}
	if body := VersionBody(t, client, bucket, "cases/c/doc.json", first); string(body) != `{"n":1}` {
		t.Errorf("VersionBody of the first version: %s", body)
	}
	if body := VersionBody(t, client, bucket, "cases/c/doc.json", ""); string(body) != `{"n":2}` {
		t.Errorf("VersionBody without a version: %s", body)
	}
	var doc struct{ N int }
	ObjectJSON(t, client, bucket, "cases/c/doc.json", &doc)
	if doc.N != 2 {
		t.Errorf("ObjectJSON: %+v", doc)
	}
	if got, want := Keys(t, client, bucket, "cases/"), []string{"cases/c/b.txt", "cases/c/doc.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys under cases/: %q, want %q", got, want)
	}
	if got := Keys(t, client, bucket, ""); len(got) != 3 {
		t.Errorf("Keys of the bucket: %q", got)
	}
}

// pagedLister answers ListObjectsV2 two keys a page, in reverse order, and
// records the prefixes it was asked for.
type pagedLister struct {
	keys     []string
	prefixes []string
}

func (p *pagedLister) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	p.prefixes = append(p.prefixes, aws.ToString(in.Prefix))
	from := 0
	if tok := aws.ToString(in.ContinuationToken); tok != "" {
		from, _ = strconv.Atoi(tok)
	}
	to := min(from+2, len(p.keys))
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(to < len(p.keys))}
	for _, k := range p.keys[from:to] {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	if to < len(p.keys) {
		out.NextContinuationToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func TestKeysEveryPage(t *testing.T) {
	l := &pagedLister{keys: []string{"p/e", "p/d", "p/c", "p/b", "p/a"}}
	if got, want := Keys(t, l, bucket, "p/"), []string{"p/a", "p/b", "p/c", "p/d", "p/e"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys: %q, want %q", got, want)
	}
	if want := []string{"p/", "p/", "p/"}; !reflect.DeepEqual(l.prefixes, want) {
		t.Errorf("prefixes asked %q, want %q", l.prefixes, want)
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("{\"n\":1}\n{\"n\":2}\n"))
	zw.Close()
	type rec struct{ N int }
	if got, want := JSONLines[rec](t, buf.Bytes()), []rec{{1}, {2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("JSONLines: %+v, want %+v", got, want)
	}
}
