package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

const (
	testCase = "gd-cloudwatchtest"
	testRun  = "r20240506T070809000Z"
	runDir   = "cases/" + testCase + "/runs/" + testRun + "/"
)

// window is the test's window, [now-2h, now-1h] on whole seconds: inside
// the 14 days the emulator accepts.
func window() incident.Window {
	now := time.Now().UTC().Truncate(time.Second)
	return incident.Window{Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}
}

func newIncident(sc incident.Scope, w incident.Window) *incident.Incident {
	sc.AccountID, sc.Region = "123456789012", "us-east-1"
	return &incident.Incident{
		CaseID: testCase, RunID: testRun, Scope: sc, Window: w,
		Plan: []incident.PlanItem{{Collector: collectorName}}, OpenedAt: fixedNow,
	}
}

func newHandler(t testing.TB, e env, c *LogsCollector) *Handler {
	return &Handler{
		Driver:    &collect.Driver{Writer: newWriter(t, e.s3), Version: "test", Now: func() time.Time { return fixedNow }},
		Collector: c,
	}
}

// seeded is what a case seeds and expects in one group's extract.
type seeded struct {
	group   string
	inside  []event // expected in the extract
	outside []event // seeded, never in the extract
	stream  string
	corpus  []corpusStream // real samples, all inside the window
}

func (s seeded) seed(t testing.TB, e env) {
	stream := s.stream
	if stream == "" {
		stream = "2024/05/06/[$LATEST]0123456789abcdef"
	}
	seed(t, e.logs, s.group, stream, append(append([]event(nil), s.inside...), s.outside...)...)
	for _, c := range s.corpus {
		seed(t, e.logs, s.group, c.stream, c.events...)
	}
}

// want is the sorted messages and times the extract must hold.
func (s seeded) want() (msgs []string, first, last time.Time) {
	all := append([]event(nil), s.inside...)
	for _, c := range s.corpus {
		all = append(all, c.events...)
	}
	for i, e := range all {
		msgs = append(msgs, e.msg)
		if i == 0 || e.at.Before(first) {
			first = e.at
		}
		if i == 0 || e.at.After(last) {
			last = e.at
		}
	}
	sort.Strings(msgs)
	return msgs, first, last
}

// inWindow makes n events spread over w, each message tagged.
func inWindow(w incident.Window, tag string, n int) []event {
	evs := make([]event, n)
	step := w.End.Sub(w.Start) / time.Duration(n+1)
	for i := range evs {
		evs[i] = event{at: w.Start.Add(step * time.Duration(i+1)).Truncate(time.Millisecond), msg: fmt.Sprintf("%s %d", tag, i)}
	}
	return evs
}

// edges are events on and just outside the window's bounds, and well
// outside it.
func edges(w incident.Window, tag string) (inside, outside []event) {
	ms := time.Millisecond
	inside = []event{{w.Start, tag + " at start"}, {w.End, tag + " at end"}}
	outside = []event{
		{w.Start.Add(-ms), tag + " 1ms before start"}, {w.End.Add(ms), tag + " 1ms after end"},
		{w.Start.Add(-30 * time.Minute), tag + " 30min before"}, {w.End.Add(30 * time.Minute), tag + " 30min after"},
	}
	return inside, outside
}

