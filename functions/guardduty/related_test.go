package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// The real findings the related-findings fake holds (testdata/corpus).
const (
	ec2DNSFile   = "cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json"         // Instance i-99999999, detector c0b0…, updated 2017-12-08
	torIAMFile   = "cloud-custodian/guardduty_eventbridge_iam_toripcaller.json"        // AccessKey GeneratedFinding…, detector c0b0…, updated 2017-12-08
	samplesIAM   = "aws-samples-guardduty-automated-response/guardduty_iam_event.json" // AccessKey GeneratedFinding… and instance i-99999999, updated 2022-01-13
	samplesS3    = "aws-samples-guardduty-automated-response/guardduty_s3_event.json"  // S3Bucket bucketName, key GeneratedFinding…, instance i-99999999, updated 2022-01-13
	samplesEC2   = "aws-samples-guardduty-automated-response/guardduty_ec2_event.json" // Instance i-05746eb48123455e0, updated 2017-10-31
	stixFile     = "stix-shifter/guardduty_getfindings_pascalcase_4_findings.json"
	torDetector  = "c0b018e3eb2130078632d999e41d4f02"
	ec2DNSID     = "b4b01b60fc24a199139f8f5f490edd81"
	torIAMID     = "36b01b60fc22bb4edb19d62d9899e953"
	samplesIAMID = "30bf285e52a1e405084ff6ec28e06e17"
	samplesS3ID  = "2cbf285e52a6e74ff96f4cb3cf93296d"
	stixS3ID     = "0011c11111404002875f3ab698ae5b9b" // S3Bucket bucketName, key GeneratedFinding…, updated 2023-06-01
)

// newRelatedFake is a detector holding every GuardDuty finding of the
// corpus (DERIVED: in reality they come from several detectors and
// accounts; here they are one detector's findings, so that they relate by
// their real resources), listing pageSize IDs a page.
func newRelatedFake(t *testing.T, detector string, pageSize int) *fakeFindings {
	t.Helper()
	f := newFakeFindings(t)
	f.detector, f.pageSize = detector, pageSize
	for _, name := range []string{ec2DNSFile, torIAMFile} {
		var env struct{ Detail json.RawMessage }
		if err := json.Unmarshal(readCorpus(t, name), &env); err != nil {
			t.Fatal(err)
		}
		f.add(t, env.Detail)
	}
	for _, name := range []string{samplesIAM, samplesS3, samplesEC2} {
		f.add(t, readCorpus(t, name))
	}
	var stix []struct{ Finding json.RawMessage }
	if err := json.Unmarshal(readCorpus(t, stixFile), &stix); err != nil {
		t.Fatal(err)
	}
	for _, s := range stix {
		f.add(t, s.Finding)
	}
	if len(f.findings) != 10 {
		t.Fatalf("fake holds %d findings, want 10", len(f.findings))
	}
	return f
}

func refTo(id, detector string) []byte {
	return []byte(`{"findingId":"` + id + `","detectorId":"` + detector + `"}`)
}

type lookup struct{ attr, value string }

// The scopes the tests set: what the aws-samples S3 finding and the
// TorIPCaller finding name.
var (
	s3Scope = incident.Scope{Instances: []string{"i-99999999"}, AccessKeys: []string{"GeneratedFindingAccessKeyId"},
		UserNames: []string{"GeneratedFindingUserName"}, Buckets: []string{"bucketName"}}
	keyScope = incident.Scope{AccessKeys: []string{"GeneratedFindingAccessKeyId"}, UserNames: []string{"GeneratedFindingUserName"}}
)

const (
	byInstance = "resource.instanceDetails.instanceId"
	byKey      = "resource.accessKeyDetails.accessKeyId"
	byUser     = "resource.accessKeyDetails.userName"
	byBucket   = "resource.s3BucketDetails.name"
)

