package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"time"
)

// The containment statement is the signed list of a sealed run's
// containment records (plan.json, pending-*.json, applied.json,
// approved.json, rejected.json, rollback.json). Those records are written
// after the manifest, so the seal statement cannot vouch for them; after
// each step that writes one, the contain function signs a new statement
// over every record of the run so far, with the containment key (a key of
// its own, never the seal key: a compromised contain role must not be able
// to forge a seal). The files sit beside the records:
//
//	runs/<runId>/containment/statement-<n>-<step>.json  the exact bytes signed
//	runs/<runId>/containment/statement-<n>-<step>.sig   RSASSA-PKCS1-v1_5 SHA-256, raw bytes
//	runs/<runId>/containment/public-key.pem             the containment key's public half
//
// n is the number of records the statement covers, so each step that adds
// a record makes a new name (records and statements are write-once under
// Object Lock), and a retried step that finds the same records makes the
// same statement, byte for byte, under the same name.

// ContainmentStatementType names the containment statement format.
const ContainmentStatementType = "custody-containment-statement/1"

// ContainmentDir is the run's containment folder, relative to the run.
const ContainmentDir = "containment/"

// ContainmentPublicKeyFile is the containment key's public half, relative
// to the run folder: written once (the same bytes at every step).
const ContainmentPublicKeyFile = ContainmentDir + "public-key.pem"

// containmentStatementName is statement-<n>-<step>.json or .sig.
var containmentStatementName = regexp.MustCompile(`^statement-([0-9]{4,})-([a-z]+)\.(json|sig)$`)

// ContainmentStatementFile is the statement of step that covers n records,
// relative to the run folder.
func ContainmentStatementFile(n int, step string) string {
	return fmt.Sprintf("%sstatement-%04d-%s.json", ContainmentDir, n, step)
}

// ContainmentSignatureFile is the signature of the statement at file (a
// ContainmentStatementFile).
func ContainmentSignatureFile(file string) string {
	return file[:len(file)-len(".json")] + ".sig"
}

// ContainmentSigningFile reports whether name (a file name in the
// containment folder, no folder) is part of a signature, not a record: a
// statement, its signature, or the public key.
func ContainmentSigningFile(name string) bool {
	return name == path.Base(ContainmentPublicKeyFile) || containmentStatementName.MatchString(name)
}

// ParseContainmentStatementName returns n and the step of a statement or
// signature file name (no folder); ok is false for any other name.
func ParseContainmentStatementName(name string) (n int, step string, sig, ok bool) {
	m := containmentStatementName.FindStringSubmatch(name)
	if m == nil {
		return 0, "", false, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, "", false, false
	}
	return n, m[2], m[3] == "sig", true
}

// ContainmentRecord is one record a containment statement vouches for.
type ContainmentRecord struct {
	// Name is the file name in the run's containment folder.
	Name      string `json:"name"`
	VersionID string `json:"versionId"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	// API is what made the record (custody:ContainPlan, ...).
	API string `json:"api"`
}

// ContainmentStatement is what the contain function signs after a step:
// every containment record of the run so far.
type ContainmentStatement struct {
	Type   string `json:"type"`
	CaseID string `json:"caseId"`
	RunID  string `json:"runId"`
	// Step is the contain function's action that wrote the last record
	// (plan, request, apply, reject, rollback).
	Step string `json:"step"`
	// At is when the newest record was stored (S3's LastModified), not the
	// signing time, so a retried step makes the same statement.
	At      time.Time           `json:"at"`
	Records []ContainmentRecord `json:"records"`
	KeyARN  string              `json:"keyArn"`
	// SigningAlgorithm is always SigningAlgorithm.
	SigningAlgorithm string `json:"signingAlgorithm"`
	// PublicKeyFingerprint is Fingerprint of the containment key.
	PublicKeyFingerprint string `json:"publicKeyFingerprint"`
}

// File is where the statement is stored, relative to the run folder.
func (s ContainmentStatement) File() string { return ContainmentStatementFile(len(s.Records), s.Step) }

// Marshal is the statement's bytes as signed: compact JSON, fields in
// declaration order, with a final newline. More than KMS signs (a run with
// very many records) is an error, not a truncated list.
func (s ContainmentStatement) Marshal() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if len(b)+1 > MaxStatement {
		return nil, fmt.Errorf("containment statement is %d bytes, more than KMS signs (%d)", len(b)+1, MaxStatement)
	}
	return append(b, '\n'), nil
}

// ParseContainmentStatement decodes a containment statement, refusing
// unknown fields and another format.
func ParseContainmentStatement(b []byte) (*ContainmentStatement, error) {
	if len(b) > MaxStatement {
		return nil, fmt.Errorf("containment statement is %d bytes, more than a statement can be (%d)", len(b), MaxStatement)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s ContainmentStatement
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("containment statement: %w", err)
	}
	if s.Type != ContainmentStatementType {
		return nil, fmt.Errorf("containment statement: type %q, want %q", s.Type, ContainmentStatementType)
	}
	if s.SigningAlgorithm != SigningAlgorithm {
		return nil, fmt.Errorf("containment statement: signing algorithm %q, want %q", s.SigningAlgorithm, SigningAlgorithm)
	}
	return &s, nil
}
