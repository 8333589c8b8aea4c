package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	testBucket = "custody-evidence-test"
	findingID  = "c2b0a8f1e3d4c5b6a7980112233445566"
	// placeboJobID is the JobId of the recorded GenerateServiceLastAccessedDetails.
	placeboJobID = "74b4bb8f-ef21-ed9c-7273-1114908d4198"
	// roleJobID is the job of the role's report (made up: the corpus has
	// one recorded job).
	roleJobID = "0d6c2a4e-derived-role-job"
)

// fixedNow is the driver's and the writer's clock in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// pollStart is the collector's fake clock at the start of every test.
var pollStart = time.Date(2024, 5, 6, 7, 10, 0, 0, time.UTC)

// ---- emulator world ----

// world is one emulator state: the evidence bucket and the IAM entities a
// test creates.
type world struct {
	s3  *s3.Client
	iam *iam.Client
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	w := &world{s3: s3.NewFromConfig(cfg, awsconfig.S3Options), iam: iam.NewFromConfig(cfg)}
	must(t, "LockedBucket", emulator.LockedBucket(ctx, w.s3, testBucket))
	return w
}

// Policy documents the world's entities carry.
const (
	trustDoc         = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	userInlineDoc    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:GetLogEvents","logs:FilterLogEvents"],"Resource":"*"}]}`
	userManagedDoc   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::payroll/*"}]}`
	boundaryDoc      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","logs:*"],"Resource":"*"}]}`
	groupInlineDoc   = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`
	groupManagedDoc  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`
	roleInlineDoc    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:Scan","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}`
	roleManagedDoc   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`
	aliceArn         = "arn:aws:iam::123456789012:user/ops/alice"
	webRoleArn       = "arn:aws:iam::123456789012:role/service/web-role"
	webSessionArn    = "arn:aws:sts::123456789012:assumed-role/web-role/i-0abc1234def567890"
	webProfileArn    = "arn:aws:iam::123456789012:instance-profile/web-profile"
	policyArnPrefix  = "arn:aws:iam::123456789012:policy/"
	otherAccountUser = "arn:aws:iam::210987654321:user/mallory"
)

func (w *world) policy(t testing.TB, name, doc string) string {
	t.Helper()
	out, err := w.iam.CreatePolicy(context.Background(), &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	must(t, "CreatePolicy "+name, err)
	return aws.ToString(out.Policy.Arn)
}

// alice is a user under /ops/ with an access key, an inline and an
// attached policy, a permissions boundary and a group with an inline and
// an attached policy. It returns the key's ID. (moto keeps no user
// boundary: faultyIAM.userBoundary gives GetUser's.)
func (w *world) alice(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	_, err := w.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/ops/"),
		PermissionsBoundary: aws.String(w.policy(t, "alice-boundary", boundaryDoc))})
	must(t, "CreateUser", err)
	key, err := w.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	must(t, "CreateAccessKey", err)
	_, err = w.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("read-logs"), PolicyDocument: aws.String(userInlineDoc)})
	must(t, "PutUserPolicy", err)
	_, err = w.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(w.policy(t, "payroll-read", userManagedDoc))})
	must(t, "AttachUserPolicy", err)
	_, err = w.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("ops")})
	must(t, "CreateGroup", err)
	_, err = w.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("ops"), UserName: aws.String("alice")})
	must(t, "AddUserToGroup", err)
	_, err = w.iam.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("ops"), PolicyName: aws.String("no-iam"), PolicyDocument: aws.String(groupInlineDoc)})
	must(t, "PutGroupPolicy", err)
	_, err = w.iam.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("ops"), PolicyArn: aws.String(w.policy(t, "ec2-describe", groupManagedDoc))})
	must(t, "AttachGroupPolicy", err)
	return aws.ToString(key.AccessKey.AccessKeyId)
}

// webRole is a role under /service/ with a trust policy, a boundary, an
// inline and an attached policy, in an instance profile.
func (w *world) webRole(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	_, err := w.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("web-role"), Path: aws.String("/service/"),
		AssumeRolePolicyDocument: aws.String(trustDoc), PermissionsBoundary: aws.String(w.policy(t, "web-boundary", boundaryDoc))})
	must(t, "CreateRole", err)
	_, err = w.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("web-role"), PolicyName: aws.String("orders-scan"), PolicyDocument: aws.String(roleInlineDoc)})
	must(t, "PutRolePolicy", err)
	_, err = w.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("web-role"), PolicyArn: aws.String(w.policy(t, "queue-send", roleManagedDoc))})
	must(t, "AttachRolePolicy", err)
	_, err = w.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("web-profile")})
	must(t, "CreateInstanceProfile", err)
	_, err = w.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("web-role")})
	must(t, "AddRoleToInstanceProfile", err)
}

// incidentFor is the run Triage would build for a finding on the scope.
func incidentFor(sc incident.Scope) incident.Incident {
	if sc.AccountID == "" {
		sc.AccountID = emulator.AccountID
	}
	sc.Region = emulator.Region
	return incident.Incident{
		CaseID:  incident.CaseIDForFinding(findingID),
		RunID:   incident.RunIDFor(fixedNow.Add(-time.Hour)),
		Finding: &incident.FindingSummary{ID: findingID, Type: "UnauthorizedAccess:IAMUser/TorIPCaller", AccountID: emulator.AccountID, Region: emulator.Region, ResourceType: "AccessKey"},
		Scope:   sc,
		// The window holds the recorded report's accesses of March 2019.
		Window: incident.Window{Start: time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2019, 3, 13, 23, 59, 59, 0, time.UTC)},
		Plan:   []incident.PlanItem{{Collector: collectorName}},
	}
}

func (w *world) handler(t testing.TB, c collect.Collector) *Handler {
	return &Handler{
		Driver: &collect.Driver{
			Writer:  evidence.NewWriter(w.s3, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow })),
			Version: "test", Now: func() time.Time { return fixedNow }, Results: w.s3, Bucket: testBucket,
		},
		Collector: c,
	}
}

func run(t testing.TB, h *Handler, inc incident.Incident) (incident.Result, error) {
	t.Helper()
	return h.Handle(context.Background(), collect.Input{Incident: inc, Item: inc.Plan[0]})
}

func storedResult(t testing.TB, w *world, inc incident.Incident) evidence.CollectorResult {
	t.Helper()
	key, err := evidence.ResultKey(inc.CaseID, inc.RunID, collectorName)
	must(t, "ResultKey", err)
	var r evidence.CollectorResult
	s3test.ObjectJSON(t, w.s3, testBucket, key, &r)
	return r
}

// ---- fake clock ----

// fakeClock is the collector's clock: Sleep moves it on and records the
// wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: pollStart} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return nil
}

// ---- fake Access Advisor ----

// answer is one scripted GetServiceLastAccessedDetails answer.
type answer struct {
	out *iam.GetServiceLastAccessedDetailsOutput
	err error
}

// fakeAdvisor answers Access Advisor from recorded responses: for each
// principal ARN a job ID; for each job the answers to the polls (the last
// one repeats) and the pages by marker. It records every call.
type fakeAdvisor struct {
	mu          sync.Mutex
	jobs        map[string]string // ARN -> job ID
	generateErr error
	polls       map[string][]answer          // job ID -> answers without marker
	pages       map[string]map[string]answer // job ID -> marker -> answer
	calls       []string
	generated   []*iam.GenerateServiceLastAccessedDetailsInput
	polled      map[string]int
}

func (f *fakeAdvisor) GenerateServiceLastAccessedDetails(_ context.Context, in *iam.GenerateServiceLastAccessedDetailsInput, _ ...func(*iam.Options)) (*iam.GenerateServiceLastAccessedDetailsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "Generate "+aws.ToString(in.Arn)+" "+string(in.Granularity))
	f.generated = append(f.generated, in)
	if f.generateErr != nil {
		return nil, f.generateErr
	}
	id, ok := f.jobs[aws.ToString(in.Arn)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "no such entity " + aws.ToString(in.Arn)}
	}
	return &iam.GenerateServiceLastAccessedDetailsOutput{JobId: aws.String(id)}, nil
}

func (f *fakeAdvisor) GetServiceLastAccessedDetails(_ context.Context, in *iam.GetServiceLastAccessedDetailsInput, _ ...func(*iam.Options)) (*iam.GetServiceLastAccessedDetailsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, marker := aws.ToString(in.JobId), aws.ToString(in.Marker)
	f.calls = append(f.calls, strings.TrimSpace("Get "+id+" "+marker))
	var a answer
	if marker != "" {
		var ok bool
		if a, ok = f.pages[id][marker]; !ok {
			return nil, &smithy.GenericAPIError{Code: "InvalidInput", Message: "bad marker " + marker}
		}
	} else {
		script := f.polls[id]
		if len(script) == 0 {
			return nil, &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "no job " + id}
		}
		if f.polled == nil {
			f.polled = map[string]int{}
		}
		a = script[min(f.polled[id], len(script)-1)]
		f.polled[id]++
	}
	return a.out, a.err
}

// ---- recorded responses ----

// placebo reads a placebo-recorded response into out: the "data" member,
// with placebo's datetime objects as RFC 3339 UTC and ResponseMetadata
// dropped.
func placebo(t testing.TB, file string, out any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	must(t, "read "+file, err)
	var rec struct {
		StatusCode int            `json:"status_code"`
		Data       map[string]any `json:"data"`
	}
	must(t, "decode "+file, json.Unmarshal(b, &rec))
	delete(rec.Data, "ResponseMetadata")
	b, err = json.Marshal(placeboTimes(rec.Data))
	must(t, "encode "+file, err)
	must(t, "decode data of "+file, json.Unmarshal(b, out))
}

func placeboTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["__class__"] == "datetime" {
			n := func(k string) int { f, _ := x[k].(float64); return int(f) }
			return time.Date(n("year"), time.Month(n("month")), n("day"), n("hour"), n("minute"), n("second"), n("microsecond")*1000, time.UTC).Format(time.RFC3339Nano)
		}
		for k, e := range x {
			x[k] = placeboTimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = placeboTimes(e)
		}
	}
	return v
}

func inProgress(t testing.TB) *iam.GetServiceLastAccessedDetailsOutput {
	var out iam.GetServiceLastAccessedDetailsOutput
	placebo(t, "placebo_iam_GetServiceLastAccessedDetails_1_in_progress.json", &out)
	return &out
}

func completed(t testing.TB) *iam.GetServiceLastAccessedDetailsOutput {
	var out iam.GetServiceLastAccessedDetailsOutput
	placebo(t, "placebo_iam_GetServiceLastAccessedDetails_2_completed.json", &out)
	return &out
}

// derivedPages reads the multi-page variant (DERIVED from the completed
// response, see testdata/SOURCES.md).
func derivedPages(t testing.TB) []*iam.GetServiceLastAccessedDetailsOutput {
	t.Helper()
	b, err := os.ReadFile("testdata/GetServiceLastAccessedDetails_pages.derived.json")
	must(t, "read derived pages", err)
	var pages []*iam.GetServiceLastAccessedDetailsOutput
	must(t, "decode derived pages", json.Unmarshal(b, &pages))
	return pages
}

// rawPages is the derived pages as JSON values, for exact comparison.
func rawPages(t testing.TB) []any {
	t.Helper()
	b, err := os.ReadFile("testdata/GetServiceLastAccessedDetails_pages.derived.json")
	must(t, "read derived pages", err)
	var v []any
	must(t, "decode derived pages", json.Unmarshal(b, &v))
	return v
}

// rawCompleted is the recorded completed response as a JSON value
// (datetimes as RFC 3339), for exact comparison.
func rawCompleted(t testing.TB) any {
	t.Helper()
	var v map[string]any
	placebo(t, "placebo_iam_GetServiceLastAccessedDetails_2_completed.json", &v)
	return v
}

// ---- errors ----

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

var (
	errDenied    = apiErr("AccessDenied", "User: arn:aws:sts::123456789012:assumed-role/custody-iam/x is not authorized to perform this action")
	errThrottled = apiErr("Throttling", "Rate exceeded")
)

// faultyIAM is the emulator's IAM with some calls answered by an error.
// userBoundary adds a permissions boundary to GetUser's answer, as AWS
// gives it: moto 5.2 keeps no user boundary (CreateUser ignores
// PermissionsBoundary, PutUserPermissionsBoundary is not implemented); the
// boundary policy itself is the emulator's.
type faultyIAM struct {
	*iam.Client
	fail         map[string]error
	userBoundary map[string]string // user name -> policy ARN
}

func (f *faultyIAM) GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, o ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	if err := f.fail["GetAccessKeyLastUsed"]; err != nil {
		return nil, err
	}
	return f.Client.GetAccessKeyLastUsed(ctx, in, o...)
}

func (f *faultyIAM) GetUser(ctx context.Context, in *iam.GetUserInput, o ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	if err := f.fail["GetUser"]; err != nil {
		return nil, err
	}
	out, err := f.Client.GetUser(ctx, in, o...)
	if b, ok := f.userBoundary[aws.ToString(in.UserName)]; ok && err == nil && out.User != nil && out.User.PermissionsBoundary == nil {
		out.User.PermissionsBoundary = &iamtypes.AttachedPermissionsBoundary{
			PermissionsBoundaryArn: aws.String(b), PermissionsBoundaryType: iamtypes.PermissionsBoundaryAttachmentTypePolicy,
		}
	}
	return out, err
}

func (f *faultyIAM) ListGroupsForUser(ctx context.Context, in *iam.ListGroupsForUserInput, o ...func(*iam.Options)) (*iam.ListGroupsForUserOutput, error) {
	if err := f.fail["ListGroupsForUser"]; err != nil {
		return nil, err
	}
	return f.Client.ListGroupsForUser(ctx, in, o...)
}

func (f *faultyIAM) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, o ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	if err := f.fail["GetRolePolicy"]; err != nil {
		return nil, err
	}
	return f.Client.GetRolePolicy(ctx, in, o...)
}

// ---- helpers ----

func must(t testing.TB, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

// getJSONL reads a .jsonl.gz artifact's lines.
func getJSONL(t testing.TB, client *s3.Client, key string) []map[string]any {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(s3test.Body(t, client, testBucket, key)))
	must(t, "gunzip "+key, err)
	b, err := io.ReadAll(zr)
	must(t, "gunzip "+key, err)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		must(t, "decode line of "+key, json.Unmarshal([]byte(l), &m))
		lines = append(lines, m)
	}
	return lines
}

// withoutNulls drops null members from a decoded JSON value, so an SDK
// struct's unset fields compare equal to a response that leaves them out.
func withoutNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
			} else {
				x[k] = withoutNulls(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = withoutNulls(e)
		}
	}
	return v
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
