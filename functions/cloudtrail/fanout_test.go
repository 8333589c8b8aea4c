package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// TestCollectFanOut: past its budget the collector copies the digests,
// hands the log files to shards and the merged result holds what one
// invocation would have written: every copy byte for byte, and the
// records in scope exactly once across the shards' extracts.
func TestCollectFanOut(t *testing.T) {
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	want := rawIDs(t, steal, and(arnIs(christopheA), timeIn))
	for _, tc := range []struct {
		name   string
		budget collect.Budget
		shards int
	}{
		// seedTrail copies five log files.
		{"a file a shard by count", collect.Budget{Objects: 1}, 5},
		{"two files a shard", collect.Budget{Objects: 2}, 3},
		{"a file a shard by size", collect.Budget{Bytes: 1}, 5},
		{"within the budget", collect.DefaultBudget, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, true)
			wantLogs, wantDigests := seedTrail(t, e)
			inc := testIncident(incident.Scope{Principals: []string{christopheA}})
			ctx := context.Background()
			d := &collect.Driver{Writer: evidence.NewWriter(e.s3, evidenceBucket), Version: "test",
				Results: e.s3, Bucket: evidenceBucket, Budget: tc.budget}
			c := e.collector()
			c.Lookup = failingLookup{t}
			in := collect.Input{Incident: inc, Item: incident.PlanItem{Collector: CollectorName}}
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
			key, _ := evidence.ResultKey(inc.CaseID, inc.RunID, CollectorName)
			r := e.result(t, key)
			if r.Status != incident.StatusOK || len(r.Gaps) != 0 || len(r.Warnings) != 0 {
				t.Fatalf("status %s, gaps %+v, warnings %q, error %s", r.Status, r.Gaps, r.Warnings, r.Error)
			}
			arts := byKey(r)
			wantKeys := []string{artifactKey(inc, "trails.json")}
			for _, k := range wantLogs {
				wantKeys = append(wantKeys, artifactKey(inc, "logs/"+k))
			}
			for _, k := range wantDigests {
				wantKeys = append(wantKeys, artifactKey(inc, "digest/"+k))
			}
			var extracts []string
			if tc.shards == 0 {
				extracts = []string{artifactKey(inc, ExtractName)}
			}
			for i := 1; i <= tc.shards; i++ {
				extracts = append(extracts, artifactKey(inc, fmt.Sprintf("extract-shard%04d.jsonl.gz", i)))
			}
			wantKeys = append(wantKeys, extracts...)
			sort.Strings(wantKeys)
			if got := keys(arts); strings.Join(got, "\n") != strings.Join(wantKeys, "\n") {
				t.Fatalf("artifacts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantKeys, "\n"))
			}
			for _, src := range wantLogs {
				a := arts[artifactKey(inc, "logs/"+src)]
				if stored := s3test.Body(t, e.s3, evidenceBucket, a.Key); a.SHA256 != sha(e.seeded[src]) || sha(stored) != a.SHA256 {
					t.Errorf("%s: sha256 %s, stored %s, original %s", a.Key, a.SHA256, sha(stored), sha(e.seeded[src]))
				}
			}
			var recs []map[string]any
			var counted int64
			for _, k := range extracts {
				recs = append(recs, e.extract(t, k)...)
				counted += arts[k].Records
			}
			if got := ids(t, recs); strings.Join(got, ",") != strings.Join(want, ",") || counted != int64(len(want)) {
				t.Errorf("extracts hold %d records (manifest %d), want the %d in scope, once each", len(got), counted, len(want))
			}
		})
	}
}