func TestCollect(t *testing.T) {
	w := window()
	fnIn, fnOut := edges(w, "fn")
	fnIn = append(fnIn, event{w.Start.Add(5 * time.Minute), "START RequestId: 8f507cfc-example Version: $LATEST"})
	fn := seeded{group: "/aws/lambda/fn", inside: fnIn, outside: fnOut,
		corpus: []corpusStream{cliEvents(t, w.Start.Add(10*time.Minute)), subscriptionEvents(t, w.Start.Add(20*time.Minute))}}
	// Noise: another function's group, in the window, never in scope.
	other := seeded{group: "/aws/lambda/fn2", inside: inWindow(w, "fn2", 3)}

	manyIn := inWindow(w, "bulk", 25)
	many := seeded{group: "/aws/lambda/busy", inside: manyIn, outside: fnOut}

	syslog := seeded{group: "/custody/ec2/syslog", inside: inWindow(w, "syslog", 4), outside: fnOut[:2], stream: "i-0123456789abcdef0"}
	secure := seeded{group: "/custody/ec2/secure", inside: inWindow(w, "secure", 2), stream: "i-0123456789abcdef0"}
	notMatched := seeded{group: "/custody/other", inside: inWindow(w, "other", 2)}

	rdsErr := seeded{group: "/aws/rds/instance/db1/error", inside: inWindow(w, "db1 error", 3), stream: "db1"}
	rdsGen := seeded{group: "/aws/rds/instance/db1/general", inside: inWindow(w, "db1 general", 2), stream: "db1"}
	rdsOther := seeded{group: "/aws/rds/instance/db10/error", inside: inWindow(w, "db10", 2), stream: "db10"}

	eks := seeded{group: "/aws/eks/prod/cluster", inside: inWindow(w, `{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`, 3), stream: "kube-apiserver-audit-0123"}

	cases := []struct {
		name     string
		scope    incident.Scope
		groups   []string // CUSTODY_INSTANCE_LOG_GROUPS
		pageSize int32
		seed     []seeded // seeded groups
		collect  []seeded // of those, the groups collected, by artifact name order
		gaps     []string // each gap reason contains one of these, in order
		warnings int
		minPages map[string]int
	}{
		{
			name:  "lambda function from its ARN and the scope's log group",
			scope: incident.Scope{Functions: []string{"arn:aws:lambda:us-east-1:123456789012:function:fn"}, LogGroups: []string{"/aws/lambda/fn"}},
			seed:  []seeded{fn, other}, collect: []seeded{fn},
		},
		{
			name:  "several pages",
			scope: incident.Scope{Functions: []string{"busy"}}, pageSize: 4,
			seed: []seeded{many, fn}, collect: []seeded{many},
			minPages: map[string]int{"/aws/lambda/busy": 7}, // 25 events, 4 a page
		},
		{
			name:  "missing group",
			scope: incident.Scope{Functions: []string{"gone"}},
			seed:  []seeded{fn},
			gaps:  []string{"log group /aws/lambda/gone does not exist (Lambda function gone)"},
		},
		{
			name:  "one group found, one missing",
			scope: incident.Scope{Functions: []string{"fn", "gone"}},
			seed:  []seeded{fn}, collect: []seeded{fn},
			gaps: []string{"log group /aws/lambda/gone does not exist"},
		},
		{
			name:  "no group at all for the scope",
			scope: incident.Scope{Functions: []string{"gone"}, Clusters: []string{"arn:aws:eks:us-east-1:123456789012:cluster/lost"}, DBInstances: []string{"db9"}},
			gaps:  []string{"no CloudWatch Logs group found for the scope; looked for: /aws/lambda/gone (Lambda function gone), /aws/eks/lost/cluster (EKS cluster lost), /aws/rds/instance/db9/* (RDS DB instance db9)"},
		},
		{
			name:  "instance with a configured prefix matching two groups",
			scope: incident.Scope{Instances: []string{"i-0123456789abcdef0"}}, groups: []string{"/custody/ec2/*"},
			seed: []seeded{syslog, secure, notMatched}, collect: []seeded{secure, syslog},
		},
		{
			name:  "instance without configured groups",
			scope: incident.Scope{Instances: []string{"i-0123456789abcdef0"}},
			seed:  []seeded{syslog},
			gaps:  []string{"instances i-0123456789abcdef0 are in scope but no instance log group is configured"},
		},
		{
			name:  "RDS instance groups by prefix",
			scope: incident.Scope{DBInstances: []string{"db1"}},
			seed:  []seeded{rdsErr, rdsGen, rdsOther}, collect: []seeded{rdsErr, rdsGen},
		},
		{
			name:  "EKS cluster from its ARN; an ECS cluster is not looked for",
			scope: incident.Scope{Clusters: []string{"arn:aws:eks:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:123456789012:cluster/web"}},
			seed:  []seeded{eks}, collect: []seeded{eks},
		},
		{
			name:     "nothing in scope with logs",
			scope:    incident.Scope{AccessKeys: []string{"AKIAIOSFODNN7EXAMPLE"}},
			warnings: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			for _, s := range c.seed {
				s.seed(t, e)
			}
			logs := &countingLogs{next: e.logs}
			h := newHandler(t, e, &LogsCollector{Events: logs, Groups: logs, InstanceGroups: c.groups, PageSize: c.pageSize})
			inc := newIncident(c.scope, w)
			res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			var wantRecords int64
			for _, s := range c.collect {
				msgs, _, _ := s.want()
				wantRecords += int64(len(msgs))
			}
			want := incident.Result{Collector: collectorName, Status: incident.StatusOK, ResultKey: runDir + "results/cloudwatch.json",
				Artifacts: len(c.collect), Records: wantRecords, Gaps: len(c.gaps)}
			if !reflect.DeepEqual(res, want) {
				t.Errorf("result %+v, want %+v", res, want)
			}

			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, e.s3, testBucket, res.ResultKey, &stored)
			if stored.Status != incident.StatusOK || stored.Collector != collectorName || stored.CollectorVersion != "test" {
				t.Errorf("stored result %+v", stored)
			}
			if len(stored.Gaps) != len(c.gaps) {
				t.Fatalf("gaps %+v, want %d", stored.Gaps, len(c.gaps))
			}
			for i, g := range stored.Gaps {
				if !strings.Contains(g.Reason, c.gaps[i]) || g.Fix == "" || g.Source != evidence.SourceCloudWatch {
					t.Errorf("gap %d: %+v, want a reason containing %q and a fix", i, g, c.gaps[i])
				}
			}
			if len(stored.Warnings) != c.warnings {
				t.Errorf("warnings %q, want %d", stored.Warnings, c.warnings)
			}
			if len(stored.Artifacts) != len(c.collect) {
				t.Fatalf("%d artifacts, want %d: %+v", len(stored.Artifacts), len(c.collect), stored.Artifacts)
			}
			start, end := w.Start.UnixMilli(), w.End.UnixMilli()
			for i, a := range stored.Artifacts {
				s := c.collect[i]
				wantKey := runDir + "cloudwatch/" + strings.ReplaceAll(strings.TrimPrefix(s.group, "/"), "/", "_") + ".jsonl.gz"
				if a.Key != wantKey {
					t.Errorf("artifact %d key %s, want %s", i, a.Key, wantKey)
				}
				body, version := s3test.Object(t, e.s3, testBucket, a.Key)
				if a.SHA256 != sha256Hex(body) || a.Size != int64(len(body)) || a.VersionID != version {
					t.Errorf("%s: manifest sha256 %s size %d version %s; stored %s %d %s", a.Key, a.SHA256, a.Size, a.VersionID, sha256Hex(body), len(body), version)
				}
				wantReq := map[string]any{"logGroupName": s.group, "startTime": float64(start), "endTime": float64(end)}
				if c.pageSize > 0 {
					wantReq["limit"] = float64(c.pageSize)
				}
				if a.Source != evidence.SourceCloudWatch || a.Collector != collectorName || a.API != "logs:FilterLogEvents" ||
					a.ContentType != evidence.ContentTypeGzip || a.Origin == nil || a.Origin.LogGroup != s.group || !reflect.DeepEqual(a.Request, wantReq) {
					t.Errorf("%s: entry %+v origin %+v request %v", a.Key, a, a.Origin, a.Request)
				}

				recs := s3test.JSONLines[record](t, body)
				wantMsgs, first, last := s.want()
				var got []string
				for _, r := range recs {
					got = append(got, r.Message)
					if r.Timestamp == nil || *r.Timestamp < start || *r.Timestamp > end {
						t.Errorf("%s: record outside the window: %+v", a.Key, r)
					}
					if r.IngestionTime == nil || r.EventID == "" || r.LogStream == "" {
						t.Errorf("%s: record without ingestion time, event ID or stream: %+v", a.Key, r)
					}
				}
				sort.Strings(got)
				if !reflect.DeepEqual(got, wantMsgs) {
					t.Errorf("%s: messages\n%q\nwant\n%q", a.Key, got, wantMsgs)
				}
				if a.Records != int64(len(recs)) || a.Records != int64(len(wantMsgs)) {
					t.Errorf("%s: %d records in the manifest, %d lines, want %d", a.Key, a.Records, len(recs), len(wantMsgs))
				}
				if a.FirstEvent == nil || a.LastEvent == nil || !a.FirstEvent.Equal(first) || !a.LastEvent.Equal(last) {
					t.Errorf("%s: first %v last %v, want %v %v", a.Key, a.FirstEvent, a.LastEvent, first, last)
				}
				for _, o := range s.outside {
					for _, m := range got {
						if m == o.msg {
							t.Errorf("%s: out-of-window event %q collected", a.Key, o.msg)
						}
					}
				}
			}
			for g, n := range c.minPages {
				if logs.filters[g] < n {
					t.Errorf("%d FilterLogEvents calls for %s, want at least %d", logs.filters[g], g, n)
				}
			}
		})
	}
}

