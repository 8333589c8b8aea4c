package evidence

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow is the injected clock of every test writer.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// plainBucket creates an ordinary versioned source bucket (a trail's bucket).
func plainBucket(t testing.TB, client *s3.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("PutBucketVersioning %s: %v", name, err)
	}
}

func newTestWriter(t testing.TB, client *s3.Client) *Writer {
	return NewWriter(client, testBucket, WithTempDir(t.TempDir()), WithClock(func() time.Time { return fixedNow }))
}
