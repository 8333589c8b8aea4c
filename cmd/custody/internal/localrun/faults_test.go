package localrun

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

// throughGate starts a gate to the emulator and returns the SDK
// configuration of a handler of the local run calling through it (the
// project's retryer, the emulator's answers marked).
func throughGate(t *testing.T) (*Gate, aws.Config) {
	t.Helper()
	emu.Fresh(t)
	g, err := StartGate(emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	cfg, err := awsconfig.Load(context.Background(),
		config.WithRegion(emulator.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "testing")),
		config.WithBaseEndpoint(g.URL),
		config.WithAPIOptions([]func(*middleware.Stack) error{faults.MarkEmulatorAnswers}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return g, cfg
}

// TestFaultShapes sends one real SDK call of each protocol through the
// gate with every fault the drill injects, with the SDK's retries off, and
// checks what faults.Of makes of the answer: throttled or transient (so the
// SDK and the state machine retry it), never "the emulator lacks it" (a
// gap), never a failure; a slow answer is the emulator's own.
func TestFaultShapes(t *testing.T) {
	ctx := context.Background()
	g, cfg := throughGate(t)
	once := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	s3c := s3.NewFromConfig(cfg, awsconfig.S3Options, once)
	if _, err := s3.NewFromConfig(emu.Fresh(t), awsconfig.S3Options).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shapes")}); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		protocol string
		call     func() error
	}{
		{"restXml (S3 ListObjectsV2)", func() error {
			_, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shapes")})
			return err
		}},
		{"restXml HEAD (S3 HeadBucket)", func() error {
			_, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shapes")})
			return err
		}},
		{"awsJson (CloudTrail DescribeTrails)", func() error {
			_, err := cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.RetryMaxAttempts = 1 }).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
			return err
		}},
		{"restJson (GuardDuty ListDetectors)", func() error {
			_, err := guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.RetryMaxAttempts = 1 }).ListDetectors(ctx, &guardduty.ListDetectorsInput{})
			return err
		}},
		{"query (IAM ListUsers)", func() error {
			_, err := iam.NewFromConfig(cfg, func(o *iam.Options) { o.RetryMaxAttempts = 1 }).ListUsers(ctx, &iam.ListUsersInput{})
			return err
		}},
		{"ec2 (EC2 DescribeVpcs)", func() error {
			_, err := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.RetryMaxAttempts = 1 }).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
			return err
		}},
	}
	kinds := []struct {
		kind FaultKind
		want faults.Class
		ok   bool // no error: the emulator's own answer, late
	}{
		{FaultThrottle, faults.Throttled, false},
		{FaultServerError, faults.Transient, false},
		{FaultFrontEnd, faults.Transient, false},
		{FaultReset, faults.Transient, false},
		{FaultLostResponse, faults.Transient, false},
		{FaultSlow, 0, true},
	}
	for _, k := range kinds {
		for _, c := range calls {
			t.Run(k.kind.String()+"/"+c.protocol, func(t *testing.T) {
				// Seeds 1 and 2 draw 502 and 503 for the front end's page.
				for seed := int64(1); seed <= 2; seed++ {
					g.InjectFaults(FaultDrill{Rate: 1, Seed: seed, Kinds: []FaultKind{k.kind}}, nil)
					err := c.call()
					// Go's transport itself sends an idempotent call again
					// once when a reused connection drops it: more than one.
					if got := g.FaultStats().Total(); got < 1 {
						t.Fatalf("%d faults injected, want 1", got)
					}
					if k.ok {
						if err != nil {
							t.Fatalf("a slow answer failed: %v", err)
						}
						continue
					}
					want := k.want
					if k.kind == FaultThrottle && strings.Contains(c.protocol, "HEAD") {
						// A HEAD answer has no body to name SlowDown in: S3's
						// is a bare 503, which the SDK retries as transient.
						want = faults.Transient
					}
					if f := faults.Of("call", err); f == nil || f.Class != want {
						t.Fatalf("seed %d: class %v of %v, want %v", seed, f, err, want)
					}
				}
			})
		}
	}
	g.InjectFaults(FaultDrill{}, nil)
}

