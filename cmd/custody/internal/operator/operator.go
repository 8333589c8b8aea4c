// Package operator holds the operator's commands that need no local
// emulator: readiness (audit an account before an incident), preflight
// (which account and region a deploy would reach), validate (what an input
// would plan, without a deploy).
package operator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/readiness"
	"github.com/custody-ir/custody/shared/scenario"
)

// Exit statuses of these commands (the same numbers as the local run's,
// where they mean the same).
const (
	ExitOK       = 0
	ExitUsage    = 1 // bad flags, unreadable file
	ExitSetup    = 2 // no credentials, the account could not be reached
	ExitRejected = 3 // validate: the input or the seed folder is refused
	ExitFailing  = 4 // readiness: a check fails
	ExitUnknown  = 5 // readiness: none fails, but some could not be read
)

// LoadConfig is how the commands get their SDK configuration (tests point
// it at the emulator).
type LoadConfig func(ctx context.Context) (aws.Config, error)

// DefaultConfig is the environment's (profile, region, AWS_ENDPOINT_URL).
func DefaultConfig(ctx context.Context) (aws.Config, error) { return awsconfig.Load(ctx) }

// callerIdentity is the one call preflight makes.
type callerIdentity interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// whoAmI names the account, the caller and the region cfg reaches, or
// says why it cannot (no credentials, no region).
func whoAmI(ctx context.Context, cfg aws.Config, client callerIdentity) (*sts.GetCallerIdentityOutput, error) {
	if cfg.Region == "" {
		return nil, errors.New("no region: set AWS_REGION or a profile's region (aws configure)")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("no credentials: set AWS_PROFILE (aws configure sso, aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("no credentials: set AWS_PROFILE (aws configure sso, aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (%v)", err)
	}
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	return out, nil
}

// Preflight prints the account, caller and region a deploy would reach,
// and fails (ExitSetup) when there are no credentials or no region.
//
//	custody preflight
func Preflight(ctx context.Context, args []string, load LoadConfig, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return ExitUsage
	}
	cfg, err := load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "custody preflight:", err)
		return ExitSetup
	}
	id, err := whoAmI(ctx, cfg, sts.NewFromConfig(cfg))
	if err != nil {
		fmt.Fprintln(stderr, "custody preflight:", err)
		return ExitSetup
	}
	fmt.Fprintf(stdout, "account  %s\nregion   %s\ncaller   %s\n", aws.ToString(id.Account), cfg.Region, aws.ToString(id.Arn))
	if os.Getenv(awsconfig.EnvEmulator) == "1" || os.Getenv("AWS_ENDPOINT_URL") != "" {
		fmt.Fprintf(stdout, "endpoint %s (CUSTODY_EMULATOR or AWS_ENDPOINT_URL is set: this is not AWS)\n", os.Getenv("AWS_ENDPOINT_URL"))
	}
	return ExitOK
}

// Readiness audits the account of the credentials (and, with -accounts,
// each member through its member role) in each region given.
//
//	custody readiness [-regions R,R] [-accounts A,A] [-member-role NAME] [-lookback 6h] [-tables T,T]
//	                  [-data-buckets B,B] [-evidence-bucket B] [-json]
func Readiness(ctx context.Context, args []string, load LoadConfig, newClients func(aws.Config) readiness.Clients, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("readiness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	regions := fs.String("regions", "", "comma-separated regions (default: the configuration's region)")
	members := fs.String("accounts", "", "comma-separated member accounts of the organization deployment (adds the member stack and delegated administrator checks)")
	memberRole := fs.String("member-role", accounts.DefaultMemberRole, "the member stack's collector role (custody:memberRoleName)")
	lookback := fs.Duration("lookback", 6*time.Hour, "custody:lookback: a log group must keep at least this")
	tables := fs.String("tables", "", "custody:dynamodbTables, comma-separated")
	dataBuckets := fs.String("data-buckets", "", "comma-separated buckets whose S3 data events must be recorded")
	evidenceBucket := fs.String("evidence-bucket", "", "custody's evidence bucket, checked for its lock, policy and SSE-KMS (default: the "+HubStack+" stack's EvidenceBucketName output, when the stack is there)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return ExitUsage
	}
	cfg, err := load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "custody readiness:", err)
		return ExitSetup
	}
	if *evidenceBucket == "" {
		// No stack yet (readiness before the first deploy): the check is skipped.
		*evidenceBucket, _ = stackOutput(ctx, cloudformation.NewFromConfig(cfg), HubStack, "EvidenceBucketName")
	}
	id, err := whoAmI(ctx, cfg, sts.NewFromConfig(cfg))
	if err != nil {
		fmt.Fprintln(stderr, "custody readiness:", err)
		return ExitSetup
	}
	hub := aws.ToString(id.Account)
	resolver := &accounts.Resolver{Hub: cfg, HubAccount: hub, MemberRole: *memberRole}
	regionList := split(*regions)
	if len(regionList) == 0 {
		regionList = []string{cfg.Region}
	}
	var targets []readiness.Target
	for _, account := range append([]string{hub}, split(*members)...) {
		for i, region := range regionList {
			access, err := resolver.For(ctx, "readiness", account, region)
			if err != nil {
				fmt.Fprintln(stderr, "custody readiness:", err)
				return ExitSetup
			}
			targets = append(targets, readiness.Target{Account: account, Region: region, Member: access.Member || account != hub,
				Buckets: i == 0, Clients: newClients(access.Config)})
		}
	}
	r := readiness.Audit(ctx, readiness.Options{Lookback: *lookback, Tables: split(*tables), DataBuckets: split(*dataBuckets),
		EvidenceBucket: *evidenceBucket, Organization: *members != "", Members: split(*members)}, targets)
	if *asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "custody readiness:", err)
		return ExitSetup
	}
	switch {
	case r.Count(readiness.Fail) > 0:
		return ExitFailing
	case r.Count(readiness.Unknown) > 0:
		return ExitUnknown
	}
	return ExitOK
}

