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
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/custody-ir/custody/cmd/custody/internal/lambdart"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/report"
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
	// Also are more input files, run after Finding in the same
	// environment and seed (the organization drill's second finding).
	Also []string
	Seed string // seed folder; empty for none
	Out  string // where the case is downloaded
	Log  io.Writer
	// Verbose sends tool and handler output to Log too; otherwise it goes
	// to a log file in the run's work folder.
	Verbose bool
	// Faults is the fault drill on the handlers' calls (a Rate of 0: off).
	Faults FaultDrill
}

// Summary is what a finished local run found.
type Summary struct {
	CaseID, RunID, Status string
	ManifestPath          string
	BySource              map[string]int
	Gaps                  []evidence.Gap
	Failed                []string
	Duplicate             bool
	// Location is where the case is in the bucket.
	Location string
	Manifest *evidence.Manifest
	// SignedBy is the fingerprint of the key whose signature over the
	// manifest verified (the seal key the local run created).
	SignedBy string
	// Then are the runs of Options.Also, in order.
	Then []*Summary
	// Faults is what the fault drill injected over all the runs (nil
	// without a drill).
	Faults *FaultStats
	// Timings are the local run's phases in order, set-up first (on the
	// first Summary; the runs of Then carry their own workflow and
	// download phases).
	Timings []Phase
}

// Phase is one timed step of a local run: the set-up's (build, emulator,
// deploy, runtimes), the seed's, and each input's workflow (StartExecution
// to the sealed run) and download-and-verify.
type Phase struct {
	Name    string        `json:"name"`
	Seconds float64       `json:"seconds"`
	took    time.Duration // Seconds, for printing
}

// The phase names a bench reads (cmd/custody-bench -demo).
const (
	PhaseBuild    = "build"
	PhaseEmulator = "emulator"
	PhaseDeploy   = "deploy"
	PhaseRuntimes = "runtimes"
	PhaseSeed     = "seed"
	PhaseWorkflow = "workflow"
	PhaseFetch    = "download+verify"
)

// Env is custody deployed into a running emulator, ready to execute inputs.
type Env struct {
	Root      string
	Emulator  *emulator.Server
	Config    aws.Config
	Deploy    *Deployment
	Bucket    string
	Machine   string // the state machine ARN
	Defn      []byte // the deployed state machine definition
	Functions []lambdart.Function
	Pool      *lambdart.Pool
	// Gate is what the handlers call: the emulator, but for what it cannot
	// refuse (an AssumeRole into an account without the member stack).
	Gate *Gate
	// Context is the deploy context (the seed folder's context.json).
	Context map[string]string
	// Tasks holds the run's waiting .waitForTaskToken tasks (an approval),
	// answered through the gate.
	Tasks *TaskTokens

	log     io.Writer // progress
	toolLog io.Writer // CDK CLI and handler output
	work    string
	// phases are the set-up's and the seed's timings, in order.
	phases []Phase
}

// timed appends the phase that began at start.
func timed(phases *[]Phase, name string, start time.Time) {
	d := time.Since(start)
	*phases = append(*phases, Phase{Name: name, Seconds: d.Seconds(), took: d})
}

// Setup builds the handlers, starts the emulator, deploys the app into it
// and starts a local runtime for each deployed function. Close stops it all.
func Setup(ctx context.Context, root string, log, toolLog io.Writer, deployContext map[string]string) (_ *Env, err error) {
	e := &Env{Root: root, log: log, toolLog: toolLog, Context: deployContext}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.work, err = os.MkdirTemp("", "custody-local-*"); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	e.step("building the handlers for this host")
	start := time.Now()
	bins, err := BuildHost(ctx, root, filepath.Join(e.work, "bin"))
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	timed(&e.phases, PhaseBuild, start)
	e.step("starting the emulator (moto_server)")
	start = time.Now()
	if e.Emulator, err = emulator.Start(); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if e.Config, err = e.Emulator.Config(ctx); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	e.step("emulator on %s", e.Emulator.Endpoint)
	if e.Gate, err = StartGate(e.Emulator.Endpoint); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	e.Tasks = NewTaskTokens()
	e.Tasks.OnWait = e.waiting
	e.Gate.AnswerTasks(e.Tasks)
	timed(&e.phases, PhaseEmulator, start)
	start = time.Now()
	if e.Deploy, err = DeployStack(ctx, root, e.Emulator, e.Config, filepath.Join(e.work, "cdk.out"), toolLog, e.step, deployContext); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if e.Bucket, err = e.Deploy.Output("EvidenceBucketName"); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if e.Machine, err = e.Deploy.Output("StateMachineArn"); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if e.Defn, err = deployedDefinition(ctx, e.Config, e.Machine); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	timed(&e.phases, PhaseDeploy, start)
	start = time.Now()
	if e.Functions, err = deployedFunctions(ctx, e.Config, e.Deploy, bins, e.Emulator, e.Gate.URL, toolLog); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if e.Pool, err = lambdart.NewPool(e.Functions); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	e.Gate.RunInvokes(e.Pool)
	timed(&e.phases, PhaseRuntimes, start)
	return e, nil
}

