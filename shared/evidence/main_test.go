package evidence

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow is the injected clock of every test writer.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// lockedBucket resets the emulator and creates the evidence bucket as the
// stack does: versioning, Object Lock, default retention GOVERNANCE 1 day.
func lockedBucket(t testing.TB) *s3.Client {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                     aws.String(testBucket),
		ObjectLockEnabledForBucket: aws.Bool(true),
	}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(testBucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("PutBucketVersioning: %v", err)
	}
	if _, err := client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{
		Bucket: aws.String(testBucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{
			ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
				Mode: types.ObjectLockRetentionModeGovernance,
				Days: aws.Int32(1),
			}},
		},
	}); err != nil {
		t.Fatalf("PutObjectLockConfiguration: %v", err)
	}
	return client
}

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
