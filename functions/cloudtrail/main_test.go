package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const (
	evidenceBucket = "custody-evidence-test"
	trailBucket    = "custody-trail-logs"
	trailName      = "custody-trail"
	trailPrefix    = "ct"
	// The Stratus ec2-steal-instance-credentials detonation's account.
	account = "017622104382"
	region  = "us-east-1"
	caseID  = "gd-cloudtrail-test"
)

// testdata is the real data copied into the project (see
// shared/logs/cloudtrail/testdata/SOURCES.md for origin and license).
const testdata = "../../shared/logs/cloudtrail/testdata"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stratus returns the records of a Stratus detonation log (a JSON array).
func stratus(t testing.TB, technique string) []json.RawMessage {
	t.Helper()
	var rs []json.RawMessage
	if err := json.Unmarshal(readTestdata(t, "stratus-red-team/"+technique+".json"), &rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// split returns the records whose eventTime is <= at and those after it.
func split(t testing.TB, rs []json.RawMessage, at string) (before, after []json.RawMessage) {
	for _, r := range rs {
		var v struct{ EventTime string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		if v.EventTime <= at {
			before = append(before, r)
		} else {
			after = append(after, r)
		}
	}
	return before, after
}

// logFile is records as CloudTrail delivers them: {"Records":[...]},
// gzip-compressed. (DERIVED from the real records: the wrapping and the
// compression are ours.)
func logFile(t testing.TB, rs []json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": rs})
	if err != nil {
		t.Fatal(err)
	}
	return gz(b)
}

func eventTime(r json.RawMessage) string {
	var v struct{ EventTime string }
	json.Unmarshal(r, &v)
	return v.EventTime
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// logKey is the key CloudTrail gives a log file delivered at stamp
// (YYYYMMDDTHHMMZ) to the test trail.
func logKey(acct, stamp, unique string) string {
	day := stamp[:4] + "/" + stamp[4:6] + "/" + stamp[6:8]
	return fmt.Sprintf("%s/AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", trailPrefix, acct, region, day, acct, region, stamp, unique)
}

// digestKey is the key of a digest delivered at stamp (YYYYMMDDTHHMMSSZ).
func digestKey(stamp string) string {
	day := stamp[:4] + "/" + stamp[4:6] + "/" + stamp[6:8]
	return fmt.Sprintf("%s/AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz", trailPrefix, account, region, day, account, region, trailName, region, stamp)
}

type env struct {
	s3     *s3.Client
	trails *cloudtrail.Client
	seeded map[string][]byte // trail bucket key -> bytes
}

// setup resets the emulator, creates the locked evidence bucket (as the
// stack does) and the trail bucket; with trail, a trail delivering to it.
func setup(t *testing.T, trail bool) *env {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	e := &env{s3: s3.NewFromConfig(cfg, awsconfig.S3Options), trails: cloudtrail.NewFromConfig(cfg), seeded: map[string][]byte{}}
	if err := emulator.LockedBucket(ctx, e.s3, evidenceBucket); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(trailBucket)}); err != nil {
		t.Fatal(err)
	}
	if trail {
		if _, err := e.trails.CreateTrail(ctx, &cloudtrail.CreateTrailInput{
			Name: aws.String(trailName), S3BucketName: aws.String(trailBucket), S3KeyPrefix: aws.String(trailPrefix),
			IsMultiRegionTrail: aws.Bool(true), IncludeGlobalServiceEvents: aws.Bool(true), EnableLogFileValidation: aws.Bool(true),
		}); err != nil {
			t.Fatalf("CreateTrail: %v", err)
		}
		if _, err := e.trails.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(trailName)}); err != nil {
			t.Fatalf("StartLogging: %v", err)
		}
	}
	return e
}

func (e *env) seed(t *testing.T, key string, body []byte, meta map[string]string) {
	t.Helper()
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(trailBucket), Key: aws.String(key), Body: bytes.NewReader(body), Metadata: meta,
	}); err != nil {
		t.Fatal(err)
	}
	e.seeded[key] = body
}

func (e *env) collector() *Collector {
	return &Collector{Trails: e.trails, Logs: e.s3, Pad: DefaultPad, Region: region, Concurrency: 3,
		Now: func() time.Time { return time.Date(2024, 8, 3, 0, 0, 0, 0, time.UTC) }}
}

