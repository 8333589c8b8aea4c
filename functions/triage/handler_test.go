package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

const (
	envelopeFile = "cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json"
	bareFile     = "aws-samples-guardduty-automated-response/guardduty_s3_event.json"
	apiFile      = "aws-cli-examples/guardduty_get-findings_output.json"

	manualInput = `{"resource":{"type":"Instance","id":"i-0123456789abcdef0"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01 18:00:00"}}`
)

func lambdaCtx() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:triage",
	})
}

// TestAcceptedForms runs every accepted input form through Triage and checks
// the exact set of objects it opens the run with.
func TestAcceptedForms(t *testing.T) {
	cases := []struct {
		name    string
		input   []byte
		ctx     context.Context
		caseID  string
		runID   string
		manual  bool
		account string
		form    string
		calls   int // GetFindings calls
	}{
		{name: "eventbridge envelope", input: readCorpus(t, envelopeFile),
			caseID: "gd-b4b01b60fc24a199139f8f5f490edd81", runID: "r20171208T153249865Z", account: "883606788610", form: "envelope"},
		{name: "bare finding", input: readCorpus(t, bareFile),
			caseID: "gd-2cbf285e52a6e74ff96f4cb3cf93296d", runID: "r20220113T000047437Z", account: "123456789012", form: "finding"},
		{name: "get-findings output", input: readCorpus(t, apiFile),
			caseID: "gd-" + cliFindingID, runID: "r20200526T225521703Z", account: "111122223333", form: "apiFinding"},
		{name: "finding reference", input: []byte(`{"findingId":"` + cliFindingID + `","detectorId":"` + cliDetectorID + `"}`),
			caseID: "gd-" + cliFindingID, runID: "r20200526T225521703Z", account: "111122223333", form: "findingRef", calls: 1},
		{name: "manual start, account from the Lambda context", input: []byte(manualInput), ctx: lambdaCtx(),
			caseID: "mn-d3835c0dd84ac4bab784d432", runID: "r20240501T180000000Z", manual: true, account: "123456789012", form: "manual"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			gd := newFakeFindings(t)
			h := newHandler(t, client, gd)
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			resp, err := h.Handle(ctx, Request{Input: c.input, Execution: "exec-1"})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if resp.Duplicate {
				t.Fatal("first delivery reported as duplicate")
			}
			inc := resp.Incident
			if inc.CaseID != c.caseID || inc.RunID != c.runID || inc.Manual != c.manual {
				t.Fatalf("case %s run %s manual %v, want %s %s %v", inc.CaseID, inc.RunID, inc.Manual, c.caseID, c.runID, c.manual)
			}
			if len(inc.Plan) == 0 || inc.Plan[0].Collector != incident.CollectorGuardDuty {
				t.Errorf("plan %+v does not start with the guardduty collector", inc.Plan)
			}
			if inc.Scope.AccountID != c.account || inc.Scope.Region != "us-east-1" {
				t.Errorf("scope account %q region %q, want %q us-east-1", inc.Scope.AccountID, inc.Scope.Region, c.account)
			}
			if !inc.OpenedAt.Equal(fixedNow) {
				t.Errorf("openedAt %v", inc.OpenedAt)
			}
			if len(gd.calls) != c.calls {
				t.Errorf("%d GetFindings calls, want %d", len(gd.calls), c.calls)
			}
			if c.calls > 0 {
				in := gd.calls[0]
				if *in.DetectorId != cliDetectorID || !reflect.DeepEqual(in.FindingIds, []string{cliFindingID}) {
					t.Errorf("GetFindings(%s, %v)", *in.DetectorId, in.FindingIds)
				}
			}

			run := "cases/" + c.caseID + "/runs/" + c.runID + "/"
			want := []string{
				"cases/" + c.caseID + "/case.json",
				run + "incident.json",
				run + "input.json",
				run + "results/triage.json",
				run + "run.json",
			}
			if got := s3test.Keys(t, client, testBucket, ""); !reflect.DeepEqual(got, want) {
				t.Fatalf("keys\n got %q\nwant %q", got, want)
			}
			if inc.InputKey != run+"input.json" {
				t.Errorf("inputKey %q", inc.InputKey)
			}
			if got := s3test.Body(t, client, testBucket, run+"input.json"); !bytes.Equal(got, c.input) {
				t.Error("input.json is not the input byte for byte")
			}

			var stored incident.Incident
			s3test.ObjectJSON(t, client, testBucket, run+"incident.json", &stored)
			if !reflect.DeepEqual(stored.Plan, inc.Plan) || stored.CaseID != inc.CaseID || stored.RunID != inc.RunID || stored.InputKey != inc.InputKey {
				t.Errorf("incident.json %+v differs from the response %+v", stored, *inc)
			}

			var rec caseRecord
			s3test.ObjectJSON(t, client, testBucket, "cases/"+c.caseID+"/case.json", &rec)
			if rec.CaseID != c.caseID || rec.FirstRunID != c.runID || rec.Manual != c.manual || rec.AccountID != c.account || rec.Region != "us-east-1" {
				t.Errorf("case.json %+v", rec)
			}
			if c.manual && rec.Resource != "Instance:i-0123456789abcdef0" {
				t.Errorf("case.json resource %q", rec.Resource)
			}
			if !c.manual && rec.FindingID != inc.Finding.ID {
				t.Errorf("case.json finding %q, want %q", rec.FindingID, inc.Finding.ID)
			}

			var mk runMarker
			s3test.ObjectJSON(t, client, testBucket, run+"run.json", &mk)
			if mk.Execution != "exec-1" || mk.CaseID != c.caseID || mk.RunID != c.runID {
				t.Errorf("run.json %+v", mk)
			}

			// Triage's result lists what it wrote, each with the stored
			// bytes' SHA-256 and version.
			var res evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, run+"results/triage.json", &res)
			if res.Collector != "triage" || res.Status != incident.StatusOK {
				t.Errorf("triage result %s %s", res.Collector, res.Status)
			}
			var keys []string
			for _, a := range res.Artifacts {
				keys = append(keys, a.Key)
				body, version := s3test.Object(t, client, testBucket, a.Key)
				if a.SHA256 != sha256Hex(body) || a.Size != int64(len(body)) || a.VersionID != version || a.Source != evidence.SourceCase {
					t.Errorf("artifact %s: sha256 %s size %d version %s source %s; stored %s %d %s",
						a.Key, a.SHA256, a.Size, a.VersionID, a.Source, sha256Hex(body), len(body), version)
				}
			}
			wantArt := []string{want[0], want[1], want[2], want[4]}
			sort.Strings(keys)
			if !reflect.DeepEqual(keys, wantArt) {
				t.Errorf("triage artifacts %q, want %q", keys, wantArt)
			}
			for _, a := range res.Artifacts {
				if a.Key == run+"input.json" && (a.Request["inputForm"] != c.form || a.Request["execution"] != "exec-1") {
					t.Errorf("input.json request %v, want form %s", a.Request, c.form)
				}
			}
		})
	}
}