// TestCorpusStreams checks that the real samples' streams and messages
// arrive in the extract as they were seeded.
func TestCorpusStreams(t *testing.T) {
	w := window()
	e := newEnv(t)
	cli, sub := cliEvents(t, w.Start.Add(time.Minute)), subscriptionEvents(t, w.Start.Add(2*time.Minute))
	seeded{group: "/aws/lambda/fn", corpus: []corpusStream{cli, sub}}.seed(t, e)
	h := newHandler(t, e, &LogsCollector{Events: e.logs, Groups: e.logs})
	inc := newIncident(incident.Scope{Functions: []string{"fn"}}, w)
	if _, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]}); err != nil {
		t.Fatal(err)
	}
	body := s3test.Body(t, e.s3, testBucket, runDir+"cloudwatch/aws_lambda_fn.jsonl.gz")
	var got []string
	for _, r := range s3test.JSONLines[record](t, body) {
		got = append(got, fmt.Sprintf("%s %d %s", r.LogStream, *r.Timestamp-w.Start.UnixMilli(), r.Message))
	}
	sort.Strings(got)
	want := []string{
		"aws-cli-get-log-events-example 60000 Example Event 1",
		"aws-cli-get-log-events-example 60000 Example Event 1",
		"aws-cli-get-log-events-example 60002 Example Event 2",
		"testLogStream 120000 [ERROR] First test message",
		"testLogStream 120001 [ERROR] Second test message",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records\n%q\nwant\n%q", got, want)
	}
}