// Close stops the runtimes and the emulator and removes the work folder.
func (e *Env) Close() {
	if e.Pool != nil {
		e.Pool.Close()
	}
	e.Gate.Close()
	if e.Emulator != nil {
		e.step("stopping the emulator")
		e.Emulator.Stop()
	}
	if e.work != "" {
		_ = os.RemoveAll(e.work)
	}
}

func (e *Env) step(format string, args ...any) { fmt.Fprintf(e.log, "==> "+format+"\n", args...) }

// Seed creates a seed folder's scenario in the emulator and returns what
// it made, for rewriting the finding.
func (e *Env) Seed(ctx context.Context, dir string) (*scenario.Seeded, error) {
	e.step("seeding the scenario from %s", dir)
	defer timed(&e.phases, PhaseSeed, time.Now())
	sc, err := scenario.Load(dir)
	if err != nil {
		return nil, exitErr(ExitSetup, "seed: %v", err)
	}
	seeded, err := scenario.Apply(ctx, e.Config, e.Emulator.Endpoint, sc, dir)
	if err != nil {
		return nil, exitErr(ExitSetup, "seed: %v", err)
	}
	for _, f := range seeded.Rewritten {
		e.step("  derived (placeholders replaced, times shifted): %s", f)
	}
	if len(seeded.Digests) > 0 {
		e.step("  %d CloudTrail digest file(s) written and signed for the seeded log files; cloudtrail:ListPublicKeys (not in the emulator) answered by the local run with their %d key(s)",
			len(seeded.Digests), len(seeded.DigestKeys))
		e.Gate.ServePublicKeys(seeded.DigestKeys)
	}
	if err := e.deployMembers(ctx, sc); err != nil {
		return nil, exitErr(ExitSetup, "seed: %v", err)
	}
	for _, w := range seeded.Warnings {
		e.step("  seed warning: %s", w)
	}
	return seeded, nil
}

// Outcome is how one execution ended.
type Outcome struct {
	Duplicate bool
	CaseID    string
	RunID     string
	Status    string
}

