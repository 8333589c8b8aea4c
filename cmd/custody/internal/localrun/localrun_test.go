package localrun

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/cmd/custody/internal/lambdart"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/finding"
)

// TestEndToEnd deploys the real app into the emulator once and sends inputs
// through the deployed state machine definition: the demo scenario, the
// same finding again, a newer update of it, a refused input, and a run
// whose collector breaks.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	demo := filepath.Join(root, "cmd", "custody", "scenarios", "demo")
	deployContext, err := LoadContext(demo)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Setup(ctx, root, &log, &log, deployContext)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, log.String())
	}
	defer env.Close()
	defer func() {
		if t.Failed() {
			t.Logf("local run output:\n%s", log.String())
		}
	}()
	seeded, err := env.Seed(ctx, demo)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(demo, "finding.json"))
	if err != nil {
		t.Fatal(err)
	}
	input, err := seeded.Rewrite(raw)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(env.Config, awsconfig.S3Options)

	var first *Outcome
	var clean *Summary
	t.Run("demo finding seals a complete, verified case", func(t *testing.T) {
		out, err := env.Execute(ctx, input, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.Duplicate || out.Status != evidence.RunComplete {
			t.Fatalf("outcome = %+v, want a complete run", out)
		}
		first = out
		dir := t.TempDir()
		s, err := env.Fetch(ctx, out.CaseID, out.RunID, dir)
		if err != nil {
			t.Fatal(err)
		}
		clean = s
		if s.BySource[evidence.SourceGuardDuty] != 2 || s.BySource[evidence.SourceCase] < 4 {
			t.Fatalf("artifacts by source = %v, want guardduty=2 and case>=4", s.BySource)
		}
		// The demo seed's in-scope, in-window records (its README's table),
		// and nothing of its noise: another principal, another ENI, another
		// bucket, records just outside the window.
		checkDemoRecords(t, s.Manifest)
		// Every copy is byte for byte the original.
		copies := 0
		for _, a := range s.Manifest.Artifacts {
			if a.API != "s3:CopyObject" || a.Origin == nil {
				continue
			}
			copies++
			obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &a.Origin.Bucket, Key: &a.Origin.Key})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.New()
			_, err = io.Copy(sum, obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(sum.Sum(nil)) != a.SHA256 {
				t.Errorf("copy %s differs from s3://%s/%s", a.Key, a.Origin.Bucket, a.Origin.Key)
			}
		}
		if copies < 8 {
			t.Errorf("%d copies of original log objects, want the trail, flow log and access log files", copies)
		}
		// Seal's analysis: one timeline across the sources, in time order,
		// every line importable (datetime, timestamp_desc, message); the report.
		runDir := filepath.Join(dir, out.CaseID, "runs", out.RunID)
		// The chain of custody: the manifest signed by the seal key the
		// local run made; every CloudTrail copy validated against the
		// digests the scenario signed the way CloudTrail does.
		if s.SignedBy == "" || s.SignedBy != env.Deploy.SigningKeyFingerprint {
			t.Errorf("signed by %q, want the seal key %q", s.SignedBy, env.Deploy.SigningKeyFingerprint)
		}
		var ctv struct {
			Counts map[string]int `json:"counts"`
		}
		if b, err := os.ReadFile(filepath.Join(runDir, "cloudtrail", "digest-validation.json")); err != nil {
			t.Error(err)
		} else if err := json.Unmarshal(b, &ctv); err != nil || ctv.Counts["valid"] == 0 || len(ctv.Counts) != 1 {
			t.Errorf("CloudTrail digest validation %s: want every log file valid", b)
		}
		for _, f := range []string{"timeline.jsonl", "timeline.csv", "untimed.jsonl", "report.md", "report.html"} {
			if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
				t.Errorf("the run lacks %s: %v", f, err)
			}
		}
		tl, err := os.ReadFile(filepath.Join(runDir, "timeline.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sources := map[string]int{}
		var last time.Time
		for i, line := range bytes.Split(bytes.TrimSpace(tl), []byte("\n")) {
			var ev struct {
				Datetime      string `json:"datetime"`
				TimestampDesc string `json:"timestamp_desc"`
				Message       string `json:"message"`
				Source        string `json:"source"`
			}
			if err := json.Unmarshal(line, &ev); err != nil || ev.Datetime == "" || ev.TimestampDesc == "" || ev.Message == "" {
				t.Fatalf("timeline line %d: %v: %s", i+1, err, line)
			}
			at, err := time.Parse(time.RFC3339Nano, ev.Datetime)
			if err != nil {
				t.Fatalf("timeline line %d: datetime %q: %v", i+1, ev.Datetime, err)
			}
			if at.Before(last) {
				t.Fatalf("timeline line %d (%s) is before the one above (%s)", i+1, ev.Datetime, last)
			}
			last = at
			sources[ev.Source]++
		}
		if len(sources) < 5 {
			t.Errorf("timeline sources %v, want events from every log source and the finding", sources)
		}
		html, err := os.ReadFile(filepath.Join(runDir, "report.html"))
		if err != nil || !bytes.Contains(html, []byte(out.CaseID)) {
			t.Errorf("report.html does not name the case: %v", err)
		}
		// The finding is stored exactly as received: the envelope's detail.
		in, err := finding.Parse(input)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := os.ReadFile(filepath.Join(dir, out.CaseID, "runs", out.RunID, "guardduty", "finding.json"))
		if err != nil {
			t.Fatal(err)
		}
		// (The interpreter re-serializes the input, as Step Functions does,
		// so the bytes Triage received are compact: compare as JSON.)
		if !jsonEqual(t, stored, in.Finding.Raw) {
			t.Fatalf("stored finding differs from the one received:\n%s", stored)
		}
		// custody's own footprint: every collector's, Triage's and Seal's
		// calls are an artifact of the manifest, one line a call with its
		// request ID, and the handlers' credentials in none.
		logs := map[string]bool{}
		for _, a := range s.Manifest.Artifacts {
			if a.Source != evidence.SourceActions {
				continue
			}
			logs[strings.TrimSuffix(filepath.Base(a.Key), ".jsonl")] = true
			b, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(a.Key, evidence.CasesRoot)))
			if err != nil {
				t.Fatal(err)
			}
			if a.Records > 0 && (!bytes.Contains(b, []byte(`"requestId":"`)) || !bytes.Contains(b, []byte(`"clockSkewMillis":`))) {
				t.Errorf("%s names no request ID or clock skew:\n%s", a.Key, b)
			}
			if bytes.Contains(b, []byte(`"SecretAccessKey":"`)) && !bytes.Contains(b, []byte(`"SecretAccessKey":"[removed]"`)) {
				t.Errorf("%s holds a secret key", a.Key)
			}
		}
		for _, c := range s.Manifest.Collectors {
			if c.Status != "skipped" && !logs[c.Name] {
				t.Errorf("no action log of %s: %v", c.Name, logs)
			}
		}
		if !logs["seal"] {
			t.Errorf("no action log of seal: %v", logs)
		}
		// Every artifact version is locked in the deployed bucket.
		rep, err := evidence.VerifyBucket(ctx, client, env.Bucket, s.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			t.Fatal(err)
		}
	})
	if first == nil {
		t.FailNow()
	}

	t.Run("under the fault drill the demo seals the same case, nothing written twice", func(t *testing.T) {
		// 5 % of the handlers' calls answered with a fault, seeded: the
		// SDK's retries, the state machine's and the writer's
		// If-None-Match absorb them all.
		drill := FaultDrill{Rate: 0.05, Seed: DefaultFaultSeed}
		env.Gate.InjectFaults(drill, &log)
		out, s := runWith(t, env, input, "faa17da1faa17da1faa17da1faa17da1", func(*lambdart.Function) {})
		stats := env.Gate.FaultStats()
		env.Gate.InjectFaults(FaultDrill{}, nil)
		t.Logf("faults: %s", stats)
		if stats.Total() == 0 {
			t.Fatalf("the drill injected no fault in %d calls", stats.Calls)
		}
		if out.Status != clean.Status {
			t.Errorf("status %q under faults, %q clean", out.Status, clean.Status)
		}
		want, got := caseShape(clean.Manifest), caseShape(s.Manifest)
		if !slices.Equal(want.gaps, got.gaps) {
			t.Errorf("gaps under faults:\n%q\nclean:\n%q", got.gaps, want.gaps)
		}
		if !slices.Equal(want.collectors, got.collectors) {
			t.Errorf("collectors under faults %q, clean %q", got.collectors, want.collectors)
		}
		for _, src := range evidence.Sources {
			if src == evidence.SourceActions {
				// Custody's own calls: faults add retries, and each
				// retried attempt its log.
				continue
			}
			if !maps.Equal(want.records[src], got.records[src]) {
				t.Errorf("%s: artifacts and records under faults:\n%v\nclean:\n%v", src, got.records[src], want.records[src])
			}
		}
		// Nothing written twice: every key of the case holds one version.
		prefix, _ := evidence.CasePrefix(out.CaseID)
		versions := map[string]int{}
		p := s3.NewListObjectVersionsPaginator(client, &s3.ListObjectVersionsInput{Bucket: &env.Bucket, Prefix: &prefix})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Versions {
				versions[aws.ToString(v.Key)]++
			}
			if len(page.DeleteMarkers) > 0 {
				t.Errorf("%d delete markers in the case", len(page.DeleteMarkers))
			}
		}
		for k, n := range versions {
			if n != 1 {
				t.Errorf("%s written %d times", k, n)
			}
		}
		if len(versions) < len(s.Manifest.Artifacts) {
			t.Errorf("%d keys in the case, fewer than its %d artifacts", len(versions), len(s.Manifest.Artifacts))
		}
	})

	t.Run("a locked artifact version cannot be deleted and survives an overwrite", func(t *testing.T) {
		key, _ := evidence.ManifestKey(first.CaseID, first.RunID)
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &env.Bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &env.Bucket, Key: &key, VersionId: head.VersionId}); err == nil {
			t.Fatal("deleting a locked manifest version succeeded")
		}
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &env.Bucket, Key: &key, Body: strings.NewReader("{}"),
			ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
			t.Fatalf("overwrite (a new version) was refused: %v", err)
		}
		got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &env.Bucket, Key: &key, VersionId: head.VersionId})
		if err != nil {
			t.Fatalf("the original version is gone: %v", err)
		}
		got.Body.Close()
		if aws.ToInt64(got.ContentLength) != aws.ToInt64(head.ContentLength) {
			t.Fatalf("original version changed size")
		}
	})

	t.Run("the same finding again is one run", func(t *testing.T) {
		out, err := env.Execute(ctx, input, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Duplicate || out.CaseID != first.CaseID || out.RunID != first.RunID {
			t.Fatalf("outcome = %+v, want a duplicate of %+v", out, first)
		}
	})

	t.Run("a newer updatedAt adds a run to the same case", func(t *testing.T) {
		// The seed shifts the demo's times; find its updatedAt where the shift put it.
		was, later := seeded.Shift.String("2024-08-02T08:31:12.824Z"), seeded.Shift.String("2024-08-02T09:45:00.000Z")
		newer := bytes.Replace(input, []byte(`"updatedAt": "`+was+`"`), []byte(`"updatedAt": "`+later+`"`), 1)
		if bytes.Equal(newer, input) {
			t.Fatal("the demo finding's updatedAt moved: update this test")
		}
		out, err := env.Execute(ctx, newer, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.Duplicate || out.CaseID != first.CaseID || out.RunID == first.RunID {
			t.Fatalf("outcome = %+v, want a new run of case %s", out, first.CaseID)
		}
	})

	t.Run("a refused input fails Triage and is kept under rejected/", func(t *testing.T) {
		_, err := env.Execute(ctx, []byte(`{"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {"id": "x", "severity": "high"}}`), nil)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitRejected {
			t.Fatalf("err = %v, want ExitRejected", err)
		}
		if !strings.Contains(err.Error(), "InvalidInputError") || !strings.Contains(err.Error(), "detail.severity") {
			t.Fatalf("err %q does not name the error type and the field", err)
		}
		list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &env.Bucket, Prefix: aws.String("rejected/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) != 2 {
			t.Fatalf("rejected/ holds %d objects, want the input and its reason", len(list.Contents))
		}
	})

	t.Run("a collector that panics makes the run partial, with its error", func(t *testing.T) {
		bin := failingBinary(t)
		out, s := runWith(t, env, input, "0000aaaa1111bbbb2222cccc3333dddd", func(f *lambdart.Function) {
			if strings.Contains(strings.ToLower(f.Name), "guardduty") {
				f.Binary = bin
			}
		})
		if out.Status != evidence.RunPartial {
			t.Fatalf("status = %q, want partial", out.Status)
		}
		if len(s.Failed) != 1 || !strings.Contains(s.Failed[0], "collector exploded") {
			t.Fatalf("failed collectors = %q, want guardduty with the panic", s.Failed)
		}
		b, _ := json.Marshal(s.Manifest.Collectors)
		if !strings.Contains(string(b), `"status":"failed"`) {
			t.Fatalf("manifest collectors = %s", b)
		}
	})

	t.Run("sources past their budget fan out over shards and seal the same records", func(t *testing.T) {
		// The deployed functions with a budget of one log object an
		// invocation: cloudtrail, vpcflow and s3access hand each file to a
		// shard of the deployed definition's shard Maps.
		out, s := runWith(t, env, input, "5555eeee6666ffff7777aaaa8888bbbb", oneObjectBudget)
		if out.Status != evidence.RunComplete {
			t.Fatalf("status = %q, want complete", out.Status)
		}
		checkDemoRecords(t, s.Manifest)
		shardExtracts := map[string]int{}
		for _, a := range s.Manifest.Artifacts {
			if strings.Contains(a.Key, "-shard0") {
				shardExtracts[a.Source]++
			}
		}
		t.Logf("shard artifacts by source: %v", shardExtracts)
		for _, src := range []string{evidence.SourceCloudTrail, evidence.SourceVPCFlow, evidence.SourceS3Access} {
			if shardExtracts[src] < 2 {
				t.Errorf("%s: %d shard extracts, want one a log file (all: %v)", src, shardExtracts[src], shardExtracts)
			}
			plan, _ := evidence.ShardFileKey(out.CaseID, out.RunID, src, "plan.json")
			if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &env.Bucket, Key: &plan}); err != nil {
				t.Errorf("%s: no plan: %v", src, err)
			}
		}
		// The plan and shard results are not evidence: the case verifies.
		rep, err := evidence.VerifyBucket(ctx, client, env.Bucket, s.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("shards that crash fail their collector by name and the run seals partial", func(t *testing.T) {
		// CloudTrail's shards run in their own function: replace its code
		// with one that panics. The shard Map catches each failure, the
		// merge names the shards, and what the first invocation wrote (the
		// trails, the digests) is still sealed.
		bin := failingBinary(t)
		shardFns := 0
		out, s := runWith(t, env, input, "9999cccc0000dddd1111eeee2222ffff", func(f *lambdart.Function) {
			oneObjectBudget(f)
			if strings.Contains(f.Name, "CollectCloudTrailShard") {
				f.Binary = bin
				shardFns++
			}
		})
		if shardFns != 1 {
			t.Fatalf("%d CloudTrail shard functions deployed, want 1", shardFns)
		}
		if out.Status != evidence.RunPartial {
			t.Fatalf("status = %q, want partial", out.Status)
		}
		var ct *evidence.CollectorStatus
		for i, c := range s.Manifest.Collectors {
			if c.Name == evidence.SourceCloudTrail {
				ct = &s.Manifest.Collectors[i]
			}
		}
		if ct == nil || ct.Status != "failed" || !strings.Contains(ct.Error, "shards failed") || !strings.Contains(ct.Error, "collector exploded") {
			t.Fatalf("cloudtrail collector = %+v, want failed naming its shards and the panic", ct)
		}
		kept := map[string]bool{}
		for _, a := range s.Manifest.Artifacts {
			if a.Source == evidence.SourceCloudTrail {
				kept[path.Base(path.Dir(a.Key))+"/"+path.Base(a.Key)] = true
				if strings.Contains(a.Key, "extract") {
					t.Errorf("an extract of a crashed shard is listed: %s", a.Key)
				}
			}
		}
		if !kept["cloudtrail/trails.json"] {
			t.Errorf("the first invocation's trails.json is not sealed: %v", kept)
		}
		for _, src := range []string{evidence.SourceVPCFlow, evidence.SourceS3Access} {
			if !slices.ContainsFunc(s.Manifest.Artifacts, func(a evidence.Artifact) bool { return a.Source == src && strings.Contains(a.Key, "-shard0") }) {
				t.Errorf("%s's shards (another function) did not run", src)
			}
		}
	})

	t.Run("a second pass that crashes is a failed collector and the run seals partial", func(t *testing.T) {
		// The DynamoDB function runs both in the Collect Map and as the
		// second pass; both crash. Its Catch once led to a Pass that ended
		// the execution SUCCEEDED with no Seal.
		bin := failingBinary(t)
		out, s := runWith(t, env, input, "7777aaaa0000bbbb1111cccc2222dddd", func(f *lambdart.Function) {
			if strings.Contains(f.Name, "CollectDynamoDB") {
				f.Binary = bin
			}
		})
		if out.Status != evidence.RunPartial || s.Manifest.Status != evidence.RunPartial {
			t.Fatalf("status = %q (manifest %q), want partial", out.Status, s.Manifest.Status)
		}
		failed := 0
		for _, c := range s.Manifest.Collectors {
			// dynamodb (the Map) and dynamodb-cloudtrail (the second pass)
			if strings.HasPrefix(c.Name, evidence.SourceDynamoDB) && c.Status == "failed" && strings.Contains(c.Error, "collector exploded") {
				failed++
			}
		}
		if failed != 2 {
			t.Errorf("dynamodb failed %d times in the manifest, want 2 (the Map and the second pass): %+v", failed, s.Manifest.Collectors)
		}
		if !slices.ContainsFunc(s.Manifest.Artifacts, func(a evidence.Artifact) bool { return a.Source == evidence.SourceCloudTrail }) {
			t.Errorf("the other collectors' evidence is not sealed")
		}
	})

	t.Run("the attacker is followed through the credentials it made, in every region", func(t *testing.T) {
		// cmd/custody/scenarios/pivot: dana's key assumes admin-role, the
		// session creates a key for bob, bob's key acts in eu-west-1; omar
		// and his session of the same role are noise, and each identity
		// has out-of-window twins.
		dir := filepath.Join(root, "cmd", "custody", "scenarios", "pivot")
		seeded, err := env.Seed(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "finding.json"))
		if err != nil {
			t.Fatal(err)
		}
		in, err := seeded.Rewrite(raw)
		if err != nil {
			t.Fatal(err)
		}
		out, err := env.Execute(ctx, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != evidence.RunComplete {
			t.Fatalf("outcome %+v, want complete", out)
		}
		s, err := env.Fetch(ctx, out.CaseID, out.RunID, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var got, baseline []string
		var chain *evidence.Artifact
		for _, a := range s.Manifest.Artifacts {
			if a.Source == evidence.SourceCloudTrail && strings.HasSuffix(a.Key, "/pivot/identities.json") {
				chain = &a
			}
			if path.Base(a.Key) == "baseline.json" {
				baseline = append(baseline, a.Key)
				continue // the days before the window, counted: the entity view's baseline
			}
			if a.Source != evidence.SourceCloudTrail || a.API == "s3:CopyObject" || !strings.HasSuffix(a.Key, ".jsonl.gz") {
				continue
			}
			obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(a.Key)})
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(obj.Body)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(zr)
			for dec.More() {
				var r struct{ EventID string }
				if err := dec.Decode(&r); err != nil {
					t.Fatal(err)
				}
				got = append(got, r.EventID)
			}
			obj.Body.Close()
		}
		slices.Sort(got)
		var want []string
		for n := 1; n <= 6; n++ { // dana 1, 2; the session 3, 4; bob's key 5, 6 (eu-west-1)
			want = append(want, fmt.Sprintf("a0000000-0000-4000-8000-%012d", n))
		}
		if !slices.Equal(got, want) {
			t.Errorf("the CloudTrail extracts hold %v\nwant %v", got, want)
		}
		// The twin at 07:20, before the window, is counted in the baseline.
		if len(baseline) != 1 {
			t.Errorf("baseline summaries %v", baseline)
		}
		if chain == nil || chain.SHA256 == "" || chain.Records != 5 { // dana's key, name and principal ID; the session; bob's key
			t.Fatalf("pivot/identities.json in the manifest: %+v", chain)
		}
		passes := 0
		for _, c := range s.Manifest.Collectors {
			if strings.HasPrefix(c.Name, "cloudtrail-pivot") && c.Status == "ok" {
				passes++
			}
		}
		if passes != 3 { // two passes and the chain
			t.Errorf("pivot collectors in the manifest: %+v", s.Manifest.Collectors)
		}
	})

	t.Run("every sample input seals a case or is refused by name, never panics", func(t *testing.T) {
		var files []string
		for _, pattern := range []string{
			filepath.Join(root, "docs", "examples", "*.json"),
			filepath.Join(root, "shared", "finding", "testdata", "corpus", "*", "*.json"),
		} {
			m, err := filepath.Glob(pattern)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, m...)
		}
		if len(files) < 15 {
			t.Fatalf("found %d sample inputs, want the examples and the corpus", len(files))
		}
		for _, f := range files {
			if filepath.Base(f) == "finding-ref.json" {
				// {findingId, detectorId} needs GuardDuty GetFindings, which
				// the emulator lacks; Triage's tests cover it with a fake.
				continue
			}
			rel, _ := filepath.Rel(root, f)
			t.Run(rel, func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out, err := env.Execute(ctx, body, nil)
				var ee *ExitError
				switch {
				case err == nil:
					if !out.Duplicate && out.Status != evidence.RunComplete {
						t.Fatalf("sealed %+v, want complete", out)
					}
				case errors.As(err, &ee) && ee.Code == ExitRejected:
					if !strings.Contains(err.Error(), "InvalidInputError") {
						t.Fatalf("refused without the error's name: %v", err)
					}
				default:
					t.Fatalf("neither sealed nor refused: %v", err)
				}
			})
		}
	})

	t.Run("every hostile input is refused naming its field, never sealed", func(t *testing.T) {
		cases := func() []string { return s3test.Keys(t, client, env.Bucket, evidence.CasesRoot) }
		before := cases()
		for name, field := range hostileInputs(t, root) {
			t.Run(name, func(t *testing.T) {
				body, err := os.ReadFile(filepath.Join(root, "shared", "finding", "testdata", "hostile", name))
				if err != nil {
					t.Fatal(err)
				}
				_, err = env.Execute(ctx, body, nil)
				checkRefusal(t, err, field)
			})
		}
		if after := cases(); !slices.Equal(before, after) {
			t.Errorf("hostile inputs wrote under cases/: %d keys before, %d after", len(before), len(after))
		}
	})
}