// TestDefaultPageSize puts more events than one page of the service's
// default size (10,000 in the emulator as in AWS) and checks every one is
// collected across pages.
func TestDefaultPageSize(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,050 events")
	}
	w := window()
	e := newEnv(t)
	const n = 10050
	s := seeded{group: "/aws/lambda/bulk", inside: inWindow(w, "bulk", n)}
	s.seed(t, e)
	logs := &countingLogs{next: e.logs}
	h := newHandler(t, e, &LogsCollector{Events: logs, Groups: logs})
	inc := newIncident(incident.Scope{Functions: []string{"bulk"}}, w)
	res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != n || res.Artifacts != 1 {
		t.Errorf("result %+v, want %d records in 1 artifact", res, n)
	}
	body := s3test.Body(t, e.s3, testBucket, runDir+"cloudwatch/aws_lambda_bulk.jsonl.gz")
	seen := map[string]bool{}
	for _, r := range s3test.JSONLines[record](t, body) {
		seen[r.EventID] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct events in the extract, want %d", len(seen), n)
	}
	if logs.filters["/aws/lambda/bulk"] < 2 {
		t.Errorf("%d FilterLogEvents calls, want 2 pages or more", logs.filters["/aws/lambda/bulk"])
	}
}

// TestRefusedCalls: a throttled call goes back to the state machine as
// ThrottledError, with no result stored, so it retries the collector; a
// denied or missing group is a gap, and the run is ok.
func TestRefusedCalls(t *testing.T) {
	w := window()
	cases := []struct {
		name      string
		err       error
		wantErr   string // faults type name; "" = ok
		gapPrefix string
	}{
		{name: "throttled", err: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, wantErr: faults.NameThrottled},
		{name: "server error", err: &smithy.GenericAPIError{Code: "ServiceUnavailableException", Message: "try later", Fault: smithy.FaultServer}, wantErr: faults.NameTransient},
		{name: "access denied", err: &logtypes.AccessDeniedException{Message: aws.String("not authorized to perform logs:FilterLogEvents")}, gapPrefix: "log group /aws/lambda/fn: access denied"},
		{name: "access denied (generic code)", err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, gapPrefix: "log group /aws/lambda/fn: access denied"},
		{name: "not found", err: &logtypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}, gapPrefix: "log group /aws/lambda/fn does not exist"},
		{name: "invalid parameter", err: &logtypes.InvalidParameterException{Message: aws.String("bad")}, wantErr: faults.NameCollector},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			logs := &countingLogs{next: e.logs, err: c.err}
			h := newHandler(t, e, &LogsCollector{Events: logs, Groups: logs})
			inc := newIncident(incident.Scope{Functions: []string{"fn"}}, w)
			res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if c.wantErr != "" {
				if err == nil || fmt.Sprintf("%T", err) != "*faults."+c.wantErr {
					t.Fatalf("Handle: %T %v, want *faults.%s", err, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Status != incident.StatusOK || res.Gaps != 1 || res.Artifacts != 0 {
				t.Errorf("result %+v", res)
			}
			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, e.s3, testBucket, res.ResultKey, &stored)
			if len(stored.Gaps) != 1 || !strings.HasPrefix(stored.Gaps[0].Reason, c.gapPrefix) || stored.Gaps[0].Fix == "" {
				t.Errorf("gaps %+v, want one starting %q", stored.Gaps, c.gapPrefix)
			}
		})
	}
}

