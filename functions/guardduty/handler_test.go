package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
)

const (
	envelopeFile = "cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json"
	bareFile     = "aws-samples-guardduty-automated-response/guardduty_s3_event.json"
	apiFile      = "aws-cli-examples/guardduty_get-findings_output.json"
	refInput     = `{"findingId":"` + cliFindingID + `","detectorId":"` + cliDetectorID + `"}`
	manualInput  = `{"resource":{"type":"Instance","id":"i-0123456789abcdef0"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01 18:00:00"}}`
)

func newWriter(t testing.TB, client *s3.Client) *evidence.Writer {
	return evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
}

// openRun does what Triage does before the collector runs: it builds the
// incident for raw and stores raw as the run's input.json.
func openRun(t *testing.T, client *s3.Client, gd *fakeFindings, raw []byte) *incident.Incident {
	t.Helper()
	ctx := context.Background()
	in, err := finding.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var inc *incident.Incident
	switch in.Kind {
	case finding.KindManual:
		inc, err = incident.FromManual(in.Manual, incident.DefaultConfig(), fixedNow)
	case finding.KindFindingRef:
		out, ferr := gd.GetFindings(ctx, &guardduty.GetFindingsInput{DetectorId: aws.String(in.Ref.DetectorID), FindingIds: []string{in.Ref.FindingID}})
		if ferr != nil || len(out.Findings) != 1 {
			t.Fatalf("fake GetFindings: %v", ferr)
		}
		f, _, ferr := finding.FromAPI(out.Findings[0])
		if ferr != nil {
			t.Fatal(ferr)
		}
		inc, err = incident.FromFinding(f, incident.DefaultConfig(), fixedNow)
		gd.calls = nil
	default:
		inc, err = incident.FromFinding(in.Finding, incident.DefaultConfig(), fixedNow)
	}
	if err != nil {
		t.Fatal(err)
	}
	key, err := evidence.InputKey(inc.CaseID, inc.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newWriter(t, client).Put(ctx, key, bytes.NewReader(raw), evidence.PutMeta{Source: evidence.SourceCase, API: "states:StartExecution"}); err != nil {
		t.Fatal(err)
	}
	inc.InputKey = key
	return inc
}

func newHandler(t testing.TB, client *s3.Client, gd guardDutyAPI) *Handler {
	return &Handler{
		Driver:    &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }},
		Collector: &FindingCollector{Objects: client, Findings: gd, Bucket: testBucket},
	}
}