func TestRelatedFindings(t *testing.T) {
	cases := []struct {
		name     string
		input    []byte
		scope    incident.Scope // set on the incident: these tests pin the lookups, not Triage's scope
		detector string         // the fake's
		pageSize int
		batch    int
		max      int

		lookups    []lookup // ListFindings criteria, in order (each paged call repeats it)
		listCalls  int
		detectors  int      // ListDetectors calls
		related    []string // related.json's findings, in order; nil: none stored
		matchedBy  map[string][]string
		batches    [][]string // related GetFindings calls
		warningHas string
	}{
		{
			name: "bare S3 finding: four resources, merged and deduplicated, older findings left out", input: readCorpus(t, samplesS3),
			scope:    s3Scope,
			detector: "48bf285e13736c6c722945805b3e224a", pageSize: 1,
			lookups: []lookup{{byInstance, "i-99999999"}, {byKey, "GeneratedFindingAccessKeyId"}, {byUser, "GeneratedFindingUserName"}, {byBucket, "bucketName"}},
			// instance: samplesIAM, samplesS3 (self), ec2DNS is older;
			// key and user: samplesIAM, samplesS3, stixS3 (torIAM older);
			// bucket: samplesS3, stixS3. One ID a page: 2+3+3+2 pages
			// plus none for the last page each.
			listCalls: 2 + 3 + 3 + 2,
			related:   []string{stixS3ID, samplesIAMID},
			matchedBy: map[string][]string{
				samplesIAMID: {byInstance + "=i-99999999", byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName"},
				stixS3ID:     {byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName", byBucket + "=bucketName"},
			},
			batches: [][]string{{stixS3ID, samplesIAMID}},
		},
		{
			name: "EventBridge EC2 finding: the instance's other findings", input: readCorpus(t, ec2DNSFile),
			scope:    incident.Scope{Instances: []string{"i-99999999"}},
			detector: torDetector,
			lookups:  []lookup{{byInstance, "i-99999999"}}, listCalls: 1,
			related:   []string{samplesS3ID, samplesIAMID},
			matchedBy: map[string][]string{samplesIAMID: {byInstance + "=i-99999999"}, samplesS3ID: {byInstance + "=i-99999999"}},
			batches:   [][]string{{samplesS3ID, samplesIAMID}},
		},
		{
			name: "finding reference: the key's and user's findings, the finding itself excluded, GetFindings in batches", input: refTo(torIAMID, torDetector),
			scope:    keyScope,
			detector: torDetector, pageSize: 2, batch: 2,
			lookups: []lookup{{byKey, "GeneratedFindingAccessKeyId"}, {byUser, "GeneratedFindingUserName"}},
			// each lists torIAM (self), samplesIAM, samplesS3, stixS3:
			// two pages each.
			listCalls: 4,
			related:   []string{stixS3ID, samplesS3ID, samplesIAMID},
			matchedBy: map[string][]string{
				stixS3ID:     {byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName"},
				samplesIAMID: {byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName"},
				samplesS3ID:  {byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName"},
			},
			batches: [][]string{{stixS3ID, samplesS3ID}, {samplesIAMID}},
		},
		{
			name: "at most MaxRelated fetched", input: refTo(torIAMID, torDetector),
			scope:    keyScope,
			detector: torDetector, max: 2,
			lookups: []lookup{{byKey, "GeneratedFindingAccessKeyId"}, {byUser, "GeneratedFindingUserName"}}, listCalls: 2,
			related: []string{stixS3ID, samplesS3ID},
			matchedBy: map[string][]string{
				stixS3ID:    {byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName"},
				samplesS3ID: {byKey + "=GeneratedFindingAccessKeyId", byUser + "=GeneratedFindingUserName"},
			},
			batches:    [][]string{{stixS3ID, samplesS3ID}},
			warningHas: "3 related findings: only 2 were fetched",
		},
		{
			name: "manual start: the region's detector first", detector: torDetector,
			scope:   incident.Scope{Instances: []string{"i-99999999"}},
			input:   []byte(`{"resource":{"type":"Instance","id":"i-99999999"},"window":{"start":"2017-12-01T00:00:00Z","end":"2017-12-09T00:00:00Z"}}`),
			lookups: []lookup{{byInstance, "i-99999999"}}, listCalls: 1, detectors: 1,
			related:   []string{samplesS3ID, samplesIAMID, ec2DNSID},
			matchedBy: map[string][]string{ec2DNSID: {byInstance + "=i-99999999"}, samplesIAMID: {byInstance + "=i-99999999"}, samplesS3ID: {byInstance + "=i-99999999"}},
			batches:   [][]string{{samplesS3ID, samplesIAMID, ec2DNSID}},
		},
		{
			name: "none related: a warning, no artifact", input: readCorpus(t, samplesEC2),
			scope:    incident.Scope{Instances: []string{"i-05746eb48123455e0"}},
			detector: "3caf4e0aaa46ce4ccbcef949a8785353",
			lookups:  []lookup{{byInstance, "i-05746eb48123455e0"}}, listCalls: 1,
			warningHas: "no related findings: detector 3caf4e0aaa46ce4ccbcef949a8785353 has no other finding for " + byInstance + "=i-05746eb48123455e0 updated since ",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			gd := newRelatedFake(t, c.detector, c.pageSize)
			inc := openRun(t, client, gd, c.input)
			c.scope.AccountID, c.scope.Region = inc.Scope.AccountID, inc.Scope.Region
			inc.Scope = c.scope
			h := newHandler(t, client, gd)
			fc := h.Collector.(*FindingCollector)
			fc.Batch, fc.MaxRelated = c.batch, c.max
			res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			since := inc.Window.Start.UnixMilli()

			// Every ListFindings call: this detector, one resource and
			// updatedAt >= the window's start, 50 a page.
			if len(gd.lists) != c.listCalls {
				t.Errorf("%d ListFindings calls, want %d", len(gd.lists), c.listCalls)
			}
			var seen []lookup
			for i, in := range gd.lists {
				if aws.ToString(in.DetectorId) != c.detector || aws.ToInt32(in.MaxResults) != 50 || in.SortCriteria != nil {
					t.Errorf("call %d: detector %s max %d", i, aws.ToString(in.DetectorId), aws.ToInt32(in.MaxResults))
				}
				crit := in.FindingCriteria.Criterion
				up, ok := crit["updatedAt"]
				//lint:ignore SA1019 the deprecated members are read only to check they are not sent
				if len(crit) != 2 || !ok || aws.ToInt64(up.GreaterThanOrEqual) != since || up.Gte != nil || len(up.Equals) != 0 {
					t.Errorf("call %d: criteria %+v, want one resource and updatedAt >= %d", i, crit, since)
				}
				for attr, cond := range crit {
					if attr == "updatedAt" {
						continue
					}
					//lint:ignore SA1019 the deprecated members are read only to check they are not sent
					if len(cond.Equals) != 1 || cond.Eq != nil || cond.GreaterThanOrEqual != nil {
						t.Errorf("call %d: %s condition %+v, want Equals one value", i, attr, cond)
						continue
					}
					l := lookup{attr, cond.Equals[0]}
					if in.NextToken == nil {
						seen = append(seen, l)
					} else if len(seen) == 0 || seen[len(seen)-1] != l {
						t.Errorf("call %d: a next page (%s) for %v, not the criteria of the call before", i, aws.ToString(in.NextToken), l)
					}
				}
			}
			if !reflect.DeepEqual(seen, c.lookups) {
				t.Errorf("lookups %v, want %v", seen, c.lookups)
			}
			if gd.listDetectors != c.detectors {
				t.Errorf("%d ListDetectors calls, want %d", gd.listDetectors, c.detectors)
			}
			// A finding reference is fetched first: that call is the
			// finding itself, not a related one.
			calls := gd.calls
			if inc.Finding != nil && strings.HasPrefix(string(c.input), `{"findingId"`) {
				if len(calls) == 0 || !reflect.DeepEqual(calls[0].FindingIds, []string{inc.Finding.ID}) {
					t.Fatalf("the referenced finding was not fetched first: %v", calls)
				}
				calls = calls[1:]
			}
			var batches [][]string
			for _, in := range calls {
				if aws.ToString(in.DetectorId) != c.detector {
					t.Errorf("GetFindings on detector %s", aws.ToString(in.DetectorId))
				}
				batches = append(batches, in.FindingIds)
			}
			if !reflect.DeepEqual(batches, c.batches) {
				t.Errorf("GetFindings batches %q, want %q", batches, c.batches)
			}

			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
			if c.warningHas != "" && !slices.ContainsFunc(stored.Warnings, func(w string) bool { return strings.Contains(w, c.warningHas) }) {
				t.Errorf("warnings %q, want one with %q", stored.Warnings, c.warningHas)
			}
			if len(stored.Gaps) != 0 || res.Gaps != 0 {
				t.Errorf("gaps %+v", stored.Gaps)
			}
			run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
			var rel *evidence.Artifact
			for i, a := range stored.Artifacts {
				if a.Key == run+"guardduty/related.json" {
					rel = &stored.Artifacts[i]
				}
			}
			if c.related == nil {
				if rel != nil {
					t.Errorf("related.json stored: %+v", rel)
				}
				return
			}
			if rel == nil {
				t.Fatalf("no related.json among %+v", stored.Artifacts)
			}
			body, version := s3test.Object(t, client, testBucket, rel.Key)
			if rel.SHA256 != sha256Hex(body) || rel.VersionID != version || rel.Source != evidence.SourceGuardDuty ||
				rel.API != "guardduty:ListFindings,guardduty:GetFindings" || rel.Records != int64(len(c.related)) || rel.ContentType != evidence.ContentTypeJSON {
				t.Errorf("related.json entry %+v", rel)
			}
			if rel.FirstEvent == nil || rel.LastEvent == nil || rel.LastEvent.Before(*rel.FirstEvent) {
				t.Errorf("related.json first %v last %v", rel.FirstEvent, rel.LastEvent)
			}
			// The request: the detector, each criterion as sent, the IDs.
			var wantCrit []any
			for _, l := range c.lookups {
				wantCrit = append(wantCrit, map[string]any{"Criterion": map[string]any{
					l.attr:      map[string]any{"Equals": []any{l.value}},
					"updatedAt": map[string]any{"GreaterThanOrEqual": float64(since)},
				}})
			}
			var ids []any
			for _, b := range c.batches {
				for _, id := range b {
					ids = append(ids, id)
				}
			}
			wantReq := map[string]any{"DetectorId": c.detector, "FindingCriteria": wantCrit, "MaxResults": float64(50), "FindingIds": ids}
			if !reflect.DeepEqual(rel.Request, wantReq) {
				t.Errorf("request\n%v\nwant\n%v", rel.Request, wantReq)
			}

			var doc struct {
				DetectorId string
				Findings   []map[string]any
				MatchedBy  map[string][]string
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range doc.Findings {
				got = append(got, fmt.Sprint(f["Id"]))
				if f["Resource"] == nil || f["Service"] == nil || f["Type"] == nil {
					t.Errorf("finding %v stored without its body", f["Id"])
				}
			}
			if doc.DetectorId != c.detector || !reflect.DeepEqual(got, c.related) || !reflect.DeepEqual(doc.MatchedBy, c.matchedBy) {
				t.Errorf("related.json detector %s findings %q matched %v; want %q %v", doc.DetectorId, got, doc.MatchedBy, c.related, c.matchedBy)
			}
			if inc.Finding != nil && slices.Contains(got, inc.Finding.ID) {
				t.Errorf("related.json holds the run's own finding %s", inc.Finding.ID)
			}
		})
	}
}

// TestRelatedFaults: a denied or refused lookup is a gap and the finding is
// still stored; throttling is retried by the state machine.
func TestRelatedFaults(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed", Fault: smithy.FaultClient}
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	otherAccount := &smithy.GenericAPIError{Code: "BadRequestException", Message: "The request is rejected because the input detectorId is not owned by the current account.", Fault: smithy.FaultClient}
	manual := []byte(`{"resource":{"type":"Instance","id":"i-99999999"},"window":{"start":"2017-12-01T00:00:00Z","end":"2017-12-09T00:00:00Z"}}`)
	cases := []struct {
		name      string
		input     []byte
		errs      map[string]error
		other     error
		detectors []string
		badBucket bool     // the fake refuses the bucket criterion
		errType   any      // nil: the collector succeeds
		gaps      []string // each gap's reason contains it
		fixHas    string
		artifacts int
	}{
		{name: "ListFindings denied", input: readCorpus(t, samplesS3), errs: map[string]error{"ListFindings": denied},
			gaps:   []string{"guardduty:ListFindings for detector 48bf285e13736c6c722945805b3e224a, " + byInstance + "=i-99999999 denied: not allowed"},
			fixHas: "grant guardduty:ListDetectors, guardduty:ListFindings and guardduty:GetFindings", artifacts: 2},
		{name: "GetFindings denied", input: readCorpus(t, samplesS3), errs: map[string]error{"GetFindings": denied},
			gaps: []string{"guardduty:GetFindings for 2 related findings of detector 48bf285e13736c6c722945805b3e224a denied"}, fixHas: "grant", artifacts: 2},
		{name: "ListFindings throttled", input: readCorpus(t, samplesS3), errs: map[string]error{"ListFindings": throttled}, errType: &faults.ThrottledError{}},
		{name: "GetFindings throttled", input: readCorpus(t, samplesS3), errs: map[string]error{"GetFindings": throttled}, errType: &faults.ThrottledError{}},
		{name: "detector of another account: one gap", input: readCorpus(t, samplesS3), other: otherAccount,
			gaps:   []string{"ListFindings for detector 48bf285e13736c6c722945805b3e224a, " + byInstance + "=i-99999999 refused: BadRequestException: The request is rejected because the input detectorId is not owned"},
			fixHas: "another account", artifacts: 2},
		{name: "one lookup refused: a gap for it, the others still run", input: readCorpus(t, samplesS3), badBucket: true,
			gaps:   []string{"ListFindings for detector 48bf285e13736c6c722945805b3e224a, " + byBucket + "=bucketName refused: BadRequestException"},
			fixHas: "see the error", artifacts: 3},
		{name: "manual start, ListDetectors denied", input: manual, errs: map[string]error{"ListDetectors": denied},
			gaps: []string{"guardduty:ListDetectors for region"}, fixHas: "grant"},
		{name: "manual start, GuardDuty off", input: manual, detectors: []string{},
			gaps: []string{"GuardDuty has no detector in region"}, fixHas: "enable Amazon GuardDuty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			gd := newRelatedFake(t, "48bf285e13736c6c722945805b3e224a", 0)
			inc := openRun(t, client, gd, c.input)
			inc.Scope = incident.Scope{AccountID: inc.Scope.AccountID, Region: inc.Scope.Region, Instances: []string{"i-99999999"}}
			if inc.Finding != nil {
				inc.Scope = s3Scope
			}
			gd.errs, gd.detectors = c.errs, c.detectors
			if c.other != nil {
				gd.detector, gd.otherDetectors = "someone-elses", c.other
			}
			if c.badBucket {
				gd.refuseAttr = byBucket
			}
			res, err := newHandler(t, client, gd).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			resultKey := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/results/guardduty.json"
			if c.errType != nil {
				if reflect.TypeOf(err) != reflect.TypeOf(c.errType) {
					t.Fatalf("error %v is %T, want %T", err, err, c.errType)
				}
				if keys := s3test.Keys(t, client, testBucket, resultKey); len(keys) != 0 {
					t.Errorf("a retryable error stored %q", keys)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Status != incident.StatusOK || res.Artifacts != c.artifacts || res.Gaps != len(c.gaps) {
				t.Errorf("result %+v, want ok, %d artifacts, %d gaps", res, c.artifacts, len(c.gaps))
			}
			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, resultKey, &stored)
			for i, g := range stored.Gaps {
				if i < len(c.gaps) && (!strings.Contains(g.Reason, c.gaps[i]) || !strings.Contains(g.Fix, c.fixHas) || g.Source != evidence.SourceGuardDuty) {
					t.Errorf("gap %d %+v, want reason with %q, fix with %q", i, g, c.gaps[i], c.fixHas)
				}
			}
			for _, a := range stored.Artifacts {
				if strings.HasSuffix(a.Key, "/related.json") && !c.badBucket {
					t.Errorf("related.json stored after a refusal")
				}
			}
		})
	}
}

// TestRelatedCriteria: the lookups a scope gives, roles under userName too.
func TestRelatedCriteria(t *testing.T) {
	got := relatedCriteria(incident.Scope{
		Instances: []string{"i-1", "i-2"}, AccessKeys: []string{"AKIA1"}, UserNames: []string{"alice"},
		RoleNames: []string{"ops", "alice"}, Buckets: []string{"b"}, Principals: []string{"arn:aws:iam::1:user/alice"},
	})
	want := []criterion{{byInstance, "i-1"}, {byInstance, "i-2"}, {byKey, "AKIA1"}, {byUser, "alice"}, {byUser, "ops"}, {byBucket, "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("criteria %v, want %v", got, want)
	}
	if got := relatedCriteria(incident.Scope{Clusters: []string{"c"}}); got != nil {
		t.Errorf("criteria %v for a scope with nothing GuardDuty filters on", got)
	}
	if getFindingsBatch != 50 || listFindingsPage != 50 {
		t.Errorf("batch %d page %d: GuardDuty's limits are 50", getFindingsBatch, listFindingsPage)
	}
}

// TestRelatedEmulator: the local emulator creates detectors but answers
// ListFindings with 404: the related lookup is a gap, the finding is still
// stored (the demo runs against it).
func TestRelatedEmulator(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	ctx := context.Background()
	cfg, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gd := guardduty.NewFromConfig(cfg)
	det, err := gd.CreateDetector(ctx, &guardduty.CreateDetectorInput{Enable: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	inc := openRun(t, client, nil, []byte(`{"resource":{"type":"Instance","id":"i-99999999"},"window":{"start":"2017-12-01T00:00:00Z","end":"2017-12-09T00:00:00Z"}}`))
	res, err := newHandler(t, client, gd).Handle(ctx, collect.Input{Incident: *inc, Item: inc.Plan[0]})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var stored evidence.CollectorResult
	s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
	if res.Status != incident.StatusOK || len(stored.Gaps) != 1 ||
		!strings.Contains(stored.Gaps[0].Reason, "guardduty:ListFindings for detector "+aws.ToString(det.DetectorId)) ||
		!strings.Contains(stored.Gaps[0].Reason, "does not implement it (HTTP 404)") {
		t.Errorf("result %+v gaps %+v", res, stored.Gaps)
	}
}
