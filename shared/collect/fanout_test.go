package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// shardingCollector lists items (its first invocation writes listing.json)
// and writes one part per item; it fans out when its budget is smaller
// than the items, one piece per Split. fail names items whose part fails.
type shardingCollector struct {
	items []string
	fail  map[string]error
	runs  map[string]int // invocations: "collect", "shard N"
}

func (s *shardingCollector) Name() string   { return "fake" }
func (s *shardingCollector) Source() string { return evidence.SourceCloudTrail }

func (s *shardingCollector) Collect(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
	s.runs["collect"]++
	if _, err := out.PutJSON(ctx, "listing.json", s.items, out.Meta("test:List", nil, nil)); err != nil {
		return err
	}
	out.Warn("listed %d items", len(s.items))
	if b := out.Budget(); b != (collect.Budget{}) {
		pieces := collect.Split(s.items, func(string) int64 { return 10 }, b)
		if len(pieces) > 1 {
			var specs []any
			for _, p := range pieces {
				specs = append(specs, p)
			}
			return out.FanOut(specs...)
		}
	}
	return s.write(ctx, out, s.items)
}

func (s *shardingCollector) CollectShard(ctx context.Context, _ *incident.Incident, shard json.RawMessage, out *collect.Output) error {
	s.runs[fmt.Sprintf("shard %d", out.Shard().Index)]++
	var items []string
	if err := json.Unmarshal(shard, &items); err != nil {
		return err
	}
	return s.write(ctx, out, items)
}

// write stores the items as one part (named for the shard) with a record
// each, and gaps for items that fail.
func (s *shardingCollector) write(ctx context.Context, out *collect.Output, items []string) error {
	for _, it := range items {
		if err := s.fail[it]; err != nil {
			return err
		}
	}
	meta := out.Meta("test:Get", map[string]any{"items": items}, nil)
	meta.Records = int64(len(items))
	_, err := out.Put(ctx, out.PartName("parts/extract.jsonl"), strings.NewReader(strings.Join(items, "\n")+"\n"), meta)
	return err
}

const runPrefix = "cases/gd-test/runs/r20240506T070809000Z/"