// TestFaultLostAnswers: a put and a copy whose answers are lost after the
// emulator applied them, retried by the SDK, are each stored once, as the
// writer meant them (If-None-Match finds the first attempt's bytes).
func TestFaultLostAnswers(t *testing.T) {
	ctx := context.Background()
	g, cfg := throughGate(t)
	direct := emu.FreshLockedBucket(t, "evidence")
	if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String("a.log"), Body: strings.NewReader("a log line\n")}); err != nil {
		t.Fatal(err)
	}
	// The copy goes to a versioned bucket without default retention: into
	// the locked one, the emulator refuses the writer's first CopyObject
	// (it wants a header only it asks for) without applying it, and the
	// lost answer would be that refusal's.
	if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("copies")}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("copies"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	meta := evidence.PutMeta{Source: evidence.SourceCloudTrail, AcceptIdentical: true}
	tests := []struct {
		op     string
		bucket string
		key    string
		write  func(w *evidence.Writer, key string) (evidence.Artifact, error)
	}{
		{"s3 PutObject", "evidence", "cases/c/put.json", func(w *evidence.Writer, key string) (evidence.Artifact, error) {
			return w.Put(ctx, key, strings.NewReader(`{"a":1}`), meta)
		}},
		{"s3 CopyObject", "copies", "cases/c/copy.log", func(w *evidence.Writer, key string) (evidence.Artifact, error) {
			return w.Copy(ctx, "logs", "a.log", "", key, meta)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			g.InjectFaults(FaultDrill{Rate: 1, Seed: DefaultFaultSeed, Kinds: []FaultKind{FaultLostResponse}, Operations: []string{tt.op}, Max: 1}, nil)
			a, err := tt.write(evidence.NewWriter(client, tt.bucket, evidence.WithTempDir(t.TempDir())), tt.key)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if st := g.FaultStats(); st.Injected[FaultLostResponse] != 1 {
				t.Fatalf("faults %v, want one lost answer", st)
			}
			out, err := direct.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(tt.bucket), Prefix: aws.String(tt.key)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Versions) != 1 || aws.ToString(out.Versions[0].VersionId) != a.VersionID {
				var v []string
				for _, o := range out.Versions {
					v = append(v, aws.ToString(o.VersionId))
				}
				t.Fatalf("versions of %s = %v, want exactly the artifact's %s", tt.key, v, a.VersionID)
			}
		})
	}
	g.InjectFaults(FaultDrill{}, nil)
}

// TestFaultDraws: the same seed draws the same faults; the rate is kept
// (within a binomial bound over 20 000 calls); another seed draws others.
func TestFaultDraws(t *testing.T) {
	const n = 20000
	pattern := func(d FaultDrill) (string, int) {
		var b strings.Builder
		hits := 0
		for i := range n {
			k, _, ok := draw(d, "s3 PutObject", i)
			if ok {
				hits++
				fmt.Fprintf(&b, "%d:%s ", i, k)
			}
		}
		return b.String(), hits
	}
	tests := []struct {
		rate float64
	}{{0.05}, {0.2}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rate), func(t *testing.T) {
			a, hits := pattern(FaultDrill{Rate: tt.rate, Seed: 7})
			b, _ := pattern(FaultDrill{Rate: tt.rate, Seed: 7})
			c, _ := pattern(FaultDrill{Rate: tt.rate, Seed: 8})
			if a != b {
				t.Error("the same seed drew different faults")
			}
			if a == c {
				t.Error("another seed drew the same faults")
			}
			// 5 standard deviations of a binomial count.
			mean, sd := tt.rate*n, 5*math.Sqrt(n*tt.rate*(1-tt.rate))
			if float64(hits) < mean-sd || float64(hits) > mean+sd {
				t.Errorf("%d faults in %d calls at rate %v", hits, n, tt.rate)
			}
		})
	}
}
