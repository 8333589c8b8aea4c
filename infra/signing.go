package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
)

// signingAlgorithm is the one algorithm Seal and the contain function sign
// with (shared/attest).
const signingAlgorithm = "RSASSA_PKCS1_V1_5_SHA_256"

// newSigningKey is the seal key: an asymmetric RSA_2048 SIGN_VERIFY key
// (no encrypt or decrypt) whose private half never leaves KMS. Seal signs
// each run's seal statement with it; anyone checks the signature offline
// with its public half. A signature proves the manifest only if no one but
// Seal can sign, so the policy allows kms:Sign to Seal's role alone, and
// denies it (and grants, which would bypass the policy) to every other
// principal, whatever their IAM policies say; the administration the
// account keeps through IAM does not include signing. Like the evidence
// key it is retained, and only the break-glass role (or a reviewed deploy)
// may disable it, schedule its deletion or rewrite this policy.
//
// Seal's role is named in the policy and needs no IAM statement of its
// own: that keeps the key from depending on the role's policy, and the
// role's policy from depending on the key.
func newSigningKey(stack awscdk.Stack, cfg Config, sealRole awsiam.IRole) awskms.Key {
	return newOneSignerKey(stack, cfg, oneSigner{
		id: "SigningKey", role: sealRole, denySid: "OnlySealSigns", allowSid: "SealSignsTheSealStatement",
		description: "custody: signs each sealed run's seal statement (Seal's role only); verify with its public key, offline",
	})
}

// newContainSigningKey is the containment key: the contain function signs
// each step's containment statement (the list of the run's containment
// records, shared/attest) with it. It is a key of its own, not the seal
// key, because a seal signature proves the manifest only if no one but
// Seal can sign: were the contain function's role allowed on the seal key,
// a compromised contain role could sign a seal statement over a forged
// manifest. With its own key, the seal key's policy stays "only Seal
// signs", and this one is "only the contain function signs", in the same
// shape (retained, administered but not used by the account, break-glass
// only for disable, deletion and policy, no grants). Created only with
// containment on (the contain function exists).
func newContainSigningKey(stack awscdk.Stack, cfg Config, containRole awsiam.IRole) awskms.Key {
	return newOneSignerKey(stack, cfg, oneSigner{
		id: "ContainSigningKey", role: containRole, denySid: "OnlyContainSigns", allowSid: "ContainSignsTheContainmentStatement",
		description: "custody: signs each containment step's statement over the run's containment records (the contain function's role only); verify with its public key, offline",
	})
}

// oneSigner is an asymmetric signing key that one role alone may sign
// with: the key's ID, the role, its policy's Sids and description.
type oneSigner struct {
	id, denySid, allowSid, description string
	role                               awsiam.IRole
}

func newOneSignerKey(stack awscdk.Stack, cfg Config, k oneSigner) awskms.Key {
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AccountAdministersButDoesNotSign"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
			Actions: jsii.Strings("kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
				"kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
				"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Verify"),
			Resources: jsii.Strings("*"),
		}),
		breakGlassOnly(stack, cfg),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(k.denySid),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("kms:Sign"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": k.role.RoleArn()}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("NoGrants"),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("kms:CreateGrant"),
			Resources:  jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(k.allowSid),
			Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(k.role.RoleArn())},
			Actions:    jsii.Strings("kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"StringEqualsIfExists": map[string]any{"kms:SigningAlgorithm": signingAlgorithm}},
		}),
	}})
	return awskms.NewKey(stack, jsii.String(k.id), &awskms.KeyProps{
		Description:   jsii.String(k.description),
		KeySpec:       awskms.KeySpec_RSA_2048,
		KeyUsage:      awskms.KeyUsage_SIGN_VERIFY,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		Policy:        policy,
	})
}

// signingKeyOutputs publish the seal key: its ARN, and how to get the
// fingerprint verify -key pins (CloudFormation cannot read a public key, so
// the output is the command; every notification carries the fingerprint
// too). Record it at deploy, somewhere the case bucket's writers cannot
// rewrite.
func signingKeyOutputs(stack awscdk.Stack, key awskms.Key) {
	keyOutputs(stack, "SigningKey", key, "The seal key: Seal signs each run's seal statement with it",
		"Prints the seal key's fingerprint, the value to pin with custody verify -key")
}

// containSigningKeyOutputs publish the containment key as the seal key's
// are: the value to pin with custody verify -contain-key.
func containSigningKeyOutputs(stack awscdk.Stack, key awskms.Key) {
	keyOutputs(stack, "ContainSigningKey", key, "The containment key: the contain function signs each containment step's statement with it",
		"Prints the containment key's fingerprint, the value to pin with custody verify -contain-key")
}

func keyOutputs(stack awscdk.Stack, id string, key awskms.Key, arnDescription, fingerprintDescription string) {
	awscdk.NewCfnOutput(stack, jsii.String(id+"Arn"), &awscdk.CfnOutputProps{
		Value: key.KeyArn(), Description: jsii.String(arnDescription),
	})
	awscdk.NewCfnOutput(stack, jsii.String(id+"FingerprintCommand"), &awscdk.CfnOutputProps{
		Value: awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("aws kms get-public-key --key-id "), key.KeyArn(),
			jsii.String(" --query PublicKey --output text | base64 -d | sha256sum"),
		}),
		Description: jsii.String(fingerprintDescription),
	})
}