// TestFanOut runs a ShardCollector through the driver the way the state
// machine does (first invocation, each shard, merge), invoking each step
// twice as a lost response would, against the locked bucket.
func TestFanOut(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	cases := []struct {
		name   string
		budget collect.Budget
		fail   map[string]error
		caught map[int]*incident.ResultError // shard index -> the Map's caught error
		lost   map[int]bool                  // shards that never ran (timed out)
		// want
		shards    int
		artifacts []string // under the run folder
		records   int64
		errHas    []string // in the merged result's error: failed
	}{
		{name: "within budget: no fan-out", budget: collect.Budget{Bytes: 100},
			artifacts: []string{"cloudtrail/listing.json", "cloudtrail/parts/extract.jsonl"}, records: 5},
		{name: "no budget: no fan-out", budget: collect.Budget{},
			artifacts: []string{"cloudtrail/listing.json", "cloudtrail/parts/extract.jsonl"}, records: 5},
		{name: "two items a shard", budget: collect.Budget{Bytes: 20}, shards: 3,
			artifacts: []string{"cloudtrail/listing.json", "cloudtrail/parts/extract-shard0001.jsonl",
				"cloudtrail/parts/extract-shard0002.jsonl", "cloudtrail/parts/extract-shard0003.jsonl"}, records: 5},
		{name: "by object count", budget: collect.Budget{Objects: 4}, shards: 2,
			artifacts: []string{"cloudtrail/listing.json", "cloudtrail/parts/extract-shard0001.jsonl",
				"cloudtrail/parts/extract-shard0002.jsonl"}, records: 5},
		{name: "a shard fails", budget: collect.Budget{Bytes: 20}, shards: 3, fail: map[string]error{"c": errors.New("object c unreadable")},
			artifacts: []string{"cloudtrail/listing.json", "cloudtrail/parts/extract-shard0001.jsonl",
				"cloudtrail/parts/extract-shard0003.jsonl"}, records: 3,
			errHas: []string{"1 of 3 shards failed", "shard 2 of 3: object c unreadable"}},
		{name: "a shard times out", budget: collect.Budget{Bytes: 20}, shards: 3, lost: map[int]bool{3: true},
			caught: map[int]*incident.ResultError{3: {Error: "States.Timeout", Cause: "task timed out"}},
			artifacts: []string{"cloudtrail/listing.json", "cloudtrail/parts/extract-shard0001.jsonl",
				"cloudtrail/parts/extract-shard0002.jsonl"}, records: 4,
			errHas: []string{"shard 3 of 3: States.Timeout: task timed out"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := lockedBucket(t)
			d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())),
				Version: "v-test", Results: client, Bucket: testBucket, Budget: tc.budget}
			c := &shardingCollector{items: items, fail: tc.fail, runs: map[string]int{}}
			ctx := context.Background()
			in := testInput()

			first, err := d.Run(ctx, c, in)
			again, err2 := d.Run(ctx, c, in)
			if err != nil || err2 != nil {
				t.Fatalf("first invocation: %v, %v", err, err2)
			}
			if !reflect.DeepEqual(first, again) || c.runs["collect"] != 1 {
				t.Fatalf("a second first invocation answered %+v (first %+v) after %d runs", again, first, c.runs["collect"])
			}
			final := first
			if tc.shards > 0 {
				if first.Status != incident.StatusFannedOut || len(first.Shards) != tc.shards || first.Artifacts != 1 {
					t.Fatalf("first invocation %+v, want fanned out to %d shards with listing.json", first, tc.shards)
				}
				var outcomes []incident.Result
				for _, ref := range first.Shards {
					if ref.Of != tc.shards {
						t.Fatalf("shard ref %+v", ref)
					}
					if tc.lost[ref.Index] {
						outcomes = append(outcomes, incident.Result{Collector: "fake", Status: incident.StatusFailed, Shard: &ref, Error: tc.caught[ref.Index]})
						continue
					}
					shardIn := in
					shardIn.Shard = &ref
					r, err := d.Run(ctx, c, shardIn)
					r2, err2 := d.Run(ctx, c, shardIn)
					if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(r, r2) || c.runs[fmt.Sprintf("shard %d", ref.Index)] != 1 {
						t.Fatalf("shard %d answered twice differently (%+v %v; %+v %v) or ran %d times", ref.Index, r, err, r2, err2, c.runs[fmt.Sprintf("shard %d", ref.Index)])
					}
					if err != nil {
						var ce *faults.CollectorError
						if !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("shard %d of %d", ref.Index, ref.Of)) {
							t.Fatalf("shard %d error %v, want a CollectorError naming the shard", ref.Index, err)
						}
						outcomes = append(outcomes, incident.Result{Collector: "fake", Status: incident.StatusFailed, Shard: &ref,
							Error: &incident.ResultError{Error: "CollectorError", Cause: err.Error()}})
						continue
					}
					if r.Status != incident.StatusOK || r.Shard == nil || *r.Shard != ref || r.Artifacts != 1 {
						t.Fatalf("shard %d result %+v", ref.Index, r)
					}
					outcomes = append(outcomes, r)
				}
				mergeIn := in
				mergeIn.Merge = &collect.Merge{Shards: outcomes}
				final, err = d.Run(ctx, c, mergeIn)
				again, err2 = d.Run(ctx, c, mergeIn)
				if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(final, again) {
					t.Fatalf("merge answered twice differently: %+v %v; %+v %v", final, err, again, err2)
				}
				if (err != nil) != (tc.errHas != nil) {
					t.Fatalf("merge error %v, want one: %v", err, tc.errHas != nil)
				}
				// The first invocation now answers with the merged result.
				if r, _ := d.Run(ctx, c, in); r.Status == incident.StatusFannedOut {
					t.Errorf("after the merge the first invocation still answers %+v", r)
				}
			} else if first.Status != incident.StatusOK || first.Shards != nil {
				t.Fatalf("first invocation %+v, want ok without shards", first)
			}

			body, _ := s3test.Object(t, client, testBucket, resultKey)
			var r evidence.CollectorResult
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			var got []string
			var records int64
			for _, a := range r.Artifacts {
				got = append(got, strings.TrimPrefix(a.Key, runPrefix))
				records += a.Records
				b, _ := s3test.Object(t, client, testBucket, a.Key)
				if a.SHA256 != sha256Hex(b) {
					t.Errorf("artifact %s: sha256 %s, stored bytes %s", a.Key, a.SHA256, sha256Hex(b))
				}
			}
			if !reflect.DeepEqual(got, tc.artifacts) || records != tc.records {
				t.Errorf("merged artifacts %q (%d records), want %q (%d)", got, records, tc.artifacts, tc.records)
			}
			if !reflect.DeepEqual(r.Warnings, []string{"listed 5 items"}) {
				t.Errorf("warnings %q", r.Warnings)
			}
			wantStatus := incident.StatusOK
			if tc.errHas != nil {
				wantStatus = incident.StatusFailed
			}
			if r.Status != wantStatus {
				t.Errorf("merged status %q, want %q (error %q)", r.Status, wantStatus, r.Error)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(r.Error, s) {
					t.Errorf("merged error %q lacks %q", r.Error, s)
				}
			}
			if tc.shards > 0 {
				// The plan and shard results are under results/fake/, where
				// Seal does not read them.
				var work []string
				for _, k := range s3test.Keys(t, client, testBucket, "") {
					if strings.HasPrefix(k, runPrefix+"results/fake/") {
						work = append(work, strings.TrimPrefix(k, runPrefix+"results/fake/"))
					}
				}
				sort.Strings(work)
				if len(work) != 1+tc.shards-len(tc.lost) || work[0] != "plan.json" {
					t.Errorf("work files %q", work)
				}
			}
		})
	}
}