// Execute runs input through the deployed state machine definition, every
// Task state in pool (nil: the deployed functions). Triage refusing the
// input is an ExitRejected error; any other failed execution ExitFailed.
func (e *Env) Execute(ctx context.Context, input []byte, pool *lambdart.Pool) (*Outcome, error) {
	if err := refuseUnrunnable(input); err != nil {
		return nil, err
	}
	if pool == nil {
		pool = e.Pool
	}
	e.step("running the state machine %s", e.Machine)
	execArn := strings.Replace(e.Machine, ":stateMachine:", ":execution:", 1) + ":local-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	ex, err := RunStateMachine(ctx, e.Root, e.Defn, input, execArn, pool, e.Tasks, progress(e.log), e.toolLog)
	if err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	if !ex.Succeeded {
		if ex.Error == faults.NameInvalidInput || strings.Contains(ex.Cause, faults.NameInvalidInput) {
			return nil, exitErr(ExitRejected, "Triage refused the input (%s): %s", ex.Error, ex.Cause)
		}
		return nil, exitErr(ExitFailed, "the workflow failed: %s: %s", ex.Error, ex.Cause)
	}
	var out struct {
		Duplicate   bool   `json:"duplicate"`
		CaseID      string `json:"caseId"`
		RunID       string `json:"runId"`
		Status      string `json:"status"`
		ManifestKey string `json:"manifestKey"`
		Incident    *struct {
			CaseID string `json:"caseId"`
			RunID  string `json:"runId"`
		} `json:"incident"`
		// With containment on, Seal's answer is at $.sealed (Seal's own
		// answer has a "seal" field: its signature).
		Sealed *struct {
			CaseID      string `json:"caseId"`
			RunID       string `json:"runId"`
			Status      string `json:"status"`
			ManifestKey string `json:"manifestKey"`
		} `json:"sealed"`
	}
	if err := json.Unmarshal(ex.Output, &out); err != nil {
		return nil, exitErr(ExitFailed, "the workflow's output is not Seal's: %v", err)
	}
	if s := out.Sealed; s != nil {
		out.CaseID, out.RunID, out.Status, out.ManifestKey = s.CaseID, s.RunID, s.Status, s.ManifestKey
	}
	o := &Outcome{Duplicate: out.Duplicate, CaseID: out.CaseID, RunID: out.RunID, Status: out.Status}
	if out.Duplicate && out.Incident != nil {
		o.CaseID, o.RunID = out.Incident.CaseID, out.Incident.RunID
	}
	// An execution that succeeded without Seal lost its run: no manifest,
	// no report, no notice. It is a failure of the workflow, not a case.
	if !o.Duplicate && (out.ManifestKey == "" || (o.Status != evidence.RunComplete && o.Status != evidence.RunPartial)) {
		return nil, exitErr(ExitFailed, "the workflow ended without sealing the run (no manifest in its output): %s", truncate(ex.Output, 300))
	}
	return o, nil
}

// waiting says how to answer a task that waits for approval: custody
// approve|reject against the gate, which hands the answer to the task.
func (e *Env) waiting(token string, payload json.RawMessage) {
	var p struct {
		Incident struct {
			CaseID string `json:"caseId"`
		} `json:"incident"`
	}
	_ = json.Unmarshal(payload, &p)
	e.step("containment awaits approval of case %s; in another shell:", p.Incident.CaseID)
	e.step("  AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=%s custody approve %s   (or: custody reject %s)",
		e.Gate.URL, emulator.Region, p.Incident.CaseID, p.Incident.CaseID)
}

// refuseUnrunnable refuses, with Triage's error and exit 3, an input the
// ASL interpreter cannot carry to Triage: empty or not JSON (Step Functions'
// StartExecution refuses such a body too, InvalidExecutionInput), or nested
// deeper than finding.MaxDepth (the interpreter and the Lambda runtime shim
// recurse on it and crash). The message names the field as Triage would.
func refuseUnrunnable(input []byte) error {
	if err := finding.CheckJSON(input); err != nil {
		return exitErr(ExitRejected, "the input is refused before it reaches Triage (%s): %v", faults.NameInvalidInput, err)
	}
	return nil
}

