package main

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// TestCollectFanOut: past the budget the groups are read by shards, each
// into the extract it would have had in one invocation; a group that does
// not exist is still a gap.
func TestCollectFanOut(t *testing.T) {
	w := window()
	groups := []seeded{
		{group: "/aws/rds/instance/db1/error", inside: inWindow(w, "db1 error", 3), stream: "db1"},
		{group: "/aws/rds/instance/db1/general", inside: inWindow(w, "db1 general", 2), stream: "db1"},
		{group: "/aws/rds/instance/db1/slowquery", inside: inWindow(w, "db1 slow", 4), outside: []event{{w.End.Add(30 * time.Second), "after"}}, stream: "db1"},
		{group: "/aws/lambda/fn", inside: inWindow(w, "fn", 2)},
	}
	scope := incident.Scope{DBInstances: []string{"db1"}, Functions: []string{"fn", "gone"}}
	for _, tc := range []struct {
		name   string
		budget collect.Budget
		shards int
	}{
		{"a group a shard (gone too: it is looked for)", collect.Budget{Objects: 1}, 5},
		{"three groups a shard", collect.Budget{Objects: 3}, 2},
		{"within the budget", collect.DefaultBudget, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for _, g := range groups {
				g.seed(t, e)
			}
			ctx := context.Background()
			d := &collect.Driver{Writer: newWriter(t, e.s3), Version: "test", Now: func() time.Time { return fixedNow },
				Results: e.s3, Bucket: testBucket, Budget: tc.budget}
			c := &LogsCollector{Events: e.logs, Groups: e.logs}
			in := collect.Input{Incident: *newIncident(scope, w), Item: incident.PlanItem{Collector: collectorName}}
			o, err := d.RunAll(ctx, c, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.First.Shards) != tc.shards || len(o.Shards) != tc.shards {
				t.Fatalf("first answer %+v, want %d shards", o.First, tc.shards)
			}
			for _, r := range o.Shards {
				if r.Status != incident.StatusOK {
					t.Fatalf("shard %+v", r)
				}
			}
			var r evidence.CollectorResult
			s3test.ObjectJSON(t, e.s3, testBucket, runDir+"results/"+collectorName+".json", &r)
			if r.Status != incident.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			var got, want []string
			for _, g := range groups {
				want = append(want, runDir+"cloudwatch/"+artifactName(g.group, map[string]string{}))
			}
			sort.Strings(want)
			for _, a := range r.Artifacts {
				got = append(got, a.Key)
				b := s3test.Body(t, e.s3, testBucket, a.Key)
				for _, g := range groups {
					if a.Key == runDir+"cloudwatch/"+artifactName(g.group, map[string]string{}) {
						if n := len(s3test.JSONLines[record](t, b)); n != len(g.inside) || a.Records != int64(n) {
							t.Errorf("%s: %d records (manifest %d), want %d", g.group, n, a.Records, len(g.inside))
						}
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("artifacts %q, want %q", got, want)
			}
			if len(r.Gaps) != 1 || !hasGap(r, "/aws/lambda/gone") {
				t.Errorf("gaps %+v, want the missing function's group", r.Gaps)
			}
		})
	}
}

func hasGap(r evidence.CollectorResult, s string) bool {
	for _, g := range r.Gaps {
		if strings.Contains(g.Reason, s) {
			return true
		}
	}
	return false
}

// TestCollectSlicesLargeGroup: a group whose share of the window is past
// the byte budget is read in time slices, one artifact each, by shards;
// every event in the window is in exactly one slice, including events on
// the slices' bounds.
func TestCollectSlicesLargeGroup(t *testing.T) {
	w := window()
	inside := inWindow(w, strings.Repeat("x", 40), 40)
	edgeIn, edgeOut := edges(w, "big")
	big := seeded{group: "/aws/lambda/big", inside: append(inside, edgeIn...), outside: edgeOut}
	small := seeded{group: "/aws/lambda/small", inside: inWindow(w, "s", 1)}
	e := newEnv(t)
	big.seed(t, e)
	small.seed(t, e)
	// moto counts a group's stored bytes as its messages' lengths and
	// creates it now: its whole size is the window's share (~2 KB).
	budget := collect.Budget{Bytes: 600}
	d := &collect.Driver{Writer: newWriter(t, e.s3), Version: "test", Now: func() time.Time { return fixedNow },
		Results: e.s3, Bucket: testBucket, Budget: budget}
	c := &LogsCollector{Events: e.logs, Groups: e.logs}
	in := collect.Input{Incident: *newIncident(incident.Scope{Functions: []string{"big", "small"}}, w), Item: incident.PlanItem{Collector: collectorName}}
	o, err := d.RunAll(context.Background(), c, in)
	if err != nil {
		t.Fatal(err)
	}
	var r evidence.CollectorResult
	s3test.ObjectJSON(t, e.s3, testBucket, runDir+"results/"+collectorName+".json", &r)
	if r.Status != incident.StatusOK || len(r.Gaps) != 0 {
		t.Fatalf("status %s gaps %+v: %s", r.Status, r.Gaps, r.Error)
	}
	var slices []string
	var msgs []string
	for _, a := range r.Artifacts {
		name := strings.TrimPrefix(a.Key, runDir+"cloudwatch/")
		if !strings.HasPrefix(name, "aws_lambda_big.") {
			continue
		}
		slices = append(slices, name)
		recs := s3test.JSONLines[record](t, s3test.Body(t, e.s3, testBucket, a.Key))
		if int64(len(recs)) != a.Records {
			t.Errorf("%s: %d records, manifest %d", name, len(recs), a.Records)
		}
		start, _ := a.Request["startTime"].(float64)
		end, _ := a.Request["endTime"].(float64)
		for _, rec := range recs {
			if ts := float64(*rec.Timestamp); ts < start || ts > end {
				t.Errorf("%s: event at %v outside its slice [%v, %v]", name, ts, start, end)
			}
			msgs = append(msgs, rec.Message)
		}
	}
	if len(slices) < 3 || len(o.Shards) < len(slices) {
		t.Fatalf("slices %q over %d shards, want the big group cut in 3 or more", slices, len(o.Shards))
	}
	want, _, _ := big.want()
	sort.Strings(msgs)
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("the slices hold %d events, want the %d in the window once each", len(msgs), len(want))
	}
}

// TestShare: a group's estimated bytes in the window are its stored bytes
// times the window over the time it has held events (at most its
// retention).
func TestShare(t *testing.T) {
	now := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	w := incident.Window{Start: now.Add(-7 * time.Hour), End: now.Add(-time.Hour)} // 6 h
	day := 24 * time.Hour
	cases := []struct {
		name string
		g    logGroup
		want int64
	}{
		{"unknown size", logGroup{}, 0},
		{"no creation time: all of it", logGroup{storedBytes: 1000}, 1000},
		{"younger than the window: all of it", logGroup{storedBytes: 1000, created: now.Add(-time.Hour)}, 1000},
		{"four days old", logGroup{storedBytes: 16 << 30, created: now.Add(-4 * day)}, 1 << 30},
		{"retention bounds what it holds", logGroup{storedBytes: 4 << 30, created: now.Add(-400 * day), retentionDays: 1}, 1 << 30},
	}
	for _, tc := range cases {
		if got := tc.g.share(w, now); got != tc.want {
			t.Errorf("%s: share %d, want %d", tc.name, got, tc.want)
		}
	}
}