// TestFanOutRefused: a shard for a plan that is not there, or out of its
// range, is a named failure; a plain Collector cannot be sharded.
func TestFanOutRefused(t *testing.T) {
	client := lockedBucket(t)
	d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())),
		Version: "v-test", Results: client, Bucket: testBucket, Budget: collect.Budget{Bytes: 20}}
	ctx := context.Background()
	c := &shardingCollector{items: []string{"a", "b", "c"}, runs: map[string]int{}}
	in := testInput()
	in.Shard = &incident.ShardRef{Index: 1, Of: 2}
	if _, err := d.Run(ctx, c, in); err == nil || !strings.Contains(err.Error(), "the plan") {
		t.Errorf("shard without a plan: %v", err)
	}
	in.Shard = nil
	if r, err := d.Run(ctx, c, in); err != nil || len(r.Shards) != 2 {
		t.Fatalf("first invocation %+v %v", r, err)
	}
	in.Shard = &incident.ShardRef{Index: 3, Of: 2}
	if _, err := d.Run(ctx, c, in); err == nil || !strings.Contains(err.Error(), "shard 3 of 2: the plan") {
		t.Errorf("shard out of range: %v", err)
	}
	plain := &fakeCollector{name: "plain", source: evidence.SourceCloudTrail, run: func(context.Context, *incident.Incident, *collect.Output) error { return nil }}
	in.Shard = &incident.ShardRef{Index: 1, Of: 1}
	if _, err := d.Run(ctx, plain, in); err == nil || !strings.Contains(err.Error(), "does not fan out") {
		t.Errorf("plain collector as a shard: %v", err)
	}
	if c.runs["shard 1"] != 0 {
		t.Errorf("a refused shard ran")
	}
}

