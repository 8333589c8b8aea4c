package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// volatile are the members the emulator sets anew on every run; golden
// files hold a placeholder for them.
var volatile = map[string]bool{"UserId": true, "RoleId": true, "GroupId": true, "PolicyId": true, "CreateDate": true, "UpdateDate": true}

func normalize(v any, keyID string) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			nk := strings.ReplaceAll(k, keyID, "<ACCESS_KEY_ID>")
			if volatile[k] && e != nil {
				out[nk] = "<" + k + ">"
				continue
			}
			out[nk] = normalize(e, keyID)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e, keyID)
		}
		return out
	case string:
		if keyID != "" {
			return strings.ReplaceAll(x, keyID, "<ACCESS_KEY_ID>")
		}
	}
	return v
}

// golden compares got (normalized) with testdata/golden/name, or writes it
// with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, "encode "+name, enc.Encode(got))
	b := buf.Bytes()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		must(t, "mkdir", os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, "write "+path, os.WriteFile(path, b, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	must(t, "read "+path+" (run with -update to create it)", err)
	if string(want) != string(b) {
		t.Errorf("%s differs from %s (run with -update after checking):\n%s", name, path, b)
	}
}

// artifactsByName indexes a result's artifacts by their name under iam/.
func artifactsByName(r evidence.CollectorResult, inc incident.Incident) map[string]evidence.Artifact {
	prefix := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/iam/"
	m := map[string]evidence.Artifact{}
	for _, a := range r.Artifacts {
		m[strings.TrimPrefix(a.Key, prefix)] = a
	}
	return m
}

// TestCollectPrincipals collects a user found by its access key and a role
// found by an assumed-role session ARN (and by its instance profile):
// identity from the emulator, Access Advisor from the recorded answers.
func TestCollectPrincipals(t *testing.T) {
	w := newWorld(t)
	keyID := w.alice(t)
	w.webRole(t)
	pages := derivedPages(t)
	adv := &fakeAdvisor{
		jobs: map[string]string{aliceArn: placeboJobID, webRoleArn: roleJobID},
		polls: map[string][]answer{
			// Twice in progress, then the recorded completed report.
			placeboJobID: {{out: inProgress(t)}, {out: inProgress(t)}, {out: completed(t)}},
			// Done at once, in three pages.
			roleJobID: {{out: pages[0]}},
		},
		pages: map[string]map[string]answer{roleJobID: {"derived-marker-1": {out: pages[1]}, "derived-marker-2": {out: pages[2]}}},
	}
	clock := newClock()
	reader := &faultyIAM{Client: w.iam, userBoundary: map[string]string{"alice": policyArnPrefix + "alice-boundary"}}
	c := &PrincipalCollector{IAM: reader, Advisor: adv, Now: clock.Now, Sleep: clock.Sleep, AccountID: "123456789012"}
	inc := incidentFor(incident.Scope{AccessKeys: []string{keyID}, Principals: []string{webProfileArn, webSessionArn}, UserNames: []string{"alice"}})

	res, err := run(t, w.handler(t, c), inc)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	runDir := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
	// Records: 1 key, 2 identities, 168 + 168 report entries, and the
	// entries last accessed in the window (March 1-13, 2019): 16 each.
	const inWindow = 16
	want := incident.Result{Collector: collectorName, Status: incident.StatusOK, ResultKey: runDir + "results/iam.json",
		Artifacts: 7, Records: 1 + 2 + 168 + 168 + 2*inWindow}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}

	// The polls: alice's job answered twice in progress, waited 1s then
	// 2s; the role's job complete at once, then its two further pages.
	wantCalls := []string{
		"Generate " + aliceArn + " ACTION_LEVEL",
		"Generate " + webRoleArn + " ACTION_LEVEL",
		"Get " + placeboJobID, "Get " + placeboJobID, "Get " + placeboJobID,
		"Get " + roleJobID, "Get " + roleJobID + " derived-marker-1", "Get " + roleJobID + " derived-marker-2",
	}
	if !reflect.DeepEqual(adv.calls, wantCalls) {
		t.Errorf("advisor calls\n%q\nwant\n%q", adv.calls, wantCalls)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(clock.sleeps, want) {
		t.Errorf("sleeps %v, want %v", clock.sleeps, want)
	}

	stored := storedResult(t, w, inc)
	if len(stored.Gaps) != 0 || len(stored.Warnings) != 0 {
		t.Errorf("gaps %+v warnings %q", stored.Gaps, stored.Warnings)
	}
	arts := artifactsByName(stored, inc)
	wantNames := []string{
		"access-key-" + keyID + "-last-used.json",
		"alice/access-advisor.json", "alice/access-advisor.jsonl.gz", "alice/identity.json",
		"web-role/access-advisor.json", "web-role/access-advisor.jsonl.gz", "web-role/identity.json",
	}
	if got := keysOf(arts); !reflect.DeepEqual(got, wantNames) {
		t.Fatalf("artifacts %q, want %q", got, wantNames)
	}
	for name, a := range arts {
		if a.Source != evidence.SourceIAM || a.Collector != collectorName || a.SHA256 == "" {
			t.Errorf("%s: source %q collector %q sha256 %q", name, a.Source, a.Collector, a.SHA256)
		}
	}

	t.Run("access key", func(t *testing.T) {
		name := "access-key-" + keyID + "-last-used.json"
		a := arts[name]
		if a.API != "iam:GetAccessKeyLastUsed" || a.Records != 1 || !reflect.DeepEqual(a.Request, map[string]any{"AccessKeyId": keyID}) {
			t.Errorf("artifact %+v", a)
		}
		var doc any
		s3test.ObjectJSON(t, w.s3, testBucket, a.Key, &doc)
		golden(t, "access-key-last-used.json", normalize(doc, keyID))
	})

	for _, p := range []struct{ folder, arn, job, golden string }{
		{"alice", aliceArn, placeboJobID, "identity-alice.json"},
		{"web-role", webRoleArn, roleJobID, "identity-web-role.json"},
	} {
		t.Run(p.folder+" identity", func(t *testing.T) {
			a := arts[p.folder+"/identity.json"]
			if a.API != "iam:Get*" || a.Records != 1 {
				t.Errorf("artifact %+v", a)
			}
			var doc any
			s3test.ObjectJSON(t, w.s3, testBucket, a.Key, &doc)
			golden(t, p.golden, map[string]any{"request": normalize(a.Request, keyID), "origin": normalize(jsonValue(t, a.Origin), keyID), "content": normalize(doc, keyID)})
		})
		t.Run(p.folder+" access advisor", func(t *testing.T) {
			a := arts[p.folder+"/access-advisor.json"]
			wantReq := map[string]any{"Arn": p.arn, "Granularity": "ACTION_LEVEL", "JobId": p.job}
			first, last := time.Date(2016, 6, 26, 16, 0, 0, 0, time.UTC), time.Date(2019, 3, 13, 12, 6, 0, 0, time.UTC)
			if a.API != "iam:GetServiceLastAccessedDetails" || a.Records != 168 || !reflect.DeepEqual(a.Request, wantReq) ||
				a.FirstEvent == nil || !a.FirstEvent.Equal(first) || a.LastEvent == nil || !a.LastEvent.Equal(last) {
				t.Errorf("artifact %+v (first %v last %v)", a, a.FirstEvent, a.LastEvent)
			}
			var doc map[string]any
			s3test.ObjectJSON(t, w.s3, testBucket, a.Key, &doc)
			// The pages are the recorded answers exactly (the SDK's unset
			// members are null in the artifact, absent in the recording).
			wantPages := []any{rawCompleted(t)}
			if p.job == roleJobID {
				wantPages = rawPages(t)
			}
			wantDoc := map[string]any{"Arn": p.arn, "Granularity": "ACTION_LEVEL", "JobId": p.job, "Pages": wantPages}
			if got := withoutNulls(doc); !reflect.DeepEqual(got, wantDoc) {
				gb, _ := json.MarshalIndent(got, "", " ")
				t.Errorf("access-advisor.json differs from the recorded answers:\n%.3000s", gb)
			}
		})
		t.Run(p.folder+" extract", func(t *testing.T) {
			a := arts[p.folder+"/access-advisor.jsonl.gz"]
			lines := getJSONL(t, w.s3, a.Key)
			if a.Records != inWindow || len(lines) != inWindow {
				t.Fatalf("%d records, %d lines, want %d", a.Records, len(lines), inWindow)
			}
			// Exactly the recorded entries last accessed in the window.
			var want []string
			for _, e := range completed(t).ServicesLastAccessed {
				if e.LastAuthenticated != nil && inc.Window.Contains(*e.LastAuthenticated) {
					want = append(want, aws.ToString(e.ServiceNamespace)+" "+e.LastAuthenticated.UTC().Format(time.RFC3339))
				}
			}
			var got []string
			for _, l := range lines {
				if l["PrincipalArn"] != p.arn || l["JobId"] != p.job {
					t.Errorf("line %v", l)
				}
				got = append(got, l["ServiceNamespace"].(string)+" "+l["LastAuthenticated"].(string))
			}
			sort.Strings(want)
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("extract %q\nwant %q", got, want)
			}
			if a.FirstEvent == nil || !a.FirstEvent.Equal(time.Date(2019, 3, 1, 23, 20, 0, 0, time.UTC)) ||
				a.LastEvent == nil || !a.LastEvent.Equal(time.Date(2019, 3, 13, 12, 6, 0, 0, time.UTC)) {
				t.Errorf("extract first %v last %v", a.FirstEvent, a.LastEvent)
			}
		})
	}
}

