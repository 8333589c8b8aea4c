package localrun

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/custody-ir/custody/cmd/custody/internal/verify"
	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/evidence"
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

// checkSeal checks the downloaded run's signed seal statement the way
// custody verify does, pinned to the seal key this run created; it returns
// the key's fingerprint.
func (e *Env) checkSeal(out, caseID, runID string) (string, error) {
	caseDir, err := evidence.LocalPath(out, strings.TrimSuffix(evidence.CasesRoot+caseID, "/"))
	if err != nil {
		return "", err
	}
	res, err := verify.Dir(caseDir, verify.Announced{}, verify.Trust{Pin: verify.Pin(e.Deploy.SigningKeyFingerprint)})
	if err != nil {
		return "", err
	}
	for _, r := range res.Runs {
		if r.RunID != runID {
			continue
		}
		if r.Seal == nil || !r.Seal.Verified {
			var probs []string
			if r.Seal != nil {
				probs = r.Seal.Problems
			}
			return "", fmt.Errorf("run %s: the signature does not verify: %s", runID, strings.Join(probs, "; "))
		}
		return r.Seal.Fingerprint, nil
	}
	return "", fmt.Errorf("run %s is not in %s", runID, caseDir)
}

// checkSealKey checks the deployed wiring of the seal key: Seal's
// environment names the template's SigningKey, and the stack outputs its
// ARN. (The key the emulator's CloudFormation made cannot sign: its
// KeySpec and KeyUsage are asserted on the template by the infra tests,
// and the local run signs with the key ApplySigningKey creates.)
func checkSealKey(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	var id string
	for _, k := range dep.Template.OfType("AWS::KMS::Key") {
		if strings.HasPrefix(k, "SigningKey") {
			id = k
		}
	}
	if id == "" {
		return "", fmt.Errorf("the template has no SigningKey")
	}
	phys := dep.Template.Physical[id]
	arn, err := dep.Output("SigningKeyArn")
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(arn, phys) {
		return "", fmt.Errorf("output SigningKeyArn %s is not the key %s (%s)", arn, id, phys)
	}
	fns, err := customFunctions(ctx, cfg, dep)
	if err != nil {
		return "", err
	}
	conf, err := lambda.NewFromConfig(cfg).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(arnOf(fns, "seal"))})
	if err != nil {
		return "", err
	}
	if conf.Environment == nil || !strings.HasSuffix(conf.Environment.Variables[EnvSigningKey], phys) {
		return "", fmt.Errorf("seal's %s does not name the seal key %s", EnvSigningKey, phys)
	}
	return fmt.Sprintf("Seal signs with %s (the stack output SigningKeyArn); the local run's own key: %s", id, dep.SigningKeyFingerprint), nil
}
