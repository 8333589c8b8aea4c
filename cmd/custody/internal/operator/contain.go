package operator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/contain"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// ExitDrift: rollback refused, a resource drifted since containment.
const ExitDrift = 4

// taskSender is what approve and reject call on Step Functions.
type taskSender interface {
	SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(context.Context, *sfn.SendTaskFailureInput, ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// invoker is what rollback calls on Lambda.
type invoker interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// NoPendingError: the case has no containment awaiting a decision.
type NoPendingError struct{ CaseID, Detail string }

func (e *NoPendingError) Error() string {
	return fmt.Sprintf("case %s: no containment awaits a decision (%s)", e.CaseID, e.Detail)
}

// runContainment is one run's containment/ folder as the bucket holds it.
type runContainment struct {
	RunID   string
	Files   map[string]bool // base names
	Pending string          // the newest pending-*.json key
}

// containmentOf lists every run's containment/ folder of a case (runID
// narrows it to one run).
func containmentOf(ctx context.Context, client caseReader, bucket, caseID, runID string) ([]runContainment, error) {
	prefix, err := evidence.CasePrefix(caseID)
	if err != nil {
		return nil, err
	}
	runs, err := folders(ctx, client, bucket, prefix+"runs/")
	if err != nil {
		return nil, err
	}
	var out []runContainment
	for _, r := range runs {
		if runID != "" && r != runID {
			continue
		}
		rc := runContainment{RunID: r, Files: map[string]bool{}}
		var newest time.Time
		p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "runs/" + r + "/containment/")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list s3://%s/%sruns/%s/containment/: %w", bucket, prefix, r, err)
			}
			for _, o := range page.Contents {
				base := path.Base(aws.ToString(o.Key))
				rc.Files[base] = true
				// A retried request made a second token: the newest waits.
				if strings.HasPrefix(base, contain.PendingPrefix) && (rc.Pending == "" || aws.ToTime(o.LastModified).After(newest)) {
					newest, rc.Pending = aws.ToTime(o.LastModified), aws.ToString(o.Key)
				}
			}
		}
		if len(rc.Files) > 0 {
			out = append(out, rc)
		}
	}
	return out, nil
}

// pendingOf is the one pending approval of a case: a run with a pending
// record and neither approved.json nor rejected.json.
func pendingOf(ctx context.Context, client caseReader, bucket, caseID, runID string) (*contain.Pending, error) {
	runs, err := containmentOf(ctx, client, bucket, caseID, runID)
	if err != nil {
		return nil, err
	}
	var open []runContainment
	decided := 0
	for _, r := range runs {
		switch {
		case r.Pending == "":
		case r.Files[contain.ApprovedFile] || r.Files[contain.RejectedFile]:
			decided++
		default:
			open = append(open, r)
		}
	}
	switch {
	case len(open) == 0 && decided > 0:
		return nil, &NoPendingError{CaseID: caseID, Detail: "already decided: see containment/approved.json or rejected.json"}
	case len(open) == 0:
		return nil, &NoPendingError{CaseID: caseID, Detail: "no containment/pending-*.json: is a class in approve mode?"}
	case len(open) > 1:
		var ids []string
		for _, r := range open {
			ids = append(ids, r.RunID)
		}
		return nil, &NoPendingError{CaseID: caseID, Detail: "several runs await one: name one with -run (" + strings.Join(ids, ", ") + ")"}
	}
	var p contain.Pending
	if err := getJSON(ctx, client, bucket, open[0].Pending, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func getJSON(ctx context.Context, client caseReader, bucket, key string, v any) error {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return json.Unmarshal(b, v)
}

// Decide is custody approve and custody reject: it finds the case's
// pending approval in the bucket and sends the decision with its task
// token (SendTaskSuccess, or SendTaskFailure with ContainmentRejected).
// Only the stack's approver role may: run it with that role's
// credentials.
//
//	custody approve [-bucket B] [-run RUNID] CASEID
//	custody reject  [-bucket B] [-run RUNID] [-reason TEXT] CASEID
func Decide(ctx context.Context, verb string, args []string, load LoadConfig, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	bucket := fs.String("bucket", "", "the evidence bucket (default: the "+HubStack+" stack's EvidenceBucketName output)")
	runID := fs.String("run", "", "the run whose containment awaits (when several do)")
	reason := fs.String("reason", "", "why (recorded with the decision)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintf(stderr, "usage: custody %s [-bucket B] [-run RUNID] [-reason TEXT] CASEID\n", verb)
		return ExitUsage
	}
	caseID := fs.Arg(0)
	cfg, b, code := deployed(ctx, verb, load, *bucket, stderr)
	if code != ExitOK {
		return code
	}
	who, err := whoAmI(ctx, cfg, sts.NewFromConfig(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "custody %s: %v\n", verb, err)
		return ExitSetup
	}
	p, err := pendingOf(ctx, s3.NewFromConfig(cfg, awsconfig.S3Options), b, caseID, *runID)
	if err != nil {
		fmt.Fprintf(stderr, "custody %s: %v\n", verb, err)
		var np *NoPendingError
		if errors.As(err, &np) {
			return ExitUsage
		}
		return ExitSetup
	}
	d := contain.Decision{Decision: map[string]string{"approve": "approved", "reject": "rejected"}[verb], By: aws.ToString(who.Arn), At: time.Now().UTC(), Reason: *reason}
	if err := sendDecision(ctx, sfn.NewFromConfig(cfg), p.TaskToken, d); err != nil {
		fmt.Fprintf(stderr, "custody %s: %v\n", verb, err)
		return ExitSetup
	}
	fmt.Fprintf(stdout, "case %s run %s: %s by %s\n", p.CaseID, p.RunID, d.Decision, d.By)
	for _, a := range p.Actions {
		for _, c := range a.Change {
			fmt.Fprintf(stdout, "  %s %s\n", map[bool]string{true: "applying", false: "not applied:"}[verb == "approve"], c)
		}
	}
	rec := contain.ApprovedFile
	if verb == "reject" {
		rec = contain.RejectedFile
	}
	fmt.Fprintf(stdout, "the workflow records it in cases/%s/runs/%s/containment/%s\n", p.CaseID, p.RunID, rec)
	return ExitOK
}

// sendDecision sends an approval as the task's output, a rejection as
// its failure (the decision in the cause, which ContainRejected records).
func sendDecision(ctx context.Context, client taskSender, token string, d contain.Decision) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if d.Decision == "approved" {
		_, err = client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(b))})
		if err != nil {
			return fmt.Errorf("states:SendTaskSuccess (only the approver role may): %w", err)
		}
		return nil
	}
	_, err = client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(contain.ErrorRejected), Cause: aws.String(string(b))})
	if err != nil {
		return fmt.Errorf("states:SendTaskFailure (only the approver role may): %w", err)
	}
	return nil
}

