package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/pivot"
)

// The derived chain of shared/pivot (see its testdata/SOURCES.md): the
// seed key of account A assumes admin-role, chains into deploy-role of
// account B, creates a key there, which creates a user; another session
// of admin-role (user ops) is not the attacker.
const (
	pivotA       = "229654561268"
	pivotB       = "111122223333"
	pivotSeedKey = "AKIAOZUDECYXYM4ONAN4"
)

var pivotWindow = incident.Window{Start: time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC), End: time.Date(2024, 8, 1, 14, 0, 0, 0, time.UTC)}

// chainRecords are shared/pivot's chain.jsonl, by eventID suffix (1..9).
func chainRecords(t *testing.T) map[int]json.RawMessage {
	t.Helper()
	f, err := os.Open("../../shared/pivot/testdata/chain.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]json.RawMessage{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v struct{ EventID string }
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		var n int
		fmt.Sscanf(v.EventID[len(v.EventID)-2:], "%d", &n)
		out[n] = append(json.RawMessage(nil), sc.Bytes()...)
	}
	return out
}

// twin is r moved to at with a new eventID: the same identity's record
// out of the window.
func twin(t *testing.T, r json.RawMessage, id, at string) json.RawMessage {
	var m map[string]any
	if err := json.Unmarshal(r, &m); err != nil {
		t.Fatal(err)
	}
	m["eventID"], m["eventTime"] = id, at
	b, _ := json.Marshal(m)
	return b
}

// orgLogKey is a log file key of an organization trail (no prefix).
func orgLogKey(org, acct, region, stamp, unique string) string {
	day := stamp[:4] + "/" + stamp[4:6] + "/" + stamp[6:8]
	return fmt.Sprintf("%s/AWSLogs/%s/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", trailPrefix, org, acct, region, day, acct, region, stamp, unique)
}

// runPivot runs the first pass and the pivot loop as the state machine
// does (first invocations only: the driver has no fan-out budget), and
// returns the stored results by collector and the final state.
func runPivot(t *testing.T, e *env, h *Handler, inc incident.Incident) (map[string]evidence.CollectorResult, PivotState) {
	t.Helper()
	ctx := context.Background()
	// Each collector runs as the state machine runs it: its first
	// invocation and, when it fans out, its shards and the merge.
	runAll := func(item incident.PlanItem) (incident.Result, error) {
		in := collect.Input{Incident: inc, Item: item}
		c, err := h.collectorFor(ctx, &in)
		if err != nil {
			return incident.Result{}, err
		}
		o, err := h.Driver.RunAll(ctx, c, in)
		return o.Final, err
	}
	if _, err := runAll(incident.PlanItem{Collector: CollectorName}); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	st := PivotState{Items: []incident.PlanItem{}, Results: []incident.Result{}}
	var last []incident.Result
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("the pivot loop does not end")
		}
		out, err := h.Handle(ctx, Input{Input: collect.Input{Incident: inc}, Pivot: &st, Last: last})
		if err != nil {
			t.Fatalf("derive: %v", err)
		}
		step := out.(*PivotStep)
		st, last = step.State, nil
		if len(st.Items) == 0 {
			break
		}
		res, err := runAll(st.Items[0])
		if err != nil {
			t.Fatalf("%s: %v", st.Items[0].Collector, err)
		}
		last = []incident.Result{res}
	}
	results := map[string]evidence.CollectorResult{}
	prefix, _ := evidence.RunPrefix(inc.CaseID, inc.RunID)
	for _, key := range s3test.Keys(t, e.s3, evidenceBucket, prefix+"results/") {
		if rest := strings.TrimPrefix(key, prefix+"results/"); !strings.Contains(rest, "/") {
			r := e.result(t, key)
			results[r.Collector] = r
		}
	}
	return results, st
}

func TestPivotPassesFollowTheChain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget collect.Budget
		// extracts: each pass's extract names (a shard's when it fans out)
		extracts map[string]int
	}{
		{"one invocation a pass", collect.Budget{}, map[string]int{
			"extract.jsonl.gz":            3, // the seed's 1, 7, 8
			"pivot-0001/extract.jsonl.gz": 1, // hop 1's AssumeRole into B (eu-west-1)
			"pivot-0002/extract.jsonl.gz": 2, // hop 2's two CreateAccessKey (account B)
			"pivot-0003/extract.jsonl.gz": 1, // hop 3's CreateUser
		}},
		// A shard a log file: the first pass's two files of account A
		// (and the out-of-window twin's), each pass's files of B.
		{"fanned out, a shard a log file", collect.Budget{Objects: 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) { testPivotChain(t, tc.budget, tc.extracts) })
	}
}

