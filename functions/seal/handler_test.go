package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
)

const envelopeFile = "cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json"

func newWriter(t testing.TB, client *s3.Client) *evidence.Writer {
	return evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
}

// sqsCall makes one SQS call in the JSON protocol. The module pins no SQS
// client (go.mod is not ours to change), and moto does not check
// signatures, so a plain POST with the target header is enough.
func sqsCall(t testing.TB, action string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, emu.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS."+action)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20240506/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sqs %s: %s: %s", action, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("sqs %s: %v: %s", action, err, b)
		}
	}
}

// notifications is an SNS topic with an SQS queue subscribed to it (raw
// message delivery), so a test reads what Seal published.
type notifications struct {
	topicARN string
	queueURL string
	client   *sns.Client
}

func newNotifications(t testing.TB) *notifications {
	t.Helper()
	ctx := context.Background()
	cfg, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := &notifications{client: sns.NewFromConfig(cfg)}
	topic, err := n.client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("custody-cases")})
	if err != nil {
		t.Fatal(err)
	}
	n.topicARN = aws.ToString(topic.TopicArn)
	var q struct{ QueueUrl string }
	sqsCall(t, "CreateQueue", map[string]any{"QueueName": "case-notes"}, &q)
	n.queueURL = q.QueueUrl
	var attrs struct{ Attributes map[string]string }
	sqsCall(t, "GetQueueAttributes", map[string]any{"QueueUrl": q.QueueUrl, "AttributeNames": []string{"QueueArn"}}, &attrs)
	if _, err := n.client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"]),
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// messages receives every message waiting in the queue.
func (n *notifications) messages(t testing.TB) []string {
	t.Helper()
	var all []string
	for {
		var out struct{ Messages []struct{ Body string } }
		sqsCall(t, "ReceiveMessage", map[string]any{"QueueUrl": n.queueURL, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0, "VisibilityTimeout": 60}, &out)
		if len(out.Messages) == 0 {
			return all
		}
		for _, m := range out.Messages {
			all = append(all, m.Body)
		}
	}
}

// fakeCollector is a collector whose work is a function.
type fakeCollector struct {
	run func(ctx context.Context, inc *incident.Incident, out *collect.Output) error
}

func (f *fakeCollector) Name() string   { return incident.CollectorGuardDuty }
func (f *fakeCollector) Source() string { return evidence.SourceGuardDuty }
func (f *fakeCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	return f.run(ctx, inc, out)
}

// openRun stores what Triage stores (input.json, case.json and its
// result) for the corpus envelope, or for a manual start.
func openRun(t *testing.T, client *s3.Client, manual bool) *incident.Incident {
	t.Helper()
	ctx := context.Background()
	raw := readCorpus(t, envelopeFile)
	if manual {
		raw = []byte(`{"resource":{"type":"Instance","id":"i-0123456789abcdef0","accountId":"123456789012"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T18:00:00Z"}}`)
	}
	in, err := finding.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var inc *incident.Incident
	if manual {
		inc, err = incident.FromManual(in.Manual, incident.DefaultConfig(), fixedNow)
	} else {
		inc, err = incident.FromFinding(in.Finding, incident.DefaultConfig(), fixedNow)
	}
	if err != nil {
		t.Fatal(err)
	}
	inc.Warnings = append(inc.Warnings, "a triage warning")
	w := newWriter(t, client)
	meta := evidence.PutMeta{Source: evidence.SourceCase, API: "custody:Triage", Collector: "triage", CollectorVersion: "test"}
	inc.InputKey, _ = evidence.InputKey(inc.CaseID, inc.RunID)
	caseKey, _ := evidence.CaseKey(inc.CaseID)
	a1, err := w.Put(ctx, inc.InputKey, bytes.NewReader(raw), meta)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := w.PutJSON(ctx, caseKey, map[string]string{"caseId": inc.CaseID}, meta)
	if err != nil {
		t.Fatal(err)
	}
	resKey, _ := evidence.ResultKey(inc.CaseID, inc.RunID, "triage")
	if _, err := w.PutJSON(ctx, resKey, evidence.CollectorResult{
		Collector: "triage", CollectorVersion: "test", Status: incident.StatusOK,
		Artifacts: []evidence.Artifact{a1, a2}, Gaps: []evidence.Gap{}, Warnings: []string{}, Snapshots: []evidence.Snapshot{},
		StartedAt: fixedNow, FinishedAt: fixedNow,
	}, meta); err != nil {
		t.Fatal(err)
	}
	return inc
}