func TestSplit(t *testing.T) {
	size := func(n int64) int64 { return n }
	cases := []struct {
		name  string
		items []int64
		b     collect.Budget
		want  [][]int64
	}{
		{"nothing", nil, collect.Budget{Bytes: 10}, nil},
		{"zero budget: one piece", []int64{5, 5, 5}, collect.Budget{}, [][]int64{{5, 5, 5}}},
		{"fits", []int64{5, 5}, collect.Budget{Bytes: 10}, [][]int64{{5, 5}}},
		{"by bytes", []int64{5, 5, 5, 5, 5}, collect.Budget{Bytes: 10}, [][]int64{{5, 5}, {5, 5}, {5}}},
		{"an item over the budget is its own piece", []int64{3, 30, 3}, collect.Budget{Bytes: 10}, [][]int64{{3}, {30}, {3}}},
		{"by count", []int64{1, 1, 1, 1, 1}, collect.Budget{Objects: 2}, [][]int64{{1, 1}, {1, 1}, {1}}},
		{"both", []int64{1, 1, 8, 1}, collect.Budget{Bytes: 9, Objects: 2}, [][]int64{{1, 1}, {8, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := collect.Split(tc.items, size, tc.b); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Split = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("at most MaxShards pieces", func(t *testing.T) {
		items := make([]int64, 3*collect.MaxShards+7)
		for i := range items {
			items[i] = 1
		}
		got := collect.Split(items, size, collect.Budget{Bytes: 1, Objects: 1})
		n := 0
		for _, p := range got {
			n += len(p)
		}
		if len(got) > collect.MaxShards || n != len(items) {
			t.Errorf("%d pieces holding %d items, want at most %d holding %d", len(got), n, collect.MaxShards, len(items))
		}
	})
}

func TestBudgetFromEnv(t *testing.T) {
	cases := []struct {
		env     map[string]string
		want    collect.Budget
		wantErr string
	}{
		{nil, collect.DefaultBudget, ""},
		{map[string]string{collect.EnvShardBytes: "1048576"}, collect.Budget{Bytes: 1 << 20, Objects: collect.DefaultBudget.Objects}, ""},
		{map[string]string{collect.EnvShardBytes: "0", collect.EnvShardObjects: "0"}, collect.Budget{}, ""},
		{map[string]string{collect.EnvShardObjects: "-1"}, collect.Budget{}, collect.EnvShardObjects},
		{map[string]string{collect.EnvShardBytes: "2GiB"}, collect.Budget{}, collect.EnvShardBytes},
	}
	for _, tc := range cases {
		got, err := collect.BudgetFromEnv(func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			var ce *faults.ConfigurationError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want a ConfigurationError naming %s", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v %v, want %+v", tc.env, got, err, tc.want)
		}
	}
}

// TestPartName: a shard's artifact names differ from every other shard's
// and from the inline name, keeping directory and extension.
func TestPartName(t *testing.T) {
	cases := map[string]string{
		"extract.jsonl.gz":           "extract-shard0003.jsonl.gz",
		"extract-my.bucket.jsonl.gz": "extract-my.bucket-shard0003.jsonl.gz",
		"parts/extract.jsonl":        "parts/extract-shard0003.jsonl",
		"s3/b.c/extract.jsonl.gz":    "s3/b.c/extract-shard0003.jsonl.gz",
		"flowlogs.json":              "flowlogs-shard0003.json",
		"archive.gz":                 "archive-shard0003.gz",
		"noext":                      "noext-shard0003",
		"dir.d/noext":                "dir.d/noext-shard0003",
		"extract.ENI-0A.log.gz":      "extract.ENI-0A-shard0003.log.gz",
	}
	for name, want := range cases {
		if got := collect.PartNameForTest(name, 3); got != want {
			t.Errorf("PartName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestRunAll: the steps one after another, a failed shard caught into its
// entry as the state machine does, the merge's failure returned.
func TestRunAll(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget collect.Budget
		fail   map[string]error
		shards int
		errHas string
	}{
		{"inline", collect.Budget{}, nil, 0, ""},
		{"fanned out", collect.Budget{Objects: 2}, nil, 3, ""},
		{"a shard fails", collect.Budget{Objects: 2}, map[string]error{"e": errors.New("object e unreadable")}, 3, "shard 3 of 3: object e unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := lockedBucket(t)
			d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())),
				Version: "v-test", Results: client, Bucket: testBucket, Budget: tc.budget}
			c := &shardingCollector{items: []string{"a", "b", "c", "d", "e"}, fail: tc.fail, runs: map[string]int{}}
			o, err := d.RunAll(context.Background(), c, testInput())
			if len(o.Shards) != tc.shards || len(o.First.Shards) != tc.shards {
				t.Fatalf("outcome %+v", o)
			}
			if tc.errHas == "" {
				if err != nil || o.Final.Status != incident.StatusOK || o.Final.Records != 5 {
					t.Fatalf("final %+v %v", o.Final, err)
				}
				return
			}
			var ce *faults.CollectorError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want a CollectorError with %q", err, tc.errHas)
			}
			last := o.Shards[len(o.Shards)-1]
			if last.Status != incident.StatusFailed || last.Error == nil || last.Error.Error != "CollectorError" || !strings.Contains(last.Error.Cause, "object e unreadable") {
				t.Errorf("failed shard's entry %+v", last)
			}
		})
	}
}

// TestDriverFromEnv: the bucket and the budget come from the environment;
// a missing bucket or a bad budget names its setting.
func TestDriverFromEnv(t *testing.T) {
	client := lockedBucket(t)
	cases := []struct {
		env     map[string]string
		want    collect.Budget
		wantErr string
	}{
		{map[string]string{collect.EnvBucket: testBucket}, collect.DefaultBudget, ""},
		{map[string]string{collect.EnvBucket: testBucket, collect.EnvShardObjects: "1"}, collect.Budget{Bytes: collect.DefaultBudget.Bytes, Objects: 1}, ""},
		{map[string]string{}, collect.Budget{}, collect.EnvBucket},
		{map[string]string{collect.EnvBucket: testBucket, collect.EnvShardBytes: "lots"}, collect.Budget{}, collect.EnvShardBytes},
	}
	for _, tc := range cases {
		d, err := collect.DriverFromEnv(func(k string) string { return tc.env[k] }, client)
		if tc.wantErr != "" {
			var ce *faults.ConfigurationError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want a ConfigurationError naming %s", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || d.Bucket != testBucket || d.Budget != tc.want || d.Results == nil || d.Writer == nil || d.Now == nil {
			t.Fatalf("%v: driver %+v, %v", tc.env, d, err)
		}
		// It writes and answers from the bucket: a run stores its result.
		c := &fakeCollector{name: "fake", source: evidence.SourceCloudTrail, run: func(context.Context, *incident.Incident, *collect.Output) error { return nil }}
		if _, err := d.Run(context.Background(), c, testInput()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, err := d.Run(context.Background(), c, testInput()); err != nil {
			t.Fatalf("Run again (from the stored result): %v", err)
		}
	}
}

func TestWidenKeepsThePiecesUnderTheBound(t *testing.T) {
	items := make([]int64, 1000)
	for i := range items {
		items[i] = 10
	}
	size := func(n int64) int64 { return n }
	for _, tc := range []struct {
		b   collect.Budget
		max int
	}{
		{collect.Budget{Bytes: 10}, collect.MaxPivotShards},
		{collect.Budget{Objects: 1}, collect.MaxPivotShards},
		{collect.Budget{Bytes: 10, Objects: 1}, 7},
	} {
		pieces := collect.Split(items, size, collect.Widen(items, size, tc.b, tc.max))
		n := 0
		for _, p := range pieces {
			n += len(p)
		}
		if len(pieces) > tc.max || n != len(items) {
			t.Errorf("budget %+v, max %d: %d pieces holding %d items", tc.b, tc.max, len(pieces), n)
		}
	}
}
