package main

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// The recorded findings (testdata/cloud-custodian): every one is on this
// instance, launched from this AMI.
const (
	placeboInstance = "i-07b035550fa86717d"
	placeboAMI      = "ami-0ab1a82de7ca5889c"
	page1File       = "placebo_inspector2_ListFindings_1.json"            // 6 findings
	page2File       = "placebo_inspector2_ListFindings_query_filter.json" // 4 others
	ecrDigest       = "sha256:5f0b9b5bd8d6d1e3f1f4b5a2f3c1e0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3"
	ecrByDigest     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web/frontend@" + ecrDigest
	ecrByTag        = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1.2"
	ecrArn          = "arn:aws:ecr:us-east-1:123456789012:repository/api/" + ecrDigest
	lambdaArn       = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
)

func newIncident(sc incident.Scope) *incident.Incident {
	start := time.Date(2023, 9, 8, 0, 0, 0, 0, time.UTC)
	sc.AccountID, sc.Region = "644160558196", "eu-central-1"
	return &incident.Incident{
		CaseID: incident.CaseIDForFinding("b4b01b60fc24a199139f8f5f490edd81"), RunID: incident.RunIDFor(start),
		Scope: sc, Window: incident.Window{Start: start, End: start.Add(24 * time.Hour)},
		Plan: []incident.PlanItem{{Collector: incident.CollectorInspector}}, OpenedAt: fixedNow,
	}
}

func newHandler(t testing.TB, w *world, rec *recorder) *Handler {
	return &Handler{
		Driver: &collect.Driver{
			Writer:  evidence.NewWriter(w.s3, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow })),
			Version: "test", Now: func() time.Time { return fixedNow },
		},
		Collector: &FindingCollector{Inspector: rec},
	}
}

// eq is a filter field as the SDK's FilterCriteria marshals it.
func eq(field, value string) map[string]any {
	return map[string]any{field: []any{map[string]any{"Comparison": "EQUALS", "Value": value}}}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func arns(fs []any) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.(map[string]any)["findingArn"].(string))
	}
	return out
}

