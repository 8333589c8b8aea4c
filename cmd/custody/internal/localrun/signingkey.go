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
	"github.com/custody-ir/custody/shared/contain"
	"github.com/custody-ir/custody/shared/evidence"
)

// EnvSigningKey is Seal's environment variable naming the seal key.
const EnvSigningKey = "CUSTODY_SIGNING_KEY_ARN"

// signingKeys are the template's signing keys, each a function's alone:
// the template key's logical ID prefix, the function, the environment
// variable naming it, what it is.
var signingKeys = []struct {
	id, function, env, what string
}{
	{"SigningKey", "seal", EnvSigningKey, "seal key"},
	// Only with containment on.
	{"ContainSigningKey", "contain", contain.EnvSigningKey, "containment key"},
}

// ApplySigningKey makes the signing keys the emulator's CloudFormation
// could not: it creates the template's SigningKey (and, with containment
// on, ContainSigningKey) without its KeySpec and KeyUsage (a symmetric
// key, which cannot sign), so the local run creates an RSA_2048
// SIGN_VERIFY key through the API for each, as the template describes it,
// and points its function at it (d.FunctionEnv): Seal at the seal key, the
// contain function at the containment key. The key policies are not
// applied: the emulator enforces none (the infra tests assert them on the
// template). It returns a line saying what was done, with the keys'
// fingerprints.
func ApplySigningKey(ctx context.Context, cfg aws.Config, d *Deployment) (string, error) {
	client := kms.NewFromConfig(cfg)
	var lines []string
	for _, sk := range signingKeys {
		var spec, usage string
		for _, id := range d.Template.OfType("AWS::KMS::Key") {
			if !strings.HasPrefix(id, sk.id) {
				continue
			}
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
			if sk.function == "seal" {
				return "", fmt.Errorf("the template has no %s key for Seal", kmstypes.KeyUsageTypeSignVerify)
			}
			continue
		}
		k, err := client.CreateKey(ctx, &kms.CreateKeyInput{
			KeySpec: kmstypes.KeySpec(spec), KeyUsage: kmstypes.KeyUsageType(usage),
			Description: aws.String("custody " + sk.what + " (created by the local run: the emulator's CloudFormation ignores KeyUsage)"),
		})
		if err != nil {
			return "", fmt.Errorf("create the %s: %w", sk.what, err)
		}
		arn := aws.ToString(k.KeyMetadata.Arn)
		pk, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", sk.what, arn, err)
		}
		if d.FunctionEnv == nil {
			d.FunctionEnv = map[string]map[string]string{}
		}
		if d.FunctionEnv[sk.function] == nil {
			d.FunctionEnv[sk.function] = map[string]string{}
		}
		d.FunctionEnv[sk.function][sk.env] = arn
		fp := attest.Fingerprint(pk.PublicKey)
		if sk.function == "seal" {
			d.SigningKeyFingerprint = fp
		} else {
			d.ContainKeyFingerprint = fp
		}
		lines = append(lines, fmt.Sprintf("%s %s %s created through the API (the emulator's CloudFormation ignores KeyUsage); %s signs with it; fingerprint %s",
			sk.what, spec, arn, sk.function, fp))
	}
	return strings.Join(lines, "\n  "), nil
}

// checkSeal checks the downloaded run's signed seal statement the way
// custody verify does, pinned to the seal key this run created, and its
// containment statements, if any, pinned to the containment key; it
// returns the seal key's fingerprint.
func (e *Env) checkSeal(out, caseID, runID string) (string, error) {
	caseDir, err := evidence.LocalPath(out, strings.TrimSuffix(evidence.CasesRoot+caseID, "/"))
	if err != nil {
		return "", err
	}
	res, err := verify.Dir(caseDir, verify.Announced{}, verify.Trust{Pin: verify.Pin(e.Deploy.SigningKeyFingerprint), ContainPin: verify.Pin(e.Deploy.ContainKeyFingerprint)})
	if err != nil {
		return "", err
	}
	for _, r := range res.Runs {
		if r.RunID != runID {
			continue
		}
		// A contained run's containment statements verify too, pinned to
		// the containment key this run created.
		if c := r.Containment; c != nil && !c.Verified {
			return "", fmt.Errorf("run %s: the containment records do not verify: %s", runID, strings.Join(append(c.SignatureProblems, c.Changed...), "; "))
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