// truncate is at most n bytes of b, as text.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// Fetch downloads a case to out (cases/ removed from each key) and verifies
// the run against its manifest.
func (e *Env) Fetch(ctx context.Context, caseID, runID, out string) (*Summary, error) {
	client := s3.NewFromConfig(e.Config, awsconfig.S3Options)
	e.step("downloading case %s to %s", caseID, out)
	prefix, err := evidence.CasePrefix(caseID)
	if err != nil {
		return nil, exitErr(ExitFailed, "%v", err)
	}
	// A case downloaded before (the same finding gives the same case and
	// run IDs) is moved aside, not merged with: files of the earlier run
	// would be unlisted in this one.
	if caseDir, err := evidence.LocalPath(out, strings.TrimSuffix(prefix, "/")); err == nil {
		if _, err := os.Stat(caseDir); err == nil {
			aside := fmt.Sprintf("%s.before-%s", caseDir, time.Now().UTC().Format("20060102T150405Z"))
			if err := os.Rename(caseDir, aside); err != nil {
				return nil, exitErr(ExitSetup, "move the earlier download aside: %v", err)
			}
			e.step("an earlier download of this case was moved to %s", aside)
		}
	}
	if _, err := evidence.Download(ctx, client, e.Bucket, prefix, out); err != nil {
		return nil, exitErr(ExitFailed, "download: %v", err)
	}
	mkey, _ := evidence.ManifestKey(caseID, runID)
	mpath, err := evidence.LocalPath(out, mkey)
	if err != nil {
		return nil, exitErr(ExitFailed, "%v", err)
	}
	e.step("verifying every artifact against %s", mpath)
	m, rep, err := evidence.VerifyLocalRun(out, caseID, runID)
	if err != nil {
		return nil, exitErr(ExitUnverified, "verify: %v", err)
	}
	if err := rep.Err(); err != nil {
		return nil, exitErr(ExitUnverified, "the downloaded run does not verify: %v", err)
	}
	signedBy, err := e.checkSeal(out, caseID, runID)
	if err != nil {
		return nil, exitErr(ExitUnverified, "the downloaded run's seal: %v", err)
	}
	s := &Summary{CaseID: m.CaseID, RunID: m.RunID, Status: m.Status, ManifestPath: mpath, BySource: map[string]int{},
		Gaps: m.Gaps, Location: fmt.Sprintf("s3://%s/%s", e.Bucket, prefix), Manifest: m, SignedBy: signedBy}
	for _, a := range m.Artifacts {
		s.BySource[a.Source]++
	}
	for _, c := range m.Collectors {
		if c.Status == evidence.CollectorFailed {
			s.Failed = append(s.Failed, c.Name+": "+firstLine(c.Error))
		}
	}
	return s, nil
}

// Investigate runs one finding through custody on the emulator: set up,
// seed, execute, download, verify, stop.
func Investigate(ctx context.Context, o Options) (*Summary, error) {
	if o.Out == "" {
		o.Out = "out"
	}
	if o.Faults.Rate < 0 || o.Faults.Rate >= 1 {
		return nil, exitErr(ExitUsage, "-faults %v: the rate is a fraction of the calls, from 0 up to (not including) 1", o.Faults.Rate)
	}
	raw, err := os.ReadFile(o.Finding)
	if err != nil {
		return nil, exitErr(ExitUsage, "read finding: %v", err)
	}
	if o.Seed == "" {
		// Refused before the emulator and the deploy: nothing to set up for.
		if err := refuseUnrunnable(raw); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, exitErr(ExitSetup, "%v", err)
	}
	toolLog := o.Log
	if !o.Verbose {
		path := filepath.Join(o.Out, "custody-local.log")
		f, err := os.Create(path)
		if err != nil {
			return nil, exitErr(ExitSetup, "%v", err)
		}
		defer f.Close()
		fmt.Fprintf(o.Log, "==> tool and handler output: %s\n", path)
		toolLog = f
	}
	var deployContext map[string]string
	if o.Seed != "" {
		if deployContext, err = LoadContext(o.Seed); err != nil {
			return nil, exitErr(ExitSetup, "seed: %v", err)
		}
	}
	env, err := Setup(ctx, o.Root, o.Log, toolLog, deployContext)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	input := raw
	var seeded *scenario.Seeded
	if o.Seed != "" {
		if seeded, err = env.Seed(ctx, o.Seed); err != nil {
			return nil, err
		}
		if input, err = seeded.Rewrite(raw); err != nil {
			return nil, exitErr(ExitSetup, "finding: %v", err)
		}
	}
	if o.Faults.Rate > 0 {
		// Only the handlers' calls pass the gate: the set-up, the seed and
		// the download above and below talk to the emulator directly.
		env.step("fault drill: %.0f%% of the handlers' calls answered with a fault (seed %d)", o.Faults.Rate*100, o.Faults.Seed)
		env.Gate.InjectFaults(o.Faults, toolLog)
		defer env.Gate.InjectFaults(FaultDrill{}, nil)
	}
	first, err := env.run(ctx, input, o.Out)
	if err != nil {
		return nil, err
	}
	first.Timings = slices.Concat(env.phases, first.Timings)
	for _, f := range o.Also {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, exitErr(ExitUsage, "read finding: %v", err)
		}
		if seeded != nil {
			if b, err = seeded.Rewrite(b); err != nil {
				return nil, exitErr(ExitSetup, "finding %s: %v", f, err)
			}
		}
		s, err := env.run(ctx, b, o.Out)
		if err != nil {
			return nil, err
		}
		first.Then = append(first.Then, s)
	}
	if o.Faults.Rate > 0 {
		st := env.Gate.FaultStats()
		first.Faults = &st
	}
	return first, nil
}