// TestThrottledNotRecorded: after a throttled attempt the retry runs again
// from scratch (no stored result answers it).
func TestThrottledNotRecorded(t *testing.T) {
	w := window()
	e := newEnv(t)
	seeded{group: "/aws/lambda/fn", inside: inWindow(w, "fn", 3)}.seed(t, e)
	logs := &countingLogs{next: e.logs, err: &smithy.GenericAPIError{Code: "ThrottlingException"}}
	h := newHandler(t, e, &LogsCollector{Events: logs, Groups: logs})
	h.Driver.Results, h.Driver.Bucket = e.s3, testBucket
	inc := newIncident(incident.Scope{Functions: []string{"fn"}}, w)
	in := collect.Input{Incident: *inc, Item: inc.Plan[0]}
	var thr *faults.ThrottledError
	if _, err := h.Handle(context.Background(), in); !errors.As(err, &thr) {
		t.Fatalf("first attempt: %v, want ThrottledError", err)
	}
	logs.err = nil
	res, err := h.Handle(context.Background(), in)
	if err != nil || res.Records != 3 || res.Artifacts != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

func TestParseInstanceGroups(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: " /var/log/messages , /custody/ec2/* ,,/var/log/messages", want: []string{"/var/log/messages", "/custody/ec2/*"}},
		{in: "*", err: true},
		{in: "/a/*/b", err: true},
	}
	for _, c := range cases {
		got, err := ParseInstanceGroups(c.in)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseInstanceGroups(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestArtifactName(t *testing.T) {
	used := map[string]string{}
	a := artifactName("/aws/lambda/a_b", used)
	b := artifactName("/aws/lambda/a/b", used)
	again := artifactName("/aws/lambda/a_b", used)
	if a != "aws_lambda_a_b.jsonl.gz" || b == a || !strings.HasPrefix(b, "aws_lambda_a_b-") || again != a {
		t.Errorf("names %q %q %q", a, b, again)
	}
	long := artifactName("/"+strings.Repeat("x", 600), used)
	if len(long) > 255 {
		t.Errorf("name of %d bytes", len(long))
	}
}
