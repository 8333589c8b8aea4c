package attest

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMS is the two calls signing makes: Seal's and the contain function's
// signer, each with its own key.
type KMS interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// APIError is a KMS call that failed; Op is the call (kms:GetPublicKey,
// kms:Sign), so the caller can classify Err as throttled or transient.
type APIError struct {
	Op  string
	Err error
}

func (e *APIError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *APIError) Unwrap() error { return e.Err }

// PublicKey is the DER (SubjectPublicKeyInfo) of keyARN's public half,
// refused unless the key is a SIGN_VERIFY RSA key: a key that cannot
// sign, or signs with another algorithm, would give signatures verify
// cannot check. A failed call is an *APIError.
func PublicKey(ctx context.Context, c KMS, keyARN string) ([]byte, error) {
	pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyARN)})
	if err != nil {
		return nil, &APIError{Op: "kms:GetPublicKey", Err: err}
	}
	if pk.KeyUsage != kmstypes.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("signing key %s has key usage %s, want SIGN_VERIFY", keyARN, pk.KeyUsage)
	}
	if _, _, err := ParsePublicKey(pk.PublicKey); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", keyARN, err)
	}
	return pk.PublicKey, nil
}

// Sign has KMS sign msg with keyARN: MessageType RAW (KMS hashes it with
// SHA-256; the emulator ignores DIGEST and would hash a digest again) and
// SigningAlgorithm. PKCS#1 v1.5 signatures carry no randomness, so the
// same message gives the same bytes, which is what lets a retried writer
// store them again as identical. A failed call is an *APIError.
func Sign(ctx context.Context, c KMS, keyARN string, msg []byte) ([]byte, error) {
	out, err := c.Sign(ctx, &kms.SignInput{
		KeyId: aws.String(keyARN), Message: msg,
		MessageType: kmstypes.MessageTypeRaw, SigningAlgorithm: kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	})
	if err != nil {
		return nil, &APIError{Op: "kms:Sign", Err: err}
	}
	return out.Signature, nil
}