func testPivotChain(t *testing.T, budget collect.Budget, wantExtracts map[string]int) {
	recs := chainRecords(t)
	const org = "o-aa111bb222"
	e := setup(t, false)
	ctx := context.Background()
	if _, err := e.trails.CreateTrail(ctx, &cloudtrail.CreateTrailInput{
		Name: aws.String(trailName), S3BucketName: aws.String(trailBucket), S3KeyPrefix: aws.String(trailPrefix),
		IsMultiRegionTrail: aws.Bool(true), IsOrganizationTrail: aws.Bool(true), IncludeGlobalServiceEvents: aws.Bool(true),
	}); err != nil {
		t.Fatalf("CreateTrail: %v", err)
	}
	e.trails.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(trailName)})
	// Account A, us-east-1: the seed's AssumeRole (1), the other
	// principal's session of the same role (5, 6), the redacted (7) and
	// the failed (8) calls. eu-west-1: the hop-1 session chaining into B
	// (2), and an out-of-window twin of it in the same file.
	// Account B (the organization's other account): the chained session's
	// key creation (3, and 9 with the key hidden), the new key's user
	// creation (4), and a twin of 3 delivered after the window.
	files := map[string][]json.RawMessage{
		orgLogKey(org, pivotA, "us-east-1", "20240801T1345Z", "A1"): {recs[1], recs[5], recs[6], recs[7], recs[8]},
		orgLogKey(org, pivotA, "eu-west-1", "20240801T1345Z", "A2"): {recs[2], twin(t, recs[2], "00000001-0000-4000-8000-0000000000f2", "2024-08-01T14:05:00Z")},
		orgLogKey(org, pivotB, "us-east-1", "20240801T1350Z", "B1"): {recs[3], recs[4], recs[9]},
		orgLogKey(org, pivotB, "us-east-1", "20240801T1610Z", "B2"): {twin(t, recs[3], "00000001-0000-4000-8000-0000000000f3", "2024-08-01T16:05:00Z")},
	}
	for k, rs := range files {
		e.seed(t, k, logFile(t, rs), nil)
	}
	inc := incident.Incident{CaseID: "gd-pivot-test", RunID: incident.RunIDFor(pivotWindow.End), Window: pivotWindow,
		Scope: incident.Scope{AccountID: pivotA, Region: "us-east-1", AccessKeys: []string{pivotSeedKey}}}
	d := &collect.Driver{Writer: evidence.NewWriter(e.s3, evidenceBucket), Version: "test", Now: time.Now, Results: e.s3, Bucket: evidenceBucket, Budget: budget}
	c := e.collector()
	c.AccountID = pivotA
	h := &Handler{Driver: d, Collector: c, Bounds: pivot.DefaultBounds()}
	results, st := runPivot(t, e, h, inc)

	// Three passes: hop 1 and the redacted session, hop 2, hop 3; the
	// chain is stored; every pass is ok.
	if st.Pass != 3 || !st.Done {
		t.Errorf("state %+v", st)
	}
	for name, r := range results {
		if r.Status != incident.StatusOK || len(r.Gaps) != 0 {
			t.Errorf("%s: %s %s, gaps %+v", name, r.Status, r.Error, r.Gaps)
		}
	}
	// Every extract, by pass: the attacker's in-window records, every
	// region and account; none of the other session, no twin.
	var got []string
	extracts := map[string]int{}
	for _, r := range results {
		for _, a := range r.Artifacts {
			if isExtract(a) {
				n := 0
				for _, m := range e.extract(t, a.Key) {
					got = append(got, m["eventID"].(string))
					n++
				}
				extracts[strings.TrimPrefix(a.Key, "cases/gd-pivot-test/runs/"+inc.RunID+"/cloudtrail/")] = n
			}
		}
	}
	sort.Strings(got)
	var want []string
	for _, n := range []int{1, 2, 3, 4, 7, 8, 9} {
		want = append(want, fmt.Sprintf("00000001-0000-4000-8000-%012d", n))
	}
	if !slices.Equal(got, want) {
		t.Errorf("extracts hold %v\nwant %v", got, want)
	}
	if wantExtracts == nil {
		// Fanned out: shard extracts, each pass's under its folder.
		for k := range extracts {
			if !strings.Contains(k, "-shard") {
				t.Errorf("%s: not a shard's extract", k)
			}
		}
	} else if fmt.Sprint(extracts) != fmt.Sprint(wantExtracts) {
		t.Errorf("extracts %v, want %v", extracts, wantExtracts)
	}
	// The pivot passes copy no log file the first pass copied; account
	// B's files are copied by the pass that first reads them.
	for name, r := range results {
		for _, a := range r.Artifacts {
			if a.API == "s3:CopyObject" && name != CollectorName && strings.Contains(a.Origin.Key, "/"+pivotA+"/") {
				t.Errorf("%s copied %s again", name, a.Origin.Key)
			}
		}
	}
	// The chain: identities with provenance, the fourth hop a lead.
	chain := results[ChainCollectorName]
	if len(chain.Artifacts) != 1 || !strings.HasSuffix(chain.Artifacts[0].Key, "/cloudtrail/pivot/identities.json") || chain.Artifacts[0].SHA256 == "" {
		t.Fatalf("chain artifacts %+v", chain.Artifacts)
	}
	var cf chainFile
	s3test.ObjectJSON(t, e.s3, evidenceBucket, chain.Artifacts[0].Key, &cf)
	var ids, leads []string
	for _, i := range cf.Identities {
		ids = append(ids, fmt.Sprintf("%s@%d", i.ID, i.Depth))
		if i.Depth > 0 && (i.Via == nil || i.Via.Artifact == "" || i.Parent == "") {
			t.Errorf("%s: provenance %+v parent %q", i.ID, i.Via, i.Parent)
		}
	}
	for _, l := range cf.Leads {
		leads = append(leads, l.ID)
	}
	wantIDs := []string{"accessKey:" + pivotSeedKey + "@0", "accessKey:ASIAHOP1ATTACKER0001@1", "accessKey:ASIAHOP2CROSSACCT002@2",
		"session:arn:aws:sts::229654561268:assumed-role/admin-role/quiet@1", "accessKey:AKIAHOP3BACKDOOR0003@3"}
	sort.Strings(ids)
	sort.Strings(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("identities %v\nwant %v", ids, wantIDs)
	}
	if !slices.Contains(leads, "user:arn:aws:iam::111122223333:user/hop4-user") {
		t.Errorf("leads %v: the fourth hop is missing", leads)
	}
	if len(st.Results) != 4 || st.Results[3].Collector != ChainCollectorName {
		t.Errorf("state results %+v", st.Results)
	}
	// Then: the IAM collector in each account with derived principals
	// (the sessions' roles, hop 3's key).
	var then []string
	for _, it := range st.Then {
		then = append(then, it.Collector)
	}
	if want := []string{"iam-pivot-111122223333", "iam-pivot-" + pivotA}; !slices.Equal(then, want) {
		t.Errorf("then %v, want %v", then, want)
	}
}

