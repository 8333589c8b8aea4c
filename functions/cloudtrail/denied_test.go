package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// The emulator enforces no IAM: these decorators answer as S3 does for a
// role that may not read a bucket in another account, or may not use the
// trail's KMS key.
var (
	errBucketDenied = &smithy.GenericAPIError{Code: "Forbidden", Message: "Forbidden"}
	errKMSDenied    = &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::017622104382:assumed-role/custody-cloudtrail/x is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"}
)

type deniedBucket struct {
	logBucket
	head, get error
}

func (d deniedBucket) HeadBucket(ctx context.Context, in *s3.HeadBucketInput, o ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	if d.head != nil {
		return nil, d.head
	}
	return d.logBucket.HeadBucket(ctx, in, o...)
}

func (d deniedBucket) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if d.get != nil && aws.ToString(in.Bucket) == trailBucket {
		return nil, d.get
	}
	return d.logBucket.GetObject(ctx, in, o...)
}

// deniedCopies refuses server-side copies out of the trail bucket.
type deniedCopies struct {
	*s3.Client
	err error
}

func (d deniedCopies) CopyObject(ctx context.Context, in *s3.CopyObjectInput, o ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if strings.HasPrefix(aws.ToString(in.CopySource), trailBucket+"/") {
		return nil, d.err
	}
	return d.Client.CopyObject(ctx, in, o...)
}

// kmsTrails reports the trail as encrypted with a customer managed key.
type kmsTrails struct{ trailReader }

func (k kmsTrails) DescribeTrails(ctx context.Context, in *cloudtrail.DescribeTrailsInput, o ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	out, err := k.trailReader.DescribeTrails(ctx, in, o...)
	if err == nil {
		for i := range out.TrailList {
			out.TrailList[i].KmsKeyId = aws.String("arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab")
		}
	}
	return out, err
}

func TestCollectDenied(t *testing.T) {
	for _, tc := range []struct {
		name     string
		head     error // HeadBucket on the trail bucket
		get      error // GetObject on the trail bucket
		copyErr  error // CopyObject from the trail bucket
		kms      bool
		wantGaps []string
		lookup   bool
	}{
		{name: "bucket in another account", head: errBucketDenied,
			wantGaps: []string{"which the collector may not read (a bucket in another account"}, lookup: true},
		{name: "KMS key the collector may not use", get: errKMSDenied, copyErr: errKMSDenied, kms: true,
			wantGaps: []string{"encrypts its logs with KMS key arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab, which the collector may not use: copying digest files from s3://custody-trail-logs/ct/ was denied", "copying log files from s3://custody-trail-logs/ct/ was denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, true)
			seedTrail(t, e)
			c := e.collector()
			c.Logs = deniedBucket{logBucket: e.s3, head: tc.head, get: tc.get}
			if tc.kms {
				c.Trails = kmsTrails{e.trails}
			}
			fake := newFakeLookup(t, 10)
			c.Lookup, c.Limiter = fake, &countingLimiter{}
			inc := testIncident(incident.Scope{Principals: []string{christopheA}, AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}})
			d := &collect.Driver{Writer: evidence.NewWriter(e.s3, evidenceBucket), Version: "test"}
			if tc.copyErr != nil {
				d.Writer = evidence.NewWriter(deniedCopies{e.s3, tc.copyErr}, evidenceBucket)
			}
			if _, err := d.Run(context.Background(), c, collect.Input{Incident: inc}); err != nil {
				t.Fatal(err)
			}
			key, _ := evidence.ResultKey(inc.CaseID, inc.RunID, CollectorName)
			r := e.result(t, key)
			if r.Status != incident.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			if len(r.Gaps) != 1 {
				t.Fatalf("gaps %+v, want one", r.Gaps)
			}
			for _, g := range r.Gaps {
				for _, want := range tc.wantGaps {
					if !strings.Contains(g.Reason, want) {
						t.Errorf("gap %q, want %q in it", g.Reason, want)
					}
				}
				if tc.kms && g.Fix != fixKMS || !tc.kms && g.Fix != fixReadBucket {
					t.Errorf("fix %q", g.Fix)
				}
			}
			arts := byKey(r)
			_, hasLookup := arts[artifactKey(inc, "lookup-events.jsonl.gz")]
			if hasLookup != tc.lookup || (len(fake.calls) > 0) != tc.lookup {
				t.Errorf("lookup: artifact %v, %d calls; want %v", hasLookup, len(fake.calls), tc.lookup)
			}
			if tc.kms {
				// Nothing could be copied or read: the extract is empty,
				// and says so by its gap, not by a malformed warning.
				if a := arts[artifactKey(inc, "extract.jsonl.gz")]; a.Records != 0 {
					t.Errorf("extract %d records", a.Records)
				}
				for _, w := range r.Warnings {
					if strings.Contains(w, "malformed") {
						t.Errorf("warning %q", w)
					}
				}
			}
		})
	}
}