func TestCollectFinding(t *testing.T) {
	// What finding.json must hold: the finding exactly as received.
	detailOf := func(raw []byte) []byte {
		var env struct {
			Detail json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		return env.Detail
	}
	firstOf := func(raw []byte) []byte {
		var out struct{ Findings []json.RawMessage }
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		return out.Findings[0]
	}
	// For a reference, the SDK's GetFindings response (as the fake
	// decodes it) marshalled as the collector does.
	fetched := func() []byte {
		var out guardduty.GetFindingsOutput
		if err := json.Unmarshal(readCorpus(t, apiFile), &out); err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(out.Findings, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cases := []struct {
		name    string
		input   []byte
		finding []byte // finding.json; nil: no artifacts
		api     string
		form    string
		calls   int
		warning string
	}{
		{name: "envelope", input: readCorpus(t, envelopeFile), finding: detailOf(readCorpus(t, envelopeFile)), api: "states:StartExecution", form: "envelope"},
		{name: "bare finding", input: readCorpus(t, bareFile), finding: readCorpus(t, bareFile), api: "states:StartExecution", form: "finding"},
		{name: "get-findings output", input: readCorpus(t, apiFile), finding: firstOf(readCorpus(t, apiFile)), api: "states:StartExecution", form: "apiFinding"},
		{name: "finding reference", input: []byte(refInput), finding: fetched(), api: "guardduty:GetFindings", form: "findingRef", calls: 1},
		{name: "manual start", input: []byte(manualInput), warning: "manual start on Instance i-0123456789abcdef0: there is no GuardDuty finding to store"},
		// Past MaxParsedInput the input is copied whole, never cut (it
		// was once cut at 1 MiB and then called not JSON).
		{name: "an input past the parse bound", input: padded(t, readCorpus(t, bareFile), MaxParsedInput+1<<20), api: "states:StartExecution", form: "unparsed",
			warning: "the stored input %s is longer than the 8388608 bytes the collector parses again: finding.json is that input copied unchanged (an EventBridge event whole, not only its detail), and summary.json is Triage's"},
	}
	cases[len(cases)-1].finding = cases[len(cases)-1].input
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			gd := newFakeFindings(t)
			inc := openRun(t, client, gd, c.input)
			h := newHandler(t, client, gd)
			res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
			nArt := 0
			if c.finding != nil {
				nArt = 2
			}
			want := incident.Result{Collector: "guardduty", Status: incident.StatusOK, ResultKey: run + "results/guardduty.json", Artifacts: nArt, Records: int64(nArt)}
			if !reflect.DeepEqual(res, want) {
				t.Errorf("result %+v, want %+v", res, want)
			}

			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
			if stored.Status != incident.StatusOK || stored.Collector != "guardduty" || stored.CollectorVersion != "test" {
				t.Errorf("stored result %+v", stored)
			}
			// The aws-cli detector holds no other finding: each case
			// ends with that warning, and stores no related.json.
			var wantWarn []string
			if c.warning != "" {
				wantWarn = append(wantWarn, strings.ReplaceAll(c.warning, "%s", inc.InputKey))
			}
			if n := len(stored.Warnings); n != len(wantWarn)+1 || !slices.Equal(stored.Warnings[:n-1], wantWarn) ||
				!strings.HasPrefix(stored.Warnings[n-1], "no related findings: detector ") {
				t.Errorf("warnings %q, want %q and no related findings", stored.Warnings, wantWarn)
			}
			if len(gd.calls) != c.calls {
				t.Errorf("%d GetFindings calls, want %d", len(gd.calls), c.calls)
			}
			if c.calls > 0 && (aws.ToString(gd.calls[0].DetectorId) != cliDetectorID || !reflect.DeepEqual(gd.calls[0].FindingIds, []string{cliFindingID})) {
				t.Errorf("GetFindings(%s, %v)", aws.ToString(gd.calls[0].DetectorId), gd.calls[0].FindingIds)
			}
			if c.finding == nil {
				if len(stored.Artifacts) != 0 {
					t.Errorf("artifacts %+v for a manual start", stored.Artifacts)
				}
				if keys := s3test.Keys(t, client, testBucket, run+"guardduty/"); len(keys) != 0 {
					t.Errorf("a manual start stored %q", keys)
				}
				return
			}

			var keys []string
			for _, a := range stored.Artifacts {
				keys = append(keys, a.Key)
				body, version := s3test.Object(t, client, testBucket, a.Key)
				if a.SHA256 != sha256Hex(body) || a.Size != int64(len(body)) || a.VersionID != version {
					t.Errorf("%s: manifest entry sha256 %s size %d version %s; stored %s %d %s", a.Key, a.SHA256, a.Size, a.VersionID, sha256Hex(body), len(body), version)
				}
				if a.Source != evidence.SourceGuardDuty || a.Collector != "guardduty" || a.Records != 1 ||
					a.FirstEvent == nil || !a.FirstEvent.Equal(inc.Finding.FirstSeen) || !a.LastEvent.Equal(inc.Finding.LastSeen) {
					t.Errorf("%s: %+v", a.Key, a)
				}
			}
			if want := []string{run + "guardduty/finding.json", run + "guardduty/summary.json"}; !reflect.DeepEqual(keys, want) {
				t.Fatalf("artifacts %q, want %q", keys, want)
			}
			body := s3test.Body(t, client, testBucket, run+"guardduty/finding.json")
			if !bytes.Equal(body, c.finding) {
				t.Errorf("finding.json is not the finding as received:\n%.300s\nwant\n%.300s", body, c.finding)
			}
			fa := stored.Artifacts[0]
			if fa.API != c.api || fa.Origin == nil || fa.Origin.FindingID != inc.Finding.ID || fa.ContentType != evidence.ContentTypeJSON {
				t.Errorf("finding.json entry api %s origin %+v content type %s", fa.API, fa.Origin, fa.ContentType)
			}
			if c.calls > 0 {
				if !reflect.DeepEqual(fa.Request, map[string]any{"DetectorId": cliDetectorID, "FindingIds": []any{cliFindingID}}) {
					t.Errorf("GetFindings request recorded as %v", fa.Request)
				}
				var list []map[string]any
				if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0]["Id"] != cliFindingID {
					t.Errorf("finding.json of a reference is not the GetFindings list: %v", err)
				}
			} else if fa.Request["inputKey"] != inc.InputKey || fa.Origin.Key != inc.InputKey || fa.Origin.Bucket != testBucket {
				t.Errorf("finding.json entry request %v origin %+v", fa.Request, fa.Origin)
			}

			var sum summary
			s3test.ObjectJSON(t, client, testBucket, run+"guardduty/summary.json", &sum)
			if sum.InputForm != c.form || sum.Finding == nil || sum.Finding.ID != inc.Finding.ID || !reflect.DeepEqual(sum.Scope, inc.Scope) {
				t.Errorf("summary.json %+v", sum)
			}
		})
	}
}

