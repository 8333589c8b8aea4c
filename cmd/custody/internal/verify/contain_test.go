package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/evidence"
)

var (
	containKeyOnce sync.Once
	containKey     *rsa.PrivateKey
)

// testContainKey stands for the stack's containment key (a key of its
// own, not the seal key).
func testContainKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	containKeyOnce.Do(func() {
		var err error
		if containKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return containKey
}

// containRecords are a run's containment records in the order the
// contain function writes them (approve mode, then approved).
var containRecords = []struct{ name, api, body string }{
	{"plan.json", "custody:ContainPlan", `{"caseId":"` + testCase + `","actions":[{"class":"ec2","target":"i-0abc"}]}`},
	{"pending-0a1b2c3d4e5f6071.json", "custody:ContainRequest", `{"taskToken":"t"}`},
	{"approved.json", "custody:ContainApprove", `{"decision":{"decision":"approved","by":"alice"}}`},
}

// signContainment is the statement of step over recs, signed with key:
// its file name (in the containment folder), bytes and signature, as the
// contain function makes them (PKCS#1 v1.5 over SHA-256, KMS's RAW).
func signContainment(t testing.TB, key *rsa.PrivateKey, runID, step string, recs []attest.ContainmentRecord) (string, []byte, []byte) {
	t.Helper()
	st := attest.ContainmentStatement{
		Type: attest.ContainmentStatementType, CaseID: testCase, RunID: runID, Step: step, At: sealed, Records: recs,
		KeyARN: "arn:aws:kms:us-east-1:123456789012:key/contain", SigningAlgorithm: attest.SigningAlgorithm,
		PublicKeyFingerprint: attest.Fingerprint(pubDER(t, key)),
	}
	msg, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(st.File(), attest.ContainmentDir), msg, sig
}

// containFolder is a run's containment folder after plan, request and
// apply: each step's record, then its statement over every record so far;
// versions are the records' version IDs (nil for a folder).
func containFolder(t testing.TB, key *rsa.PrivateKey, runID string, versions map[string]string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{"public-key.pem": attest.EncodePEM(pubDER(t, key))}
	var recs []attest.ContainmentRecord
	for i, r := range containRecords {
		files[r.name] = []byte(r.body)
		recs = append(recs, attest.ContainmentRecord{Name: r.name, VersionID: versions[r.name], Size: int64(len(r.body)), SHA256: sum([]byte(r.body)), API: r.api})
		name, msg, sig := signContainment(t, key, runID, []string{"plan", "request", "apply"}[i], append([]attest.ContainmentRecord{}, recs...))
		files[name], files[strings.TrimSuffix(name, ".json")+".sig"] = msg, sig
	}
	return files
}

// TestContainment: the containment records of a contained run and the
// statements over them are checked offline, with a real RSA key; a
// record not as signed, or added without a statement, is ExitChanged; a
// signature that does not verify, or no public key, ExitSignature.
func TestContainment(t *testing.T) {
	key := testContainKey(t)
	_, forger := testKeys(t)
	fp := attest.Fingerprint(pubDER(t, key))
	dir := func(c string) string { return filepath.Join(c, "runs", run1, "containment") }
	write := func(t *testing.T, path string, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(t *testing.T, c string, names ...string) {
		for _, n := range names {
			if err := os.Remove(filepath.Join(dir(c), n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		edit   func(t *testing.T, caseDir string)
		args   []string
		code   int
		output string
	}{
		{name: "as contained, nothing pinned", code: ExitOK, output: "containment: ok, 3 record(s) under 3 signed statement(s), key " + fp},
		{name: "pinned", args: []string{"-contain-key", fp}, code: ExitOK, output: "the pinned key"},
		{name: "pinned to another key", args: []string{"-contain-key", attest.Fingerprint(pubDER(t, forger))}, code: ExitSignature, output: "not the pinned containment key"},
		{
			name: "a tampered record",
			edit: func(t *testing.T, c string) {
				write(t, filepath.Join(dir(c), "approved.json"), []byte(`{"decision":{"decision":"approved","by":"mallory"}}`))
			},
			code: ExitChanged, output: "approved.json: sha256",
		},
		{
			name: "a forged signature",
			edit: func(t *testing.T, c string) {
				// The forger's signature over a statement of their own,
				// beside the real statement and the real public key.
				_, _, sig := signContainment(t, forger, run1, "apply", nil)
				write(t, filepath.Join(dir(c), "statement-0003-apply.sig"), sig)
			},
			code: ExitSignature, output: "does not match",
		},
		{
			name: "a statement rewritten and re-signed with another key, the public key replaced, pinned",
			edit: func(t *testing.T, c string) {
				for name, b := range containFolder(t, forger, run1, nil) {
					write(t, filepath.Join(dir(c), name), b)
				}
			},
			args: []string{"-contain-key", fp}, code: ExitSignature, output: "not the pinned containment key",
		},
		{
			name: "a record no statement covers",
			edit: func(t *testing.T, c string) {
				write(t, filepath.Join(dir(c), "rollback.json"), []byte(`{"actions":[]}`))
			},
			code: ExitChanged, output: "rollback.json: not in the latest containment statement (statement-0003-apply.json): unsigned",
		},
		{
			name: "a signed record removed",
			edit: func(t *testing.T, c string) { remove(t, c, "pending-0a1b2c3d4e5f6071.json") },
			code: ExitChanged, output: "and missing",
		},
		{
			name: "the public key removed",
			edit: func(t *testing.T, c string) { remove(t, c, "public-key.pem") },
			code: ExitSignature, output: "public-key.pem is missing",
		},
		{
			name: "a statement's signature removed",
			edit: func(t *testing.T, c string) { remove(t, c, "statement-0003-apply.sig") },
			code: ExitSignature, output: "has no signature",
		},
		{
			name: "no statement at all",
			edit: func(t *testing.T, c string) {
				remove(t, c, "public-key.pem", "statement-0001-plan.json", "statement-0001-plan.sig", "statement-0002-request.json", "statement-0002-request.sig", "statement-0003-apply.json", "statement-0003-apply.sig")
			},
			code: ExitChanged, output: "containment: 3 record(s), not signed",
		},
		{
			name: "no statement at all, unsigned allowed",
			edit: func(t *testing.T, c string) {
				remove(t, c, "public-key.pem", "statement-0001-plan.json", "statement-0001-plan.sig", "statement-0002-request.json", "statement-0002-request.sig", "statement-0003-apply.json", "statement-0003-apply.sig")
			},
			args: []string{"-allow-unsigned"}, code: ExitOK, output: "not signed (accepted: -allow-unsigned)",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caseDir := writeCase(t)
			if err := os.MkdirAll(dir(caseDir), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range containFolder(t, key, run1, nil) {
				write(t, filepath.Join(dir(caseDir), name), b)
			}
			if c.edit != nil {
				c.edit(t, caseDir)
			}
			code, stdout, stderr := runMain(t, append(c.args, caseDir)...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			if !strings.Contains(stdout, c.output) {
				t.Errorf("stdout lacks %q:\n%s", c.output, stdout)
			}
		})
	}
}

// TestBucketContainment: in the bucket each record is checked by the
// version its statement names; a new version over a signed record is not
// covered (ExitChanged) though the signed version still verifies.
func TestBucketContainment(t *testing.T) {
	ctx := context.Background()
	key := testContainKey(t)
	for _, c := range []struct {
		name  string
		after func(t *testing.T, w *evidence.Writer)
		code  int
		out   string
	}{
		{"as contained", nil, ExitOK, "containment: ok, 3 record(s) under 3 signed statement(s)"},
		{"a new version over a signed record", func(t *testing.T, w *evidence.Writer) {
			if _, err := w.Put(ctx, keyOf("containment/approved.json"), strings.NewReader(`{"forged":true}`), evidence.PutMeta{
				Source: evidence.SourceCase, API: "test:Put", Collector: "intruder", CollectorVersion: "1", Overwrite: true}); err != nil {
				t.Fatal(err)
			}
		}, ExitChanged, "not in the latest containment statement"},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := lockedBucket(t)
			sealedCase(t, client, nil)
			w := evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()))
			meta := evidence.PutMeta{Source: evidence.SourceCase, API: "test:Put", Collector: "contain", CollectorVersion: "devel"}
			versions := map[string]string{}
			for _, r := range containRecords {
				a, err := w.Put(ctx, keyOf("containment/"+r.name), strings.NewReader(r.body), meta)
				if err != nil {
					t.Fatal(err)
				}
				versions[r.name] = a.VersionID
			}
			for name, b := range containFolder(t, key, run1, versions) {
				if _, ok := versions[name]; ok {
					continue
				}
				if _, err := w.Put(ctx, keyOf("containment/"+name), bytes.NewReader(b), meta); err != nil {
					t.Fatal(err)
				}
			}
			if c.after != nil {
				c.after(t, w)
			}
			var stdout, stderr bytes.Buffer
			code := Main(ctx, []string{"s3://" + testBucket + "/cases/" + testCase}, &stdout, &stderr, func(context.Context) (BucketAPI, error) { return client, nil })
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), c.out) {
				t.Errorf("stdout lacks %q:\n%s", c.out, stdout.String())
			}
		})
	}
}