// TestUnknownResourceType: a resource type Triage does not know is not an
// error: the generic plan and a warning.
func TestUnknownResourceType(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	h := newHandler(t, client, newFakeFindings(t))
	in := `{"resource":{"type":"Widget","id":"w-1","accountId":"123456789012"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`
	resp, err := h.Handle(context.Background(), Request{Input: json.RawMessage(in), Execution: "e"})
	if err != nil {
		t.Fatalf("an unknown resource type is not an error: %v", err)
	}
	inc := resp.Incident
	if len(inc.Plan) != 2 || inc.Plan[0].Collector != incident.CollectorGuardDuty || inc.Plan[1].Collector != incident.CollectorCloudTrail {
		t.Errorf("plan %+v, want the generic plan", inc.Plan)
	}
	if !strings.Contains(strings.Join(inc.Warnings, "\n"), `"Widget" is not known`) {
		t.Errorf("warnings %q do not name the unknown type", inc.Warnings)
	}
}

// TestDuplicates: the same finding and updatedAt make one run; a newer
// updatedAt a second run of the same case; a retry of the same execution
// goes on.
func TestDuplicates(t *testing.T) {
	ctx := context.Background()
	raw := readCorpus(t, envelopeFile)
	newer := editJSON(t, raw, func(m map[string]any) {
		m["detail"].(map[string]any)["updatedAt"] = "2017-12-09T08:00:00.123Z"
	})
	const caseID = "gd-b4b01b60fc24a199139f8f5f490edd81"

	t.Run("second delivery", func(t *testing.T) {
		client := emu.FreshLockedBucket(t, testBucket)
		h := newHandler(t, client, newFakeFindings(t))
		if r, err := h.Handle(ctx, Request{Input: raw, Execution: "exec-1"}); err != nil || r.Duplicate {
			t.Fatalf("first: %+v %v", r, err)
		}
		n := versions(t, client)
		r, err := h.Handle(ctx, Request{Input: raw, Execution: "exec-2"})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Duplicate || r.Incident.CaseID != caseID {
			t.Errorf("second delivery: duplicate %v case %s", r.Duplicate, r.Incident.CaseID)
		}
		if got := versions(t, client); got != n {
			t.Errorf("a duplicate wrote %d object versions", got-n)
		}
	})

	t.Run("retry of the same execution", func(t *testing.T) {
		client := emu.FreshLockedBucket(t, testBucket)
		h := newHandler(t, client, newFakeFindings(t))
		first, err := h.Handle(ctx, Request{Input: raw, Execution: "exec-1"})
		if err != nil {
			t.Fatal(err)
		}
		n := versions(t, client)
		r, err := h.Handle(ctx, Request{Input: raw, Execution: "exec-1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Duplicate || r.Incident.RunID != first.Incident.RunID || r.Incident.InputKey != first.Incident.InputKey {
			t.Errorf("retry: %+v", r)
		}
		if got := versions(t, client); got != n {
			t.Errorf("a retry wrote %d object versions", got-n)
		}
	})

	t.Run("newer updatedAt", func(t *testing.T) {
		client := emu.FreshLockedBucket(t, testBucket)
		h := newHandler(t, client, newFakeFindings(t))
		first, err := h.Handle(ctx, Request{Input: raw, Execution: "exec-1"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := h.Handle(ctx, Request{Input: newer, Execution: "exec-2"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Duplicate || r.Incident.CaseID != caseID || r.Incident.RunID != "r20171209T080000123Z" || r.Incident.RunID == first.Incident.RunID {
			t.Fatalf("newer updatedAt: duplicate %v case %s run %s", r.Duplicate, r.Incident.CaseID, r.Incident.RunID)
		}
		run2 := "cases/" + caseID + "/runs/r20171209T080000123Z/"
		if got := s3test.Keys(t, client, testBucket, run2); !reflect.DeepEqual(got, []string{run2 + "incident.json", run2 + "input.json", run2 + "results/triage.json", run2 + "run.json"}) {
			t.Errorf("second run keys %q", got)
		}
		if got := s3test.Keys(t, client, testBucket, "cases/"+caseID+"/runs/"); len(got) != 8 {
			t.Errorf("two runs should hold 8 objects, got %q", got)
		}
		// case.json is the first run's and is not rewritten.
		var rec caseRecord
		s3test.ObjectJSON(t, client, testBucket, "cases/"+caseID+"/case.json", &rec)
		if rec.FirstRunID != first.Incident.RunID {
			t.Errorf("case.json firstRunId %s", rec.FirstRunID)
		}
		if got := versions(t, client); got != 9 {
			t.Errorf("%d versions, want 9 (case.json once, two runs of four)", got)
		}
	})
}

// TestConcurrentDeliveries: the same finding delivered eight times at once
// opens exactly one run.
func TestConcurrentDeliveries(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	h := newHandler(t, client, newFakeFindings(t))
	raw := readCorpus(t, envelopeFile)
	const n = 8
	var wg sync.WaitGroup
	resps := make([]*Response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], errs[i] = h.Handle(context.Background(), Request{Input: raw, Execution: fmt.Sprintf("exec-%d", i)})
		}()
	}
	close(start)
	wg.Wait()
	opened := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("delivery %d: %v", i, errs[i])
			continue
		}
		if !resps[i].Duplicate {
			opened++
		}
	}
	if opened != 1 {
		t.Errorf("%d deliveries opened a run, want exactly 1", opened)
	}
	if got := versions(t, client); got != 5 {
		t.Errorf("%d object versions, want the 5 of one run", got)
	}
}

// TestRefused: every refused input is a named InvalidInputError naming the
// field; no case is opened; the input is kept as it came with its reason.
func TestRefused(t *testing.T) {
	env := readCorpus(t, envelopeFile)
	detail := func(fn func(d map[string]any)) []byte {
		return editJSON(t, env, func(m map[string]any) { fn(m["detail"].(map[string]any)) })
	}
	cases := []struct {
		name  string
		input []byte
		field string
	}{
		{"empty", nil, ""},
		{"blank", []byte("  \n"), ""},
		{"empty object", []byte(`{}`), ""},
		{"not JSON", []byte(`finding: yes`), ""},
		{"no resource", detail(func(d map[string]any) { delete(d, "resource") }), "detail.resource"},
		{"no id", detail(func(d map[string]any) { delete(d, "id") }), "detail.id"},
		{"severity high", detail(func(d map[string]any) { d["severity"] = "high" }), "detail.severity"},
		{"bad time", detail(func(d map[string]any) { d["updatedAt"] = "yesterday at noon" }), "detail.updatedAt"},
		{"bare finding without resource", editJSON(t, readCorpus(t, bareFile), func(m map[string]any) { delete(m, "resource") }), "resource"},
		{"manual end before start", []byte(`{"resource":{"type":"Instance","id":"i-0123456789abcdef0"},"window":{"start":"2024-05-01T18:00:00Z","end":"2024-05-01 10:00:00"}}`), "window.end"},
		{"unknown finding reference", []byte(`{"findingId":"00000000000000000000000000000000","detectorId":"` + cliDetectorID + `"}`), "findingId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			h := newHandler(t, client, newFakeFindings(t))
			resp, err := h.Handle(lambdaCtx(), Request{Input: c.input, Execution: "exec-1"})
			if err == nil {
				t.Fatalf("accepted: %+v", resp)
			}
			// The Lambda error type is the Go type name of the error itself.
			inv, ok := err.(*faults.InvalidInputError)
			if !ok {
				t.Fatalf("error %v is %T, want *faults.InvalidInputError", err, err)
			}
			if inv.Field != c.field {
				t.Errorf("field %q, want %q (%v)", inv.Field, c.field, err)
			}
			if got := s3test.Keys(t, client, testBucket, evidence.CasesRoot); len(got) != 0 {
				t.Errorf("a refused input opened %q", got)
			}
			digest := sha256Hex(c.input)
			key, _ := evidence.RejectedKey(fixedNow, digest)
			reasonKey, _ := evidence.RejectedReasonKey(fixedNow, digest)
			if got := s3test.Keys(t, client, testBucket, evidence.RejectedRoot); !reflect.DeepEqual(got, []string{key, reasonKey}) {
				t.Fatalf("rejected keys %q, want %q", got, []string{key, reasonKey})
			}
			if got := s3test.Body(t, client, testBucket, key); !bytes.Equal(got, c.input) {
				t.Errorf("rejected input %q is not the input %q", got, c.input)
			}
			var reason map[string]any
			s3test.ObjectJSON(t, client, testBucket, reasonKey, &reason)
			if reason["field"] != c.field || reason["inputKey"] != key || reason["inputSha256"] != digest || reason["reason"] != inv.Reason {
				t.Errorf("reason %v", reason)
			}
		})
	}
}