var placeholder = regexp.MustCompile(`\{\{([a-z][a-z0-9]*)(?::([^{}\s]+))?\}\}`)

// standIns replaces a seed folder's placeholders with well-formed IDs of
// their kind, so the input's shape can be checked before any seed.
func standIns(raw []byte) []byte {
	return placeholder.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := placeholder.FindSubmatch(m)
		kind := string(sub[1])
		switch kind {
		case "account":
			return []byte("123456789012")
		case "region":
			return []byte("us-east-1")
		case "vpc", "subnet", "sg", "instance", "eni":
			prefix := map[string]string{"vpc": "vpc", "subnet": "subnet", "sg": "sg", "instance": "i", "eni": "eni"}[kind]
			return []byte(prefix + "-0123456789abcdef0")
		case "privateip":
			return []byte("10.0.0.10")
		case "publicip":
			return []byte("198.51.100.10")
		case "accesskey":
			return []byte("AKIAIOSFODNN7EXAMPLE")
		case "role":
			return []byte("arn:aws:iam::123456789012:role/" + string(sub[2]))
		case "instanceprofile":
			return []byte("arn:aws:iam::123456789012:instance-profile/" + string(sub[2]))
		}
		return m
	})
}

func split(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Validate parses an input as Triage does and prints what it would plan;
// with -seed, it loads the seed folder too. No emulator, no deploy.
//
//	custody validate [-seed DIR] FINDING
func Validate(args []string, now func() time.Time, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.String("seed", "", "a seed folder to check with it")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: custody validate [-seed DIR] FINDING")
		return ExitUsage
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "custody validate:", err)
		return ExitUsage
	}
	if scenario.HasPlaceholder(raw) {
		raw = standIns(raw)
		fmt.Fprintln(stdout, "note     the input names seed resources by placeholder: checked with stand-in IDs (the emulator chooses the real ones at seed time)")
	}
	in, err := finding.Parse(raw)
	if err != nil {
		fmt.Fprintln(stderr, "custody validate: refused:", err)
		return ExitRejected
	}
	fmt.Fprintf(stdout, "input    %s (%s)\n", fs.Arg(0), in.Kind)
	var inc *incident.Incident
	switch in.Kind {
	case finding.KindManual:
		inc, err = incident.FromManual(in.Manual, incident.DefaultConfig(), now())
	case finding.KindFindingRef:
		fmt.Fprintf(stdout, "finding  %s (detector %s): Triage fetches it with GuardDuty GetFindings, then plans from its resource type\n", in.Ref.FindingID, in.Ref.DetectorID)
	default:
		inc, err = incident.FromFinding(in.Finding, incident.DefaultConfig(), now())
	}
	if err != nil {
		fmt.Fprintln(stderr, "custody validate: refused:", err)
		return ExitRejected
	}
	if inc != nil {
		fmt.Fprintf(stdout, "case     %s\nrun      %s\n", inc.CaseID, inc.RunID)
		if f := inc.Finding; f != nil {
			fmt.Fprintf(stdout, "finding  %s %s severity %g, account %s, region %s, resource %s\n", f.ID, f.Type, f.Severity, f.AccountID, f.Region, f.ResourceType)
		}
		fmt.Fprintf(stdout, "window   %s .. %s (default lookback and lookahead)\n", inc.Window.Start.Format(time.RFC3339), inc.Window.End.Format(time.RFC3339))
		fmt.Fprintln(stdout, "plan")
		for _, p := range inc.Plan {
			fmt.Fprintf(stdout, "  %-11s %s\n", p.Collector, p.Reason)
		}
		for _, w := range append(in.Warnings, inc.Warnings...) {
			fmt.Fprintln(stdout, "warning ", w)
		}
	}
	if *seed != "" {
		sc, err := scenario.Load(*seed)
		if err != nil {
			fmt.Fprintln(stderr, "custody validate: seed folder refused:", err)
			return ExitRejected
		}
		fmt.Fprintf(stdout, "seed     %s: %d buckets, %d VPCs, %d instances, %d trails, %d flow logs, %d log groups, %d tables, %d accounts\n", *seed,
			len(sc.Buckets), len(sc.VPCs), len(sc.Instances), len(sc.Trails), len(sc.FlowLogs), len(sc.LogGroups), len(sc.Tables), len(sc.Accounts))
	}
	return ExitOK
}