// window of the tests: from 12:04 on 1 August to 08:23:40 on 2 August
// 2024 (UTC); with the 15-minute pad, keys from 11:49 to 08:38:40 are
// chosen, under the day prefixes 2024/08/01 and 2024/08/02.
var window = incident.Window{Start: time.Date(2024, 8, 1, 12, 4, 0, 0, time.UTC), End: time.Date(2024, 8, 2, 8, 23, 40, 0, time.UTC)}

func testIncident(sc incident.Scope) incident.Incident {
	sc.AccountID, sc.Region = account, region
	return incident.Incident{CaseID: caseID, RunID: incident.RunIDFor(window.End), Scope: sc, Window: window}
}

// run runs c through the shared driver and returns its stored result.
func (e *env) run(t *testing.T, c collect.Collector, inc incident.Incident) evidence.CollectorResult {
	t.Helper()
	d := &collect.Driver{Writer: evidence.NewWriter(e.s3, evidenceBucket), Version: "test", Now: time.Now}
	if _, err := d.Run(context.Background(), c, collect.Input{Incident: inc, Item: incident.PlanItem{Collector: CollectorName}}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	key, _ := evidence.ResultKey(inc.CaseID, inc.RunID, CollectorName)
	return e.result(t, key)
}

func (e *env) result(t *testing.T, key string) evidence.CollectorResult {
	t.Helper()
	var r evidence.CollectorResult
	s3test.ObjectJSON(t, e.s3, evidenceBucket, key, &r)
	return r
}

// artifactKey is where the collector stores name.
func artifactKey(inc incident.Incident, name string) string {
	k, _ := evidence.ArtifactKey(inc.CaseID, inc.RunID, evidence.SourceCloudTrail, name)
	return k
}

// extract reads a .jsonl.gz artifact's records.
func (e *env) extract(t *testing.T, key string) []map[string]any {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(s3test.Body(t, e.s3, evidenceBucket, key)))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := json.NewDecoder(zr)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func byKey(r evidence.CollectorResult) map[string]evidence.Artifact {
	m := map[string]evidence.Artifact{}
	for _, a := range r.Artifacts {
		m[a.Key] = a
	}
	return m
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ids(t testing.TB, recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["eventID"].(string))
	}
	sort.Strings(out)
	return out
}

func rawIDs(t testing.TB, rs []json.RawMessage, keep func(m map[string]any) bool) []string {
	var out []string
	for _, r := range rs {
		var m map[string]any
		json.Unmarshal(r, &m)
		if keep(m) {
			out = append(out, m["eventID"].(string))
		}
	}
	sort.Strings(out)
	return out
}

func arnIs(arn string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["userIdentity"].(map[string]any)["arn"] == arn }
}

func timeIn(m map[string]any) bool {
	t, _ := time.Parse(time.RFC3339, m["eventTime"].(string))
	return window.Contains(t)
}

func and(fs ...func(map[string]any) bool) func(map[string]any) bool {
	return func(m map[string]any) bool {
		for _, f := range fs {
			if !f(m) {
				return false
			}
		}
		return true
	}
}

const (
	christopheA = "arn:aws:iam::017622104382:user/christophe" // the steal detonation's user
	christopheB = "arn:aws:iam::309303190113:user/christophe" // the user-data detonation's user: same name, other account
)