func TestCollect(t *testing.T) {
	page1, page2 := placeboFindings(t, page1File), placeboFindings(t, page2File)
	// The AMI's page: the second recording and two findings of the first
	// (DERIVED: a page made of both recordings, so the same finding comes
	// back for the instance and for its image).
	amiPage := append(append([]any{}, page2...), page1[0], page1[3])
	all := append(arns(page1), arns(page2)...)

	cases := []struct {
		name     string
		scope    incident.Scope
		queued   [][]any
		filters  []map[string]any // each call's filter, in order
		findings []string         // findings.json's ARNs, in order; nil: none stored
		matched  map[string][]string
		warnings []string // each is in a warning
	}{
		{
			name:   "instance and its AMI: merged, each finding once",
			scope:  incident.Scope{Instances: []string{placeboInstance}, Images: []string{placeboAMI}},
			queued: [][]any{page1, amiPage},
			filters: []map[string]any{
				eq("ResourceId", placeboInstance),
				eq("Ec2InstanceImageId", placeboAMI),
			},
			findings: all,
			matched: func() map[string][]string {
				m := map[string][]string{}
				for _, a := range arns(page1) {
					m[a] = []string{"instance " + placeboInstance}
				}
				for _, a := range arns(page2) {
					m[a] = []string{"AMI " + placeboAMI}
				}
				for _, f := range []any{page1[0], page1[3]} {
					a := f.(map[string]any)["findingArn"].(string)
					m[a] = append(m[a], "AMI "+placeboAMI)
				}
				return m
			}(),
		},
		{
			name:     "instance only",
			scope:    incident.Scope{Instances: []string{placeboInstance}},
			queued:   [][]any{page2},
			filters:  []map[string]any{eq("ResourceId", placeboInstance)},
			findings: arns(page2),
		},
		{
			name: "function and container images: the filter each sends; a public image is not looked up",
			scope: incident.Scope{Functions: []string{lambdaArn, "report-builder"},
				Images: []string{ecrByDigest, ecrByTag, ecrArn, "nginx:1.25", "GeneratedFindingContainerImage"}},
			queued: [][]any{{}, {}, {}, {}, {}},
			filters: []map[string]any{
				eq("LambdaFunctionName", "ingest"),
				eq("LambdaFunctionName", "report-builder"),
				merge(eq("EcrImageRepositoryName", "web/frontend"), eq("EcrImageHash", ecrDigest)),
				merge(eq("EcrImageRepositoryName", "api"), eq("EcrImageTags", "v1.2")),
				eq("ResourceId", ecrArn),
			},
			warnings: []string{
				"container image nginx:1.25 is not an Amazon ECR image",
				"container image GeneratedFindingContainerImage is not an Amazon ECR image",
				"no Inspector findings for Lambda function " + lambdaArn + ", Lambda function report-builder, container image " + ecrByDigest,
			},
		},
		{
			name:     "nothing Inspector scans in scope: no call",
			scope:    incident.Scope{AccessKeys: []string{"AKIAIOSFODNN7EXAMPLE"}, Buckets: []string{"b"}},
			warnings: []string{"no Inspector findings looked up: no instance, AMI, Lambda function or ECR image in scope"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if len(c.queued) > 0 {
				queue(t, c.queued...)
			}
			rec := &recorder{inner: w.inspector}
			inc := newIncident(c.scope)
			res, err := newHandler(t, w, rec).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}

			var sent []map[string]any
			for i, in := range rec.calls {
				if aws.ToInt32(in.MaxResults) != 100 || in.NextToken != nil || in.SortCriteria != nil {
					t.Errorf("call %d: max %d token %v sort %v", i, aws.ToInt32(in.MaxResults), in.NextToken, in.SortCriteria)
				}
				sent = append(sent, collect.Request(in.FilterCriteria))
			}
			if !reflect.DeepEqual(sent, c.filters) {
				t.Errorf("filters sent\n%v\nwant\n%v", sent, c.filters)
			}

			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, w.s3, testBucket, res.ResultKey, &stored)
			for _, want := range c.warnings {
				if !slices.ContainsFunc(stored.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
					t.Errorf("warnings %q: none with %q", stored.Warnings, want)
				}
			}
			if len(stored.Gaps) != 0 {
				t.Errorf("gaps %+v", stored.Gaps)
			}
			want := incident.Result{Collector: "inspector", Status: incident.StatusOK, ResultKey: res.ResultKey, Records: int64(len(c.findings))}
			if c.findings != nil {
				want.Artifacts = 1
			}
			if !reflect.DeepEqual(res, want) {
				t.Errorf("result %+v, want %+v", res, want)
			}
			if c.findings == nil {
				if len(stored.Artifacts) != 0 {
					t.Errorf("artifacts %+v", stored.Artifacts)
				}
				return
			}
			a := stored.Artifacts[0]
			if a.Key != "cases/"+inc.CaseID+"/runs/"+inc.RunID+"/inspector/findings.json" {
				t.Errorf("key %s", a.Key)
			}
			body, version := s3test.Object(t, w.s3, testBucket, a.Key)
			if a.SHA256 != sha256Hex(body) || a.VersionID != version || a.Size != int64(len(body)) {
				t.Errorf("manifest entry %+v does not match the object", a)
			}
			if a.Source != evidence.SourceInspector || a.Collector != "inspector" || a.API != "inspector2:ListFindings" ||
				a.Records != int64(len(c.findings)) || a.ContentType != evidence.ContentTypeJSON {
				t.Errorf("entry %+v", a)
			}
			var wantReq []any
			for _, f := range c.filters {
				wantReq = append(wantReq, f)
			}
			if !reflect.DeepEqual(a.Request, map[string]any{"filterCriteria": wantReq, "maxResults": float64(100)}) {
				t.Errorf("request %v", a.Request)
			}
			// The recorded findings' own times: observed 2023-09-08 (and
			// updated up to the recording).
			if a.FirstEvent == nil || a.LastEvent == nil || a.FirstEvent.Year() != 2023 || a.LastEvent.Before(*a.FirstEvent) {
				t.Errorf("first %v last %v", a.FirstEvent, a.LastEvent)
			}

			var doc struct {
				Findings  []map[string]any
				MatchedBy map[string][]string
			}
			s3test.ObjectJSON(t, w.s3, testBucket, a.Key, &doc)
			var got []string
			for _, f := range doc.Findings {
				got = append(got, fmt.Sprint(f["FindingArn"]))
				if f["Severity"] == nil || f["Title"] == nil || f["Resources"] == nil || f["PackageVulnerabilityDetails"] == nil {
					t.Errorf("finding %v stored without its body", f["FindingArn"])
				}
			}
			if !reflect.DeepEqual(got, c.findings) {
				t.Errorf("findings %q, want %q", got, c.findings)
			}
			if c.matched != nil && !reflect.DeepEqual(doc.MatchedBy, c.matched) {
				t.Errorf("matchedBy %v, want %v", doc.MatchedBy, c.matched)
			}
		})
	}
}

