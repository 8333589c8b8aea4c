// Package localrun runs custody whole on this machine: it starts the
// emulator, deploys the real CDK app into it, seeds a scenario, sends a
// finding through the deployed state machine definition in a real ASL
// interpreter whose Task states run each function's Go handler, downloads
// the case and verifies it.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/custody-ir/custody/cmd/custody/internal/lambdart"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/scenario"
)

// Exit statuses of the local run, as cmd/custody documents them.
const (
	ExitOK         = 0
	ExitUsage      = 1
	ExitSetup      = 2 // a tool is missing, or the emulator, deploy or seed failed
	ExitRejected   = 3 // Triage refused the input
	ExitFailed     = 4 // the workflow failed
	ExitUnverified = 5 // the downloaded run does not verify
)

// ExitError carries the exit status a failure maps to.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func exitErr(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// Options are one local run's inputs.
type Options struct {
	Root    string // project root
	Finding string // the input file
	Seed    string // seed folder; empty for none
	Out     string // where the case is downloaded
	Log     io.Writer
	// Verbose sends tool and handler output to Log too; otherwise it goes
	// to a log file in the run's work folder.
	Verbose bool
}

// Summary is what a finished local run found.
type Summary struct {
	CaseID, RunID, Status string
	ManifestPath          string
	BySource              map[string]int
	Gaps                  []evidence.Gap
	Failed                []string
	Duplicate             bool
}

