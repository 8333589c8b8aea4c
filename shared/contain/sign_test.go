package contain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/incident"
)

const runPrefix = "cases/case-1/runs/run-1/"

func (w *world) object(t *testing.T, key string) ([]byte, string) {
	t.Helper()
	out, err := w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, aws.ToString(out.VersionId)
}

// checkStatement verifies the stored statement at key offline (the stored
// public key, stdlib RSA) and that it lists exactly the records named,
// with the stored bytes' SHA-256 and version.
func (w *world) checkStatement(t *testing.T, key string, records ...string) {
	t.Helper()
	msg, _ := w.object(t, key)
	sig, _ := w.object(t, runPrefix+attest.ContainmentSignatureFile(strings.TrimPrefix(key, runPrefix)))
	pem, _ := w.object(t, runPrefix+attest.ContainmentPublicKeyFile)
	pub, der, err := attest.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	if err := attest.Verify(pub, msg, sig); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	st, err := attest.ParseContainmentStatement(msg)
	if err != nil {
		t.Fatal(err)
	}
	if st.PublicKeyFingerprint != attest.Fingerprint(der) || st.CaseID != "case-1" || st.RunID != "run-1" || st.KeyARN != w.h.SigningKeyARN {
		t.Errorf("%s: %+v", key, st)
	}
	var names []string
	for _, r := range st.Records {
		names = append(names, r.Name)
		b, v := w.object(t, runPrefix+attest.ContainmentDir+r.Name)
		sum := sha256.Sum256(b)
		if r.SHA256 != hex.EncodeToString(sum[:]) || r.VersionID != v || r.Size != int64(len(b)) || r.API == "" {
			t.Errorf("%s: record %+v, stored sha256 %x version %s size %d", key, r, sum, v, len(b))
		}
	}
	slices.Sort(records)
	if !slices.Equal(names, records) {
		t.Errorf("%s lists %v, want %v", key, names, records)
	}
}

// TestContainStatementsSigned: each step (plan, request, apply, rollback)
// writes a new signed statement over every record so far, named by how
// many it covers; a retried step writes the same bytes under the same
// name; a file the function never writes is left out.
func TestContainStatementsSigned(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassEC2: ModeApprove})
	planned, err := w.h.Handle(ctx, Input{Incident: w.incident()})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Action: ActionRequest, Incident: w.incident(), Actions: planned.Actions, Token: "token-1"}
	req, err := w.h.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	pending := path.Base(req.PendingKey)
	// Not a record the function writes: never vouched for.
	if _, err := w.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(runPrefix + "containment/notes.txt"),
		Body: strings.NewReader("x"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
		t.Fatal(err)
	}
	in.Action, in.Token, in.Approval = ActionApply, "", &Decision{Decision: "approved", By: "alice"}
	applied, err := w.h.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.h.Handle(ctx, Input{Action: ActionRollback, Incident: incident.Incident{CaseID: "case-1", RunID: "run-1"}, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got, want string
		records   []string
	}{
		{planned.StatementKey, "statement-0001-plan.json", []string{PlanFile}},
		{req.StatementKey, "statement-0002-request.json", []string{PlanFile, pending}},
		{applied.StatementKey, "statement-0003-apply.json", []string{PlanFile, pending, ApprovedFile}},
		{runPrefix + "containment/statement-0004-rollback.json", "statement-0004-rollback.json", []string{PlanFile, pending, ApprovedFile, RollbackFile}},
	} {
		if c.got != runPrefix+"containment/"+c.want {
			t.Errorf("statement %s, want %s", c.got, c.want)
			continue
		}
		w.checkStatement(t, c.got, c.records...)
	}
	// A retried rollback's signing finds the same records: the same
	// statement, accepted as already there.
	before, v1 := w.object(t, runPrefix+"containment/statement-0004-rollback.json")
	key, err := w.h.sign(ctx, "case-1", "run-1", StepRollback)
	if err != nil {
		t.Fatalf("a retried signing: %v", err)
	}
	after, v2 := w.object(t, key)
	if !bytes.Equal(before, after) || v1 != v2 {
		t.Errorf("a retried signing rewrote %s", key)
	}
}

// failingSigner fails Sign from its failAt-th call on.
type failingSigner struct {
	signer
	failAt, calls int
}

func (f *failingSigner) Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.calls++
	if f.failAt > 0 && f.calls >= f.failAt {
		return nil, errors.New("KMS is down")
	}
	return f.signer.Sign(ctx, in, optFns...)
}

// TestContainSigningFails: a plan that cannot be signed changes nothing;
// a signature that fails after auto mode applied is an UnsignedError that
// keeps the applied change and its record, and the output says what was
// applied.
func TestContainSigningFails(t *testing.T) {
	for _, tc := range []struct {
		name        string
		failAt      int
		wantApplied bool
	}{
		{"the plan's signature fails: nothing changes", 1, false},
		{"the record's signature fails: applied and recorded, reported", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, map[Class]Mode{ClassEC2: ModeAuto})
			before := w.eniGroups(t, w.instance)
			w.h.Signer = &failingSigner{signer: w.h.Signer, failAt: tc.failAt}
			out, err := w.h.Handle(ctx, Input{Incident: w.incident()})
			var ue *UnsignedError
			if !errors.As(err, &ue) || ue.Step != StepPlan || len(ue.Records) == 0 {
				t.Fatalf("err %v (%T), want an UnsignedError naming the records", err, err)
			}
			changed := !maps.EqualFunc(before, w.eniGroups(t, w.instance), slices.Equal)
			if changed != tc.wantApplied {
				t.Errorf("changed %v, want %v", changed, tc.wantApplied)
			}
			_, herr := w.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(runPrefix + "containment/" + AppliedFile)})
			if (herr == nil) != tc.wantApplied {
				t.Errorf("applied.json stored: %v, want %v", herr == nil, tc.wantApplied)
			}
			if tc.wantApplied && (out == nil || byTarget(out.Actions)[w.instance].Status != StatusApplied) {
				t.Errorf("the output does not say what was applied: %+v", out)
			}
		})
	}
}
