package localrun

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/custody-ir/custody/shared/attest"
)

// EnvSigningKey is Seal's environment variable naming the seal key.
const EnvSigningKey = "CUSTODY_SIGNING_KEY_ARN"

// ApplySigningKey makes the seal key the emulator's CloudFormation could
// not: it creates the template's SigningKey without its KeySpec and
// KeyUsage (a symmetric key, which cannot sign), so the local run creates
// an RSA_2048 SIGN_VERIFY key through the API, as the template describes
// it, and points Seal at it (d.FunctionEnv). The key policy is not applied:
// the emulator enforces none (the infra tests assert it on the template).
// It returns a line saying what was done, with the key's fingerprint.
func ApplySigningKey(ctx context.Context, cfg aws.Config, d *Deployment) (string, error) {
	ids := d.Template.OfType("AWS::KMS::Key")
	var spec, usage string
	for _, id := range ids {
		props, err := d.Template.Resolve(d.Template.Resources[id].Properties)
		if err != nil {
			return "", fmt.Errorf("key %s: %w", id, err)
		}
		p, _ := props.(map[string]any)
		if u, _ := p["KeyUsage"].(string); u == string(kmstypes.KeyUsageTypeSignVerify) {
			spec, _ = p["KeySpec"].(string)
			usage = u
		}
	}
	if usage == "" {
		return "", fmt.Errorf("the template has no %s key for Seal", kmstypes.KeyUsageTypeSignVerify)
	}
	client := kms.NewFromConfig(cfg)
	k, err := client.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpec(spec), KeyUsage: kmstypes.KeyUsageType(usage),
		Description: aws.String("custody seal key (created by the local run: the emulator's CloudFormation ignores KeyUsage)"),
	})
	if err != nil {
		return "", fmt.Errorf("create the seal key: %w", err)
	}
	arn := aws.ToString(k.KeyMetadata.Arn)
	pk, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("seal key %s: %w", arn, err)
	}
	if d.FunctionEnv == nil {
		d.FunctionEnv = map[string]map[string]string{}
	}
	if d.FunctionEnv["seal"] == nil {
		d.FunctionEnv["seal"] = map[string]string{}
	}
	d.FunctionEnv["seal"][EnvSigningKey] = arn
	d.SigningKeyFingerprint = attest.Fingerprint(pk.PublicKey)
	return fmt.Sprintf("seal key %s %s created through the API (the emulator's CloudFormation ignores KeyUsage); Seal signs with it; fingerprint %s",
		spec, arn, d.SigningKeyFingerprint), nil
}