// seedTrail seeds three days of real log files around the window, and
// digests. It returns the keys that must be copied.
func seedTrail(t *testing.T, e *env) (logs, digests []string) {
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	s1, s2 := split(t, steal, "2024-08-02T08:23:30Z")
	files := []struct {
		key    string
		recs   []json.RawMessage
		copied bool
	}{
		// 1 August: delivered before the pad (11:49): not copied.
		{logKey(account, "20240801T1135Z", "Launch"), stratus(t, "aws.execution.ec2-launch-unusual-instances"), false},
		// The window's first day: records straddling its start.
		{logKey(account, "20240801T1205Z", "UserData"), stratus(t, "aws.execution.ec2-user-data"), true},
		{logKey(account, "20240801T1335Z", "AdminUser"), stratus(t, "aws.persistence.iam-create-admin-user"), true},
		// 2 August: the theft, then its last minute delivered in the pad
		// (its records after the window's end).
		{logKey(account, "20240802T0825Z", "Steal1"), s1, true},
		{logKey(account, "20240802T0830Z", "Steal2"), s2, true},
		{logKey(account, "20240802T0835Z", "LeaveOrg"), stratus(t, "aws.defense-evasion.organizations-leave"), true},
		// Delivered after the pad: not copied.
		{logKey(account, "20240802T0855Z", "Login"), stratus(t, "aws.initial-access.console-login-without-mfa"), false},
		// Another account's folder: not listed.
		{logKey("309303190113", "20240802T0825Z", "OtherAccount"), steal, false},
	}
	for _, f := range files {
		e.seed(t, f.key, logFile(t, f.recs), nil)
		if f.copied {
			logs = append(logs, f.key)
		}
	}
	// 3 August: outside the window's days, never listed: the real
	// opensearch .json.gz, byte for byte.
	e.seed(t, logKey(account, "20240803T0010Z", "Day3"), readTestdata(t, "opensearch-catalog/347283850106_CloudTrail_eu-west-1_20211202T2215Z_DERIVEDfromOpenSearchCatalog.json.gz"), nil)

	digest := gz(readTestdata(t, "otel-collector-contrib/cloudtrail_digest_fixture.json"))
	sig := map[string]string{"signature": "3d8f2d45c2a6e1d5c8a2bd9f1e5e3b7c", "signature-algorithm": "SHA256withRSA"}
	for _, d := range []struct {
		stamp  string
		copied bool
	}{
		{"20240801T100012Z", false}, // before the pad
		{"20240801T110012Z", true},  // the one before: the chain is proved from the window's start
		{"20240801T120012Z", true},
		{"20240802T090012Z", true}, // covers the window's last hour
		{"20240802T100012Z", true}, // the one after
		{"20240802T110012Z", false},
	} {
		e.seed(t, digestKey(d.stamp), digest, sig)
		if d.copied {
			digests = append(digests, digestKey(d.stamp))
		}
	}
	return logs, digests
}

func TestCollectTrail(t *testing.T) {
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	userData := stratus(t, "aws.execution.ec2-user-data")
	for _, tc := range []struct {
		name  string
		scope incident.Scope
		want  []string // eventIDs of the extract
		count int
	}{
		// The steal detonation's user: 42 of its 44 records are in the
		// window; 08:23:54 is just after it; the instance role's session
		// (another principal) is left out, as is the other account's
		// christophe in the window.
		{"principal of the theft", incident.Scope{Principals: []string{christopheA}},
			rawIDs(t, steal, and(arnIs(christopheA), timeIn)), 42},
		// The other account's christophe: 16 of 35 records are at or
		// after the window's start (12:04:00), the 19 before are not.
		{"principal straddling the start", incident.Scope{Principals: []string{christopheB}},
			rawIDs(t, userData, and(arnIs(christopheB), timeIn)), 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, true)
			wantLogs, wantDigests := seedTrail(t, e)
			inc := testIncident(tc.scope)
			r := e.run(t, e.collector(), inc)
			if r.Status != incident.StatusOK || len(r.Gaps) != 0 {
				t.Fatalf("status %s, gaps %+v, error %s", r.Status, r.Gaps, r.Error)
			}
			if len(r.Warnings) != 0 {
				t.Errorf("warnings: %q", r.Warnings)
			}
			arts := byKey(r)
			// Exactly these copies, byte-identical, with their origin.
			var want []string
			for _, k := range wantLogs {
				want = append(want, artifactKey(inc, "logs/"+k))
			}
			for _, k := range wantDigests {
				want = append(want, artifactKey(inc, "digest/"+k))
			}
			want = append(want, artifactKey(inc, "extract.jsonl.gz"), artifactKey(inc, "trails.json"))
			sort.Strings(want)
			if got := keys(arts); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("artifacts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, src := range append(append([]string(nil), wantLogs...), wantDigests...) {
				dir := "logs/"
				if strings.Contains(src, "CloudTrail-Digest") {
					dir = "digest/"
				}
				a := arts[artifactKey(inc, dir+src)]
				stored := s3test.Body(t, e.s3, evidenceBucket, a.Key)
				if a.SHA256 != sha(e.seeded[src]) || sha(stored) != sha(e.seeded[src]) {
					t.Errorf("%s: sha256 %s, stored %s, original %s", a.Key, a.SHA256, sha(stored), sha(e.seeded[src]))
				}
				if a.API != "s3:CopyObject" || a.Origin == nil || a.Origin.Bucket != trailBucket || a.Origin.Key != src || a.Source != evidence.SourceCloudTrail {
					t.Errorf("%s: api %s origin %+v", a.Key, a.API, a.Origin)
				}
			}
			// The digest's signature is kept.
			head, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(evidenceBucket), Key: aws.String(artifactKey(inc, "digest/"+wantDigests[0]))})
			if err != nil {
				t.Fatal(err)
			}
			if head.Metadata["signature"] != "3d8f2d45c2a6e1d5c8a2bd9f1e5e3b7c" || head.Metadata["signature-algorithm"] != "SHA256withRSA" {
				t.Errorf("digest metadata %v", head.Metadata)
			}
			// The extract: exactly the records of the principal in the window.
			ex := arts[artifactKey(inc, "extract.jsonl.gz")]
			recs := e.extract(t, ex.Key)
			if len(tc.want) != tc.count || len(recs) != tc.count || ex.Records != int64(tc.count) {
				t.Fatalf("extract: %d records (manifest %d), want %d (%d by the filter)", len(recs), ex.Records, tc.count, len(tc.want))
			}
			if got := ids(t, recs); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("extract eventIDs differ")
			}
			if ex.API != "s3:GetObject" || ex.Request["bucket"] != trailBucket || ex.FirstEvent == nil || ex.LastEvent == nil ||
				ex.FirstEvent.Before(window.Start) || ex.LastEvent.After(window.End) {
				t.Errorf("extract meta: api %s request %v first %v last %v", ex.API, ex.Request, ex.FirstEvent, ex.LastEvent)
			}
			prefixes, _ := ex.Request["prefixes"].([]any)
			if len(prefixes) != 2 || prefixes[0] != "ct/AWSLogs/017622104382/CloudTrail/us-east-1/2024/08/01/" || prefixes[1] != "ct/AWSLogs/017622104382/CloudTrail/us-east-1/2024/08/02/" {
				t.Errorf("prefixes %v", prefixes)
			}
			// Records are stored as CloudTrail wrote them.
			for _, rec := range recs {
				if rec["userIdentity"].(map[string]any)["arn"] != tc.scope.Principals[0] {
					t.Fatalf("record of another principal: %v", rec["userIdentity"])
				}
			}
		})
	}
}