// TestCollectFaults: what goes wrong in the collector reaches the state
// machine as a named error, and a failure is stored for Seal.
func TestCollectFaults(t *testing.T) {
	cases := []struct {
		name    string
		gdErr   error
		edit    func(inc *incident.Incident)
		errType any
		errHas  string
		stored  bool // a failed result is stored
	}{
		{name: "GetFindings throttled", gdErr: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"},
			errType: &faults.ThrottledError{}, errHas: "guardduty:GetFindings"},
		{name: "GetFindings denied", gdErr: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed", Fault: smithy.FaultClient},
			errType: &faults.CollectorError{}, errHas: "not allowed", stored: true},
		{name: "no input key", edit: func(inc *incident.Incident) { inc.InputKey = "" },
			errType: &faults.CollectorError{}, errHas: "incident.inputKey", stored: true},
		{name: "input missing from the bucket", edit: func(inc *incident.Incident) { inc.InputKey += ".missing" },
			errType: &faults.CollectorError{}, errHas: "input.json.missing", stored: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			gd := newFakeFindings(t)
			inc := openRun(t, client, gd, []byte(refInput))
			gd.err = c.gdErr
			if c.edit != nil {
				c.edit(inc)
			}
			_, err := newHandler(t, client, gd).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if reflect.TypeOf(err) != reflect.TypeOf(c.errType) {
				t.Fatalf("error %v is %T, want %T", err, err, c.errType)
			}
			if !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("error %q does not name %q", err, c.errHas)
			}
			resultKey := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/results/guardduty.json"
			keys := s3test.Keys(t, client, testBucket, resultKey)
			if !c.stored {
				if len(keys) != 0 {
					t.Errorf("a retryable error stored %q", keys)
				}
				return
			}
			var r evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, resultKey, &r)
			if r.Status != incident.StatusFailed || !strings.Contains(r.Error, c.errHas) {
				t.Errorf("stored %s %q", r.Status, r.Error)
			}
			if errors.Is(err, evidence.ErrExists) {
				t.Error("unexpected ErrExists")
			}
		})
	}
}

// padded returns the finding raw with a member "padding" added that makes
// it size bytes long: still a finding Triage accepts.
func padded(t *testing.T, raw []byte, size int) []byte {
	t.Helper()
	raw = bytes.TrimSpace(raw)
	head := `{"padding":"`
	n := size - len(raw) - len(head) - len(`",`) + 1
	if n <= 0 {
		t.Fatalf("the finding is longer than %d bytes", size)
	}
	out := append([]byte(head), bytes.Repeat([]byte("p"), n)...)
	out = append(out, `",`...)
	return append(out, raw[1:]...)
}
