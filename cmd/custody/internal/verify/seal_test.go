package verify

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/custody-ir/custody/shared/attest"
)

// Test signing keys, made once per test binary: sealKey stands for the
// stack's seal key (what KMS Sign with RSASSA_PKCS1_V1_5_SHA_256 and
// MessageType RAW makes is a PKCS#1 v1.5 signature over SHA-256 of the
// statement: functions/seal's tests check KMS's against the same
// verifier), forgerKey for someone else's.
var (
	keysOnce           sync.Once
	sealKey, forgerKey *rsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if sealKey, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			forgerKey, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			panic(err)
		}
	})
	return sealKey, forgerKey
}

func pubDER(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// sealFiles are the seal files Seal stores for manifest (of version, in
// the bucket), signed with key: name (attest.*File) to bytes.
func sealFiles(t testing.TB, key *rsa.PrivateKey, runID string, manifest []byte, version string) map[string][]byte {
	t.Helper()
	der := pubDER(t, key)
	s := sha256.Sum256(manifest)
	msg, err := attest.Statement{
		Type: attest.StatementType, CaseID: testCase, RunID: runID, Status: "complete",
		ManifestKey: "cases/" + testCase + "/runs/" + runID + "/manifest.json", ManifestSHA256: hex.EncodeToString(s[:]),
		ManifestVersionID: version, ManifestSchemaVersion: "1", SealedAt: sealed,
		KeyARN: "arn:aws:kms:us-east-1:123456789012:key/test", SigningAlgorithm: attest.SigningAlgorithm,
		PublicKeyFingerprint: attest.Fingerprint(der),
	}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{attest.StatementFile: msg, attest.SignatureFile: sig, attest.PublicKeyFile: attest.EncodePEM(der)}
}

// signRun writes the seal files of the run folder's manifest.json, signed
// with key.
func signRun(t testing.TB, caseDir, runID string, key *rsa.PrivateKey) {
	t.Helper()
	runDir := filepath.Join(caseDir, "runs", runID)
	manifest, err := os.ReadFile(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range sealFiles(t, key, runID, manifest, "") {
		p := filepath.Join(runDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSignature: the signed seal statement is checked offline; every way
// of rewriting a sealed case that keeps its artifacts and manifest
// consistent with each other still fails, with ExitSignature.
func TestSignature(t *testing.T) {
	seal, forger := testKeys(t)
	fp := attest.Fingerprint(pubDER(t, seal))
	keyFile := filepath.Join(t.TempDir(), "seal.pem")
	if err := os.WriteFile(keyFile, attest.EncodePEM(pubDER(t, seal)), 0o600); err != nil {
		t.Fatal(err)
	}
	run1Dir := func(c string) string { return filepath.Join(c, "runs", run1) }
	rewrite := func(t *testing.T, path string, f func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		edit   func(t *testing.T, caseDir string)
		args   []string
		code   int
		output string // in stdout
	}{
		{name: "as sealed, nothing pinned", code: ExitOK, output: "NOTHING PINNED"},
		{name: "pinned by fingerprint", args: []string{"-key", fp}, code: ExitOK, output: "the pinned key"},
		{name: "pinned by fingerprint with colons", args: []string{"-key", "SHA256:" + strings.ToUpper(fp[:2]) + ":" + fp[2:]}, code: ExitOK, output: "the pinned key"},
		{name: "pinned by public key file", args: []string{"-key", keyFile}, code: ExitOK, output: "the pinned key"},
		{
			name: "one changed byte of the manifest",
			edit: func(t *testing.T, c string) {
				rewrite(t, filepath.Join(run1Dir(c), "manifest.json"), func(b []byte) []byte {
					i := strings.Index(string(b), "seal devel")
					b[i+len("seal deve")] = 'k' // "seal devek": one byte, still a valid manifest
					return b
				})
			},
			code: ExitSignature, output: "the manifest is not the one sealed",
		},
		{
			name: "an artifact changed and the manifest re-hashed to match",
			edit: func(t *testing.T, c string) {
				p := filepath.Join(run1Dir(c), "guardduty", "summary.json")
				old, _ := os.ReadFile(p)
				forged := []byte(`{"records":2}`)
				if err := os.WriteFile(p, forged, 0o600); err != nil {
					t.Fatal(err)
				}
				rewrite(t, filepath.Join(run1Dir(c), "manifest.json"), func(b []byte) []byte {
					return []byte(strings.Replace(string(b), sum(old), sum(forged), 1))
				})
			},
			code: ExitSignature, output: "the manifest is not the one sealed",
		},
		{
			name: "re-hashed and re-signed with another key, nothing pinned",
			edit: func(t *testing.T, c string) {
				p := filepath.Join(run1Dir(c), "guardduty", "summary.json")
				old, _ := os.ReadFile(p)
				forged := []byte(`{"records":2}`)
				if err := os.WriteFile(p, forged, 0o600); err != nil {
					t.Fatal(err)
				}
				rewrite(t, filepath.Join(run1Dir(c), "manifest.json"), func(b []byte) []byte {
					return []byte(strings.Replace(string(b), sum(old), sum(forged), 1))
				})
				signRun(t, c, run1, forger)
			},
			// Without a pin a forger's own key verifies: verify says so
			// plainly, which is why -key exists.
			code: ExitOK, output: "NOTHING PINNED",
		},
		{
			name: "re-signed with another key, pinned",
			edit: func(t *testing.T, c string) { signRun(t, c, run1, forger) },
			args: []string{"-key", fp}, code: ExitSignature, output: "not the pinned key",
		},
		{
			name: "one changed byte of the signature",
			edit: func(t *testing.T, c string) {
				rewrite(t, filepath.Join(run1Dir(c), filepath.FromSlash(attest.SignatureFile)), func(b []byte) []byte { b[10] ^= 1; return b })
			},
			code: ExitSignature, output: "does not match",
		},
		{
			name: "the seal removed",
			edit: func(t *testing.T, c string) {
				if err := os.RemoveAll(filepath.Join(run1Dir(c), "seal")); err != nil {
					t.Fatal(err)
				}
			},
			code: ExitSignature, output: "not signed",
		},
		{
			name: "the seal removed, unsigned allowed",
			edit: func(t *testing.T, c string) {
				if err := os.RemoveAll(filepath.Join(run1Dir(c), "seal")); err != nil {
					t.Fatal(err)
				}
			},
			args: []string{"-allow-unsigned"}, code: ExitOK, output: "signature: none",
		},
		{
			name: "the signature removed",
			edit: func(t *testing.T, c string) {
				if err := os.Remove(filepath.Join(run1Dir(c), filepath.FromSlash(attest.SignatureFile))); err != nil {
					t.Fatal(err)
				}
			},
			code: ExitSignature, output: "is missing",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeCase(t)
			if c.edit != nil {
				c.edit(t, dir)
			}
			code, stdout, stderr := runMain(t, append(c.args, dir)...)
			if code != c.code || !strings.Contains(stdout, c.output) {
				t.Errorf("exit %d, want %d; stdout does not say %q:\n%s%s", code, c.code, c.output, stdout, stderr)
			}
		})
	}
	if code, _, _ := runMain(t, "-key", "not-a-key", writeCase(t)); code != ExitUsage {
		t.Errorf("-key not-a-key: exit %d, want %d", code, ExitUsage)
	}
}

// TestRenamedCopy: a copy of the case under another folder name verifies
// as the case its manifests name, and still fails when an artifact changed.
func TestRenamedCopy(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string)
		code int
	}{
		{"as sealed", func(*testing.T, string) {}, ExitOK},
		{"an artifact changed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "runs", run1, "guardduty", "summary.json")
			if err := os.WriteFile(p, []byte(`{"records":9}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ExitChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			renamed := filepath.Join(t.TempDir(), "evidence for counsel")
			if err := os.Rename(writeCase(t), renamed); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, renamed)
			code, stdout, stderr := runMain(t, renamed)
			if code != tc.code || !strings.Contains(stdout+stderr, "case "+testCase) {
				t.Errorf("exit %d, want %d, naming case %s:\n%s%s", code, tc.code, testCase, stdout, stderr)
			}
			if tc.code == ExitChanged && !strings.Contains(stdout, filepath.Join(renamed, "runs", run1, "guardduty", "summary.json")) {
				t.Errorf("the changed file is not named by its path in the copy:\n%s", stdout)
			}
		})
	}
}