// TestDerivedPages checks the multi-page fixture against the recording it
// was derived from: the same entries in the same order, the same job.
func TestDerivedPages(t *testing.T) {
	rec := completed(t)
	pages := derivedPages(t)
	var entries []string
	for i, p := range pages {
		last := i == len(pages)-1
		if p.JobStatus != rec.JobStatus || !p.JobCreationDate.Equal(*rec.JobCreationDate) || !p.JobCompletionDate.Equal(*rec.JobCompletionDate) ||
			p.IsTruncated == last || (aws.ToString(p.Marker) == "") != last {
			t.Errorf("page %d: %+v", i+1, p)
		}
		for _, e := range p.ServicesLastAccessed {
			b, _ := json.Marshal(e)
			entries = append(entries, string(b))
		}
	}
	var want []string
	for _, e := range rec.ServicesLastAccessed {
		b, _ := json.Marshal(e)
		want = append(want, string(b))
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("the derived pages hold %d entries, the recording %d, or they differ", len(entries), len(want))
	}
	var gen iam.GenerateServiceLastAccessedDetailsOutput
	placebo(t, "placebo_iam_GenerateServiceLastAccessedDetails_1.json", &gen)
	if aws.ToString(gen.JobId) != placeboJobID {
		t.Errorf("recorded job %q", aws.ToString(gen.JobId))
	}
}

// jsonValue is v as a decoded JSON value.
func jsonValue(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, "encode", err)
	var out any
	must(t, "decode", json.Unmarshal(b, &out))
	return out
}
