package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

// signer is the stack's asymmetric KMS key: Seal signs the seal statement
// with it and reads its public half to store beside the signature.
type signer interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// Signed is what Seal announces of the signature: enough to check the
// manifest with nothing but the notification.
type Signed struct {
	StatementKey         string `json:"statementKey"`
	StatementSHA256      string `json:"statementSha256"`
	SignatureKey         string `json:"signatureKey"`
	PublicKeyKey         string `json:"publicKeyKey"`
	Signature            string `json:"signature"` // base64 of the raw signature bytes
	SigningAlgorithm     string `json:"signingAlgorithm"`
	KeyARN               string `json:"keyArn"`
	PublicKeyFingerprint string `json:"publicKeyFingerprint"`
}

// sign signs the stored manifest: it builds the seal statement from it,
// has KMS sign the statement (attest.Sign, the call the contain function
// makes with its own key), and stores
// the statement, the signature and the public key beside the manifest.
// Every part is deterministic (the statement's time is the manifest's
// sealedAt, PKCS#1 v1.5 signatures carry no randomness), so a retried Seal
// writes the same bytes and the writer accepts them as already there.
func (h *Handler) sign(ctx context.Context, m *evidence.Manifest, manifest evidence.Artifact, runPrefix string) (*Signed, error) {
	der, err := attest.PublicKey(ctx, h.Signer, h.SigningKeyARN)
	if err != nil {
		return nil, h.signErr(err, manifest.Key)
	}
	// The configured ARN, not GetPublicKey's KeyId: AWS answers with the
	// ARN, the emulator with the bare key ID.
	keyARN := h.SigningKeyARN
	st := attest.Statement{
		Type: attest.StatementType, CaseID: m.CaseID, RunID: m.RunID, Status: m.Status,
		ManifestKey: manifest.Key, ManifestSHA256: manifest.SHA256, ManifestVersionID: manifest.VersionID,
		ManifestSchemaVersion: m.SchemaVersion, SealedAt: m.SealedAt.UTC(),
		KeyARN: keyARN, SigningAlgorithm: attest.SigningAlgorithm,
		PublicKeyFingerprint: attest.Fingerprint(der),
	}
	msg, err := st.Marshal()
	if err != nil {
		return nil, &faults.EvidenceError{Key: manifest.Key, Err: err}
	}
	sig, err := attest.Sign(ctx, h.Signer, h.SigningKeyARN, msg)
	if err != nil {
		return nil, h.signErr(err, manifest.Key)
	}
	meta := func(api, contentType string) evidence.PutMeta {
		return evidence.PutMeta{Source: evidence.SourceCase, API: api, Collector: "seal", CollectorVersion: h.Version,
			ContentType: contentType, AcceptIdentical: true,
			Request: map[string]any{"KeyId": keyARN}}
	}
	files := []struct {
		name, api, contentType string
		body                   []byte
	}{
		{attest.StatementFile, "custody:SealStatement", evidence.ContentTypeJSON, msg},
		{attest.SignatureFile, "kms:Sign", "application/octet-stream", sig},
		{attest.PublicKeyFile, "kms:GetPublicKey", "application/x-pem-file", attest.EncodePEM(der)},
	}
	stored := make([]evidence.Artifact, len(files))
	for i, f := range files {
		key := runPrefix + f.name
		if stored[i], err = h.Writer.Put(ctx, key, bytes.NewReader(f.body), meta(f.api, f.contentType)); err != nil {
			return nil, faults.Classify("store "+f.name, err, h.sealErr(key))
		}
	}
	return &Signed{
		StatementKey: stored[0].Key, StatementSHA256: stored[0].SHA256, SignatureKey: stored[1].Key, PublicKeyKey: stored[2].Key,
		Signature: base64.StdEncoding.EncodeToString(sig), SigningAlgorithm: attest.SigningAlgorithm,
		KeyARN: keyARN, PublicKeyFingerprint: st.PublicKeyFingerprint,
	}, nil
}

// signErr is a failed KMS call classified (throttled, transient) or an
// EvidenceError naming the manifest, whose signature failed.
func (h *Handler) signErr(err error, key string) error {
	var api *attest.APIError
	if errors.As(err, &api) {
		return faults.Classify(api.Op, api.Err, h.sealErr(key))
	}
	return &faults.EvidenceError{Key: key, Err: err}
}

// sealErr names the key whose seal failed: the manifest is stored, its
// signature is not.
func (h *Handler) sealErr(key string) func(error) error {
	return func(err error) error {
		return &faults.EvidenceError{Key: key, Err: fmt.Errorf("sealed, but the signature failed: %w", err)}
	}
}
