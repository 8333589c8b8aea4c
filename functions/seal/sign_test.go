package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// newSigningKey creates the stack's signing key in the emulator, as the
// local run does after its deploy: RSA_2048, SIGN_VERIFY.
func newSigningKey(t testing.TB) (*kms.Client, string) {
	t.Helper()
	return newKey(t, kmstypes.KeySpecRsa2048, kmstypes.KeyUsageTypeSignVerify)
}

func newKey(t testing.TB, spec kmstypes.KeySpec, usage kmstypes.KeyUsageType) (*kms.Client, string) {
	t.Helper()
	cfg, err := emu.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := kms.NewFromConfig(cfg)
	k, err := client.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return client, aws.ToString(k.KeyMetadata.Arn)
}

// TestSealSigns: the seal statement names the stored manifest, verifies
// offline with the stored public key (stdlib RSA, no AWS), and the
// notification carries the same signature and fingerprint.
func TestSealSigns(t *testing.T) {
	ctx := context.Background()
	client := emu.FreshLockedBucket(t, testBucket)
	n := newNotifications(t)
	inc := openRun(t, client, false)
	h := newHandler(t, client, n)
	// Seal's own calls on the key are recorded for the notification.
	cfg, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.Actions = awsconfig.NewActionLog()
	h.Signer = kms.NewFromConfig(cfg)
	out, err := h.Handle(ctx, Input{Incident: *inc, Results: []incident.Result{{Collector: "guardduty", Status: incident.StatusOK}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Seal == nil {
		t.Fatal("no seal in the output")
	}
	runPrefix, _ := evidence.RunPrefix(inc.CaseID, inc.RunID)
	// After Seal's action log closed: its put, the manifest's, the
	// signature and the seal files' puts.
	var ops []string
	for _, a := range out.SealActions {
		op := a.Service + ":" + a.Operation
		if k, _ := a.Params["Key"].(string); k != "" {
			op += " " + strings.TrimPrefix(k, runPrefix)
		}
		ops = append(ops, op)
	}
	want := []string{"S3:PutObject actions/seal.jsonl", "S3:PutObject manifest.json", "KMS:GetPublicKey", "KMS:Sign"}
	if len(ops) < len(want) || strings.Join(ops[:len(want)], ",") != strings.Join(want, ",") {
		t.Errorf("seal actions %v, want %v then the seal files' puts", ops, want)
	}
	stmtBytes := s3test.Body(t, client, testBucket, runPrefix+attest.StatementFile)
	sig := s3test.Body(t, client, testBucket, runPrefix+attest.SignatureFile)
	pemBytes := s3test.Body(t, client, testBucket, runPrefix+attest.PublicKeyFile)

	pub, der, err := attest.ParsePublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := attest.Verify(pub, stmtBytes, sig); err != nil {
		t.Fatalf("stored signature: %v", err)
	}
	st, err := attest.ParseStatement(stmtBytes)
	if err != nil {
		t.Fatal(err)
	}
	manifest := s3test.Body(t, client, testBucket, out.ManifestKey)
	checks := []struct{ what, got, want string }{
		{"statement manifestSha256", st.ManifestSHA256, sha256Hex(manifest)},
		{"statement manifestVersionId", st.ManifestVersionID, out.ManifestVersionID},
		{"statement caseId", st.CaseID, inc.CaseID},
		{"statement runId", st.RunID, inc.RunID},
		{"statement keyArn", st.KeyARN, h.SigningKeyARN},
		{"statement fingerprint", st.PublicKeyFingerprint, attest.Fingerprint(der)},
		{"announced fingerprint", out.Seal.PublicKeyFingerprint, attest.Fingerprint(der)},
		{"announced signature", out.Seal.Signature, base64.StdEncoding.EncodeToString(sig)},
		{"announced statement sha256", out.Seal.StatementSHA256, sha256Hex(stmtBytes)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	// The key KMS holds is the one stored: its public half, fetched again.
	pk, err := h.Signer.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(h.SigningKeyARN)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pk.PublicKey, der) {
		t.Error("the stored public key is not the signing key's")
	}
	msgs := n.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d notifications, want 1", len(msgs))
	}
	var note Output
	if err := json.Unmarshal([]byte(msgs[0]), &note); err != nil {
		t.Fatal(err)
	}
	if len(note.SealActions) != len(out.SealActions) {
		t.Errorf("the notification carries %d of Seal's calls, want %d", len(note.SealActions), len(out.SealActions))
	}
	if note.Seal == nil || note.Seal.Signature != out.Seal.Signature || note.Seal.KeyARN != h.SigningKeyARN {
		t.Errorf("notification seal %+v, want %+v", note.Seal, out.Seal)
	}
	// The manifest does not list the seal files (they are over it).
	m, err := evidence.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var sealLog *evidence.Artifact
	for i, a := range m.Artifacts {
		if strings.Contains(a.Key, "/seal/") {
			t.Errorf("manifest lists %s: the seal is over the manifest", a.Key)
		}
		if a.Key == runPrefix+"actions/seal.jsonl" {
			sealLog = &m.Artifacts[i]
		}
	}
	// Seal's own calls before the manifest are an artifact it lists:
	// reading the results and writing the timeline among them.
	if sealLog == nil || sealLog.Source != evidence.SourceActions {
		t.Fatalf("the manifest does not list Seal's action log: %+v", m.Artifacts)
	}
	logBody := s3test.Body(t, client, testBucket, sealLog.Key)
	if sealLog.SHA256 != sha256Hex(logBody) || int64(bytes.Count(logBody, []byte("\n"))) != sealLog.Records {
		t.Errorf("Seal's action log %+v does not match its %d bytes", sealLog, len(logBody))
	}
	for _, op := range []string{`"operation":"ListObjectsV2"`, `"operation":"PutObject"`} {
		if !bytes.Contains(logBody, []byte(op)) {
			t.Errorf("Seal's action log has no %s:\n%s", op, logBody)
		}
	}
}

// TestSealRefusesAWrongKey: a key that cannot sign, or none, is an
// EvidenceError and nothing is announced.
func TestSealRefusesAWrongKey(t *testing.T) {
	cases := []struct {
		name string
		key  func(t *testing.T, h *Handler)
	}{
		{"symmetric key", func(t *testing.T, h *Handler) {
			h.Signer, h.SigningKeyARN = newKey(t, kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt)
		}},
		{"no key", func(t *testing.T, h *Handler) { h.Signer, h.SigningKeyARN = nil, "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			n := newNotifications(t)
			inc := openRun(t, client, false)
			h := newHandler(t, client, n)
			c.key(t, h)
			_, err := h.Handle(context.Background(), Input{Incident: *inc, Results: []incident.Result{{Collector: "guardduty", Status: incident.StatusOK}}})
			var ee *faults.EvidenceError
			if !errors.As(err, &ee) {
				t.Fatalf("err %v (%T), want an EvidenceError", err, err)
			}
			if msgs := n.messages(t); len(msgs) != 0 {
				t.Errorf("announced %d notifications for an unsigned seal", len(msgs))
			}
		})
	}
}
