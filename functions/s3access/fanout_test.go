package main

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

// runCollector runs the collector for inc through a driver that may fan
// out within budget, the way the state machine does: the first invocation,
// then (when it fanned out) each shard and the merge. It returns the first
// answer, the final one, and each shard's stored result in shard order.
func runCollector(t *testing.T, client *s3.Client, inc *incident.Incident, budget collect.Budget) (first, final incident.Result, shards []evidence.CollectorResult) {
	t.Helper()
	ctx := context.Background()
	d := &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow },
		Results: client, Bucket: testBucket, Budget: budget}
	c := &Collector{S3: client, Config: Config{Pad: DefaultPad}}
	in := collect.Input{Incident: *inc, Item: inc.Plan[0]}
	o, err := d.RunAll(ctx, c, in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, r := range o.Shards {
		if r.Status != incident.StatusOK || r.Shard == nil {
			t.Fatalf("shard answered %+v", r)
		}
		var sr evidence.CollectorResult
		s3test.ObjectJSON(t, client, testBucket, r.ResultKey, &sr)
		shards = append(shards, sr)
	}
	return o.First, o.Final, shards
}

// artifacts maps a result's artifacts by their key in the run folder.
func artifacts(t *testing.T, run string, r evidence.CollectorResult) map[string]evidence.Artifact {
	t.Helper()
	m := map[string]evidence.Artifact{}
	for _, a := range r.Artifacts {
		rel, ok := strings.CutPrefix(a.Key, run)
		if !ok {
			t.Fatalf("artifact %s outside the run %s", a.Key, run)
		}
		if _, dup := m[rel]; dup {
			t.Errorf("artifact %s listed twice", rel)
		}
		m[rel] = a
	}
	return m
}

// malformedWarning is the extract's warning for malformed lines.
var malformedWarning = regexp.MustCompile(`^bucket (\S+): (\d+) malformed access log lines in \d+ objects under (\S+) \(the rest collected\): (.*)$`)

var shardPrefix = regexp.MustCompile(`^shard (\d+) of (\d+): `)

