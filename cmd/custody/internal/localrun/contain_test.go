package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/cmd/custody/internal/lambdart"
	"github.com/custody-ir/custody/cmd/custody/internal/operator"
	"github.com/custody-ir/custody/cmd/custody/internal/verify"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/contain"
	"github.com/custody-ir/custody/shared/evidence"
)

// TestContainmentEndToEnd deploys the app with EC2 isolation and access
// key deactivation in approve mode and runs the demo finding (with the
// demo user's access key added to it) through the deployed definition:
// in dry-run (the contain function's modes edited) it seals and changes
// nothing; in approve mode it waits, custody approve (through the gate,
// the local shim for the task token) applies the plan and custody
// rollback restores it; a protected instance is left alone and a custody
// reject changes nothing; with no decision in time the plan is rejected. Each step is checked in the case and in EC2 and
// IAM. The real callback path (the task token, the approver role's IAM)
// is proved on the template only (infra/contain_test.go).
func TestContainmentEndToEnd(t *testing.T) {
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
	deployContext["custody:containEc2"] = "approve"
	deployContext["custody:containAccessKey"] = "approve"
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
	// The demo finding names the instance; the user's key is added, so
	// both classes have something to contain.
	raw = bytes.Replace(raw, []byte(`"resourceType": "Instance",`),
		[]byte(`"resourceType": "Instance", "accessKeyDetails": {"accessKeyId": "{{accesskey:alice}}", "principalId": "AIDAEXAMPLEALICE00001", "userName": "alice", "userType": "IAMUser"},`), 1)
	input, err := seeded.Rewrite(raw)
	if err != nil {
		t.Fatal(err)
	}
	var fnd struct {
		Detail struct {
			Resource struct {
				InstanceDetails struct {
					InstanceID string `json:"instanceId"`
				} `json:"instanceDetails"`
				AccessKeyDetails struct {
					AccessKeyID string `json:"accessKeyId"`
				} `json:"accessKeyDetails"`
			} `json:"resource"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(input, &fnd); err != nil {
		t.Fatal(err)
	}
	instance, key := fnd.Detail.Resource.InstanceDetails.InstanceID, fnd.Detail.Resource.AccessKeyDetails.AccessKeyID
	if instance == "" || key == "" || strings.Contains(key, "{{") {
		t.Fatalf("instance %q key %q", instance, key)
	}
	ec2c, iamc := ec2.NewFromConfig(env.Config), iam.NewFromConfig(env.Config)
	s3c := s3.NewFromConfig(env.Config, awsconfig.S3Options)
	groups := func() map[string][]string {
		t.Helper()
		out, err := ec2c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
			Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{instance}}}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]string{}
		for _, n := range out.NetworkInterfaces {
			var g []string
			for _, sg := range n.Groups {
				g = append(g, aws.ToString(sg.GroupId))
			}
			slices.Sort(g)
			m[aws.ToString(n.NetworkInterfaceId)] = g
		}
		if len(m) == 0 {
			t.Fatalf("instance %s has no ENI", instance)
		}
		return m
	}
	keyStatus := func() string {
		t.Helper()
		out, err := iamc.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range out.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == key {
				return string(k.Status)
			}
		}
		t.Fatalf("alice has no key %s", key)
		return ""
	}
	record := func(caseID, runID, name string, v any) bool {
		t.Helper()
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String("cases/" + caseID + "/runs/" + runID + "/containment/" + name)})
		if err != nil {
			return false
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		if err := json.Unmarshal(b, v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		return true
	}
	// signed checks the run's containment statements as custody verify
	// s3://... does, pinned to the containment key the local run made:
	// every record covered, each statement's signature good.
	signed := func(caseID, runID string, records int) {
		t.Helper()
		res, err := verify.Bucket(ctx, s3c, env.Bucket, caseID, verify.Announced{}, verify.Trust{
			Pin: verify.Pin(env.Deploy.SigningKeyFingerprint), ContainPin: verify.Pin(env.Deploy.ContainKeyFingerprint)})
		if err != nil {
			t.Fatalf("verify s3://%s/cases/%s: %v", env.Bucket, caseID, err)
		}
		for _, r := range res.Runs {
			if r.RunID != runID {
				continue
			}
			if c := r.Containment; c == nil || !c.Verified || !c.Pinned || c.Records != records {
				t.Errorf("run %s's containment does not verify (want %d records, pinned to %s): %+v", runID, records, env.Deploy.ContainKeyFingerprint, c)
			}
			return
		}
		t.Errorf("verify found no run %s in case %s", runID, caseID)
	}
	// The operator's commands as the responder runs them against the
	// local run: the emulator's credentials, the gate's endpoint.
	gate := func(ctx context.Context) (aws.Config, error) { return gateConfig(ctx, env.Gate.URL) }
	// waiting runs the input and gives the case ID once its containment
	// waits for a decision; done is the execution's end.
	type ended struct {
		out *Outcome
		err error
	}
	waiting := func(in []byte) (string, chan ended) {
		t.Helper()
		cases := make(chan string, 1)
		prev := env.Tasks.OnWait
		env.Tasks.OnWait = func(token string, payload json.RawMessage) {
			prev(token, payload)
			var p struct {
				Incident struct {
					CaseID string `json:"caseId"`
				} `json:"incident"`
			}
			_ = json.Unmarshal(payload, &p)
			cases <- p.Incident.CaseID
		}
		done := make(chan ended, 1)
		go func() {
			o, err := env.Execute(ctx, in, nil)
			done <- ended{o, err}
		}()
		select {
		case c := <-cases:
			env.Tasks.OnWait = prev
			return c, done
		case e := <-done:
			t.Fatalf("the execution ended without waiting for approval: %+v %v", e.out, e.err)
		case <-time.After(5 * time.Minute):
			t.Fatal("no approval request within 5 minutes")
		}
		return "", nil
	}
	finish := func(done chan ended) *Outcome {
		t.Helper()
		select {
		case e := <-done:
			if e.err != nil {
				t.Fatal(e.err)
			}
			if e.out.Status != evidence.RunComplete && e.out.Status != evidence.RunPartial {
				t.Fatalf("outcome %+v: not sealed", e.out)
			}
			return e.out
		case <-time.After(5 * time.Minute):
			t.Fatal("the execution did not end within 5 minutes of the decision")
		}
		return nil
	}
	original := groups()

	t.Run("dry-run seals, writes the plan, changes nothing", func(t *testing.T) {
		out, s := runWith(t, env, input, "c0ffee0000000000000000000000d111", func(f *lambdart.Function) {
			if slices.Contains(f.Env, "CUSTODY_FUNCTION=contain") {
				f.Env = append(slices.Clone(f.Env), "CUSTODY_CONTAIN_EC2=dry-run", "CUSTODY_CONTAIN_ACCESS_KEY=dry-run")
			}
		})
		if s.Status != evidence.RunComplete && s.Status != evidence.RunPartial {
			t.Fatalf("status %s", s.Status)
		}
		var plan contain.Plan
		if !record(out.CaseID, out.RunID, contain.PlanFile, &plan) || len(plan.Actions) < 2 {
			t.Fatalf("plan.json: %+v", plan)
		}
		for _, a := range plan.Actions {
			if a.Mode != contain.ModeDryRun || a.Status != contain.StatusPlanned || a.Before == nil {
				t.Errorf("dry-run plan action %+v", a)
			}
		}
		if g := groups(); !maps.EqualFunc(g, original, slices.Equal) {
			t.Errorf("dry-run changed the ENIs' groups: %v -> %v", original, g)
		}
		if st := keyStatus(); st != "Active" {
			t.Errorf("dry-run: key %s", st)
		}
		var none contain.Record
		if record(out.CaseID, out.RunID, contain.ApprovedFile, &none) || record(out.CaseID, out.RunID, contain.AppliedFile, &none) {
			t.Error("dry-run recorded an apply")
		}
		signed(out.CaseID, out.RunID, 1) // plan.json
	})

	t.Run("approve applies, rollback restores", func(t *testing.T) {
		in := bytes.ReplaceAll(input, []byte("16afba5c5c43e07c9e3e5e2e544e95df"), []byte("c0ffee0000000000000000000000a222"))
		caseID, done := waiting(in)
		if g := groups(); !maps.EqualFunc(g, original, slices.Equal) {
			t.Errorf("changed before the approval: %v", g)
		}
		var stdout, stderr bytes.Buffer
		if code := operator.Decide(ctx, "approve", []string{caseID}, gate, &stdout, &stderr); code != 0 {
			t.Fatalf("custody approve: %d %s", code, stderr.String())
		}
		out := finish(done)
		var approved contain.Record
		if !record(out.CaseID, out.RunID, contain.ApprovedFile, &approved) || approved.Decision == nil || approved.Decision.Decision != "approved" {
			t.Fatalf("approved.json: %+v", approved)
		}
		isolation := ""
		for _, a := range approved.Actions {
			if a.Status != contain.StatusApplied {
				t.Errorf("approved %s %s: %s %s", a.Class, a.Target, a.Status, a.Error)
			}
			if a.Class == contain.ClassEC2 {
				isolation = a.IsolationGroup
			}
		}
		// The emulator adds groups rather than replacing them: the whole
		// list is asserted.
		for eni, g := range groups() {
			if isolation == "" || !slices.Equal(g, []string{isolation}) {
				t.Errorf("approved: %s has %v, want only the isolation group %q", eni, g, isolation)
			}
		}
		if st := keyStatus(); st != "Inactive" {
			t.Errorf("approved: key %s, want Inactive", st)
		}
		if _, err := env.Fetch(ctx, out.CaseID, out.RunID, t.TempDir()); err != nil {
			t.Errorf("the contained run does not verify: %v", err)
		}

		stdout.Reset()
		stderr.Reset()
		if code := operator.Rollback(ctx, []string{caseID}, gate, &stdout, &stderr); code != 0 {
			t.Fatalf("custody rollback: %d %s\n%s", code, stderr.String(), stdout.String())
		}
		if g := groups(); !maps.EqualFunc(g, original, slices.Equal) {
			t.Errorf("rolled back: %v, want %v", g, original)
		}
		if st := keyStatus(); st != "Active" {
			t.Errorf("rolled back: key %s", st)
		}
		var rb contain.Record
		if !record(out.CaseID, out.RunID, contain.RollbackFile, &rb) || len(rb.Actions) != len(approved.Actions) {
			t.Errorf("rollback.json: %+v", rb)
		}
		for _, a := range rb.Actions {
			if a.Status != contain.StatusRolledBack {
				t.Errorf("rollback of %s: %s %s", a.Target, a.Status, a.Error)
			}
		}
		// A second rollback has nothing left to undo.
		if code := operator.Rollback(ctx, []string{caseID}, gate, io.Discard, io.Discard); code == 0 {
			t.Error("a second rollback succeeded")
		}
		// plan, pending, approved, rollback: each signed after its step.
		signed(out.CaseID, out.RunID, 4)
	})

	t.Run("a protected instance is left alone; reject changes nothing", func(t *testing.T) {
		tag := []ec2types.Tag{{Key: aws.String("custody:protected"), Value: aws.String("true")}}
		if _, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{instance}, Tags: tag}); err != nil {
			t.Fatal(err)
		}
		defer ec2c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{instance}, Tags: tag})
		in := bytes.ReplaceAll(input, []byte("16afba5c5c43e07c9e3e5e2e544e95df"), []byte("c0ffee0000000000000000000000b333"))
		caseID, done := waiting(in)
		var stdout, stderr bytes.Buffer
		if code := operator.Decide(ctx, "reject", []string{"-reason", "the key is a service's", caseID}, gate, &stdout, &stderr); code != 0 {
			t.Fatalf("custody reject: %d %s", code, stderr.String())
		}
		out := finish(done)
		var plan contain.Plan
		record(out.CaseID, out.RunID, contain.PlanFile, &plan)
		var rejected contain.Record
		if !record(out.CaseID, out.RunID, contain.RejectedFile, &rejected) || rejected.Decision == nil || rejected.Decision.Reason != "the key is a service's" {
			t.Fatalf("rejected.json: %+v", rejected)
		}
		for _, a := range rejected.Actions {
			switch a.Class {
			case contain.ClassEC2:
				if a.Status != contain.StatusProtected || !strings.Contains(a.Reason, "custody:protected=true") {
					t.Errorf("protected instance: %s %q", a.Status, a.Reason)
				}
			case contain.ClassAccessKey:
				if a.Status != contain.StatusRejected {
					t.Errorf("rejected key: %s", a.Status)
				}
			}
		}
		if g := groups(); !maps.EqualFunc(g, original, slices.Equal) {
			t.Errorf("protected and rejected, yet the ENIs changed: %v", g)
		}
		if st := keyStatus(); st != "Active" {
			t.Errorf("rejected: key %s", st)
		}
		if code := operator.Decide(ctx, "approve", []string{caseID}, gate, io.Discard, io.Discard); code == 0 {
			t.Error("an approval after the rejection was sent")
		}
		signed(out.CaseID, out.RunID, 3) // plan, pending, rejected
	})

	t.Run("no decision in time rejects, nothing changes", func(t *testing.T) {
		// The deployed wait is a day; this run's definition waits 3 s
		// (the interpreter times the task out as Step Functions does).
		var def map[string]any
		if err := json.Unmarshal(env.Defn, &def); err != nil {
			t.Fatal(err)
		}
		def["States"].(map[string]any)["AwaitApproval"].(map[string]any)["TimeoutSeconds"] = 3
		short, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		deployed := env.Defn
		env.Defn = short
		defer func() { env.Defn = deployed }()
		in := bytes.ReplaceAll(input, []byte("16afba5c5c43e07c9e3e5e2e544e95df"), []byte("c0ffee0000000000000000000000c444"))
		_, done := waiting(in)
		out := finish(done)
		var rejected contain.Record
		if !record(out.CaseID, out.RunID, contain.RejectedFile, &rejected) || rejected.Error != "States.Timeout" || !strings.Contains(rejected.Reason, "no decision within") {
			t.Fatalf("rejected.json: %+v", rejected)
		}
		if g := groups(); !maps.EqualFunc(g, original, slices.Equal) {
			t.Errorf("timed out, yet the ENIs changed: %v", g)
		}
		if st := keyStatus(); st != "Active" {
			t.Errorf("timed out: key %s", st)
		}
		signed(out.CaseID, out.RunID, 3) // plan, pending, rejected
	})
}
