package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
)

// countingLimiter stands in for the 2/s limiter: it counts Wait calls and
// never sleeps.
type countingLimiter struct {
	mu    sync.Mutex
	waits int
}

func (l *countingLimiter) Wait(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits++
	return nil
}

func (l *countingLimiter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waits
}

// fakeLookup serves LookupEvents, which moto does not implement, from real
// CloudTrail records: the aws-cli documentation example response as it is,
// and the Stratus ec2-steal-instance-credentials records wrapped as
// LookupEvents events (DERIVED: EventId, EventName, EventTime, Username,
// AccessKeyId, Resources and CloudTrailEvent filled from each record as
// CloudTrail's event history does). It filters by the one lookup
// attribute and the time range, newest first, pageSize events a page with
// NextToken, and checks each call was paced.
type fakeLookup struct {
	t        *testing.T
	pageSize int
	events   []cttypes.Event
	limiter  *countingLimiter

	mu    sync.Mutex
	calls []*cloudtrail.LookupEventsInput
}

func newFakeLookup(t *testing.T, pageSize int) *fakeLookup {
	t.Helper()
	f := &fakeLookup{t: t, pageSize: pageSize}
	var cli cloudtrail.LookupEventsOutput
	if err := json.Unmarshal(readTestdata(t, "aws-cli-examples/cloudtrail_lookup-events_output.json"), &cli); err != nil {
		t.Fatal(err)
	}
	f.events = append(f.events, cli.Events...)
	for _, raw := range stratus(t, "aws.credential-access.ec2-steal-instance-credentials") {
		e, err := ctlog.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		user := e.UserIdentity.UserName
		if user == "" {
			user = ctlog.SessionName(e.UserIdentity.ARN)
		}
		ev := cttypes.Event{
			EventId: aws.String(e.EventID), EventName: aws.String(e.EventName), EventSource: aws.String(e.EventSource),
			EventTime: aws.Time(e.Time), Username: aws.String(user), AccessKeyId: aws.String(e.UserIdentity.AccessKeyID),
			CloudTrailEvent: aws.String(string(e.Raw)),
		}
		if i := bytes.Index(e.RequestParameters, []byte(`"i-`)); i >= 0 {
			id := e.RequestParameters[i+1:]
			id = id[:bytes.IndexByte(id, '"')]
			ev.Resources = []cttypes.Resource{{ResourceType: aws.String("AWS::EC2::Instance"), ResourceName: aws.String(string(id))}}
		}
		f.events = append(f.events, ev)
	}
	sort.SliceStable(f.events, func(i, j int) bool { return f.events[i].EventTime.After(*f.events[j].EventTime) })
	return f
}

func (f *fakeLookup) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	n := len(f.calls)
	f.mu.Unlock()
	if f.limiter != nil && f.limiter.count() < n {
		f.t.Errorf("call %d made after only %d limiter waits", n, f.limiter.count())
	}
	if len(in.LookupAttributes) != 1 {
		return nil, fmt.Errorf("LookupEvents takes one lookup attribute, got %d", len(in.LookupAttributes))
	}
	a := in.LookupAttributes[0]
	val := aws.ToString(a.AttributeValue)
	var hits []cttypes.Event
	for _, ev := range f.events {
		if in.StartTime != nil && ev.EventTime.Before(*in.StartTime) || in.EndTime != nil && ev.EventTime.After(*in.EndTime) {
			continue
		}
		ok := false
		switch a.AttributeKey {
		case cttypes.LookupAttributeKeyAccessKeyId:
			ok = aws.ToString(ev.AccessKeyId) == val
		case cttypes.LookupAttributeKeyUsername:
			ok = aws.ToString(ev.Username) == val
		case cttypes.LookupAttributeKeyResourceName:
			for _, r := range ev.Resources {
				ok = ok || aws.ToString(r.ResourceName) == val
			}
		default:
			return nil, fmt.Errorf("attribute %s not served", a.AttributeKey)
		}
		if ok {
			hits = append(hits, ev)
		}
	}
	start := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		s, ok := strings.CutPrefix(tok, string(a.AttributeKey)+"/"+val+"/")
		if !ok {
			return nil, fmt.Errorf("token %q is not this lookup's", tok)
		}
		start, _ = strconv.Atoi(s)
	}
	size := f.pageSize
	if m := int(aws.ToInt32(in.MaxResults)); m > 0 && m < size {
		size = m
	}
	end := min(start+size, len(hits))
	out := &cloudtrail.LookupEventsOutput{Events: hits[start:end]}
	if end < len(hits) {
		out.NextToken = aws.String(fmt.Sprintf("%s/%s/%d", a.AttributeKey, val, end))
	}
	return out, nil
}

