package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
)

// Main starts one server for a test binary, runs the tests and stops it. Use
// it from TestMain:
//
//	var emu *emulator.Server
//	func TestMain(m *testing.M) { emulator.Main(m, &emu) }
//
// A missing moto_server fails the binary with the install command; it never
// skips.
//
// In a child that RunChild started (ChildEnv set), Main starts no server:
// the child uses its parent's, and is measured alone.
func Main(m *testing.M, srv **Server) {
	if os.Getenv(ChildEnv) != "" {
		os.Exit(m.Run())
	}
	s, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(2)
	}
	*srv = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// Fresh resets the server and returns an SDK configuration for it; call it at
// the start of each test that uses the emulator.
func (s *Server) Fresh(t testing.TB) aws.Config {
	t.Helper()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// LockedBucket creates bucket as the stack creates the evidence bucket:
// versioning, Object Lock, default retention GOVERNANCE for a day (so tests
// can clean up under governance, and locked versions refuse deletion).
func LockedBucket(ctx context.Context, client *s3.Client, bucket string) error {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("CreateBucket %s: %w", bucket, err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
	}); err != nil {
		return fmt.Errorf("PutBucketVersioning %s: %w", bucket, err)
	}
	if _, err := client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{
		Bucket: aws.String(bucket),
		ObjectLockConfiguration: &s3types.ObjectLockConfiguration{
			ObjectLockEnabled: s3types.ObjectLockEnabledEnabled,
			Rule: &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{
				Mode: s3types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1),
			}},
		},
	}); err != nil {
		return fmt.Errorf("PutObjectLockConfiguration %s: %w", bucket, err)
	}
	return nil
}

// FreshLockedBucket resets the server and returns an S3 client with bucket
// created as LockedBucket does.
func (s *Server) FreshLockedBucket(t testing.TB, bucket string) *s3.Client {
	t.Helper()
	client := s3.NewFromConfig(s.Fresh(t), awsconfig.S3Options)
	if err := LockedBucket(context.Background(), client, bucket); err != nil {
		t.Fatal(err)
	}
	return client
}

// ChildEnv holds the job of a test binary that RunChild runs again as a
// child process.
const ChildEnv = "CUSTODY_TEST_CHILD_JOB"

// RunChild runs this test binary again, in a child process, with only test
// (a test function's name) and job (as JSON) in ChildEnv, and returns the
// child's peak resident memory in bytes, as the kernel counted it when the
// child exited. A child that fails fails t, with its output. The child's
// test reads its job with ChildJob.
func RunChild(t testing.TB, test string, job any) int64 {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(b))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child %s: %v\n%s", test, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no resource usage for the child")
	}
	return ru.Maxrss << 10 // KiB on Linux
}

// ChildJob decodes the job RunChild gave this process into v, and reports
// whether there is one: in any other run the test calling it is not the
// child and returns at once (the test that measures it runs it).
func ChildJob(t testing.TB, v any) bool {
	t.Helper()
	s := os.Getenv(ChildEnv)
	if s == "" {
		return false
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("child job: %v", err)
	}
	return true
}