// run executes one input and fetches its sealed run, timing both.
func (e *Env) run(ctx context.Context, input []byte, out string) (*Summary, error) {
	var phases []Phase
	start := time.Now()
	o, err := e.Execute(ctx, input, nil)
	if err != nil {
		return nil, err
	}
	timed(&phases, PhaseWorkflow, start)
	if o.Duplicate {
		return &Summary{Duplicate: true, CaseID: o.CaseID, RunID: o.RunID, Timings: phases}, nil
	}
	start = time.Now()
	s, err := e.Fetch(ctx, o.CaseID, o.RunID, out)
	if err != nil {
		return nil, err
	}
	timed(&phases, PhaseFetch, start)
	s.Timings = phases
	return s, nil
}

// Print writes the closing summary of the run and of every run after it.
func (s *Summary) Print(w io.Writer) {
	s.printOne(w)
	for _, t := range s.Then {
		t.printOne(w)
	}
	if s.Faults != nil {
		fmt.Fprintf(w, "faults   %s\n", s.Faults)
	}
}

func (s *Summary) printOne(w io.Writer) {
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
	if read := s.ReadWith(); len(read) > 0 {
		fmt.Fprintf(w, "read in  %s\n", strings.Join(read, "  "))
	}
	fmt.Fprintf(w, "in bucket %s\n", s.Location)
	fmt.Fprintf(w, "manifest %s (verified)\n", s.ManifestPath)
	if s.SignedBy != "" {
		fmt.Fprintf(w, "signed   by the seal key %s (verify -key %s)\n", s.SignedBy, s.SignedBy)
	}
	if html := filepath.Join(filepath.Dir(s.ManifestPath), report.HTMLFile); fileExists(html) {
		fmt.Fprintf(w, "report   %s (open it in a browser; report.md beside it)\n", html)
	}
	if len(s.Timings) > 0 {
		parts := make([]string, len(s.Timings))
		for i, p := range s.Timings {
			parts[i] = fmt.Sprintf("%s %s", p.Name, p.took.Round(100*time.Millisecond))
		}
		fmt.Fprintf(w, "took     %s\n", strings.Join(parts, ", "))
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ReadWith lists the accounts and regions the run's artifacts were read
// in (account/region), from each artifact's readWith.
func (s *Summary) ReadWith() []string {
	if s.Manifest == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range s.Manifest.Artifacts {
		if a.ReadWith == nil {
			continue
		}
		k := a.ReadWith.AccountID + "/" + a.ReadWith.Region
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// progress prints each state entered and each collector's result.
func progress(w io.Writer) func(Event) {
	var mu sync.Mutex
	entered := map[string]time.Time{} // state name and Map index -> when entered
	key := func(ev Event) string {
		if ev.Index != nil {
			return fmt.Sprintf("%s#%d", ev.State.Name, *ev.Index)
		}
		return ev.State.Name
	}
	return func(ev Event) {
		name := ""
		if ev.State != nil {
			name = ev.State.Name
		}
		switch ev.Type {
		case "StateEntered":
			if ev.State.Type == "Task" || ev.State.Type == "Map" {
				mu.Lock()
				entered[key(ev)] = time.Now()
				mu.Unlock()
				fmt.Fprintf(w, "  -> %s\n", name)
			}
		case "StateExited":
			if ev.State.Type == "Task" || ev.State.Name == "CollectorFailed" || ev.State.Name == "UnknownCollector" {
				took := ""
				mu.Lock()
				if t, ok := entered[key(ev)]; ok {
					took = fmt.Sprintf(" in %s", time.Since(t).Round(100*time.Millisecond))
					delete(entered, key(ev))
				}
				mu.Unlock()
				type result struct {
					Collector string                         `json:"collector"`
					Status    string                         `json:"status"`
					Artifacts *int                           `json:"artifacts"`
					Gaps      *int                           `json:"gaps"`
					Error     *struct{ Error, Cause string } `json:"error"`
					Shards    []json.RawMessage              `json:"shards"`
				}
				var r result
				_ = json.Unmarshal(ev.State.Output, &r)
				if r.Collector == "" {
					// A fan-out collector's first answer is at $.result.
					var nested struct {
						Result result `json:"result"`
					}
					if json.Unmarshal(ev.State.Output, &nested) == nil && nested.Result.Collector != "" {
						r = nested.Result
					}
				}
				switch {
				case r.Collector != "" && r.Error != nil:
					fmt.Fprintf(w, "     %s: %s (%s: %s)%s\n", r.Collector, r.Status, r.Error.Error, firstLine(r.Error.Cause), took)
				case r.Collector != "" && len(r.Shards) > 0:
					fmt.Fprintf(w, "     %s: %s into %d shards%s\n", r.Collector, r.Status, len(r.Shards), took)
				case r.Collector != "" && r.Artifacts != nil:
					fmt.Fprintf(w, "     %s: %s, %d artifacts, %d gaps%s\n", r.Collector, r.Status, *r.Artifacts, deref(r.Gaps), took)
				case r.Collector != "":
					fmt.Fprintf(w, "     %s: %s%s\n", r.Collector, r.Status, took)
				default:
					fmt.Fprintf(w, "  <- %s%s\n", name, took)
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
func DeployStack(ctx context.Context, root string, emu *emulator.Server, cfg aws.Config, outDir string, toolLog io.Writer, step func(string, ...any), deployContext map[string]string) (*Deployment, error) {
	assets := filepath.Join(filepath.Dir(outDir), "assets")
	step("building the Lambda assets (linux/arm64)")
	if err := BuildAssets(ctx, root, assets); err != nil {
		return nil, err
	}
	cdk := CDK{Root: root, Env: emu.Env(), Log: toolLog, OutDir: outDir, FunctionsDir: assets, Context: deployContext}
	for k, v := range deployContext {
		step("  context from the seed folder: %s=%s", k, v)
	}
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
	key, err := ApplySigningKey(ctx, cfg, dep)
	if err != nil {
		return nil, err
	}
	step("  %s", key)
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
func deployedFunctions(ctx context.Context, cfg aws.Config, dep *Deployment, bins map[string]string, emu *emulator.Server, endpoint string, log io.Writer) ([]lambdart.Function, error) {
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
		// The handlers call the emulator through the gate; CUSTODY_EMULATOR=1
		// says the endpoint is the emulator: its answers for operations it
		// lacks are gaps (faults.MarkEmulatorAnswers).
		vars := []string{"AWS_ENDPOINT_URL=" + endpoint, awsconfig.EnvEmulator + "=1"}
		for _, v := range emu.Env() {
			if !strings.HasPrefix(v, "AWS_ENDPOINT_URL=") {
				vars = append(vars, v)
			}
		}
		for k, v := range env {
			if o, ok := dep.FunctionEnv[name][k]; ok {
				v = o
			}
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

// deployMembers deploys the member stack into each member account of an
// organization scenario (cdk deploy with that account's credentials), and
// makes the gate refuse AssumeRole into a member the scenario says has no
// member stack.
func (e *Env) deployMembers(ctx context.Context, sc *scenario.Scenario) error {
	cdk := CDK{Root: e.Root, Env: e.Emulator.Env(), Log: e.toolLog, OutDir: filepath.Join(e.work, "cdk.out-member"),
		FunctionsDir: filepath.Join(e.work, "assets"), Context: e.Context}
	for _, a := range sc.Accounts {
		switch {
		case a.LogArchive:
			e.step("  account %s (%s): the log archive, read through its bucket policies (no member stack)", a.Name, a.ID)
		case !a.HasMemberStack():
			e.step("  account %s (%s): no member stack: the hub's AssumeRole into it is refused (AccessDenied)", a.Name, a.ID)
			e.Gate.RefuseAssumeInto(a.ID)
		default:
			creds, err := scenario.AccountCredentials(ctx, e.Config, a)
			if err != nil {
				return err
			}
			e.step("cdk deploy %s into account %s (%s)", MemberStackName, a.Name, a.ID)
			if err := cdk.DeployMember(ctx, creds, emulator.AccountID); err != nil {
				return err
			}
		}
	}
	return nil
}