// TestRetryableFetch: a throttled GetFindings is returned for the state
// machine to retry; the input is not rejected.
func TestRetryableFetch(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	gd := newFakeFindings(t)
	gd.err = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	h := newHandler(t, client, gd)
	_, err := h.Handle(context.Background(), Request{Input: json.RawMessage(`{"findingId":"` + cliFindingID + `","detectorId":"` + cliDetectorID + `"}`), Execution: "e"})
	if _, ok := err.(*faults.ThrottledError); !ok {
		t.Fatalf("error %v is %T, want *faults.ThrottledError", err, err)
	}
	if got := s3test.Keys(t, client, testBucket, ""); len(got) != 0 {
		t.Errorf("a throttled fetch wrote %q", got)
	}
	var inv *faults.InvalidInputError
	if errors.As(err, &inv) {
		t.Error("a throttled fetch is not an invalid input")
	}
}

// TestDeniedFetch: a GetFindings this deployment may not call is a
// configuration error, not a fault of the input: nothing is rejected.
func TestDeniedFetch(t *testing.T) {
	tests := []struct {
		code    string
		invalid bool
	}{
		{code: "AccessDeniedException"},
		{code: "BadRequestException", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			gd := newFakeFindings(t)
			gd.err = &smithy.GenericAPIError{Code: tc.code, Message: "no"}
			h := newHandler(t, client, gd)
			_, err := h.Handle(context.Background(), Request{Input: json.RawMessage(`{"findingId":"` + cliFindingID + `","detectorId":"` + cliDetectorID + `"}`), Execution: "e"})
			var inv *faults.InvalidInputError
			var cfg *faults.ConfigurationError
			if tc.invalid != errors.As(err, &inv) || tc.invalid == errors.As(err, &cfg) {
				t.Fatalf("error %v (%T), want invalid input: %v", err, err, tc.invalid)
			}
			rejected := s3test.Keys(t, client, testBucket, "rejected/")
			if tc.invalid != (len(rejected) == 2) {
				t.Errorf("rejected/ holds %q", rejected)
			}
		})
	}
}