func TestRegionsOfTheTrail(t *testing.T) {
	recs := chainRecords(t)
	for _, tc := range []struct {
		name     string
		multi    bool
		wantIDs  int
		wantGaps int
	}{
		// A multi-region trail: the seed's calls in both regions.
		{"multi-region trail: every region folder is read", true, 2, 0},
		// A single-region trail of us-east-1 logs nothing elsewhere: the
		// other regions are a gap (the eu-west-1 folder seeded here stands
		// for what such a trail would never have written).
		{"single-region trail: the other regions are a gap", false, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, false)
			ctx := context.Background()
			if _, err := e.trails.CreateTrail(ctx, &cloudtrail.CreateTrailInput{
				Name: aws.String(trailName), S3BucketName: aws.String(trailBucket), S3KeyPrefix: aws.String(trailPrefix),
				IsMultiRegionTrail: aws.Bool(tc.multi),
			}); err != nil {
				t.Fatal(err)
			}
			key := func(region, unique string) string {
				return fmt.Sprintf("%s/AWSLogs/%s/CloudTrail/%s/2024/08/01/%s_CloudTrail_%s_20240801T1345Z_%s.json.gz", trailPrefix, pivotA, region, pivotA, region, unique)
			}
			e.seed(t, key("us-east-1", "E"), logFile(t, []json.RawMessage{recs[1]}), nil)
			e.seed(t, key("eu-west-1", "W"), logFile(t, []json.RawMessage{recs[7]}), nil)
			inc := incident.Incident{CaseID: "gd-regions-test", RunID: incident.RunIDFor(pivotWindow.End), Window: pivotWindow,
				Scope: incident.Scope{AccountID: pivotA, Region: "us-east-1", AccessKeys: []string{pivotSeedKey}}}
			r := e.run(t, e.collector(), inc)
			if len(r.Gaps) != tc.wantGaps {
				t.Errorf("gaps %+v", r.Gaps)
			}
			if tc.wantGaps > 0 && !strings.Contains(r.Gaps[0].Reason, "only us-east-1 is logged") {
				t.Errorf("gap %q does not name the region read", r.Gaps[0].Reason)
			}
			if n := len(e.extract(t, artifactKey(inc, "extract.jsonl.gz"))); n != tc.wantIDs {
				t.Errorf("extract holds %d records, want %d", n, tc.wantIDs)
			}
		})
	}
}