func TestLookupAttributes(t *testing.T) {
	got := LookupAttributes(incident.Scope{
		AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC", "AKIAAM80VXLJF8NPK4VC"},
		UserNames:  []string{"christophe"},
		Principals: []string{christopheA, "arn:aws:sts::017622104382:assumed-role/r/i-786a3A8B5C0d92eF4", "arn:aws:iam::017622104382:role/r"},
		Instances:  []string{"i-786a3A8B5C0d92eF4"}, Buckets: []string{"b"},
	})
	b, _ := json.Marshal(got)
	want := `[{"AttributeKey":"AccessKeyId","AttributeValue":"AKIAAM80VXLJF8NPK4VC"},{"AttributeKey":"Username","AttributeValue":"christophe"},` +
		`{"AttributeKey":"Username","AttributeValue":"i-786a3A8B5C0d92eF4"},{"AttributeKey":"ResourceName","AttributeValue":"i-786a3A8B5C0d92eF4"},` +
		`{"AttributeKey":"ResourceName","AttributeValue":"b"}]`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestLookupFallback(t *testing.T) {
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	for _, tc := range []struct {
		name      string
		scope     incident.Scope
		window    incident.Window
		wantCalls int
		want      []string
	}{
		// The key and the instance overlap: christophe's 43 records (the
		// key) and the 43 naming the instance in their parameters are the
		// same ones: 5 pages of 10 for each lookup, 43 events once.
		// The window holds all of them; the instance role's session
		// (another principal) named no instance in its parameters.
		{"access key and instance, merged", incident.Scope{AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}, Instances: []string{"i-786a3A8B5C0d92eF4"}},
			incident.Window{Start: time.Date(2024, 8, 2, 8, 0, 0, 0, time.UTC), End: time.Date(2024, 8, 2, 9, 0, 0, 0, time.UTC)},
			10, rawIDs(t, steal, arnIs(christopheA))},
		// The instance's session name as user name: the two records of
		// the stolen credentials, one page.
		{"session user name", incident.Scope{UserNames: []string{"i-786a3A8B5C0d92eF4"}},
			incident.Window{Start: time.Date(2024, 8, 2, 8, 0, 0, 0, time.UTC), End: time.Date(2024, 8, 2, 9, 0, 0, 0, time.UTC)},
			1, rawIDs(t, steal, func(m map[string]any) bool {
				return strings.Contains(m["userIdentity"].(map[string]any)["arn"].(string), "assumed-role")
			})},
		// The aws-cli example: LookupEvents answers by its EventTime
		// (2021-11-18T09:41:02-08:00), though the record inside says
		// 2016: the call's window is on the API's clock.
		{"aws-cli example", incident.Scope{UserNames: []string{"my-session-name"}},
			incident.Window{Start: time.Date(2021, 11, 18, 17, 0, 0, 0, time.UTC), End: time.Date(2021, 11, 18, 18, 0, 0, 0, time.UTC)},
			1, []string{"654ccbc0-ba0d-486a-9076-dbf7274677a7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, false)
			lim := &countingLimiter{}
			fake := newFakeLookup(t, 10)
			fake.limiter = lim
			c := e.collector()
			c.Lookup, c.Limiter = fake, lim
			c.Now = func() time.Time { return tc.window.End.Add(time.Hour) }
			inc := testIncident(tc.scope)
			inc.Window = tc.window
			r := e.run(t, c, inc)
			if r.Status != incident.StatusOK || len(r.Gaps) != 0 {
				t.Fatalf("status %s gaps %+v: %s", r.Status, r.Gaps, r.Error)
			}
			if len(fake.calls) != tc.wantCalls || lim.count() != tc.wantCalls {
				t.Errorf("%d calls, %d waits, want %d each", len(fake.calls), lim.count(), tc.wantCalls)
			}
			for _, in := range fake.calls {
				if !in.StartTime.Equal(tc.window.Start) || !in.EndTime.Equal(tc.window.End) || len(in.LookupAttributes) != 1 {
					t.Errorf("call %+v", in)
				}
			}
			a, ok := byKey(r)[artifactKey(inc, "lookup-events.jsonl.gz")]
			if !ok {
				t.Fatalf("no lookup-events artifact: %v", keys(byKey(r)))
			}
			recs := e.extract(t, a.Key)
			if got := ids(t, recs); strings.Join(got, ",") != strings.Join(tc.want, ",") || a.Records != int64(len(tc.want)) {
				t.Errorf("events %d (manifest %d), want %d", len(got), a.Records, len(tc.want))
			}
			if a.API != "cloudtrail:LookupEvents" || a.Source != evidence.SourceCloudTrail || a.Request["pages"] != float64(tc.wantCalls) ||
				a.Request["StartTime"] != tc.window.Start.Format(time.RFC3339) {
				t.Errorf("artifact meta %+v", a)
			}
			attrs, _ := a.Request["LookupAttributes"].([]any)
			if len(attrs) != len(LookupAttributes(tc.scope)) {
				t.Errorf("request attributes %v", attrs)
			}
			// Each record is the CloudTrailEvent, parsed.
			for _, rec := range recs {
				if rec["eventID"] == nil || rec["eventTime"] == nil || rec["userIdentity"] == nil {
					t.Fatalf("record %v", rec)
				}
			}
		})
	}
}