// TestRetryAfterCrash: an execution that stopped right after its run
// marker (a Lambda timeout) is retried, and the retry opens the run fully.
func TestRetryAfterCrash(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	h := newHandler(t, client, newFakeFindings(t))
	raw := readCorpus(t, envelopeFile)
	const run = "cases/gd-b4b01b60fc24a199139f8f5f490edd81/runs/r20171208T153249865Z/"
	if _, err := h.Writer.PutJSON(context.Background(), run+"run.json", runMarker{Execution: "exec-1", OpenedAt: fixedNow.Add(-time.Minute)},
		evidence.PutMeta{Source: evidence.SourceCase}); err != nil {
		t.Fatal(err)
	}
	r, err := h.Handle(context.Background(), Request{Input: raw, Execution: "exec-1"})
	if err != nil || r.Duplicate {
		t.Fatalf("retry: %+v %v", r, err)
	}
	if !r.Incident.OpenedAt.Equal(fixedNow.Add(-time.Minute)) {
		t.Errorf("openedAt %v, want the first attempt's", r.Incident.OpenedAt)
	}
	if got := s3test.Keys(t, client, testBucket, run); !reflect.DeepEqual(got, []string{run + "incident.json", run + "input.json", run + "results/triage.json", run + "run.json"}) {
		t.Errorf("keys %q", got)
	}
	// The retry's result lists what the first attempt stored too.
	body := s3test.Body(t, client, testBucket, run+"results/triage.json")
	var res evidence.CollectorResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, a := range res.Artifacts {
		listed = append(listed, a.Key)
	}
	sort.Strings(listed)
	if want := []string{"cases/gd-b4b01b60fc24a199139f8f5f490edd81/case.json", run + "incident.json", run + "input.json", run + "run.json"}; !reflect.DeepEqual(listed, want) {
		t.Errorf("triage result lists %q, want %q", listed, want)
	}
	// Another execution still sees a duplicate.
	if r, err := h.Handle(context.Background(), Request{Input: raw, Execution: "exec-2"}); err != nil || !r.Duplicate {
		t.Errorf("second execution: %+v %v", r, err)
	}
}