// TestBaseline: the baseline counts the scope's records of the day before
// the window (not the one before that) into baseline.json; no extract
// holds a record from outside the window, and the baseline's log files
// are not copied.
func TestBaseline(t *testing.T) {
	recs := chainRecords(t)
	e := setup(t, true)
	key := func(day, stamp, unique string) string {
		return fmt.Sprintf("%s/AWSLogs/%s/CloudTrail/us-east-1/%s/%s_CloudTrail_us-east-1_%s_%s.json.gz", trailPrefix, pivotA, day, pivotA, stamp, unique)
	}
	// The window's record (1); the day before: the seed key at 20:00 (in
	// the baseline) and at 11:00 on the 30th (before it).
	e.seed(t, key("2024/08/01", "20240801T1345Z", "W"), logFile(t, []json.RawMessage{recs[1]}), nil)
	e.seed(t, key("2024/07/31", "20240731T2005Z", "B"), logFile(t, []json.RawMessage{twin(t, recs[1], "b0000000-0000-4000-8000-000000000001", "2024-07-31T20:00:00Z")}), nil)
	e.seed(t, key("2024/07/30", "20240730T1105Z", "O"), logFile(t, []json.RawMessage{twin(t, recs[1], "b0000000-0000-4000-8000-000000000002", "2024-07-30T11:00:00Z")}), nil)
	inc := incident.Incident{CaseID: "gd-baseline-test", RunID: incident.RunIDFor(pivotWindow.End), Window: pivotWindow,
		Scope: incident.Scope{AccountID: pivotA, Region: "us-east-1", AccessKeys: []string{pivotSeedKey}}}
	for _, tc := range []struct {
		days    int
		records int64
	}{{0, 0}, {1, 1}} {
		t.Run(fmt.Sprintf("%d days", tc.days), func(t *testing.T) {
			inc.CaseID = fmt.Sprintf("gd-baseline-test-%d", tc.days)
			c := e.collector()
			c.BaselineDays = tc.days
			r := e.run(t, c, inc)
			arts := byKey(r)
			b, ok := arts[artifactKey(inc, BaselineName)]
			if tc.days == 0 {
				if ok {
					t.Errorf("a baseline without BaselineDays")
				}
				return
			}
			if !ok {
				t.Fatalf("no baseline: %v", keys(arts))
			}
			var base ctlog.Baseline
			s3test.ObjectJSON(t, e.s3, evidenceBucket, b.Key, &base)
			if base.Records != tc.records || base.Days != tc.days {
				t.Errorf("baseline counted %d records of %d days, want %d", base.Records, base.Days, tc.records)
			}
			var seedKey *ctlog.BaselineEntity
			for i, be := range base.Entities {
				if be.Kind == ctlog.EntityAccessKey && be.Value == pivotSeedKey {
					seedKey = &base.Entities[i]
				}
			}
			if seedKey == nil || seedKey.Events != 1 || !seedKey.FirstSeen.Equal(time.Date(2024, 7, 31, 20, 0, 0, 0, time.UTC)) {
				t.Errorf("the seed key in the baseline: %+v", seedKey)
			}
			if got := ids(t, e.extract(t, artifactKey(inc, ExtractName))); !slices.Equal(got, []string{"00000001-0000-4000-8000-000000000001"}) {
				t.Errorf("extract holds %v", got)
			}
			for k := range arts {
				if strings.Contains(k, "20240731T2005Z") {
					t.Errorf("the baseline's log file was copied: %s", k)
				}
			}
		})
	}
}

