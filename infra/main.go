// Command infra is the custody CDK app: `cdk synth` / `cdk deploy` run it
// (cdk.json: "go run ./infra"). It only wires; the stack is in stack.go.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(app.Node())
	if err != nil {
		fmt.Fprintln(os.Stderr, "custody:", err)
		os.Exit(1)
	}

	props := &CustodyStackProps{
		Config:       &cfg,
		FunctionsDir: contextString(app, "custody:functionsDir"),
		StackProps: awscdk.StackProps{
			Description: jsii.String("custody: automated forensic evidence collection for GuardDuty findings"),
			// Account and region from the CLI's credentials, so ARNs in the
			// policies are concrete where CloudFormation allows it.
			Env: &awscdk.Environment{
				Account: envOrNil("CDK_DEFAULT_ACCOUNT"),
				Region:  envOrNil("CDK_DEFAULT_REGION"),
			},
		},
	}
	// moto has no bootstrap version SSM parameter, so the emulator deploy
	// (make deploy-local, make demo) synthesizes without that rule. Never set
	// CUSTODY_EMULATOR for a real account: the rule guards against deploying
	// with an outdated bootstrap.
	if os.Getenv("CUSTODY_EMULATOR") == "1" {
		props.Synthesizer = awscdk.NewDefaultStackSynthesizer(&awscdk.DefaultStackSynthesizerProps{
			GenerateBootstrapVersionRule: jsii.Bool(false),
		})
	}
	NewCustodyStack(app, "Custody", props)
	// The member stack: one role per member account (cdk deploy
	// CustodyMember there, or the synthesized template as a StackSet).
	member := &MemberStackProps{Config: &cfg, StackProps: awscdk.StackProps{
		Description: jsii.String("custody member: the role custody's hub assumes to read this account for a case"),
		Env:         props.Env,
	}}
	NewMemberStack(app, MemberStackName, member)
	// One forwarder per other region whose findings the hub answers.
	if len(cfg.ForwarderRegions) > 0 {
		hubAccount, hubRegion := cfg.HubAccount, cfg.HubRegion
		if hubAccount == "" {
			hubAccount = os.Getenv("CDK_DEFAULT_ACCOUNT")
		}
		if hubRegion == "" {
			hubRegion = os.Getenv("CDK_DEFAULT_REGION")
		}
		if hubAccount == "" || hubRegion == "" {
			fmt.Fprintf(os.Stderr, "custody: context %s needs the hub's account and region: set %s and %s (or run cdk with the hub's credentials)\n",
				CtxForwarderRegions, CtxHubAccount, CtxHubRegion)
			os.Exit(1)
		}
		for _, r := range cfg.ForwarderRegions {
			if r == hubRegion {
				fmt.Fprintf(os.Stderr, "custody: context %s: %s is the hub's own region\n", CtxForwarderRegions, r)
				os.Exit(1)
			}
			NewForwarderStack(app, r, hubAccount, hubRegion, cfg, nil)
		}
	}

	// AwsSolutions at every synth: an unsuppressed error fails `cdk synth`.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}

// contextString is a context value given with -c (the local run points the
// app at its own build of the functions this way), or "".
func contextString(app awscdk.App, key string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
		return v
	}
	return ""
}

// envOrNil is os.Getenv, with "" as nil so CDK treats the stack as
// environment-agnostic rather than bound to an empty account.
func envOrNil(key string) *string {
	if v := os.Getenv(key); v != "" {
		return &v
	}
	return nil
}