// failingLookup is a LookupEvents that must not be called.
type failingLookup struct{ t *testing.T }

func (f failingLookup) LookupEvents(context.Context, *cloudtrail.LookupEventsInput, ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	f.t.Error("LookupEvents called while a trail bucket was readable")
	return &cloudtrail.LookupEventsOutput{}, nil
}

func TestCollectMalformed(t *testing.T) {
	e := setup(t, true)
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	s1, s2 := split(t, steal, "2024-08-02T08:23:30Z")
	// A file whose 3rd record is not an object and whose 5th has an
	// unparseable eventTime (both christophe's, in the window): 39 left.
	bad := append([]json.RawMessage(nil), s1...)
	bad[2] = json.RawMessage(`"not a record"`)
	var m map[string]any
	json.Unmarshal(bad[4], &m)
	m["eventTime"] = "2024-08-02 08:23"
	bad[4], _ = json.Marshal(m)
	badKey := logKey(account, "20240802T0825Z", "Malformed")
	e.seed(t, badKey, logFile(t, bad), nil)
	// A log file cut after its first record (08:23:36, christophe, in
	// the window): that record is kept.
	sort.Slice(s2, func(i, j int) bool { return eventTime(s2[i]) < eventTime(s2[j]) })
	whole, _ := json.Marshal(map[string]any{"Records": s2})
	var second struct{ EventID string }
	json.Unmarshal(s2[1], &second)
	cut := bytes.LastIndex(whole[:bytes.Index(whole, []byte(`"eventID":"`+second.EventID))], []byte(`,{`)) + 1
	truncKey := logKey(account, "20240802T0830Z", "TruncatedJSON")
	e.seed(t, truncKey, gz(whole[:cut]), nil)
	// A gzip stream cut in half (another principal's records).
	full := logFile(t, stratus(t, "aws.execution.ec2-user-data"))
	gzKey := logKey(account, "20240801T1205Z", "TruncatedGzip")
	e.seed(t, gzKey, full[:len(full)/2], nil)

	inc := testIncident(incident.Scope{Principals: []string{christopheA}})
	c := e.collector()
	c.Lookup = failingLookup{t}
	r := e.run(t, c, inc)
	if r.Status != incident.StatusOK {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	arts := byKey(r)
	for _, k := range []string{badKey, truncKey, gzKey} {
		a, ok := arts[artifactKey(inc, "logs/"+k)]
		if !ok || a.SHA256 != sha(e.seeded[k]) {
			t.Errorf("%s not copied unchanged (%v)", k, ok)
		}
	}
	ex := arts[artifactKey(inc, "extract.jsonl.gz")]
	if ex.Records != 40 || len(e.extract(t, ex.Key)) != 40 {
		t.Errorf("extract has %d records, want 39 + 1", ex.Records)
	}
	if len(r.Warnings) != 2 { // malformed/truncated; no digest
		t.Fatalf("warnings %q", r.Warnings)
	}
	w := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"2 malformed records", "2 log files not read to the end", badKey, truncKey, gzKey, "record 3: record is not a JSON object", `"2024-08-02 08:23"`, "no digest file"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
}

func TestCollectGaps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		trail    bool
		drop     bool // delete the trail bucket
		lookup   bool
		wantGaps []string
	}{
		{"no trail, no LookupEvents", false, false, false, []string{"LookupEvents is not available"}},
		{"trail bucket missing, no LookupEvents", true, true, false, []string{"custody-trail-logs, which does not exist", "LookupEvents is not available"}},
		{"trail bucket missing, LookupEvents", true, true, true, []string{"custody-trail-logs, which does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, tc.trail)
			if tc.drop {
				if _, err := e.s3.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(trailBucket)}); err != nil {
					t.Fatal(err)
				}
			}
			c := e.collector()
			var fake *fakeLookup
			if tc.lookup {
				fake = newFakeLookup(t, 10)
				c.Lookup, c.Limiter = fake, &countingLimiter{}
			}
			inc := testIncident(incident.Scope{AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}})
			r := e.run(t, c, inc)
			if r.Status != incident.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			if len(r.Gaps) != len(tc.wantGaps) {
				t.Fatalf("gaps %+v, want %q", r.Gaps, tc.wantGaps)
			}
			for i, g := range r.Gaps {
				if !strings.Contains(g.Reason, tc.wantGaps[i]) || g.Source != evidence.SourceCloudTrail || g.Fix == "" {
					t.Errorf("gap %d = %+v, want %q", i, g, tc.wantGaps[i])
				}
			}
			if !tc.trail && r.Gaps[0].Fix != fixEnableTrail {
				t.Errorf("fix = %q", r.Gaps[0].Fix)
			}
			_, hasLookup := byKey(r)[artifactKey(inc, "lookup-events.jsonl.gz")]
			if hasLookup != tc.lookup {
				t.Errorf("lookup-events artifact: %v, want %v", hasLookup, tc.lookup)
			}
		})
	}
}

func TestPadFromEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": DefaultPad, "5m": 5 * time.Minute, "0s": 0} {
		if d, err := padFromEnv(func(string) string { return v }); err != nil || d != want {
			t.Errorf("%q: %v %v", v, d, err)
		}
	}
	for _, v := range []string{"15", "-1m"} {
		if _, err := padFromEnv(func(string) string { return v }); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
}

func TestKeyTime(t *testing.T) {
	for key, want := range map[string]string{
		"AWSLogs/1/CloudTrail/us-east-1/2024/08/02/1_CloudTrail_us-east-1_20240802T0825Z_abc.json.gz":                         "2024-08-02T08:25:00Z",
		"AWSLogs/1/CloudTrail-Digest/us-east-1/2024/08/02/1_CloudTrail-Digest_us-east-1_t_us-east-1_20240802T090012Z.json.gz": "2024-08-02T09:00:12Z",
		"347283850106_CloudTrail_eu-west-1_20211202T2215Z_DERIVEDfromOpenSearchCatalog.json.gz":                               "2021-12-02T22:15:00Z",
		"AWSLogs/1/CloudTrail/us-east-1/2024/08/02/readme.txt":                                                                "",
	} {
		got, ok := KeyTime(key)
		if (want == "") == ok || (ok && got.Format(time.RFC3339) != want) {
			t.Errorf("%s: %v %v, want %s", key, got, ok, want)
		}
	}
}
