package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/custody-ir/custody/shared/attest"
)

// SealCheck is what verify found of one run's signed seal statement.
type SealCheck struct {
	// KeyARN and Fingerprint name the key that signed (from the statement
	// and the stored public key).
	KeyARN      string `json:"keyArn,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Pinned: the fingerprint was checked against -key.
	Pinned bool `json:"pinned"`
	// Verified: the signature matches the statement, the statement names
	// this run's manifest, and (when pinned) the key is the pinned one.
	Verified bool `json:"verified"`
	// Unsigned: the run has no seal statement at all.
	Unsigned bool     `json:"unsigned,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// Pin is the key the user trusts, as a fingerprint (attest.Fingerprint);
// empty when nothing was pinned.
type Pin string

var hexFingerprint = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParsePin reads -key (or -contain-key): a public key file (PEM or DER), or its fingerprint
// (hex SHA-256 of the DER, colons and an "SHA256:" prefix allowed).
func ParsePin(arg string) (Pin, error) {
	if arg == "" {
		return "", nil
	}
	if b, err := os.ReadFile(arg); err == nil {
		_, der, err := attest.ParsePublicKey(b)
		if err != nil {
			return "", fmt.Errorf("-key %s: %w", arg, err)
		}
		return Pin(attest.Fingerprint(der)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("-key %s: %w", arg, err)
	}
	fp := attest.NormalizeFingerprint(arg)
	if !hexFingerprint.MatchString(fp) {
		return "", fmt.Errorf("-key %q is neither a public key file nor a hex SHA-256 fingerprint", arg)
	}
	return Pin(fp), nil
}

// maxSealFile bounds each seal file read: a statement is under 4 KiB, an
// RSA signature and public key under 1 KiB.
const maxSealFile = 64 << 10

// checkSeal checks run runID's seal files, read by read (which returns an
// error matching fs.ErrNotExist for a missing one), against the manifest's
// bytes and, in the bucket, its version ID (empty for a folder).
func checkSeal(read func(name string) ([]byte, error), caseID, runID string, manifest []byte, manifestVersion string, pin Pin) *SealCheck {
	c := &SealCheck{Pinned: pin != ""}
	files := map[string][]byte{}
	var missing []string
	for _, name := range []string{attest.StatementFile, attest.SignatureFile, attest.PublicKeyFile} {
		b, err := read(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, name)
		case err != nil:
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", name, err))
		default:
			files[name] = b
		}
	}
	if len(missing) == 3 {
		c.Unsigned = true
		c.Problems = append(c.Problems, "not signed: the run has no seal statement ("+attest.StatementFile+")")
		return c
	}
	for _, m := range missing {
		c.Problems = append(c.Problems, m+" is missing")
	}
	if len(c.Problems) > 0 {
		return c
	}
	pub, der, err := attest.ParsePublicKey(files[attest.PublicKeyFile])
	if err != nil {
		c.Problems = append(c.Problems, attest.PublicKeyFile+": "+err.Error())
		return c
	}
	c.Fingerprint = attest.Fingerprint(der)
	if err := attest.Verify(pub, files[attest.StatementFile], files[attest.SignatureFile]); err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", attest.SignatureFile, err))
		return c
	}
	st, err := attest.ParseStatement(files[attest.StatementFile])
	if err != nil {
		c.Problems = append(c.Problems, err.Error())
		return c
	}
	c.KeyARN = st.KeyARN
	sum := sha256.Sum256(manifest)
	got := hex.EncodeToString(sum[:])
	if !strings.EqualFold(st.ManifestSHA256, got) {
		c.Problems = append(c.Problems, fmt.Sprintf("the manifest's sha256 is %s, the signed statement says %s: the manifest is not the one sealed", got, st.ManifestSHA256))
	}
	if manifestVersion != "" && st.ManifestVersionID != manifestVersion {
		c.Problems = append(c.Problems, fmt.Sprintf("the manifest is version %s, the signed statement says %s", manifestVersion, st.ManifestVersionID))
	}
	if st.CaseID != caseID || st.RunID != runID {
		c.Problems = append(c.Problems, fmt.Sprintf("the statement is for case %s run %s, found with case %s run %s", st.CaseID, st.RunID, caseID, runID))
	}
	if st.PublicKeyFingerprint != c.Fingerprint {
		c.Problems = append(c.Problems, fmt.Sprintf("the statement names key %s, the stored public key is %s", st.PublicKeyFingerprint, c.Fingerprint))
	}
	if pin != "" && string(pin) != c.Fingerprint {
		c.Problems = append(c.Problems, fmt.Sprintf("signed by key %s, not the pinned key %s", c.Fingerprint, pin))
	}
	c.Verified = len(c.Problems) == 0
	return c
}

// sealLine is the one line Print gives a run's seal.
func (c *SealCheck) line() string {
	switch {
	case c == nil:
		return ""
	case c.Unsigned:
		return "signature: none (the run was sealed unsigned, or its seal/ files are gone)"
	case !c.Verified:
		return "signature: does not verify"
	case c.Pinned:
		return fmt.Sprintf("signature: ok, key %s (%s), the pinned key", c.Fingerprint, c.KeyARN)
	default:
		return fmt.Sprintf("signature: ok, key %s (%s); NOTHING PINNED: this proves only that the holder of this key signed; pin the deployed key with -key", c.Fingerprint, c.KeyARN)
	}
}

// Trust is what verify holds the seals to: the pinned key, and whether a
// run sealed without a signature (before custody signed) is accepted;
// ContainPin is the pinned containment key (a key of its own: the seal
// key signs seals only), and AllowUnsigned accepts a containment folder
// with no statement at all (contained before custody signed containment).
type Trust struct {
	Pin           Pin
	AllowUnsigned bool
	ContainPin    Pin
}

func (t Trust) check(read func(string) ([]byte, error), caseID, runID string, manifest []byte, manifestVersion string) *SealCheck {
	c := checkSeal(read, caseID, runID, manifest, manifestVersion, t.Pin)
	if c.Unsigned && t.AllowUnsigned {
		c.Problems = nil
	}
	return c
}