func newHandler(t testing.TB, client *s3.Client, n *notifications) *Handler {
	signer, keyARN := newSigningKey(t)
	return &Handler{
		Objects: client, Writer: newWriter(t, client), Notifier: n.client,
		Signer: signer, SigningKeyARN: keyARN,
		Bucket: testBucket, TopicARN: n.topicARN, Version: "test",
		Now: func() time.Time { return fixedNow.Add(time.Minute) },
	}
}

func TestSeal(t *testing.T) {
	collectOK := func(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
		if _, err := out.Put(ctx, "finding.json", strings.NewReader(`{"id":"x"}`), out.Meta("states:StartExecution", nil, nil)); err != nil {
			return err
		}
		if _, err := out.PutJSON(ctx, "summary.json", inc.Finding, out.Meta("custody:ParseFinding", nil, nil)); err != nil {
			return err
		}
		out.Gap("GuardDuty S3 protection is off", "enable S3 protection")
		out.Warn("a collector warning")
		return nil
	}
	cases := []struct {
		name string
		// collector runs through the driver before Seal; nil: the
		// collector's Lambda never stored a result (the Catch did).
		collector func(ctx context.Context, inc *incident.Incident, out *collect.Output) error
		manual    bool
		// result is what the state machine hands Seal for the collector.
		result         func(res incident.Result, err error) incident.Result
		status         string
		guarddutyState string
		guarddutyErr   string
		artifacts      []string // names under the run folder, and case.json
		gaps           int
	}{
		{
			name: "complete", collector: collectOK,
			result:         func(res incident.Result, err error) incident.Result { return res },
			status:         evidence.RunComplete,
			guarddutyState: incident.StatusOK,
			artifacts:      []string{"guardduty/finding.json", "guardduty/summary.json", "input.json", "../../case.json"},
			gaps:           1,
		},
		{
			name: "manual start, complete", collector: func(context.Context, *incident.Incident, *collect.Output) error { return nil }, manual: true,
			result:         func(res incident.Result, err error) incident.Result { return res },
			status:         evidence.RunComplete,
			guarddutyState: incident.StatusOK,
			artifacts:      []string{"input.json", "../../case.json"},
		},
		{
			name: "collector failed, caught by the state machine",
			result: func(incident.Result, error) incident.Result {
				return incident.Result{Collector: "guardduty", Status: incident.StatusFailed, Error: &incident.ResultError{Error: faults.NameCollector, Cause: "boom"}}
			},
			status:         evidence.RunPartial,
			guarddutyState: incident.StatusFailed,
			guarddutyErr:   "CollectorError: boom",
			artifacts:      []string{"input.json", "../../case.json"},
		},
		{
			name: "collector panicked after writing, result stored by the driver",
			collector: func(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
				if _, err := out.Put(ctx, "finding.json", strings.NewReader(`{}`), out.Meta("states:StartExecution", nil, nil)); err != nil {
					return err
				}
				panic("boom")
			},
			result: func(_ incident.Result, err error) incident.Result {
				if reflect.TypeOf(err) != reflect.TypeOf(&faults.CollectorError{}) {
					panic(fmt.Sprintf("driver returned %T", err))
				}
				return incident.Result{Collector: "guardduty", Status: incident.StatusFailed, Error: &incident.ResultError{Error: faults.NameCollector, Cause: err.Error()}}
			},
			status:         evidence.RunPartial,
			guarddutyState: incident.StatusFailed,
			guarddutyErr:   "panic: boom",
			artifacts:      []string{"guardduty/finding.json", "input.json", "../../case.json"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			client := emu.FreshLockedBucket(t, testBucket)
			n := newNotifications(t)
			inc := openRun(t, client, c.manual)
			var res incident.Result
			var err error
			if c.collector != nil {
				d := &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }}
				res, err = d.Run(ctx, &fakeCollector{run: c.collector}, collect.Input{Incident: *inc, Item: inc.Plan[0]})
			}
			h := newHandler(t, client, n)
			out, err := h.Handle(ctx, Input{Incident: *inc, Results: []incident.Result{c.result(res, err)}})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}

			run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
			body, version := s3test.Object(t, client, testBucket, run+"manifest.json")
			if err := evidence.ValidateManifest(body); err != nil {
				t.Fatalf("manifest.json: %v", err)
			}
			m, err := evidence.ParseManifest(body)
			if err != nil {
				t.Fatal(err)
			}
			if m.CaseID != inc.CaseID || m.RunID != inc.RunID || m.Status != c.status || m.Bucket != testBucket || m.Manual != c.manual {
				t.Errorf("manifest case %s run %s status %s bucket %s manual %v", m.CaseID, m.RunID, m.Status, m.Bucket, m.Manual)
			}
			if !c.manual && (m.Finding == nil || m.Finding.ID != inc.Finding.ID || !m.Finding.UpdatedAt.Equal(inc.Finding.UpdatedAt)) {
				t.Errorf("manifest finding %+v", m.Finding)
			}
			if !m.Window.Start.Equal(inc.Window.Start) || !m.Window.End.Equal(inc.Window.End) {
				t.Errorf("manifest window %+v, incident %+v", m.Window, inc.Window)
			}

			// Every artifact of every stored result, sorted by key, each
			// matching the stored object.
			var want, got []string
			for _, a := range c.artifacts {
				if strings.HasPrefix(a, "../../") {
					want = append(want, "cases/"+inc.CaseID+"/"+strings.TrimPrefix(a, "../../"))
				} else {
					want = append(want, run+a)
				}
			}
			// And the analysis Seal builds from them, and the timeline's
			// Athena copy.
			for _, a := range []string{"timeline.jsonl", "timeline.csv", "untimed.jsonl", "entities.json", "report.md", "report.html", "actions/seal.jsonl", "athena/timeline/timeline.jsonl"} {
				want = append(want, run+a)
			}
			sort.Strings(want)
			for _, a := range m.Artifacts {
				got = append(got, a.Key)
				b, v := s3test.Object(t, client, testBucket, a.Key)
				if a.SHA256 != sha256Hex(b) || a.Size != int64(len(b)) || a.VersionID != v {
					t.Errorf("%s: manifest sha256 %s size %d version %s; stored %s %d %s", a.Key, a.SHA256, a.Size, a.VersionID, sha256Hex(b), len(b), v)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("manifest artifacts\n got %q\nwant %q", got, want)
			}
			if len(m.Gaps) != c.gaps {
				t.Errorf("gaps %+v", m.Gaps)
			}
			if !contains(m.Warnings, "a triage warning") {
				t.Errorf("warnings %q lack the incident's", m.Warnings)
			}
			if c.gaps > 0 && !contains(m.Warnings, "guardduty: a collector warning") {
				t.Errorf("warnings %q lack the collector's", m.Warnings)
			}

			statuses := map[string]evidence.CollectorStatus{}
			for _, cs := range m.Collectors {
				statuses[cs.Name] = cs
			}
			if len(m.Collectors) != 2 || statuses["triage"].Status != incident.StatusOK {
				t.Errorf("collectors %+v", m.Collectors)
			}
			gd := statuses["guardduty"]
			if gd.Status != c.guarddutyState || !strings.Contains(gd.Error, c.guarddutyErr) || (c.guarddutyErr == "") != (gd.Error == "") {
				t.Errorf("guardduty collector %+v, want %s %q", gd, c.guarddutyState, c.guarddutyErr)
			}

			// Output and the one notification.
			if out.Status != c.status || out.ManifestKey != run+"manifest.json" || out.ManifestSHA256 != sha256Hex(body) ||
				out.ManifestVersionID != version || out.Artifacts != len(want) || out.Location != "s3://"+testBucket+"/"+run {
				t.Errorf("output %+v", out)
			}
			if failed := c.status == evidence.RunPartial; failed != reflect.DeepEqual(out.FailedCollectors, []string{"guardduty"}) {
				t.Errorf("failed collectors %q", out.FailedCollectors)
			}
			msgs := n.messages(t)
			if len(msgs) != 1 {
				t.Fatalf("%d notifications, want 1: %q", len(msgs), msgs)
			}
			var note Output
			if err := json.Unmarshal([]byte(msgs[0]), &note); err != nil {
				t.Fatalf("notification is not the Output JSON: %v: %s", err, msgs[0])
			}
			if note.CaseID != inc.CaseID || note.RunID != inc.RunID || note.Status != c.status ||
				note.ManifestSHA256 != sha256Hex(body) || note.ManifestVersionID != version || note.ManifestVersionID == "" {
				t.Errorf("notification %+v; manifest sha256 %s version %s", note, sha256Hex(body), version)
			}
			if !reflect.DeepEqual(&note, out) {
				t.Errorf("notification %+v differs from the output %+v", note, *out)
			}
		})
	}
}

