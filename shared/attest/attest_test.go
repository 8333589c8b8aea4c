package attest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerify: a statement verifies with the key that signed it; one
// changed byte of the statement or signature, or another key, does not.
func TestVerify(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	msg, err := Statement{Type: StatementType, CaseID: "gd-x", RunID: "r1", ManifestSHA256: strings.Repeat("a", 64),
		SealedAt: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), SigningAlgorithm: SigningAlgorithm, PublicKeyFingerprint: Fingerprint(der)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte { c := append([]byte{}, b...); c[i] ^= 1; return c }
	cases := []struct {
		name string
		pub  *rsa.PublicKey
		msg  []byte
		sig  []byte
		ok   bool
	}{
		{"as signed", &key.PublicKey, msg, sig, true},
		{"one byte of the statement changed", &key.PublicKey, flip(msg, 20), sig, false},
		{"one byte of the signature changed", &key.PublicKey, msg, flip(sig, 7), false},
		{"another key", &other.PublicKey, msg, sig, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.pub, c.msg, c.sig)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Errorf("Verify = %v, want ok=%v", err, c.ok)
			}
		})
	}
	// The PEM and the DER are the same key, with the same fingerprint.
	for _, in := range [][]byte{der, EncodePEM(der)} {
		_, got, err := ParsePublicKey(in)
		if err != nil || Fingerprint(got) != Fingerprint(der) {
			t.Errorf("ParsePublicKey: %v, fingerprint %s want %s", err, Fingerprint(got), Fingerprint(der))
		}
	}
	st, err := ParseStatement(msg)
	if err != nil || st.CaseID != "gd-x" {
		t.Errorf("ParseStatement = %+v, %v", st, err)
	}
	if _, err := ParseStatement([]byte(`{"type":"other"}`)); err == nil {
		t.Error("ParseStatement accepted another format")
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	for in, want := range map[string]string{
		"AB:cd:EF":    "abcdef",
		" SHA256:abc": "abc",
		"abc\n":       "abc",
	} {
		if got := NormalizeFingerprint(in); got != want {
			t.Errorf("NormalizeFingerprint(%q) = %q, want %q", in, got, want)
		}
	}
}