// TestCollectFanOut: past its budget, the collector snapshots and lists
// every bucket, then hands the copies and extracts to shards, a piece of
// one bucket's objects each. Run through the driver (first invocation,
// each shard, merge), the merged result holds exactly what the same
// scenario collected inline holds: the same copies of the same originals,
// each copied once, and extracts whose records, in order, counts, first and
// last event times and origins are the inline extract's, one distinct part
// a shard.
func TestCollectFanOut(t *testing.T) {
	all := []string{dataBucket, goneBucket, noLogBucket, otherBucket}
	cases := []struct {
		name    string
		buckets []string
		budget  collect.Budget
		shards  int // 0: no fan-out
		copies  int // log objects copied
	}{
		// custody-data has 4 log objects for the window, custody-other 3,
		// two of them custody-data's too (the same target and prefix).
		{name: "an object a shard", buckets: all, budget: collect.Budget{Objects: 1}, shards: 7, copies: 5},
		{name: "two objects a shard", buckets: all, budget: collect.Budget{Objects: 2}, shards: 4, copies: 5},
		{name: "each object over the byte budget: a shard each", buckets: all, budget: collect.Budget{Bytes: 1}, shards: 7, copies: 5},
		{name: "each bucket within, together over: a shard a bucket", buckets: all, budget: collect.Budget{Objects: 5}, shards: 2, copies: 5},
		{name: "the other bucket first copies the shared objects", buckets: []string{otherBucket, dataBucket}, budget: collect.Budget{Objects: 1}, shards: 7, copies: 5},
		{name: "one bucket", buckets: []string{dataBucket}, budget: collect.Budget{Objects: 3}, shards: 2, copies: 4},
		{name: "within budget: inline", buckets: all, budget: collect.Budget{Objects: 7}, copies: 5},
		{name: "default budget: inline", buckets: all, budget: collect.DefaultBudget, copies: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			objs := setup(t, client)
			ctx := context.Background()

			// The same scenario inline, in a run of its own.
			refInc := newIncident(tc.buckets...)
			refInc.RunID = "20230131T092530Z"
			refRes, err := newHandler(t, client, DefaultPad).Handle(ctx, collect.Input{Incident: *refInc, Item: refInc.Plan[0]})
			if err != nil {
				t.Fatal(err)
			}
			var ref evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, refRes.ResultKey, &ref)
			if ref.Status != incident.StatusOK {
				t.Fatalf("inline: %s %s", ref.Status, ref.Error)
			}
			refRun := "cases/" + refInc.CaseID + "/runs/" + refInc.RunID + "/"
			refArts := artifacts(t, refRun, ref)

			inc := newIncident(tc.buckets...)
			inc.RunID = "20230131T092531Z"
			run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
			first, final, shards := runCollector(t, client, inc, tc.budget)
			var merged evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, final.ResultKey, &merged)
			if merged.Status != incident.StatusOK || final.Status != incident.StatusOK {
				t.Fatalf("merged %s %s (answer %+v)", merged.Status, merged.Error, final)
			}
			arts := artifacts(t, run, merged)

			var configs, copies, extracts []string
			for rel := range refArts {
				switch {
				case strings.HasPrefix(rel, "s3access/config-"):
					configs = append(configs, rel)
				case strings.HasPrefix(rel, "s3access/logs/"):
					copies = append(copies, rel)
				case strings.HasPrefix(rel, "s3access/extract-"):
					extracts = append(extracts, rel)
				default:
					t.Fatalf("inline artifact %s", rel)
				}
			}
			sort.Strings(copies)

			// The shard count, and what the first invocation kept.
			if len(first.Shards) != tc.shards {
				t.Fatalf("first invocation %+v: %d shards, want %d", first, len(first.Shards), tc.shards)
			}
			if tc.shards > 0 && (first.Status != incident.StatusFannedOut || first.Artifacts != len(configs) || first.Gaps != len(ref.Gaps)) {
				t.Errorf("first invocation %+v, want the %d configuration snapshots and %d gaps", first, len(configs), len(ref.Gaps))
			}
			if want := len(refArts) - len(extracts) + max(tc.shards, len(extracts)); len(arts) != want || final.Records != refRes.Records || final.Gaps != refRes.Gaps {
				t.Errorf("merged %+v: %d artifacts, want %d; inline %+v", final, len(arts), want, refRes)
			}

			// The configuration snapshots: the same bytes.
			for _, rel := range configs {
				if a, ok := arts[rel]; !ok || a.SHA256 != refArts[rel].SHA256 {
					t.Errorf("%s: %+v, inline %+v", rel, a, refArts[rel])
				}
			}

			// The copies: the inline copies, byte-identical to their
			// originals, each copied by one shard only.
			var gotCopies []string
			for rel := range arts {
				if strings.HasPrefix(rel, "s3access/logs/") {
					gotCopies = append(gotCopies, rel)
				}
			}
			sort.Strings(gotCopies)
			if !reflect.DeepEqual(gotCopies, copies) {
				t.Fatalf("copies\n%s\nwant\n%s", strings.Join(gotCopies, "\n"), strings.Join(copies, "\n"))
			}
			seededBy := map[string]seeded{}
			for _, o := range objs {
				seededBy[o.key] = o
			}
			if len(copies) != tc.copies {
				t.Errorf("%d copies, want %d", len(copies), tc.copies)
			}
			for _, rel := range copies {
				a, r := arts[rel], refArts[rel]
				if a.SHA256 != r.SHA256 || a.Size != r.Size || !reflect.DeepEqual(a.Origin, r.Origin) || a.API != r.API ||
					canon(t, a.Request) != canon(t, r.Request) {
					t.Errorf("%s: %+v, inline %+v", rel, a, r)
				}
				if o, ok := seededBy[a.Origin.Key]; !ok || !o.copied || a.Origin.Bucket != logBucket ||
					!bytes.Equal(s3test.Body(t, client, testBucket, a.Key), o.body()) {
					t.Errorf("%s is not a byte-identical copy of a seeded log object (origin %+v)", rel, a.Origin)
				}
			}
			copiedBy := map[string]int{}
			partOf := map[int]string{} // shard index -> its extract
			for i, sr := range shards {
				var parts []string
				for rel := range artifacts(t, run, sr) {
					switch {
					case strings.HasPrefix(rel, "s3access/logs/"):
						copiedBy[rel]++
					case strings.HasPrefix(rel, "s3access/extract-"):
						parts = append(parts, rel)
					default:
						t.Errorf("shard %d wrote %s", i+1, rel)
					}
				}
				if len(parts) != 1 || !strings.HasSuffix(parts[0], fmt.Sprintf("-shard%04d.jsonl.gz", i+1)) {
					t.Errorf("shard %d extracts %q, want one, named for the shard", i+1, parts)
					continue
				}
				partOf[i+1] = parts[0]
			}
			for _, rel := range copies {
				if tc.shards > 0 && copiedBy[rel] != 1 {
					t.Errorf("%s copied by %d shards, want 1", rel, copiedBy[rel])
				}
			}
			if len(partOf) != tc.shards {
				t.Errorf("%d shards wrote an extract, want every one of %d", len(partOf), tc.shards)
			}

			// The extracts: each bucket's parts, in shard order, hold the
			// inline extract's records, in order.
			nparts := 0
			for _, rel := range extracts {
				r := refArts[rel]
				bucket := strings.TrimSuffix(strings.TrimPrefix(rel, "s3access/extract-"), ".jsonl.gz")
				name := regexp.MustCompile(`^s3access/extract-` + regexp.QuoteMeta(bucket) + `(-shard\d{4})?\.jsonl\.gz$`)
				var parts []string
				for k := range arts {
					if name.MatchString(k) {
						parts = append(parts, k)
					}
				}
				sort.Strings(parts)
				nparts += len(parts)
				if len(parts) == 0 || (tc.shards == 0 && !reflect.DeepEqual(parts, []string{rel})) {
					t.Fatalf("%s: parts %q", rel, parts)
				}
				var recs []map[string]any
				var records int64
				var objects float64
				var firstEv, lastEv *time.Time
				for _, p := range parts {
					a := arts[p]
					if tc.shards > 0 && p == rel {
						t.Errorf("a fanned-out run wrote the inline name %s", rel)
					}
					recs = append(recs, gunzipLines(t, s3test.Body(t, client, testBucket, a.Key))...)
					records += a.Records
					if a.FirstEvent != nil && (firstEv == nil || a.FirstEvent.Before(*firstEv)) {
						firstEv = a.FirstEvent
					}
					if a.LastEvent != nil && (lastEv == nil || a.LastEvent.After(*lastEv)) {
						lastEv = a.LastEvent
					}
					n := a.Request["objects"].(float64)
					objects += n
					// Origin and request: the inline extract's, for this
					// part's objects.
					wantDesc := strings.Replace(r.Origin.Description, fmt.Sprintf(" from %v objects ", r.Request["objects"]), fmt.Sprintf(" from %v objects ", n), 1)
					if a.Origin == nil || a.Origin.Bucket != r.Origin.Bucket || a.Origin.Description != wantDesc || a.API != r.API || a.ContentType != r.ContentType {
						t.Errorf("%s: origin %+v api %s, want %+v (%s) api %s", p, a.Origin, a.API, r.Origin, wantDesc, r.API)
					}
					req := map[string]any{}
					for k, v := range a.Request {
						req[k] = v
					}
					req["objects"] = r.Request["objects"]
					if canon(t, req) != canon(t, r.Request) {
						t.Errorf("%s: request %s, inline %s", p, canon(t, a.Request), canon(t, r.Request))
					}
				}
				if want := gunzipLines(t, s3test.Body(t, client, testBucket, r.Key)); !reflect.DeepEqual(recs, want) {
					t.Errorf("%s: %d records in %d parts differ from the %d inline", rel, len(recs), len(parts), len(want))
				}
				if records != r.Records || records == 0 || objects != r.Request["objects"].(float64) ||
					firstEv == nil || !firstEv.Equal(*r.FirstEvent) || !lastEv.Equal(*r.LastEvent) {
					t.Errorf("%s: %d records of %v objects from %v to %v, inline %d of %v from %v to %v",
						rel, records, objects, firstEv, lastEv, r.Records, r.Request["objects"], r.FirstEvent, r.LastEvent)
				}
			}
			if tc.shards > 0 && nparts != tc.shards {
				t.Errorf("%d extract parts, want one a shard (%d)", nparts, tc.shards)
			}

			// Gaps as inline; warnings as inline, but per shard: the
			// malformed lines, counted and named once, and a shard's
			// piece without lines for its bucket said so.
			if !reflect.DeepEqual(merged.Gaps, ref.Gaps) {
				t.Errorf("gaps %+v, inline %+v", merged.Gaps, ref.Gaps)
			}
			type malformed struct {
				count    int
				problems []string
			}
			tally := func(warnings []string, sharded bool) (map[string]*malformed, []string) {
				m := map[string]*malformed{}
				var other []string
				for _, w := range warnings {
					// The first invocation's own warnings have no prefix.
					if p := shardPrefix.FindStringSubmatch(w); p != nil {
						if !sharded || p[2] != strconv.Itoa(tc.shards) {
							t.Errorf("warning %q: not a shard of %d", w, tc.shards)
							continue
						}
						w = w[len(p[0]):]
						if strings.Contains(w, "is for this bucket in the window") {
							i, _ := strconv.Atoi(p[1])
							if a, ok := arts[partOf[i]]; !ok || a.Records != 0 {
								t.Errorf("shard %s warns %q, its extract %s has %d records", p[1], w, partOf[i], a.Records)
							}
							continue
						}
					}
					if g := malformedWarning.FindStringSubmatch(w); g != nil {
						if m[g[1]] == nil {
							m[g[1]] = &malformed{}
						}
						n, _ := strconv.Atoi(g[2])
						m[g[1]].count += n
						m[g[1]].problems = append(m[g[1]].problems, strings.Split(g[4], "; ")...)
						continue
					}
					other = append(other, w)
				}
				return m, other
			}
			gotBad, gotOther := tally(merged.Warnings, tc.shards > 0)
			wantBad, wantOther := tally(ref.Warnings, false)
			if len(wantBad) == 0 {
				t.Fatalf("inline warnings %q: no malformed lines to compare", ref.Warnings)
			}
			// An object two buckets share has its malformed lines
			// reported once, with the bucket that copies it.
			reported := map[string]string{}
			for bucket, m := range gotBad {
				for _, p := range m.problems {
					if b, dup := reported[p]; dup {
						t.Errorf("%q reported for %s and %s", p, b, bucket)
					}
					reported[p] = bucket
				}
			}
			if !reflect.DeepEqual(gotBad, wantBad) || !reflect.DeepEqual(gotOther, wantOther) {
				t.Errorf("warnings\n%s\ninline\n%s", strings.Join(merged.Warnings, "\n"), strings.Join(ref.Warnings, "\n"))
			}
		})
	}
}

