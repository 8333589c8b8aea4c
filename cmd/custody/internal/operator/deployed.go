package operator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/finding"
)

// HubStack is the hub stack's name; its outputs name the bucket and the
// state machine when -bucket or -state-machine is not given.
const HubStack = "Custody"

// stackOutputs is the one call that reads the hub stack's outputs.
type stackOutputs interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// stackOutput reads one output of the hub stack.
func stackOutput(ctx context.Context, client stackOutputs, stack, key string) (string, error) {
	out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return "", fmt.Errorf("stack %s (for its %s output; or pass it by flag): %w", stack, key, err)
	}
	for _, s := range out.Stacks {
		for _, o := range s.Outputs {
			if aws.ToString(o.OutputKey) == key {
				return aws.ToString(o.OutputValue), nil
			}
		}
	}
	return "", fmt.Errorf("stack %s has no %s output (pass it by flag)", stack, key)
}

// caseReader is what cases calls on the evidence bucket.
type caseReader interface {
	s3.ListObjectsV2APIClient
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// runSummary is one run of a case as the bucket holds it.
type runSummary struct {
	CaseID    string                   `json:"caseId"`
	RunID     string                   `json:"runId"`
	Status    string                   `json:"status"` // the manifest's, or "open" before Seal
	Manifest  *evidence.Manifest       `json:"-"`
	Finding   string                   `json:"finding,omitempty"`
	SealedAt  *time.Time               `json:"sealedAt,omitempty"`
	Window    *evidence.ManifestWindow `json:"window,omitempty"`
	Gaps      int                      `json:"gaps"`
	Artifacts int                      `json:"artifacts"`
}

// folders lists the common prefixes one level under prefix.
func folders(ctx context.Context, client caseReader, bucket, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3:ListObjectsV2 s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
	}
	return out, nil
}

// runsOf reads each run of a case and its manifest, when Seal wrote one.
func runsOf(ctx context.Context, client caseReader, bucket, caseID string) ([]runSummary, error) {
	prefix, err := evidence.CasePrefix(caseID)
	if err != nil {
		return nil, err
	}
	ids, err := folders(ctx, client, bucket, prefix+"runs/")
	if err != nil {
		return nil, err
	}
	var out []runSummary
	for _, runID := range ids {
		rs := runSummary{CaseID: caseID, RunID: runID, Status: "open"}
		key, err := evidence.ManifestKey(caseID, runID)
		if err != nil {
			return nil, err
		}
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			var m evidence.Manifest
			err = json.NewDecoder(io.LimitReader(obj.Body, 64<<20)).Decode(&m)
			obj.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
			}
			rs.Manifest, rs.Status, rs.Gaps, rs.Artifacts = &m, m.Status, len(m.Gaps), len(m.Artifacts)
			rs.SealedAt, rs.Window = &m.SealedAt, &m.Window
			if m.Finding != nil {
				rs.Finding = m.Finding.Type
			} else if m.Manual {
				rs.Finding = "manual"
			}
		} else if !isNoSuchKey(err) {
			return nil, fmt.Errorf("s3:GetObject s3://%s/%s: %w", bucket, key, err)
		}
		out = append(out, rs)
	}
	return out, nil
}

func isNoSuchKey(err error) bool {
	var nk interface{ ErrorCode() string }
	return errors.As(err, &nk) && (nk.ErrorCode() == "NoSuchKey" || nk.ErrorCode() == "NotFound")
}