// TestTriageActionLog: Triage's own calls (the run marker, the input, the
// incident, the case record) are its action log, listed in its result.
func TestTriageActionLog(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	h := newHandler(t, client, newFakeFindings(t))
	h.ActionLogs, h.Account = true, "123456789012"
	if _, err := h.Handle(context.Background(), Request{Input: readCorpus(t, envelopeFile), Execution: "exec-1"}); err != nil {
		t.Fatal(err)
	}
	const run = "cases/gd-b4b01b60fc24a199139f8f5f490edd81/runs/r20171208T153249865Z/"
	var res evidence.CollectorResult
	if err := json.Unmarshal(s3test.Body(t, client, testBucket, run+"results/triage.json"), &res); err != nil {
		t.Fatal(err)
	}
	var log *evidence.Artifact
	for i, a := range res.Artifacts {
		if a.Key == run+"actions/triage.jsonl" {
			log = &res.Artifacts[i]
		}
	}
	if log == nil || log.Source != evidence.SourceActions || log.Records != 4 {
		t.Fatalf("triage result %+v: want its action log of 4 puts", res.Artifacts)
	}
	body := string(s3test.Body(t, client, testBucket, log.Key))
	for _, k := range []string{"run.json", "input.json", "incident.json", "case.json"} {
		if !strings.Contains(body, `"operation":"PutObject"`) || !strings.Contains(body, k+`"`) {
			t.Errorf("the action log names no put of %s:\n%s", k, body)
		}
	}
	if !strings.Contains(body, `"account":"123456789012"`) || !strings.Contains(body, `"requestId":"`) {
		t.Errorf("the action log names no account or request ID:\n%s", body)
	}
}