// failingBinary builds testdata/failing: a Lambda that panics.
func failingBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "failing")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/failing")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// oneObjectBudget gives a function a shard budget of one log object.
func oneObjectBudget(f *lambdart.Function) {
	f.Env = append(append([]string(nil), f.Env...), collect.EnvShardObjects+"=1")
}

// runWith runs the demo input, its finding ID replaced by findingID (a
// case of its own), through the deployed definition with the deployed
// functions as edit changes them, and fetches the sealed run.
func runWith(t *testing.T, env *Env, input []byte, findingID string, edit func(*lambdart.Function)) (*Outcome, *Summary) {
	t.Helper()
	ctx := context.Background()
	var fns []lambdart.Function
	for _, f := range env.Functions {
		edit(&f)
		fns = append(fns, f)
	}
	pool, err := lambdart.NewPool(fns)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	in := bytes.ReplaceAll(input, []byte("16afba5c5c43e07c9e3e5e2e544e95df"), []byte(findingID))
	out, err := env.Execute(ctx, in, pool)
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.Fetch(ctx, out.CaseID, out.RunID, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return out, s
}

// checkDemoRecords checks the demo seed's in-scope, in-window records
// (its README's table) in a manifest's extracts, and nothing of its noise:
// another principal, another ENI, another bucket, records just outside the
// window.
func checkDemoRecords(t *testing.T, m *evidence.Manifest) {
	t.Helper()
	records := map[string]int64{}
	for _, a := range m.Artifacts {
		if strings.Contains(a.Key, "extract") || strings.HasSuffix(a.Key, ".jsonl.gz") {
			records[a.Source] += a.Records
		}
	}
	want := map[string]int64{evidence.SourceCloudTrail: 45, evidence.SourceVPCFlow: 3 + 1 + 3 + 3, evidence.SourceS3Access: 6, evidence.SourceCloudWatch: 3}
	for src, n := range want {
		if records[src] != n {
			t.Errorf("%s extract records = %d, want %d (all: %v)", src, records[src], n, records)
		}
	}
}

// shape is what a case under the fault drill must share with the clean
// run's: status aside, its gaps (source and fix: the reasons hold read
// times), its collectors' statuses, and per source each artifact's name
// in the run and record count. Names have the case and finding IDs and the
// emulator's generated IDs (instances, ENIs, flow logs, volumes,
// snapshots) masked.
type shape struct {
	gaps, collectors []string
	records          map[string]map[string]int64
}

var generatedID = regexp.MustCompile(`(^|[^a-zA-Z0-9])(i|eni|fl|vol|snap|sg|vpc|subnet)-[0-9a-f]{8,17}`)

func caseShape(m *evidence.Manifest) shape {
	s := shape{records: map[string]map[string]int64{}}
	for _, g := range m.Gaps {
		s.gaps = append(s.gaps, g.Source+": "+generatedID.ReplaceAllString(g.Fix, "${1}${2}-*"))
	}
	for _, c := range m.Collectors {
		s.collectors = append(s.collectors, c.Name+": "+c.Status)
	}
	runPrefix := "cases/" + m.CaseID + "/runs/" + m.RunID + "/"
	for _, a := range m.Artifacts {
		name := strings.ReplaceAll(strings.TrimPrefix(a.Key, runPrefix), m.CaseID, "CASE")
		if m.Finding != nil && m.Finding.ID != "" {
			name = strings.ReplaceAll(name, m.Finding.ID, "FINDING")
		}
		name = generatedID.ReplaceAllString(name, "${1}${2}-*")
		if s.records[a.Source] == nil {
			s.records[a.Source] = map[string]int64{}
		}
		s.records[a.Source][name] += a.Records
	}
	sort.Strings(s.gaps)
	sort.Strings(s.collectors)
	return s
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// TestOrganizationEndToEnd runs the organization drill (scenarios/org): the
// hub deployed in the emulator's default account, the member stack
// deployed into member account prod (eu-west-2), member staging without it,
// the organization trail in the log archive's bucket. The member's
// finding seals a verified case read from two accounts and two regions,
// its CloudTrail records from the organization trail; the staging
// finding seals complete, every member source a gap naming the account
// and the StackSet fix.
func TestOrganizationEndToEnd(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	org := filepath.Join(root, "cmd", "custody", "scenarios", "org")
	var log bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("local run output:\n%s", log.String())
		}
	}()
	s, err := Investigate(ctx, Options{Root: root, Finding: filepath.Join(org, "finding.json"),
		Also: []string{filepath.Join(org, "finding-no-member-stack.json")}, Seed: org, Out: t.TempDir(), Log: &log, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != evidence.RunComplete || len(s.Then) != 1 || s.Then[0].Status != evidence.RunComplete {
		t.Fatalf("statuses %s, %+v: want both complete", s.Status, s.Then)
	}
	// The phases make bench reads (custody demo -timings): the set-up's
	// once, then each run's own workflow and download.
	for _, tc := range []struct {
		got  []Phase
		want []string
	}{
		{s.Timings, []string{PhaseBuild, PhaseEmulator, PhaseDeploy, PhaseRuntimes, PhaseSeed, PhaseWorkflow, PhaseFetch}},
		{s.Then[0].Timings, []string{PhaseWorkflow, PhaseFetch}},
	} {
		var names []string
		for _, p := range tc.got {
			if p.Seconds <= 0 {
				t.Errorf("phase %s took %v s", p.Name, p.Seconds)
			}
			names = append(names, p.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("phases %v, want %v", names, tc.want)
		}
	}
	accounts, regions := map[string]bool{}, map[string]bool{}
	var trail int64
	for _, a := range s.Manifest.Artifacts {
		if a.ReadWith == nil {
			continue
		}
		accounts[a.ReadWith.AccountID], regions[a.ReadWith.Region] = true, true
		if a.Source == evidence.SourceEC2 && a.ReadWith.RoleARN != "arn:aws:iam::111111111111:role/CustodyMember" {
			t.Errorf("%s read with %+v, want the member role", a.Key, a.ReadWith)
		}
		if a.Source == evidence.SourceCloudTrail && strings.Contains(a.Key, "extract") {
			trail += a.Records
		}
	}
	if len(accounts) < 2 || len(regions) < 2 || !accounts["111111111111"] {
		t.Errorf("read in accounts %v regions %v: want the hub and the member, two regions", accounts, regions)
	}
	// The scenario's README counts them: four in eu-west-2, two global.
	if trail != 6 {
		t.Errorf("organization-trail records in the extract = %d, want 6", trail)
	}
	for _, src := range []string{evidence.SourceEC2, evidence.SourceVPCFlow, evidence.SourceIAM} {
		if !slices.ContainsFunc(s.Manifest.Artifacts, func(a evidence.Artifact) bool { return a.Source == src }) {
			t.Errorf("no %s artifact from the member", src)
		}
	}

	missing := s.Then[0]
	named := 0
	for _, g := range missing.Gaps {
		if strings.Contains(g.Reason, "333333333333") && strings.Contains(g.Fix, "create-stack-instances") {
			named++
		}
	}
	if named < 5 {
		t.Errorf("%d gaps name the account without the member stack and the fix, want every member source: %+v", named, missing.Gaps)
	}
	if slices.ContainsFunc(missing.Manifest.Artifacts, func(a evidence.Artifact) bool { return a.Source == evidence.SourceEC2 }) {
		t.Errorf("EC2 evidence from an account the hub may not assume into")
	}
	// The organization trail is still the hub's to read.
	var staging int64
	for _, a := range missing.Manifest.Artifacts {
		if a.Source == evidence.SourceCloudTrail && strings.Contains(a.Key, "extract") {
			staging += a.Records
		}
	}
	if staging != 2 {
		t.Errorf("staging's organization-trail records = %d, want 2", staging)
	}
}

// TestPivotOrganizationEndToEnd runs cmd/custody/scenarios/pivot-org, an
// access-key finding whose attacker pivots across accounts of an
// organization trail and acts in four regions, with noise (another
// principal's session of the same role, a legitimate session with the
// attacker's session name, other principals) and out-of-window twins,
// through the whole local run. Its expected.json (written by its
// tools/gen.py with the records) is the answer key: every attacker record
// of the window is in an extract (recall 100 %), and nothing else is
// (precision 100 %).
func TestPivotOrganizationEndToEnd(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "cmd", "custody", "scenarios", "pivot-org")
	var key struct {
		AttackerInWindow []string `json:"attackerInWindow"`
		NotAttackers     []string `json:"notAttackers"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &key); err != nil || len(key.AttackerInWindow) == 0 {
		t.Fatalf("expected.json: %v", err)
	}
	var log bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("local run output:\n%s", log.String())
		}
	}()
	s, err := Investigate(ctx, Options{Root: root, Finding: filepath.Join(dir, "finding.json"), Seed: dir, Out: t.TempDir(), Log: &log, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != evidence.RunComplete {
		t.Fatalf("status %s, want complete", s.Status)
	}
	caseDir := filepath.Dir(filepath.Dir(filepath.Dir(s.ManifestPath))) // <case>/runs/<run>/manifest.json
	got := map[string]bool{}
	for _, a := range s.Manifest.Artifacts {
		if a.Source != evidence.SourceCloudTrail || a.API == "s3:CopyObject" || !strings.HasSuffix(a.Key, ".jsonl.gz") {
			continue
		}
		for _, r := range caseLines(t, caseDir, s.Manifest.CaseID, a.Key) {
			got[fmt.Sprint(r["eventID"])] = true
		}
	}
	want := map[string]bool{}
	for _, id := range key.AttackerInWindow {
		want[id] = true
		if !got[id] {
			t.Errorf("the attacker's record %s is in no extract", id)
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("the extracts hold %s, not an in-window record of the attacker's", id)
		}
	}
	for _, g := range s.Manifest.Gaps {
		if g.Source == evidence.SourceCloudTrail {
			t.Errorf("a CloudTrail gap with the organization trail read: %s", g.Reason)
		}
	}
	// What the chain derived in dev: the IAM pass described its
	// principals, and the S3 access-log pass kept backup-svc's one line in
	// the window of the bucket its GetObject names (not dev-admin's, not
	// the one after the window).
	status := map[string]string{}
	for _, c := range s.Manifest.Collectors {
		status[c.Name] = c.Status
	}
	for _, name := range []string{"iam-pivot-444444444444", "s3access-pivot-444444444444"} {
		if status[name] != "ok" {
			t.Errorf("collector %s: %q, want ok (collectors %v)", name, status[name], status)
		}
	}
	var lines []map[string]any
	for _, a := range s.Manifest.Artifacts {
		if a.Source != evidence.SourceS3Access || !strings.HasSuffix(a.Key, "/s3access/pivot-444444444444/extract-dev-data.jsonl.gz") {
			continue
		}
		lines = append(lines, caseLines(t, caseDir, s.Manifest.CaseID, a.Key)...)
	}
	if len(lines) != 1 || lines[0]["requester"] != "arn:aws:iam::444444444444:user/backup-svc" {
		t.Errorf("dev-data's access-log lines in the pivot pass: %v, want backup-svc's one", lines)
	}
}

// caseLines reads the JSON Lines of a gzip'd artifact (key) of a case
// downloaded to caseDir.
func caseLines(t *testing.T, caseDir, caseID, key string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(caseDir, strings.TrimPrefix(key, "cases/"+caseID+"/")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := json.NewDecoder(zr)
	for dec.More() {
		var l map[string]any
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}