// TestSealTwice: a sealed run's manifest is never overwritten. Seal run
// again (a retry after the notification failed, or after a lost response)
// announces the manifest that is stored, with its own SHA-256 and version.
func TestSealTwice(t *testing.T) {
	ctx := context.Background()
	client := emu.FreshLockedBucket(t, testBucket)
	n := newNotifications(t)
	inc := openRun(t, client, false)
	in := Input{Incident: *inc, Results: []incident.Result{{Collector: "guardduty", Status: incident.StatusOK}}}
	h := newHandler(t, client, n)
	first, err := h.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	h.Writer = newWriter(t, client)
	h.Now = func() time.Time { return fixedNow.Add(time.Hour) }
	second, err := h.Handle(ctx, in)
	if err != nil {
		t.Fatalf("second seal: %v", err)
	}
	// Each attempt's own calls are its own (the second's log, finding the
	// first's there, is stored beside it); the rest is the same seal.
	if len(second.SealActions) == 0 || !strings.HasSuffix(fmt.Sprint(second.SealActions[len(second.SealActions)-1].Params["Key"]), "public-key.pem") {
		t.Errorf("second seal's own calls %+v, want them ending with the seal files'", second.SealActions)
	}
	firstSeal, secondSeal := *first, *second
	firstSeal.SealActions, secondSeal.SealActions = nil, nil
	if !reflect.DeepEqual(secondSeal, firstSeal) {
		t.Errorf("second seal announced %+v, want the stored manifest %+v", second, first)
	}
	vs, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket), Prefix: aws.String(first.ManifestKey)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 1 || aws.ToString(vs.Versions[0].VersionId) != first.ManifestVersionID {
		t.Errorf("manifest versions %d, want the first seal's only", len(vs.Versions))
	}
	msgs := n.messages(t)
	var notes []Output
	for _, m := range msgs {
		var o Output
		if err := json.Unmarshal([]byte(m), &o); err != nil {
			t.Fatal(err)
		}
		o.SealActions = nil
		notes = append(notes, o)
	}
	if len(notes) != 2 || !reflect.DeepEqual(notes[0], notes[1]) {
		t.Errorf("notifications %q, want the same announcement twice (at least once), but for each attempt's own calls", msgs)
	}
}