// TestPieces: each bucket's objects are cut within the budget, a piece a
// bucket, in order, First kept; past collect.MaxShards pieces the budget
// widens until they fit or each bucket is one piece.
func TestPieces(t *testing.T) {
	work := func(bucket string, n int, size int64, first func(i int) bool) logWork {
		w := logWork{Bucket: bucket, Target: "logs", Prefix: "p/", Prefixes: []string{"p/2023-01-31-"}, Pad: time.Hour}
		for i := range n {
			w.Objects = append(w.Objects, logObject{Object: s3logs.Object{Bucket: "logs", Key: fmt.Sprintf("p/%s/%05d", bucket, i), Size: size}, First: first(i)})
		}
		return w
	}
	yes := func(int) bool { return true }
	even := func(i int) bool { return i%2 == 0 }
	perBucket := collect.MaxShards * 4 / 5
	many := make([]logWork, collect.MaxShards+3)
	for i := range many {
		many[i] = work(fmt.Sprintf("b%d", i), 2, 10, yes)
	}
	cases := []struct {
		name   string
		works  []logWork
		budget collect.Budget
		want   []int // objects a piece
	}{
		{"by count", []logWork{work("a", 5, 10, yes), work("b", 3, 10, even)}, collect.Budget{Objects: 2}, []int{2, 2, 1, 2, 1}},
		{"by bytes", []logWork{work("a", 5, 10, yes), work("b", 3, 10, even)}, collect.Budget{Bytes: 30}, []int{3, 2, 3}},
		{"a bucket within", []logWork{work("a", 5, 10, yes), work("b", 3, 10, even)}, collect.Budget{Objects: 4}, []int{4, 1, 3}},
		// 2.4 × MaxShards objects, a piece each, are too many: the budget
		// doubles twice, to four objects a piece.
		{"past MaxShards: widened", []logWork{work("a", perBucket, 1, yes), work("b", perBucket, 1, even), work("c", perBucket, 1, yes)}, collect.Budget{Objects: 1},
			repeat(4, 3*perBucket/4)},
		{"more buckets than MaxShards: one piece each", many, collect.Budget{Objects: 1}, repeat(2, collect.MaxShards+3)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := pieces(tc.works, tc.budget)
			var sizes []int
			flat := map[string][]logObject{}
			for _, p := range got {
				w := p.(logWork)
				sizes = append(sizes, len(w.Objects))
				flat[w.Bucket] = append(flat[w.Bucket], w.Objects...)
				if w.Target != "logs" || w.Prefix != "p/" || w.Pad != time.Hour || len(w.Prefixes) != 1 {
					t.Fatalf("piece %+v lost its work's fields", w)
				}
			}
			if !reflect.DeepEqual(sizes, tc.want) {
				t.Errorf("pieces of %v objects, want %v", sizes, tc.want)
			}
			for _, w := range tc.works {
				if !reflect.DeepEqual(flat[w.Bucket], w.Objects) {
					t.Errorf("bucket %s: pieces hold other objects than its work", w.Bucket)
				}
			}
		})
	}
}

func repeat(n, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = n
	}
	return out
}
