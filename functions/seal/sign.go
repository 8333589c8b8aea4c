package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

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
// has KMS sign the statement (MessageType RAW: KMS hashes it with SHA-256;
// the emulator ignores DIGEST and would hash a digest again), and stores
// the statement, the signature and the public key beside the manifest.
// Every part is deterministic (the statement's time is the manifest's
// sealedAt, PKCS#1 v1.5 signatures carry no randomness), so a retried Seal
// writes the same bytes and the writer accepts them as already there.
func (h *Handler) sign(ctx context.Context, m *evidence.Manifest, manifest evidence.Artifact, runPrefix string) (*Signed, error) {
	pk, err := h.Signer.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(h.SigningKeyARN)})
	if err != nil {
		return nil, faults.Classify("kms:GetPublicKey", err, h.sealErr(manifest.Key))
	}
	if pk.KeyUsage != kmstypes.KeyUsageTypeSignVerify {
		return nil, &faults.EvidenceError{Key: manifest.Key, Err: fmt.Errorf("signing key %s has key usage %s, want SIGN_VERIFY", h.SigningKeyARN, pk.KeyUsage)}
	}
	if _, _, err := attest.ParsePublicKey(pk.PublicKey); err != nil {
		return nil, &faults.EvidenceError{Key: manifest.Key, Err: fmt.Errorf("signing key %s: %w", h.SigningKeyARN, err)}
	}
	// The configured ARN, not GetPublicKey's KeyId: AWS answers with the
	// ARN, the emulator with the bare key ID.
	keyARN := h.SigningKeyARN
	st := attest.Statement{
		Type: attest.StatementType, CaseID: m.CaseID, RunID: m.RunID, Status: m.Status,
		ManifestKey: manifest.Key, ManifestSHA256: manifest.SHA256, ManifestVersionID: manifest.VersionID,
		ManifestSchemaVersion: m.SchemaVersion, SealedAt: m.SealedAt.UTC(),
		KeyARN: keyARN, SigningAlgorithm: attest.SigningAlgorithm,
		PublicKeyFingerprint: attest.Fingerprint(pk.PublicKey),
	}
	msg, err := st.Marshal()
	if err != nil {
		return nil, &faults.EvidenceError{Key: manifest.Key, Err: err}
	}
	out, err := h.Signer.Sign(ctx, &kms.SignInput{
		KeyId: aws.String(h.SigningKeyARN), Message: msg,
		MessageType: kmstypes.MessageTypeRaw, SigningAlgorithm: kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	})
	if err != nil {
		return nil, faults.Classify("kms:Sign", err, h.sealErr(manifest.Key))
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
		{attest.SignatureFile, "kms:Sign", "application/octet-stream", out.Signature},
		{attest.PublicKeyFile, "kms:GetPublicKey", "application/x-pem-file", attest.EncodePEM(pk.PublicKey)},
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
		Signature: base64.StdEncoding.EncodeToString(out.Signature), SigningAlgorithm: attest.SigningAlgorithm,
		KeyARN: keyARN, PublicKeyFingerprint: st.PublicKeyFingerprint,
	}, nil
}

// sealErr names the key whose seal failed: the manifest is stored, its
// signature is not.
func (h *Handler) sealErr(key string) func(error) error {
	return func(err error) error {
		return &faults.EvidenceError{Key: key, Err: fmt.Errorf("sealed, but the signature failed: %w", err)}
	}
}
