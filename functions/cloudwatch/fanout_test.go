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