// TestConfiguredTablesAndSecondPass: tables the deployment names join the
// scope and bring the DynamoDB collector; CloudTrail in the plan brings the
// second pass over the tables its extract names.
func TestConfiguredTablesAndSecondPass(t *testing.T) {
	tests := []struct {
		name       string
		tables     []string
		input      string
		wantTables []string
		wantDynamo bool
		wantSecond bool
	}{
		{name: "a key finding, no tables configured", input: `{"resource":{"type":"AccessKey","id":"AKIAIOSFODNN7EXAMPLE","accountId":"123456789012"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`,
			wantSecond: true},
		{name: "a key finding, a table configured", tables: []string{"orders"}, input: `{"resource":{"type":"AccessKey","id":"AKIAIOSFODNN7EXAMPLE","accountId":"123456789012"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`,
			wantTables: []string{"orders"}, wantDynamo: true, wantSecond: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			h := newHandler(t, client, newFakeFindings(t))
			h.Tables = tc.tables
			resp, err := h.Handle(context.Background(), Request{Input: json.RawMessage(tc.input), Execution: "e"})
			if err != nil {
				t.Fatal(err)
			}
			inc := resp.Incident
			if !reflect.DeepEqual(inc.Scope.Tables, tc.wantTables) {
				t.Errorf("tables %q, want %q", inc.Scope.Tables, tc.wantTables)
			}
			dynamo := false
			for _, p := range inc.Plan {
				dynamo = dynamo || p.Collector == incident.CollectorDynamoDB
			}
			if dynamo != tc.wantDynamo {
				t.Errorf("plan %+v: dynamodb %v, want %v", inc.Plan, dynamo, tc.wantDynamo)
			}
			if (len(inc.SecondPass) == 1 && inc.SecondPass[0].Collector == incident.CollectorDynamoDBFromCloudTrail) != tc.wantSecond {
				t.Errorf("second pass %+v", inc.SecondPass)
			}
		})
	}
}