// Investigate runs one finding through custody on the emulator.
func Investigate(ctx context.Context, o Options) (*Summary, error) {
	if o.Out == "" {
		o.Out = "out"
	}
	raw, err := os.ReadFile(o.Finding)
	if err != nil {
		return nil, exitErr(ExitUsage, "read finding: %v", err)
	}
	work, err := os.MkdirTemp("", "custody-local-*")
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	defer os.RemoveAll(work)
	toolLog := io.Writer(o.Log)
	var logFile *os.File
	if !o.Verbose {
		logFile, err = os.Create(filepath.Join(o.Out, "custody-local.log"))
		if err != nil {
			if err := os.MkdirAll(o.Out, 0o755); err != nil {
				return nil, exitErr(ExitSetup, "%v", err)
			}
			if logFile, err = os.Create(filepath.Join(o.Out, "custody-local.log")); err != nil {
				return nil, exitErr(ExitSetup, "%v", err)
			}
		}
		defer logFile.Close()
		toolLog = logFile
	}
	step := func(format string, args ...any) { fmt.Fprintf(o.Log, "==> "+format+"\n", args...) }

	step("building the handlers for this host")
	bins, err := BuildHost(ctx, o.Root, filepath.Join(work, "bin"))
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}

	step("starting the emulator (moto_server)")
	emu, err := emulator.Start()
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	defer func() { step("stopping the emulator"); emu.Stop() }()
	cfg, err := emu.Config(ctx)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	step("emulator on %s", emu.Endpoint)

	dep, err := DeployStack(ctx, o.Root, emu, cfg, filepath.Join(work, "cdk.out"), toolLog, step)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}

	input := raw
	if o.Seed != "" {
		step("seeding the scenario from %s", o.Seed)
		sc, err := scenario.Load(o.Seed)
		if err != nil {
			return nil, exitErr(ExitSetup, "seed: %v", err)
		}
		seeded, err := scenario.Apply(ctx, cfg, emu.Endpoint, sc, o.Seed)
		if err != nil {
			return nil, exitErr(ExitSetup, "seed: %v", err)
		}
		for _, f := range seeded.Rewritten {
			step("  derived (placeholders replaced): %s", f)
		}
		if input, err = seeded.Rewrite(raw); err != nil {
			return nil, exitErr(ExitSetup, "finding: %v", err)
		}
	}

	bucket, err := dep.Output("EvidenceBucketName")
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	smArn, err := dep.Output("StateMachineArn")
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	def, err := deployedDefinition(ctx, cfg, smArn)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	fns, err := deployedFunctions(ctx, cfg, dep, bins, emu, toolLog)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	pool, err := lambdart.NewPool(fns)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	defer pool.Close()

	step("running the state machine %s", smArn)
	execArn := strings.Replace(smArn, ":stateMachine:", ":execution:", 1) + ":local-" + time.Now().UTC().Format("20060102T150405Z")
	ex, err := RunStateMachine(ctx, o.Root, def, input, execArn, pool, progress(o.Log), toolLog)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if !ex.Succeeded {
		if ex.Error == "InvalidInputError" || strings.Contains(ex.Cause, "InvalidInputError") {
			return nil, exitErr(ExitRejected, "Triage refused the input: %s", ex.Cause)
		}
		return nil, exitErr(ExitFailed, "the workflow failed: %s: %s", ex.Error, ex.Cause)
	}
	var sealed struct {
		Duplicate bool   `json:"duplicate"`
		CaseID    string `json:"caseId"`
		RunID     string `json:"runId"`
		Status    string `json:"status"`
		Incident  *struct {
			CaseID string `json:"caseId"`
			RunID  string `json:"runId"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(ex.Output, &sealed); err != nil {
		return nil, exitErr(ExitFailed, "the workflow's output is not Seal's: %v", err)
	}
	if sealed.Duplicate {
		s := &Summary{Duplicate: true}
		if sealed.Incident != nil {
			s.CaseID, s.RunID = sealed.Incident.CaseID, sealed.Incident.RunID
		}
		return s, nil
	}

	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	step("downloading case %s to %s", sealed.CaseID, o.Out)
	prefix, _ := evidence.CasePrefix(sealed.CaseID)
	if _, err := evidence.Download(ctx, client, bucket, prefix, o.Out); err != nil {
		return nil, exitErr(ExitFailed, "download: %v", err)
	}
	mkey, _ := evidence.ManifestKey(sealed.CaseID, sealed.RunID)
	mpath, err := evidence.LocalPath(o.Out, mkey)
	if err != nil {
		return nil, exitErr(ExitFailed, "%v", err)
	}
	step("verifying every artifact against %s", mpath)
	m, rep, err := evidence.VerifyLocalRun(o.Out, sealed.CaseID, sealed.RunID)
	if err != nil {
		return nil, exitErr(ExitUnverified, "verify: %v", err)
	}
	if err := rep.Err(); err != nil {
		return nil, exitErr(ExitUnverified, "the downloaded run does not verify: %v", err)
	}
	s := &Summary{CaseID: m.CaseID, RunID: m.RunID, Status: m.Status, ManifestPath: mpath, BySource: map[string]int{}, Gaps: m.Gaps}
	for _, a := range m.Artifacts {
		s.BySource[a.Source]++
	}
	for _, c := range m.Collectors {
		if c.Status == "failed" {
			s.Failed = append(s.Failed, c.Name+": "+c.Error)
		}
	}
	return s, nil
}

// Print writes the run's closing summary.
func (s *Summary) Print(w io.Writer) {
	if s.Duplicate {
		fmt.Fprintf(w, "\nAlready collected: case %s run %s exists; no second run.\n", s.CaseID, s.RunID)
		return
	}
	fmt.Fprintf(w, "\ncase     %s\nrun      %s\nstatus   %s\n", s.CaseID, s.RunID, s.Status)
	var srcs []string
	for k := range s.BySource {
		srcs = append(srcs, k)
	}
	sort.Strings(srcs)
	fmt.Fprintf(w, "artifacts")
	for _, k := range srcs {
		fmt.Fprintf(w, "  %s=%d", k, s.BySource[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "gaps     %d\n", len(s.Gaps))
	for _, g := range s.Gaps {
		fmt.Fprintf(w, "  - %s: %s (fix: %s)\n", g.Source, g.Reason, g.Fix)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(w, "  failed collector %s\n", f)
	}
	fmt.Fprintf(w, "manifest %s (verified)\n", s.ManifestPath)
}

// progress prints each state entered and each collector's result.
func progress(w io.Writer) func(Event) {
	return func(ev Event) {
		name := ""
		if ev.State != nil {
			name = ev.State.Name
		}
		switch ev.Type {
		case "StateEntered":
			if ev.State.Type == "Task" || ev.State.Type == "Map" {
				fmt.Fprintf(w, "  -> %s\n", name)
			}
		case "StateExited":
			if ev.State.Type == "Task" || ev.State.Name == "CollectorFailed" || ev.State.Name == "UnknownCollector" {
				var r struct {
					Collector string                         `json:"collector"`
					Status    string                         `json:"status"`
					Artifacts *int                           `json:"artifacts"`
					Gaps      *int                           `json:"gaps"`
					Error     *struct{ Error, Cause string } `json:"error"`
				}
				_ = json.Unmarshal(ev.State.Output, &r)
				switch {
				case r.Collector != "" && r.Error != nil:
					fmt.Fprintf(w, "     %s: %s (%s: %s)\n", r.Collector, r.Status, r.Error.Error, firstLine(r.Error.Cause))
				case r.Collector != "" && r.Artifacts != nil:
					fmt.Fprintf(w, "     %s: %s, %d artifacts, %d gaps\n", r.Collector, r.Status, *r.Artifacts, deref(r.Gaps))
				case r.Collector != "":
					fmt.Fprintf(w, "     %s: %s\n", r.Collector, r.Status)
				default:
					fmt.Fprintf(w, "  <- %s\n", name)
				}
			}
		case "StateRetried":
			fmt.Fprintf(w, "     %s: retrying\n", name)
		case "StateFailed":
			fmt.Fprintf(w, "  !! %s failed: %s\n", name, ev.Error)
		case "StateCaught":
			fmt.Fprintf(w, "  !! %s: error caught\n", name)
		}
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Functions are the function directories under functions/, the names the
// stack deploys.
func Functions(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	return names, nil
}

// BuildHost builds every function for this machine into dir/<name>.
func BuildHost(ctx context.Context, root, dir string) (map[string]string, error) {
	names, err := Functions(root)
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	args := []string{"build", "-tags", "lambda.norpc", "-o", dir + string(os.PathSeparator)}
	for _, n := range names {
		args = append(args, "./functions/"+n)
		bins[n] = filepath.Join(dir, n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go build the handlers: %v\n%s", err, out)
	}
	return bins, nil
}

// BuildAssets builds every function as make build does (linux/arm64,
// static, stripped) into dir/<name>/bootstrap, the assets cdk deploy uploads.
func BuildAssets(ctx context.Context, root, dir string) error {
	names, err := Functions(root)
	if err != nil {
		return err
	}
	for _, n := range names {
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w",
			"-o", filepath.Join(dir, n, "bootstrap"), "./functions/"+n)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s for linux/arm64: %v\n%s", n, err, out)
		}
	}
	return nil
}

// DeployStack runs cdk bootstrap and cdk deploy of the app into the
// emulator, then applies what the emulator's CloudFormation drops.
func DeployStack(ctx context.Context, root string, emu *emulator.Server, cfg aws.Config, outDir string, toolLog io.Writer, step func(string, ...any)) (*Deployment, error) {
	assets := filepath.Join(filepath.Dir(outDir), "assets")
	step("building the Lambda assets (linux/arm64)")
	if err := BuildAssets(ctx, root, assets); err != nil {
		return nil, err
	}
	cdk := CDK{Root: root, Env: emu.Env(), Log: toolLog, OutDir: outDir, FunctionsDir: assets}
	step("cdk bootstrap (into the emulator)")
	if err := cdk.Bootstrap(ctx); err != nil {
		return nil, err
	}
	step("cdk deploy %s (into the emulator)", StackName)
	if err := cdk.Deploy(ctx); err != nil {
		return nil, err
	}
	dep, err := Discover(ctx, cfg, filepath.Join(outDir, StackName+".template.json"))
	if err != nil {
		return nil, err
	}
	applied, err := ApplyDropped(ctx, cfg, dep)
	if err != nil {
		return nil, err
	}
	for _, a := range applied {
		step("  applied from the template: %s", a)
	}
	return dep, nil
}

func deployedDefinition(ctx context.Context, cfg aws.Config, arn string) ([]byte, error) {
	out, err := sfn.NewFromConfig(cfg).DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("describe state machine: %w", err)
	}
	def := aws.ToString(out.Definition)
	if !json.Valid([]byte(def)) {
		return nil, errors.New("the deployed state machine definition is not JSON")
	}
	return []byte(def), nil
}

// deployedFunctions describes every deployed Lambda function of the stack
// and pairs it with its host build, with the deployed environment.
func deployedFunctions(ctx context.Context, cfg aws.Config, dep *Deployment, bins map[string]string, emu *emulator.Server, log io.Writer) ([]lambdart.Function, error) {
	lc := lambda.NewFromConfig(cfg)
	var fns []lambdart.Function
	for _, id := range dep.Template.OfType("AWS::Lambda::Function") {
		phys := dep.Template.Physical[id]
		conf, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(phys)})
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		env := map[string]string{}
		if conf.Environment != nil {
			env = conf.Environment.Variables
		}
		name := env["CUSTODY_FUNCTION"]
		bin, ok := bins[name]
		if !ok {
			// Functions that are not custody's handlers (CDK's own
			// helpers) never run in a state machine task.
			continue
		}
		vars := append([]string{}, emu.Env()...)
		for k, v := range env {
			vars = append(vars, k+"="+v)
		}
		sort.Strings(vars)
		fns = append(fns, lambdart.Function{
			Name: aws.ToString(conf.FunctionName), ARN: aws.ToString(conf.FunctionArn), Binary: bin, Env: vars,
			Timeout: time.Duration(aws.ToInt32(conf.Timeout)) * time.Second, Stderr: log,
		})
	}
	if len(fns) == 0 {
		return nil, errors.New("no custody function found in the deployed stack")
	}
	return fns, nil
}