// orgTrails reports the trail as an organization trail.
type orgTrails struct{ trailReader }

func (o orgTrails) DescribeTrails(ctx context.Context, in *cloudtrail.DescribeTrailsInput, opts ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	out, err := o.trailReader.DescribeTrails(ctx, in, opts...)
	if err == nil {
		for i := range out.TrailList {
			out.TrailList[i].IsOrganizationTrail = aws.Bool(true)
		}
	}
	return out, err
}

// TestCollectOrgTrail: an organization trail writes under
// AWSLogs/<org-id>/<account>/; the collector finds the org folder.
func TestCollectOrgTrail(t *testing.T) {
	e := setup(t, true)
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	s1, _ := split(t, steal, "2024-08-02T08:23:30Z")
	orgKey := strings.Replace(logKey(account, "20240802T0825Z", "Org"), "/AWSLogs/", "/AWSLogs/o-a1b2c3d4e5/", 1)
	e.seed(t, orgKey, logFile(t, s1), nil)
	// Another member account's logs in the org folder: not listed.
	e.seed(t, strings.Replace(orgKey, "/"+account+"/", "/309303190113/", 1), logFile(t, s1), nil)
	c := e.collector()
	c.Trails = orgTrails{e.trails}
	inc := testIncident(incident.Scope{Principals: []string{christopheA}})
	r := e.run(t, c, inc)
	arts := byKey(r)
	if a, ok := arts[artifactKey(inc, "logs/"+orgKey)]; !ok || a.SHA256 != sha(e.seeded[orgKey]) {
		t.Fatalf("org log not copied: %v", keys(arts))
	}
	if len(arts) != 3 { // the log, trails.json, the extract
		t.Errorf("artifacts %v", keys(arts))
	}
	if a := arts[artifactKey(inc, "extract.jsonl.gz")]; a.Records != 41 {
		t.Errorf("extract %d records, want 41", a.Records)
	}
}

// noTrails is an account with no trail of its own (a member whose
// organization trail AWS would show as a shadow trail; the emulator shows
// nothing).
type noTrails struct{}

func (noTrails) DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	return &cloudtrail.DescribeTrailsOutput{}, nil
}

func (noTrails) GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error) {
	return nil, errors.New("no trail")
}

// TestHubOrganizationTrail: a member's invocation reads the organization
// trail the hub's own account owns; the hub's own invocation does not
// describe its trails twice.
func TestHubOrganizationTrail(t *testing.T) {
	e := setup(t, true)
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	s1, _ := split(t, steal, "2024-08-02T08:23:30Z")
	orgKey := strings.Replace(logKey(account, "20240802T0825Z", "Org"), "/AWSLogs/", "/AWSLogs/o-a1b2c3d4e5/", 1)
	e.seed(t, orgKey, logFile(t, s1), nil)
	for _, tc := range []struct {
		name, hub string
		records   int64
	}{
		{"a member's case", "999999999999", 41},
		{"the hub's own case", account, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.collector()
			c.Trails, c.HubTrails, c.HubAccountID = noTrails{}, orgTrails{e.trails}, tc.hub
			inc := testIncident(incident.Scope{Principals: []string{christopheA}})
			inc.CaseID += "-" + tc.hub
			r := e.run(t, c, inc)
			arts := byKey(r)
			_, copied := arts[artifactKey(inc, "logs/"+orgKey)]
			if copied != (tc.records > 0) || arts[artifactKey(inc, "extract.jsonl.gz")].Records != tc.records {
				t.Errorf("copied %v, extract %d records, want %d: %v", copied, arts[artifactKey(inc, "extract.jsonl.gz")].Records, tc.records, keys(arts))
			}
			for _, g := range r.Gaps {
				if tc.records > 0 && strings.Contains(g.Reason, "multi-region") {
					t.Errorf("gap %q: the hub's organization trail is multi-region", g.Reason)
				}
			}
		})
	}
}