// TestPivotPassFailed: a pass the state machine caught failed stops the
// loop; the chain is written and names it, and the failed result is in
// the state for Seal.
func TestPivotPassFailed(t *testing.T) {
	recs := chainRecords(t)
	e := setup(t, true)
	e.seed(t, fmt.Sprintf("%s/AWSLogs/%s/CloudTrail/us-east-1/2024/08/01/%s_CloudTrail_us-east-1_20240801T1345Z_A.json.gz", trailPrefix, pivotA, pivotA),
		logFile(t, []json.RawMessage{recs[1]}), nil)
	inc := incident.Incident{CaseID: "gd-pivot-failed", RunID: incident.RunIDFor(pivotWindow.End), Window: pivotWindow,
		Scope: incident.Scope{AccountID: pivotA, Region: "us-east-1", AccessKeys: []string{pivotSeedKey}}}
	d := &collect.Driver{Writer: evidence.NewWriter(e.s3, evidenceBucket), Version: "test", Now: time.Now, Results: e.s3, Bucket: evidenceBucket}
	h := &Handler{Driver: d, Collector: e.collector(), Bounds: pivot.DefaultBounds()}
	ctx := context.Background()
	if _, err := h.Handle(ctx, Input{Input: collect.Input{Incident: inc, Item: incident.PlanItem{Collector: CollectorName}}}); err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(ctx, Input{Input: collect.Input{Incident: inc}, Pivot: &PivotState{}})
	if err != nil {
		t.Fatal(err)
	}
	st := out.(*PivotStep).State
	if len(st.Items) != 1 || st.Items[0].Collector != PivotCollectorName(1) {
		t.Fatalf("items %+v", st.Items)
	}
	failed := incident.Result{Collector: PivotCollectorName(1), Status: incident.StatusFailed, Error: &incident.ResultError{Error: "States.Timeout", Cause: "timed out"}}
	out, err = h.Handle(ctx, Input{Input: collect.Input{Incident: inc}, Pivot: &st, Last: []incident.Result{failed}})
	if err != nil {
		t.Fatal(err)
	}
	st = out.(*PivotStep).State
	if !st.Done || len(st.Items) != 0 || len(st.Results) != 2 || st.Results[0].Status != incident.StatusFailed || st.Results[1].Collector != ChainCollectorName {
		t.Fatalf("state %+v", st)
	}
	var cf chainFile
	key, _ := evidence.ArtifactKey(inc.CaseID, inc.RunID, evidence.SourceCloudTrail, ChainName)
	s3test.ObjectJSON(t, e.s3, evidenceBucket, key, &cf)
	if !slices.Equal(cf.FailedPasses, []string{PivotCollectorName(1)}) {
		t.Errorf("failed passes %v", cf.FailedPasses)
	}
}

// TestPivotAccountNotLogged: the chained session lives in account B, whose
// logs no readable trail bucket holds: the pass that follows it names
// that account as a gap.
func TestPivotAccountNotLogged(t *testing.T) {
	recs := chainRecords(t)
	e := setup(t, true)
	key := func(region, unique string) string {
		return fmt.Sprintf("%s/AWSLogs/%s/CloudTrail/%s/2024/08/01/%s_CloudTrail_%s_20240801T1345Z_%s.json.gz", trailPrefix, pivotA, region, pivotA, region, unique)
	}
	e.seed(t, key("us-east-1", "A1"), logFile(t, []json.RawMessage{recs[1]}), nil)
	e.seed(t, key("eu-west-1", "A2"), logFile(t, []json.RawMessage{recs[2]}), nil)
	inc := incident.Incident{CaseID: "gd-pivot-account", RunID: incident.RunIDFor(pivotWindow.End), Window: pivotWindow,
		Scope: incident.Scope{AccountID: pivotA, Region: "us-east-1", AccessKeys: []string{pivotSeedKey}}}
	d := &collect.Driver{Writer: evidence.NewWriter(e.s3, evidenceBucket), Version: "test", Now: time.Now, Results: e.s3, Bucket: evidenceBucket}
	h := &Handler{Driver: d, Collector: e.collector(), Bounds: pivot.DefaultBounds()}
	results, _ := runPivot(t, e, h, inc)
	for name, r := range results {
		var gaps []string
		for _, g := range r.Gaps {
			gaps = append(gaps, g.Reason)
		}
		want := 0
		if name == PivotCollectorName(2) {
			want = 1
		}
		if len(gaps) != want || (want == 1 && !strings.Contains(gaps[0], "account "+pivotB)) {
			t.Errorf("%s gaps %q", name, gaps)
		}
	}
	if _, ok := results[PivotCollectorName(2)]; !ok {
		t.Errorf("no second pass: %v", keys(results))
	}
}
