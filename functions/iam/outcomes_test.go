package main

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

const bobArn = "arn:aws:iam::123456789012:user/bob"

// failed is the recorded in-progress answer with JobStatus FAILED and an
// error (DERIVED: the corpus has no failed job).
func failed(t testing.TB) *iam.GetServiceLastAccessedDetailsOutput {
	out := inProgress(t)
	out.JobStatus = iamtypes.JobStatusTypeFailed
	out.Error = &iamtypes.ErrorDetails{Code: aws.String("ServiceFailure"), Message: aws.String("The job could not be completed")}
	return out
}

// outcome is what a case expects of a run.
type outcome struct {
	err       any // a pointer to the named error type expected, or nil
	artifacts []string
	gaps      []string // substrings, one per gap, in order
	warnings  []string // substrings, one per warning, in order
}

func check(t *testing.T, w *world, inc incident.Incident, res incident.Result, err error, want outcome) {
	t.Helper()
	if want.err != nil {
		if err == nil || !errors.As(err, want.err) {
			t.Fatalf("error %v (%T), want %T", err, err, want.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	stored := storedResult(t, w, inc)
	if got := keysOf(artifactsByName(stored, inc)); !reflect.DeepEqual(got, want.artifacts) && (len(got) != 0 || len(want.artifacts) != 0) {
		t.Errorf("artifacts %q, want %q", got, want.artifacts)
	}
	if len(stored.Gaps) != len(want.gaps) || res.Gaps != len(want.gaps) {
		t.Errorf("gaps %+v, want %d like %q", stored.Gaps, len(want.gaps), want.gaps)
	} else {
		for i, g := range stored.Gaps {
			if !strings.Contains(g.Reason, want.gaps[i]) || g.Fix == "" || g.Source != "iam" {
				t.Errorf("gap %d %+v, want a reason with %q", i, g, want.gaps[i])
			}
		}
	}
	if len(stored.Warnings) != len(want.warnings) {
		t.Errorf("warnings %q, want %d like %q", stored.Warnings, len(want.warnings), want.warnings)
	} else {
		for i, s := range stored.Warnings {
			if !strings.Contains(s, want.warnings[i]) {
				t.Errorf("warning %d %q, want %q", i, s, want.warnings[i])
			}
		}
	}
}

var bobArtifacts = []string{"bob/access-advisor.json", "bob/access-advisor.jsonl.gz", "bob/identity.json"}

// TestAdvisorOutcomes runs bob's Access Advisor job through each way it can
// end.
func TestAdvisorOutcomes(t *testing.T) {
	const job = placeboJobID
	second := time.Second
	cases := []struct {
		name        string
		timeout     time.Duration
		generateErr error
		polls       func(t testing.TB) []answer
		pages       func(t testing.TB) map[string]answer
		calls       []string // the Get calls after Generate
		sleeps      []time.Duration
		want        outcome
	}{
		{
			name: "completes after two in-progress answers",
			polls: func(t testing.TB) []answer {
				return []answer{{out: inProgress(t)}, {out: inProgress(t)}, {out: completed(t)}}
			},
			calls:  []string{"Get " + job, "Get " + job, "Get " + job},
			sleeps: []time.Duration{second, 2 * second},
			want:   outcome{artifacts: bobArtifacts},
		},
		{
			name:   "failed job",
			polls:  func(t testing.TB) []answer { return []answer{{out: inProgress(t)}, {out: failed(t)}} },
			calls:  []string{"Get " + job, "Get " + job},
			sleeps: []time.Duration{second},
			want:   outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"Access Advisor job " + job + " for user bob (" + bobArn + ") failed: ServiceFailure: The job could not be completed"}},
		},
		{
			name:  "never completes: default 2m",
			polls: func(t testing.TB) []answer { return []answer{{out: inProgress(t)}} },
			calls: repeat("Get "+job, 12),
			sleeps: []time.Duration{second, 2 * second, 4 * second, 8 * second, 16 * second, 16 * second, 16 * second,
				16 * second, 16 * second, 16 * second, 9 * second},
			want: outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"Access Advisor job " + job + " for user bob (" + bobArn + ") did not complete within 2m0s (last status IN_PROGRESS)"}},
		},
		{
			name:    "never completes: 10s",
			timeout: 10 * time.Second,
			polls:   func(t testing.TB) []answer { return []answer{{out: inProgress(t)}} },
			calls:   repeat("Get "+job, 5),
			sleeps:  []time.Duration{second, 2 * second, 4 * second, 3 * second},
			want:    outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"job " + job + " for user bob (" + bobArn + ") did not complete within 10s"}},
		},
		{
			name:        "generate denied",
			generateErr: errDenied,
			want:        outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"iam:GenerateServiceLastAccessedDetails for user bob (" + bobArn + ") denied"}},
		},
		// Errors a real IAM client returns for real answers (sdkError):
		// an HTML 503 from a front end is retried and then fails naming
		// the call, never a "not implemented" gap; the emulator's HTML
		// 500 for an operation it lacks, and a 501, are that gap.
		{
			name:        "generate answered an HTML 503 by a front end",
			generateErr: sdkError(t, 503, html503, false),
			want:        outcome{err: new(*faults.TransientError)},
		},
		{
			name:        "generate answered an HTML 500 by AWS",
			generateErr: sdkError(t, 500, motoHTML500, false),
			want:        outcome{err: new(*faults.TransientError)},
		},
		{
			name:        "generate answered an HTML 500 by the emulator",
			generateErr: sdkError(t, 500, motoHTML500, true),
			want:        outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"iam:GenerateServiceLastAccessedDetails for user bob (" + bobArn + "): the endpoint does not implement it (HTTP 500)"}},
		},
		{
			name:        "generate answered 501",
			generateErr: sdkError(t, 501, "<html>Not Implemented</html>", false),
			want:        outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"the endpoint does not implement it (HTTP 501)"}},
		},
		{
			name:        "generate throttled",
			generateErr: errThrottled,
			want:        outcome{err: new(*faults.ThrottledError)},
		},
		{
			name:  "poll throttled",
			polls: func(t testing.TB) []answer { return []answer{{out: inProgress(t)}, {err: errThrottled}} },
			calls: []string{"Get " + job, "Get " + job}, sleeps: []time.Duration{second},
			want: outcome{err: new(*faults.ThrottledError)},
		},
		{
			name:  "poll denied",
			polls: func(t testing.TB) []answer { return []answer{{err: errDenied}} },
			calls: []string{"Get " + job},
			want:  outcome{artifacts: []string{"bob/identity.json"}, gaps: []string{"iam:GetServiceLastAccessedDetails for user bob (" + bobArn + "), job " + job + " denied"}},
		},
		{
			name:  "second page denied: the first is kept",
			polls: func(t testing.TB) []answer { return []answer{{out: derivedPages(t)[0]}} },
			pages: func(t testing.TB) map[string]answer { return map[string]answer{"derived-marker-1": {err: errDenied}} },
			calls: []string{"Get " + job, "Get " + job + " derived-marker-1"},
			want:  outcome{artifacts: bobArtifacts, gaps: []string{"job " + job + " (page 2) denied"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			_, err := w.iam.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("bob")})
			must(t, "CreateUser", err)
			adv := &fakeAdvisor{jobs: map[string]string{bobArn: job}, generateErr: tc.generateErr, polls: map[string][]answer{}, pages: map[string]map[string]answer{}}
			if tc.polls != nil {
				adv.polls[job] = tc.polls(t)
			}
			if tc.pages != nil {
				adv.pages[job] = tc.pages(t)
			}
			clock := newClock()
			c := &PrincipalCollector{IAM: w.iam, Advisor: adv, AdvisorTimeout: tc.timeout, Now: clock.Now, Sleep: clock.Sleep, AccountID: "123456789012"}
			inc := incidentFor(incident.Scope{UserNames: []string{"bob"}})
			res, err := run(t, w.handler(t, c), inc)
			check(t, w, inc, res, err, tc.want)

			wantCalls := append([]string{"Generate " + bobArn + " ACTION_LEVEL"}, tc.calls...)
			if !reflect.DeepEqual(adv.calls, wantCalls) {
				t.Errorf("advisor calls %q, want %q", adv.calls, wantCalls)
			}
			if !reflect.DeepEqual(clock.sleeps, tc.sleeps) {
				t.Errorf("sleeps %v, want %v", clock.sleeps, tc.sleeps)
			}
			var total time.Duration
			for _, d := range clock.sleeps {
				total += d
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = DefaultAdvisorTimeout
			}
			if total > timeout {
				t.Errorf("waited %s, more than the %s timeout", total, timeout)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestScopeOutcomes resolves principals and reads identities against the
// emulator, with some calls failing.
func TestScopeOutcomes(t *testing.T) {
	const aliceKey = "<alice's key>"
	cases := []struct {
		name  string
		scope incident.Scope
		fail  map[string]error
		want  outcome
		// generated lists the principals whose Access Advisor job started.
		generated []string
	}{
		{
			name:  "user not found",
			scope: incident.Scope{UserNames: []string{"ghost"}},
			want:  outcome{gaps: []string{"user ghost (from user name) not found"}},
		},
		{
			name:  "access key not found",
			scope: incident.Scope{AccessKeys: []string{"AKIAIOSFODNN7EXAMPLE"}},
			want:  outcome{gaps: []string{"access key AKIAIOSFODNN7EXAMPLE not found in this account"}},
		},
		{
			name:  "GetUser denied",
			scope: incident.Scope{UserNames: []string{"alice"}},
			fail:  map[string]error{"GetUser": errDenied},
			want:  outcome{gaps: []string{"iam:GetUser for user alice denied"}},
		},
		{
			name:      "ListGroupsForUser denied: the rest is kept",
			scope:     incident.Scope{UserNames: []string{"alice"}},
			fail:      map[string]error{"ListGroupsForUser": errDenied},
			want:      outcome{artifacts: []string{"alice/access-advisor.json", "alice/access-advisor.jsonl.gz", "alice/identity.json"}, gaps: []string{"iam:ListGroupsForUser for user alice denied"}},
			generated: []string{aliceArn},
		},
		{
			name:  "GetAccessKeyLastUsed throttled",
			scope: incident.Scope{AccessKeys: []string{aliceKey}},
			fail:  map[string]error{"GetAccessKeyLastUsed": errThrottled},
			want:  outcome{err: new(*faults.ThrottledError)},
		},
		{
			name:  "GetRolePolicy throttled",
			scope: incident.Scope{RoleNames: []string{"web-role"}},
			fail:  map[string]error{"GetRolePolicy": errThrottled},
			want:  outcome{err: new(*faults.ThrottledError)},
		},
		{
			name:  "principal of another account",
			scope: incident.Scope{Principals: []string{otherAccountUser}},
			want:  outcome{gaps: []string{"principal " + otherAccountUser + " is in account 210987654321; this invocation reads account 123456789012 only"}},
		},
		{
			name:  "scope in another account",
			scope: incident.Scope{AccountID: "210987654321", UserNames: []string{"alice"}},
			want:  outcome{gaps: []string{"in account 210987654321; this invocation reads account 123456789012 only"}},
		},
		{
			name:  "root, federated user, a session key, a non-principal ARN",
			scope: incident.Scope{AccessKeys: []string{"ASIAIOSFODNN7EXAMPLE"}, UserNames: []string{"jdoe"}, Principals: []string{"arn:aws:iam::123456789012:root", "arn:aws:sts::123456789012:federated-user/jdoe", "arn:aws:s3:::bucket", "not-an-arn"}},
			want: outcome{
				gaps:     []string{"is the account root user", "is an STS federated user"},
				warnings: []string{"ASIAIOSFODNN7EXAMPLE is a temporary (STS session) key", "arn:aws:s3:::bucket is not an IAM user, role", `"not-an-arn" is not an ARN`},
			},
		},
		{
			name:  "nothing in scope",
			scope: incident.Scope{Instances: []string{"i-0abc"}},
			want:  outcome{warnings: []string{"no IAM principal or access key in scope"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			keyID := w.alice(t)
			w.webRole(t)
			for i, k := range tc.scope.AccessKeys {
				if k == aliceKey {
					tc.scope.AccessKeys[i] = keyID
				}
			}
			adv := &fakeAdvisor{jobs: map[string]string{aliceArn: placeboJobID, webRoleArn: roleJobID},
				polls: map[string][]answer{placeboJobID: {{out: completed(t)}}, roleJobID: {{out: completed(t)}}}}
			clock := newClock()
			c := &PrincipalCollector{IAM: &faultyIAM{Client: w.iam, fail: tc.fail}, Advisor: adv, Now: clock.Now, Sleep: clock.Sleep, AccountID: "123456789012"}
			inc := incidentFor(tc.scope)
			res, err := run(t, w.handler(t, c), inc)
			check(t, w, inc, res, err, tc.want)
			var generated []string
			for _, g := range adv.generated {
				generated = append(generated, aws.ToString(g.Arn))
			}
			if tc.want.err == nil && !reflect.DeepEqual(generated, tc.generated) {
				t.Errorf("jobs for %q, want %q", generated, tc.generated)
			}
		})
	}
}

// Real bodies: what moto 5.2 answers for an operation it lacks (measured),
// and an AWS front end's 503.
const (
	motoHTML500 = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n"
	html503     = "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)

// sdkError is the error a real IAM client returns for
// GenerateServiceLastAccessedDetails when an httptest server answers
// status and an HTML body (one attempt); emulator: with the emulator's
// answers marked, as the local run's handlers have them.
func sdkError(t *testing.T, status int, body string, emulator bool) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	if emulator {
		cfg.APIOptions = append(cfg.APIOptions, faults.MarkEmulatorAnswers)
	}
	_, err := iam.NewFromConfig(cfg).GenerateServiceLastAccessedDetails(context.Background(), &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String(bobArn)})
	if err == nil {
		t.Fatal("no error")
	}
	return err
}
