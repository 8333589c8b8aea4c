// Package attest is the signed seal statement: the few bytes Seal signs
// with the stack's asymmetric KMS key after the manifest is stored, and
// that verify checks offline with nothing but the statement, the signature
// and a public key.
//
// The statement names the manifest by its SHA-256 (and S3 version), so the
// manifest never has to list the signature: the signature is over the
// manifest, the manifest is over the artifacts, and nothing is circular.
// The three files sit beside the manifest, in the run's seal/ folder:
//
//	runs/<runId>/seal/statement.json  the exact bytes signed (RawStatement)
//	runs/<runId>/seal/statement.sig   the signature: RSASSA-PKCS1-v1_5 with SHA-256, raw bytes
//	runs/<runId>/seal/public-key.pem  the signing key's public half (SubjectPublicKeyInfo, PEM)
//
// A reviewer can check them with openssl alone:
//
//	openssl dgst -sha256 -verify public-key.pem -signature statement.sig statement.json
//
// A public key stored in the case proves nothing by itself (whoever could
// rewrite the case could sign with a key of their own): what proves the
// seal is that the key's fingerprint (Fingerprint) is the one the stack
// published at deploy.
//
// The containment statement (ContainmentStatement) is the same idea for
// the records containment writes after the seal, signed by the contain
// function with a key of its own; Sign and PublicKey are the KMS calls
// both signers make.
package attest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Names of the seal files, relative to the run folder.
const (
	StatementFile = "seal/statement.json"
	SignatureFile = "seal/statement.sig"
	PublicKeyFile = "seal/public-key.pem"
)

// StatementType names the statement format.
const StatementType = "custody-seal-statement/1"

// SigningAlgorithm is KMS's name for the one algorithm custody signs with.
const SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_256"

// MaxStatement bounds a statement: KMS signs at most 4096 bytes of RAW
// message, and a statement is a few hundred.
const MaxStatement = 4096

// Statement is what Seal signs: which manifest, of which run, when, and
// with which key.
type Statement struct {
	Type              string `json:"type"`
	CaseID            string `json:"caseId"`
	RunID             string `json:"runId"`
	Status            string `json:"status"`
	ManifestKey       string `json:"manifestKey"`
	ManifestSHA256    string `json:"manifestSha256"`
	ManifestVersionID string `json:"manifestVersionId"`
	// ManifestSchemaVersion is the manifest's format version.
	ManifestSchemaVersion string `json:"manifestSchemaVersion"`
	// SealedAt is the manifest's own sealedAt, so a retried Seal makes the
	// same statement, byte for byte.
	SealedAt time.Time `json:"sealedAt"`
	KeyARN   string    `json:"keyArn"`
	// SigningAlgorithm is always SigningAlgorithm.
	SigningAlgorithm string `json:"signingAlgorithm"`
	// PublicKeyFingerprint is Fingerprint of the signing key.
	PublicKeyFingerprint string `json:"publicKeyFingerprint"`
}

// Marshal is the statement's bytes as signed: compact JSON, fields in
// declaration order, with a final newline.
func (s Statement) Marshal() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if len(b)+1 > MaxStatement {
		return nil, fmt.Errorf("seal statement is %d bytes, more than KMS signs (%d)", len(b)+1, MaxStatement)
	}
	return append(b, '\n'), nil
}

// ParseStatement decodes a statement, refusing unknown fields and another
// format.
func ParseStatement(b []byte) (*Statement, error) {
	if len(b) > MaxStatement {
		return nil, fmt.Errorf("seal statement is %d bytes, more than a statement can be (%d)", len(b), MaxStatement)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Statement
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("seal statement: %w", err)
	}
	if s.Type != StatementType {
		return nil, fmt.Errorf("seal statement: type %q, want %q", s.Type, StatementType)
	}
	if s.SigningAlgorithm != SigningAlgorithm {
		return nil, fmt.Errorf("seal statement: signing algorithm %q, want %q", s.SigningAlgorithm, SigningAlgorithm)
	}
	return &s, nil
}

// Fingerprint is the hex SHA-256 of a public key's DER
// (SubjectPublicKeyInfo, what KMS GetPublicKey returns), the same as
// `openssl pkey -pubin -outform DER | sha256sum`.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// EncodePEM is der as a PEM "PUBLIC KEY" block.
func EncodePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKey reads an RSA public key given as PEM ("PUBLIC KEY") or
// DER (SubjectPublicKeyInfo); it returns the key and its DER.
func ParsePublicKey(b []byte) (*rsa.PublicKey, []byte, error) {
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, nil, fmt.Errorf("PEM block %q, want PUBLIC KEY", blk.Type)
		}
		der = blk.Bytes
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("public key is %T, want RSA", k)
	}
	return pub, der, nil
}

// ErrBadSignature is a signature that does not verify with the key.
var ErrBadSignature = errors.New("the signature does not match the statement and key")

// Verify checks sig over msg with pub (RSASSA-PKCS1-v1_5, SHA-256: what
// KMS Sign makes with SigningAlgorithm and MessageType RAW).
func Verify(pub *rsa.PublicKey, msg, sig []byte) error {
	h := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
		return ErrBadSignature
	}
	return nil
}

// NormalizeFingerprint lower-cases a hex fingerprint and drops the colons
// and an "SHA256:" prefix people paste.
func NormalizeFingerprint(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	s = strings.TrimPrefix(s, "sha256:")
	return strings.ReplaceAll(s, ":", "")
}