// TestCollectFaults: denied or not enabled is a gap that names what to
// enable; another refusal is a gap for that lookup only; throttling goes
// back to the state machine.
func TestCollectFaults(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Invoking account does not have access to list findings.", Fault: smithy.FaultClient}
	notEnabled := &smithy.GenericAPIError{Code: "ValidationException", Message: "Amazon Inspector is not enabled for this account.", Fault: smithy.FaultClient}
	bad := &smithy.GenericAPIError{Code: "BadRequestException", Message: "bad filter", Fault: smithy.FaultClient}
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	scope := incident.Scope{Instances: []string{placeboInstance}, Images: []string{placeboAMI}}

	cases := []struct {
		name      string
		fail      map[int]error
		calls     int
		errType   any
		gap       string
		fix       string
		artifacts int
		records   int64
	}{
		{name: "denied", fail: map[int]error{0: denied}, calls: 1,
			gap: "inspector2:ListFindings for instance " + placeboInstance + " denied (or Amazon Inspector is not enabled)", fix: "enable Amazon Inspector for EC2/Lambda/ECR"},
		{name: "not enabled", fail: map[int]error{0: notEnabled}, calls: 1,
			gap: "Amazon Inspector is not enabled", fix: "enable Amazon Inspector for EC2/Lambda/ECR"},
		{name: "one lookup refused: the other still runs", fail: map[int]error{0: bad}, calls: 2,
			gap: "for instance " + placeboInstance + " refused: BadRequestException: bad filter", fix: "see the error", artifacts: 1, records: 6},
		{name: "throttled", fail: map[int]error{1: throttled}, calls: 2, errType: &faults.ThrottledError{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			queue(t, placeboFindings(t, page1File), placeboFindings(t, page1File))
			rec := &recorder{inner: w.inspector, fail: c.fail}
			inc := newIncident(scope)
			res, err := newHandler(t, w, rec).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if len(rec.calls) != c.calls {
				t.Errorf("%d calls, want %d", len(rec.calls), c.calls)
			}
			if c.errType != nil {
				if reflect.TypeOf(err) != reflect.TypeOf(c.errType) || !strings.Contains(err.Error(), "inspector2:ListFindings") {
					t.Fatalf("error %v (%T), want %T naming the call", err, err, c.errType)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Status != incident.StatusOK || res.Gaps != 1 || res.Artifacts != c.artifacts || res.Records != c.records {
				t.Errorf("result %+v", res)
			}
			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, w.s3, testBucket, res.ResultKey, &stored)
			if len(stored.Gaps) != 1 || !strings.Contains(stored.Gaps[0].Reason, c.gap) || !strings.HasPrefix(stored.Gaps[0].Fix, c.fix) ||
				stored.Gaps[0].Source != evidence.SourceInspector {
				t.Errorf("gaps %+v, want reason with %q, fix %q", stored.Gaps, c.gap, c.fix)
			}
		})
	}
}

// TestQueries pins how each kind of resource is looked up.
func TestQueries(t *testing.T) {
	qs, skipped := queries(incident.Scope{
		Instances: []string{"i-1"},
		Functions: []string{"arn:aws:lambda:us-east-1:123456789012:function:f:PROD", "g"},
		Images:    []string{"ami-0123456789abcdef0", ecrByTag, "public.ecr.aws/nginx/nginx:latest"},
	})
	var whats []string
	var filters []map[string]any
	for _, q := range qs {
		whats = append(whats, q.What)
		filters = append(filters, collect.Request(q.Filter))
	}
	wantWhats := []string{"instance i-1", "Lambda function arn:aws:lambda:us-east-1:123456789012:function:f:PROD", "Lambda function g",
		"AMI ami-0123456789abcdef0", "container image " + ecrByTag}
	wantFilters := []map[string]any{eq("ResourceId", "i-1"), eq("LambdaFunctionName", "f"), eq("LambdaFunctionName", "g"),
		eq("Ec2InstanceImageId", "ami-0123456789abcdef0"), merge(eq("EcrImageRepositoryName", "api"), eq("EcrImageTags", "v1.2"))}
	if !reflect.DeepEqual(whats, wantWhats) || !reflect.DeepEqual(filters, wantFilters) {
		t.Errorf("queries %q %v\nwant %q %v", whats, filters, wantWhats, wantFilters)
	}
	if !reflect.DeepEqual(skipped, []string{"public.ecr.aws/nginx/nginx:latest"}) {
		t.Errorf("skipped %q", skipped)
	}
}
