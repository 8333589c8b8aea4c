package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
)

// burstFindings is how many deliveries TestBurst starts at once: half of
// them first deliveries of distinct finding IDs, a quarter repeats (the same
// ID and updatedAt), a quarter updates (the same ID, a newer updatedAt).
// The 200: go test -run TestBurst -burst-findings 200 ./functions/triage/
var burstFindings = flag.Int("burst-findings", 12, "deliveries TestBurst starts at once (a multiple of 4)")

// delivery is one finding delivered in a burst.
type delivery struct {
	findingID string
	updatedAt string
	kind      string // "first", "repeat" or "update"
}

// burst is n deliveries over n/2 finding IDs: every ID once, every even
// one again as it was, every odd one again with a newer updatedAt; in an
// order shuffled by a fixed seed.
func burst(n int) []delivery {
	var ds []delivery
	for i := range n / 2 {
		id := fmt.Sprintf("b0057%027x", i+1)
		ds = append(ds, delivery{id, "2017-12-01T03:53:51.183Z", "first"})
		if i%2 == 0 {
			ds = append(ds, delivery{id, "2017-12-01T03:53:51.183Z", "repeat"})
		} else {
			ds = append(ds, delivery{id, "2017-12-09T08:00:00.123Z", "update"})
		}
	}
	r := rand.New(rand.NewPCG(13, 8))
	r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	return ds
}

// TestBurst starts a burst of deliveries through Triage at once, against
// the emulator's locked bucket: exactly one case per finding ID, one run
// per distinct updatedAt (an update opens a run of its own, a repeat none),
// none lost, nothing written twice.
func TestBurst(t *testing.T) {
	n := *burstFindings
	if n < 4 || n%4 != 0 {
		t.Fatalf("-burst-findings %d: want a multiple of 4", n)
	}
	client := emu.FreshLockedBucket(t, testBucket)
	h := newHandler(t, client, newFakeFindings(t))
	raw := readCorpus(t, envelopeFile)
	ds := burst(n)

	resps := make([]*Response, len(ds))
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, d := range ds {
		input := editJSON(t, raw, func(m map[string]any) {
			m["detail"].(map[string]any)["id"] = d.findingID
			m["detail"].(map[string]any)["updatedAt"] = d.updatedAt
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], errs[i] = h.Handle(context.Background(), Request{Input: input, Execution: fmt.Sprintf("exec-%03d", i)})
		}()
	}
	close(start)
	wg.Wait()

	type run struct{ caseID, runID string }
	opened := map[run]int{}                 // runs opened, per run
	answered := map[run]int{}               // deliveries answered (opened or duplicate), per run
	casesOf := map[string]map[string]bool{} // finding ID -> case IDs
	for i, d := range ds {
		if errs[i] != nil {
			t.Errorf("delivery %d (%s %s, %s): %v", i, d.findingID, d.updatedAt, d.kind, errs[i])
			continue
		}
		inc := resps[i].Incident
		if inc == nil {
			t.Errorf("delivery %d (%s): no incident", i, d.kind)
			continue
		}
		r := run{inc.CaseID, inc.RunID}
		answered[r]++
		if !resps[i].Duplicate {
			opened[r]++
		}
		if casesOf[d.findingID] == nil {
			casesOf[d.findingID] = map[string]bool{}
		}
		casesOf[d.findingID][inc.CaseID] = true
	}

	tests := []struct {
		name string
		got  int
		want int
	}{
		{"finding IDs with a case", len(casesOf), n / 2},
		{"runs answered", len(answered), n/2 + n/4},
		{"runs opened", len(opened), n/2 + n/4},
		{"case.json objects", caseRecords(t, client), n / 2},
		// case.json once a case; marker, input, incident and Triage's result once a run.
		{"object versions", versions(t, client), n/2 + 4*(n/2+n/4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %d, want %d; keys written more than once: %v", tt.name, tt.got, tt.want, writtenTwice(t, client))
			}
		})
	}
	for id, cases := range casesOf {
		if len(cases) != 1 {
			t.Errorf("finding %s has %d cases, want 1", id, len(cases))
		}
	}
	for r, k := range opened {
		if k != 1 {
			t.Errorf("run %s/%s opened by %d deliveries, want 1", r.caseID, r.runID, k)
		}
	}
	// Every run opened holds what Triage writes, and the run's marker names
	// the execution that opened it.
	var missing []string
	for r := range opened {
		prefix := "cases/" + r.caseID + "/runs/" + r.runID + "/"
		keys := s3test.Keys(t, client, testBucket, prefix)
		want := []string{prefix + "incident.json", prefix + "input.json", prefix + "results/triage.json", prefix + "run.json"}
		sort.Strings(keys)
		if strings.Join(keys, " ") != strings.Join(want, " ") {
			missing = append(missing, fmt.Sprintf("%s: %q", prefix, keys))
		}
	}
	if len(missing) > 0 {
		t.Errorf("runs without exactly Triage's objects:\n%s", strings.Join(missing, "\n"))
	}
}

// writtenTwice lists the keys of the bucket that hold more than one
// version (or a delete marker beside a version), with their counts: what a
// wrong version count is made of.
func writtenTwice(t *testing.T, client *s3.Client) []string {
	t.Helper()
	out, err := client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket)})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, v := range out.Versions {
		n[aws.ToString(v.Key)]++
	}
	for _, d := range out.DeleteMarkers {
		n[aws.ToString(d.Key)]++
	}
	var twice []string
	for k, c := range n {
		if c > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d)", k, c))
		}
	}
	sort.Strings(twice)
	return twice
}

// caseRecords counts the cases' case.json objects.
func caseRecords(t *testing.T, client s3.ListObjectsV2APIClient) int {
	t.Helper()
	n := 0
	for _, k := range s3test.Keys(t, client, testBucket, evidence.CasesRoot) {
		if !strings.Contains(k, "/runs/") && strings.HasSuffix(k, "/case.json") {
			n++
		}
	}
	return n
}