// TestLookupPagination checks the paginator follows NextToken to the last
// page and that dedupe holds across attributes with small pages.
func TestLookupPagination(t *testing.T) {
	e := setup(t, false)
	lim := &countingLimiter{}
	fake := newFakeLookup(t, 3) // 43 records: 15 pages
	fake.limiter = lim
	c := e.collector()
	c.Lookup, c.Limiter = fake, lim
	inc := testIncident(incident.Scope{AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}, UserNames: []string{"christophe"}})
	inc.Window = incident.Window{Start: time.Date(2024, 8, 2, 8, 0, 0, 0, time.UTC), End: time.Date(2024, 8, 2, 9, 0, 0, 0, time.UTC)}
	r := e.run(t, c, inc)
	a := byKey(r)[artifactKey(inc, "lookup-events.jsonl.gz")]
	if len(fake.calls) != 30 || lim.count() != 30 || a.Records != 43 || a.Request["duplicates"] != float64(43) {
		t.Fatalf("calls %d waits %d records %d request %v", len(fake.calls), lim.count(), a.Records, a.Request)
	}
	tokens := 0
	for _, in := range fake.calls {
		if in.NextToken != nil {
			tokens++
		}
	}
	if tokens != 28 {
		t.Errorf("%d calls with NextToken, want 28 (14 per attribute)", tokens)
	}
}

// TestLookupEventsOnTheEmulator: moto does not implement LookupEvents (it
// answers an HTML 500). With the emulator's answers marked, as every
// handler of the local run has them (CUSTODY_EMULATOR=1), that is one gap
// and the collector is ok, after one request (not retried), so the
// README's manual examples end complete locally.
func TestLookupEventsOnTheEmulator(t *testing.T) {
	e := setup(t, false)
	c := e.collector()
	limiter := &countingLimiter{}
	c.Lookup, c.Limiter = e.trails, limiter
	inc := testIncident(incident.Scope{AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}, UserNames: []string{"christophe"}})
	r := e.run(t, c, inc)
	if r.Status != incident.StatusOK {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	if len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0].Reason, "the endpoint does not implement cloudtrail:LookupEvents (HTTP 500)") {
		t.Fatalf("gaps %+v, want one naming LookupEvents not implemented", r.Gaps)
	}
	if _, ok := byKey(r)[artifactKey(inc, "lookup-events.jsonl.gz")]; ok {
		t.Error("an empty lookup-events artifact was stored")
	}
	if n := limiter.count(); n != 1 {
		t.Errorf("%d paced calls, want 1: the first answer ends the lookup", n)
	}
}