// Cases lists, shows or downloads the cases of a deployed evidence bucket.
//
//	custody cases list [-bucket B] [-json]
//	custody cases show [-bucket B] [-json] CASEID
//	custody cases download [-bucket B] [-out DIR] CASEID
func Cases(ctx context.Context, args []string, load LoadConfig, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show" && args[0] != "download") {
		fmt.Fprintln(stderr, "usage: custody cases list|show|download [-bucket B] [-json] [-out DIR] [CASEID]")
		return ExitUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("cases "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	bucket := fs.String("bucket", "", "the evidence bucket (default: the "+HubStack+" stack's EvidenceBucketName output)")
	asJSON := fs.Bool("json", false, "print JSON")
	out := fs.String("out", "out", "download: where the case goes (OUT/<caseId>/...)")
	if err := fs.Parse(args[1:]); err != nil {
		return ExitUsage
	}
	want := 1
	if verb == "list" {
		want = 0
	}
	if fs.NArg() != want {
		fmt.Fprintf(stderr, "usage: custody cases %s [flags]%s\n", verb, map[bool]string{true: " CASEID"}[want == 1])
		return ExitUsage
	}
	cfg, err := load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "custody cases:", err)
		return ExitSetup
	}
	if *bucket == "" {
		if *bucket, err = stackOutput(ctx, cloudformation.NewFromConfig(cfg), HubStack, "EvidenceBucketName"); err != nil {
			fmt.Fprintln(stderr, "custody cases:", err)
			return ExitSetup
		}
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	var runs []runSummary
	switch verb {
	case "list":
		ids, err := folders(ctx, client, *bucket, evidence.CasesRoot)
		if err != nil {
			fmt.Fprintln(stderr, "custody cases:", err)
			return ExitSetup
		}
		for _, id := range ids {
			rs, err := runsOf(ctx, client, *bucket, id)
			if err != nil {
				fmt.Fprintln(stderr, "custody cases:", err)
				return ExitSetup
			}
			runs = append(runs, rs...)
		}
	case "show", "download":
		caseID := fs.Arg(0)
		if _, err := evidence.CasePrefix(caseID); err != nil {
			fmt.Fprintln(stderr, "custody cases:", err)
			return ExitUsage
		}
		if runs, err = runsOf(ctx, client, *bucket, caseID); err != nil {
			fmt.Fprintln(stderr, "custody cases:", err)
			return ExitSetup
		}
		if len(runs) == 0 {
			fmt.Fprintf(stderr, "custody cases: no case %s in s3://%s/\n", caseID, *bucket)
			return ExitUsage
		}
		if verb == "download" {
			prefix, _ := evidence.CasePrefix(caseID)
			files, err := evidence.Download(ctx, client, *bucket, prefix, *out)
			if err != nil {
				fmt.Fprintln(stderr, "custody cases:", err)
				return ExitSetup
			}
			dir := filepath.Join(*out, caseID)
			fmt.Fprintf(stdout, "downloaded %d files of s3://%s/%s to %s\nverify it: custody verify %s (or, in the bucket with its locks: custody verify s3://%s/%s)\n",
				len(files), *bucket, prefix, dir, dir, *bucket, strings.TrimSuffix(prefix, "/"))
			return ExitOK
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if verb == "show" {
			var ms []*evidence.Manifest
			for _, r := range runs {
				ms = append(ms, r.Manifest)
			}
			_ = enc.Encode(map[string]any{"runs": runs, "manifests": ms})
		} else {
			_ = enc.Encode(runs)
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRUN\tSTATUS\tFINDING\tSEALED\tARTIFACTS\tGAPS")
	for _, r := range runs {
		sealed := "-"
		if r.SealedAt != nil && !r.SealedAt.IsZero() {
			sealed = r.SealedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.CaseID, r.RunID, r.Status, or(r.Finding, "-"), sealed, r.Artifacts, r.Gaps)
	}
	tw.Flush()
	if verb == "show" {
		for _, r := range runs {
			if r.Manifest == nil {
				continue
			}
			m := r.Manifest
			fmt.Fprintf(stdout, "\nrun %s: %s, window %s .. %s\n", r.RunID, m.Status, m.Window.Start.Format(time.RFC3339), m.Window.End.Format(time.RFC3339))
			for _, c := range m.Collectors {
				fmt.Fprintf(stdout, "  collector %-11s %s %s\n", c.Name, c.Status, c.Error)
			}
			for _, g := range m.Gaps {
				fmt.Fprintf(stdout, "  gap %s: %s\n", g.Source, g.Reason)
			}
		}
	}
	return ExitOK
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// executionStarter is the one Step Functions call start makes.
type executionStarter interface {
	StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Start begins an investigation in a deployed account with one of the
// documented manual forms, checked as Triage checks it before it is sent.
//
//	custody start [-state-machine ARN] -finding-id ID -detector-id ID
//	custody start [-state-machine ARN] -resource-type T -resource-id ID -start T -end T [-account A] [-region R] [-reason TEXT]
//	custody start [-state-machine ARN] -input FILE
func Start(ctx context.Context, args []string, load LoadConfig, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	machine := fs.String("state-machine", "", "the workflow's ARN (default: the "+HubStack+" stack's StateMachineArn output)")
	input := fs.String("input", "", "a file holding any accepted input form")
	findingID := fs.String("finding-id", "", "a GuardDuty finding ID (with -detector-id)")
	detectorID := fs.String("detector-id", "", "the detector that holds the finding")
	resType := fs.String("resource-type", "", "a manual start: Instance, AccessKey, Principal, S3Bucket, … (with -resource-id, -start, -end)")
	resID := fs.String("resource-id", "", "the resource's ID or ARN")
	start := fs.String("start", "", "the window's start (RFC 3339)")
	end := fs.String("end", "", "the window's end (RFC 3339)")
	account := fs.String("account", "", "the resource's account (default: the hub's)")
	region := fs.String("region", "", "the resource's region (default: the hub's)")
	reason := fs.String("reason", "", "why, recorded in the case")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return ExitUsage
	}
	var raw []byte
	switch {
	case *input != "":
		b, err := os.ReadFile(*input)
		if err != nil {
			fmt.Fprintln(stderr, "custody start:", err)
			return ExitUsage
		}
		raw = b
	case *findingID != "":
		raw, _ = json.Marshal(map[string]string{"findingId": *findingID, "detectorId": *detectorID})
	case *resType != "":
		res := map[string]string{"type": *resType, "id": *resID}
		if *account != "" {
			res["accountId"] = *account
		}
		if *region != "" {
			res["region"] = *region
		}
		m := map[string]any{"resource": res, "window": map[string]string{"start": *start, "end": *end}}
		if *reason != "" {
			m["reason"] = *reason
		}
		raw, _ = json.Marshal(m)
	default:
		fmt.Fprintln(stderr, "usage: custody start -finding-id ID -detector-id ID | -resource-type T -resource-id ID -start T -end T | -input FILE")
		return ExitUsage
	}
	if _, err := finding.Parse(raw); err != nil {
		fmt.Fprintln(stderr, "custody start: refused, nothing started:", err)
		return ExitRejected
	}
	cfg, err := load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "custody start:", err)
		return ExitSetup
	}
	if *machine == "" {
		if *machine, err = stackOutput(ctx, cloudformation.NewFromConfig(cfg), HubStack, "StateMachineArn"); err != nil {
			fmt.Fprintln(stderr, "custody start:", err)
			return ExitSetup
		}
	}
	var starter executionStarter = sfn.NewFromConfig(cfg)
	out, err := starter.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: machine, Input: aws.String(string(raw))})
	if err != nil {
		fmt.Fprintln(stderr, "custody start: states:StartExecution:", err)
		return ExitSetup
	}
	fmt.Fprintf(stdout, "started  %s\ninput    %s\nthen     custody cases list   (the case appears when Triage has opened it)\n", aws.ToString(out.ExecutionArn), raw)
	return ExitOK
}