// TestSealRefusesBadIncident: no case or run ID is an InvalidInputError.
func TestSealRefusesBadIncident(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	n := newNotifications(t)
	for _, inc := range []incident.Incident{{}, {CaseID: "gd-x"}, {CaseID: "../x", RunID: "r1"}} {
		_, err := newHandler(t, client, n).Handle(context.Background(), Input{Incident: inc})
		if _, ok := err.(*faults.InvalidInputError); !ok {
			t.Errorf("incident %+v: %v (%T)", inc, err, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// cloudtrailCollector writes CloudTrail extracts, as a fanned-out collector's
// shards do.
type cloudtrailCollector struct {
	extracts map[string][]string
	baseline *ctlog.Baseline // written as the collector's baseline.json
}

func (c *cloudtrailCollector) Name() string   { return incident.CollectorCloudTrail }
func (c *cloudtrailCollector) Source() string { return evidence.SourceCloudTrail }
func (c *cloudtrailCollector) Collect(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
	for name, lines := range c.extracts {
		s, err := out.CreateGzip(name, out.Meta("s3:GetObject", nil, nil))
		if err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := s.Write([]byte(l + "\n")); err != nil {
				return err
			}
		}
		if _, err := s.Close(ctx); err != nil {
			return err
		}
	}
	if c.baseline != nil {
		if _, err := out.PutJSON(ctx, ctlog.BaselineName, c.baseline, out.Meta("s3:GetObject", nil, nil)); err != nil {
			return err
		}
	}
	return nil
}

// TestSealDuplicateRecords: a CloudTrail record in two shards' extracts is
// one timeline event, and the manifest says how many were written once.
func TestSealDuplicateRecords(t *testing.T) {
	ctx := context.Background()
	client := emu.FreshLockedBucket(t, testBucket)
	inc := openRun(t, client, false)
	rec := func(id string) string {
		return `{"eventTime":"2024-05-06T06:30:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"` + id + `"}`
	}
	c := &cloudtrailCollector{extracts: map[string][]string{
		"extract-shard0001.jsonl.gz": {rec("e-1"), rec("e-2")},
		"extract-shard0002.jsonl.gz": {rec("e-2"), rec("e-3")},
	}}
	d := &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }}
	res, err := d.Run(ctx, c, collect.Input{Incident: *inc, Item: incident.PlanItem{Collector: incident.CollectorCloudTrail}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newHandler(t, client, newNotifications(t)).Handle(ctx, Input{Incident: *inc, Results: []incident.Result{res}}); err != nil {
		t.Fatal(err)
	}
	run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
	m, err := evidence.ParseManifest(s3test.Body(t, client, testBucket, run+"manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(m.Warnings, func(w string) bool {
		return strings.HasPrefix(w, "seal: 1 cloudtrail records were in more than one extract")
	}) {
		t.Errorf("warnings %q", m.Warnings)
	}
	if n := strings.Count(string(s3test.Body(t, client, testBucket, run+"timeline.jsonl")), `"source":"cloudtrail"`); n != 3 {
		t.Errorf("%d CloudTrail events on the timeline, want 3", n)
	}
}

// TestSealPivotResults: the pivot loop's results are collectors of the
// run; one the state machine caught (a pass that failed, or the derive
// step itself) makes the run partial.
func TestSealPivotResults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pivot  *PivotResults
		status string
		want   map[string]string // collector -> status
	}{
		{"no pivot state", nil, evidence.RunComplete, map[string]string{"cloudtrail": "ok"}},
		{"a pass and the chain", &PivotResults{Results: []incident.Result{
			{Collector: "cloudtrail-pivot-1", Status: incident.StatusOK}, {Collector: "cloudtrail-pivot", Status: incident.StatusOK},
		}}, evidence.RunComplete, map[string]string{"cloudtrail": "ok", "cloudtrail-pivot-1": "ok", "cloudtrail-pivot": "ok"}},
		{"a pass caught failed", &PivotResults{Results: []incident.Result{
			{Collector: "cloudtrail-pivot-1", Status: incident.StatusFailed, Error: &incident.ResultError{Error: "States.Timeout", Cause: "timed out"}},
		}}, evidence.RunPartial, map[string]string{"cloudtrail": "ok", "cloudtrail-pivot-1": "failed"}},
		{"the derive step caught failed", &PivotResults{Failed: &incident.Result{Collector: "cloudtrail-pivot", Status: incident.StatusFailed,
			Error: &incident.ResultError{Error: "EvidenceError", Cause: "boom"}}}, evidence.RunPartial, map[string]string{"cloudtrail": "ok", "cloudtrail-pivot": "failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := emu.FreshLockedBucket(t, testBucket)
			inc := openRun(t, client, false)
			d := &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }}
			res, err := d.Run(ctx, &cloudtrailCollector{}, collect.Input{Incident: *inc, Item: incident.PlanItem{Collector: incident.CollectorCloudTrail}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := newHandler(t, client, newNotifications(t)).Handle(ctx, Input{Incident: *inc, Results: []incident.Result{res}, Pivot: tc.pivot}); err != nil {
				t.Fatal(err)
			}
			m, err := evidence.ParseManifest(s3test.Body(t, client, testBucket, "cases/"+inc.CaseID+"/runs/"+inc.RunID+"/manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, c := range m.Collectors {
				if c.Name != "triage" {
					got[c.Name] = c.Status
				}
			}
			if m.Status != tc.status || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("status %s collectors %v, want %s %v", m.Status, got, tc.status, tc.want)
			}
		})
	}
}

// TestSealEntities: the entity view from the timeline and the CloudTrail
// extracts; with a baseline summary (counted by the CloudTrail collector's
// own counter), what it names is not new.
func TestSealEntities(t *testing.T) {
	ctx := context.Background()
	client := emu.FreshLockedBucket(t, testBucket)
	inc := openRun(t, client, false)
	rec := func(id, at, key, ua, ip string) string {
		return `{"eventTime":"` + at + `","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","eventID":"` + id +
			`","userAgent":"` + ua + `","sourceIPAddress":"` + ip + `","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/dana","accessKeyId":"` + key + `"}}`
	}
	c := &cloudtrailCollector{extracts: map[string][]string{
		"extract.jsonl.gz": {rec("e-1", "2017-12-08T15:00:00Z", "AKIAOLDKEY0000000001", "aws-cli/2", "203.0.113.77"),
			rec("e-2", "2017-12-08T15:10:00Z", "AKIANEWKEY0000000002", "aws-cli/2", "192.0.2.10")},
		"pivot-0001/extract.jsonl.gz": {rec("e-2", "2017-12-08T15:10:00Z", "AKIANEWKEY0000000002", "aws-cli/2", "192.0.2.10"),
			rec("e-3", "2017-12-08T15:20:00Z", "AKIANEWKEY0000000002", "boto3/1", "192.0.2.10")},
	}}
	old, err := ctlog.Parse([]byte(rec("b-1", "2017-12-07T15:00:00Z", "AKIAOLDKEY0000000001", "aws-cli/2", "203.0.113.77")))
	if err != nil {
		t.Fatal(err)
	}
	counter := ctlog.NewBaselineCounter(time.Date(2017, 12, 7, 9, 0, 0, 0, time.UTC), time.Date(2017, 12, 8, 9, 0, 0, 0, time.UTC), 1)
	counter.Add(old)
	base := counter.Baseline()
	c.baseline = &base
	d := &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }}
	res, err := d.Run(ctx, c, collect.Input{Incident: *inc, Item: incident.PlanItem{Collector: incident.CollectorCloudTrail}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newHandler(t, client, newNotifications(t)).Handle(ctx, Input{Incident: *inc, Results: []incident.Result{res}}); err != nil {
		t.Fatal(err)
	}
	run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
	var v EntityView
	s3test.ObjectJSON(t, client, testBucket, run+"entities.json", &v)
	got := map[string]string{}
	for _, e := range v.Entities {
		isNew := "unknown"
		if e.NewInWindow != nil {
			isNew = fmt.Sprint(*e.NewInWindow)
		}
		got[e.Kind+" "+e.Value] = fmt.Sprintf("%d %s..%s new=%s", e.Events, e.FirstSeen.Format("15:04"), e.LastSeen.Format("15:04"), isNew)
	}
	want := map[string]string{
		"accessKey AKIAOLDKEY0000000001": "1 15:00..15:00 new=false",
		"accessKey AKIANEWKEY0000000002": "2 15:10..15:20 new=true", // e-2 once
		"userAgent aws-cli/2":            "2 15:00..15:10 new=false",
		"userAgent boto3/1":              "1 15:20..15:20 new=true",
		"address 203.0.113.77":           "1 15:00..15:00 new=false",
		"address 192.0.2.10":             "2 15:10..15:20 new=true",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if len(v.Baseline) != 1 {
		t.Errorf("baseline %v", v.Baseline)
	}
}

// TestSealListsRetriedAttemptsActionLogs: an action log no result names
// (an attempt the state machine retried stored it before the attempt that
// stored the result) is listed too, hashed by Seal, so verify finds
// nothing unlisted.
func TestSealListsRetriedAttemptsActionLogs(t *testing.T) {
	ctx := context.Background()
	client := emu.FreshLockedBucket(t, testBucket)
	n := newNotifications(t)
	inc := openRun(t, client, false)
	runPrefix, _ := evidence.RunPrefix(inc.CaseID, inc.RunID)
	retried := runPrefix + "actions/guardduty-attempt2.jsonl"
	body := `{"service":"GuardDuty","operation":"GetFindings","httpStatus":400}` + "\n" + `{"service":"S3","operation":"PutObject","httpStatus":200}` + "\n"
	if _, err := newWriter(t, client).Put(ctx, retried, strings.NewReader(body), evidence.PutMeta{Source: evidence.SourceActions, API: "custody:ActionLog"}); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, client, n)
	out, err := h.Handle(ctx, Input{Incident: *inc, Results: []incident.Result{{Collector: "guardduty", Status: incident.StatusOK}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := evidence.ParseManifest(s3test.Body(t, client, testBucket, out.ManifestKey))
	if err != nil {
		t.Fatal(err)
	}
	var got *evidence.Artifact
	for i, a := range m.Artifacts {
		if a.Key == retried {
			got = &m.Artifacts[i]
		}
	}
	b, v := s3test.Object(t, client, testBucket, retried)
	if got == nil || got.SHA256 != sha256Hex(b) || got.VersionID != v || got.Records != 2 || got.Source != evidence.SourceActions {
		t.Errorf("retried attempt's log in the manifest: %+v", got)
	}
}