// deployed loads the configuration and the evidence bucket (the stack's
// output unless given).
func deployed(ctx context.Context, verb string, load LoadConfig, bucket string, stderr io.Writer) (aws.Config, string, int) {
	cfg, err := load(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "custody %s: %v\n", verb, err)
		return cfg, "", ExitSetup
	}
	if bucket == "" {
		if bucket, err = stackOutput(ctx, cloudformation.NewFromConfig(cfg), HubStack, "EvidenceBucketName"); err != nil {
			fmt.Fprintf(stderr, "custody %s: %v\n", verb, err)
			return cfg, "", ExitSetup
		}
	}
	return cfg, bucket, ExitOK
}

// Rollback is custody rollback: it invokes the contain function's
// rollback for the case's run that applied containment. The function
// checks every applied action for drift first (and then changes nothing),
// restores each recorded before-state, and records containment/
// rollback.json; its role holds the writes, and the bucket takes the
// record only from it.
//
//	custody rollback [-bucket B] [-function NAME] [-run RUNID] CASEID
func Rollback(ctx context.Context, args []string, load LoadConfig, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bucket := fs.String("bucket", "", "the evidence bucket (default: the "+HubStack+" stack's EvidenceBucketName output)")
	fn := fs.String("function", "", "the contain function (default: the "+HubStack+" stack's ContainFunctionName output)")
	runID := fs.String("run", "", "the run whose containment is undone (when several applied some)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: custody rollback [-bucket B] [-function NAME] [-run RUNID] CASEID")
		return ExitUsage
	}
	caseID := fs.Arg(0)
	cfg, b, code := deployed(ctx, "rollback", load, *bucket, stderr)
	if code != ExitOK {
		return code
	}
	if *fn == "" {
		var err error
		if *fn, err = stackOutput(ctx, cloudformation.NewFromConfig(cfg), HubStack, "ContainFunctionName"); err != nil {
			fmt.Fprintln(stderr, "custody rollback:", err, "(is containment on?)")
			return ExitSetup
		}
	}
	runs, err := containmentOf(ctx, s3.NewFromConfig(cfg, awsconfig.S3Options), b, caseID, *runID)
	if err != nil {
		fmt.Fprintln(stderr, "custody rollback:", err)
		return ExitSetup
	}
	runs = slices.DeleteFunc(runs, func(r runContainment) bool {
		return !r.Files[contain.AppliedFile] && !r.Files[contain.ApprovedFile] || r.Files[contain.RollbackFile]
	})
	if len(runs) != 1 {
		fmt.Fprintf(stderr, "custody rollback: case %s: %d runs applied containment not rolled back yet (name one with -run)\n", caseID, len(runs))
		return ExitUsage
	}
	who, err := whoAmI(ctx, cfg, sts.NewFromConfig(cfg))
	if err != nil {
		fmt.Fprintln(stderr, "custody rollback:", err)
		return ExitSetup
	}
	out, err := invokeRollback(ctx, lambda.NewFromConfig(cfg), *fn, caseID, runs[0].RunID, aws.ToString(who.Arn))
	if err != nil {
		fmt.Fprintln(stderr, "custody rollback:", err)
		var fe *FunctionError
		if errors.As(err, &fe) && fe.Type == "DriftError" {
			fmt.Fprintln(stderr, "custody rollback: nothing was changed; undo the drift or restore by hand (README: Containment)")
			return ExitDrift
		}
		return ExitSetup
	}
	fmt.Fprintf(stdout, "case %s run %s: rolled back, recorded in %s\n", caseID, runs[0].RunID, out.RecordKey)
	failed := false
	for _, a := range out.Actions {
		fmt.Fprintf(stdout, "  %s %s: %s%s\n", a.Class, a.Target, a.Status, map[bool]string{true: " (" + a.Error + ")"}[a.Error != ""])
		failed = failed || a.Status == contain.StatusFailed
	}
	if failed {
		return ExitFailing
	}
	return ExitOK
}

// FunctionError is an error the invoked function returned.
type FunctionError struct{ Type, Message string }

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

func invokeRollback(ctx context.Context, client invoker, fn, caseID, runID, by string) (*contain.Output, error) {
	payload, err := json.Marshal(contain.Input{Action: contain.ActionRollback, Incident: incident.Incident{CaseID: caseID, RunID: runID}, By: by})
	if err != nil {
		return nil, err
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("lambda:Invoke %s: %w", fn, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		return nil, &FunctionError{Type: fe.Type, Message: fe.Message}
	}
	var o contain.Output
	if err := json.Unmarshal(out.Payload, &o); err != nil {
		return nil, fmt.Errorf("the contain function's answer: %w", err)
	}
	return &o, nil
}
