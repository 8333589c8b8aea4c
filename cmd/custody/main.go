// Command custody is the operator's tool for running custody on this
// machine.
//
//	custody demo [-out DIR] [-v] [-faults RATE [-faults-seed N]]
//	    the demo scenario: scenarios/demo's finding and seed folder; with
//	    -faults, the fault drill: RATE of the handlers' calls answered with
//	    each protocol's real errors, resets, lost and slow answers (seeded)
//	custody demo-org [-out DIR] [-v] [-faults RATE [-faults-seed N]]
//	    the organization drill: scenarios/org (a hub, two member accounts, a
//	    log archive, two regions): its finding, then finding-no-member-stack.json
//	custody investigate -finding FILE [-seed DIR] [-out DIR] [-v] [-faults RATE [-faults-seed N]]
//	    any input form, any seed folder
//	    (demo, demo-org and investigate also take -timings FILE: the run's
//	    phases in seconds, as JSON, for make bench)
//	custody verify [-key FILE|FINGERPRINT] [-contain-key FILE|FINGERPRINT] [-allow-unsigned] [-run RUNID] [-manifest-sha256 HEX] [-manifest-version ID] [-json] OUT/<caseId> | s3://BUCKET/cases/<caseId>
//	    check every run of a case against its manifest: every artifact
//	    re-read through SHA-256 (on disk, or in the bucket by version ID,
//	    with its Object Lock), and every file or version no manifest lists;
//	    the signed seal statement over each manifest, offline, printing the
//	    signing key's fingerprint (-key pins the key that must have signed;
//	    without it verify says nothing was pinned);
//	    -manifest-sha256/-manifest-version check a run's manifest against
//	    what Seal announced (-run names the run when the case has several)
//	custody deploy-check
//	    cdk deploy the app into a fresh emulator, check its wiring, destroy it
//	custody validate [-seed DIR] FINDING
//	    what an input would plan, without an emulator or a deploy
//	custody readiness [-regions R,R] [-accounts A,A] [-lookback D] [-tables T,T] [-json]
//	    audit an account (and members) for the sources custody collects
//	custody preflight
//	    the account and region a deploy would reach
//	custody start ... | custody cases list|show|download ...
//	    start an investigation in, and read the cases of, a deployed stack
//	custody hold [-release] [-bucket B] [-json] CASEID
//	    a legal hold on every version of a case's objects (or, as the
//	    break-glass role only, its release)
//	custody approve|reject [-run RUNID] [-reason TEXT] CASEID
//	    decide a containment plan that awaits approval (as the approver role)
//	custody rollback [-run RUNID] CASEID
//	    undo what containment applied, from its recorded before-state
//	custody help
//	    every command, its flags and exit statuses
//
// Each but verify starts its own emulator (moto_server) on a free loopback
// port and stops it at the end. Exit status:
//
//	0  done (a run may be complete or partial; a duplicate delivery is 0)
//	1  usage: bad flags, unreadable finding file
//	2  set-up: a tool is missing (the message names the install command), or
//	   the emulator, the build, the deploy or the seed failed
//	3  Triage refused the input (the message names the field)
//	4  the workflow failed, or a deploy check failed
//	5  the downloaded run does not verify (missing or changed artifacts);
//	   from verify: an artifact changed (size or SHA-256 differ)
//
// verify's own statuses (when it finds several kinds of problem, the first
// in the order 8, 10, 5, 6, 9, 7 decides):
//
//	0  every run verifies and the case holds nothing unlisted
//	1  usage: bad flags, no such folder, not a case location, a case
//	   with no runs, -manifest-version for a folder
//	2  set-up: the bucket could not be read (credentials, network,
//	   access denied): nothing was verified
//	5  changed: an artifact's size or SHA-256 differs from the manifest's,
//	   or a CloudTrail copy no longer validates against CloudTrail's digest
//	   as it did when sealed (re-checked offline, in a case folder and in
//	   the bucket alike), or a containment record is not as its signed
//	   statement lists it, or is in no statement (unsigned)
//	6  missing: an artifact (file, object version) is gone, or a run has
//	   no manifest
//	7  unlisted only: everything listed verifies, but the case holds files
//	   or object versions no manifest lists (a new version or a delete
//	   marker over evidence is one); a run's manifest.json and
//	   results/*.json are exempt
//	8  manifest: a manifest is not what Seal announced (-manifest-sha256,
//	   -manifest-version), is not valid, names another case or run, or
//	   has more than one version in the bucket
//	9  unlocked: an artifact is intact but its Object Lock no longer holds
//	10 signature: a run's signed seal statement does not verify: no seal
//	   (unless -allow-unsigned), a signature that does not match the
//	   statement and stored key, a statement naming another manifest (its
//	   SHA-256 or version), or a key other than the one -key pins; or a
//	   run's containment statement does not verify (its signature, no
//	   public key, a key other than the one -contain-key pins)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/custody-ir/custody/cmd/custody/internal/localrun"
	"github.com/custody-ir/custody/cmd/custody/internal/operator"
	"github.com/custody-ir/custody/cmd/custody/internal/verify"
	"github.com/custody-ir/custody/shared/readiness"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usage is custody help: every command, its flags and exit statuses.
const usage = `usage: custody COMMAND [flags]

On this machine, against a local emulator (each starts its own moto_server):
  demo [-out DIR] [-v]
      the demo scenario: cmd/custody/scenarios/demo's finding and seed folder
  demo-org [-out DIR] [-v]
      the organization drill: cmd/custody/scenarios/org (hub, two members, a log archive, two regions)
  investigate -finding FILE [-seed DIR] [-out DIR] [-v]
      any input form, any seed folder
      (each of the three: -timings FILE writes the phases' seconds as JSON; make bench reads it)
  deploy-check
      cdk deploy the app into a fresh emulator, check its wiring, destroy it
  validate [-seed DIR] FINDING
      parse the input as Triage does and print the case, window and plan it would open;
      with -seed, load the seed folder too; no emulator, no deploy

Against the account of your AWS profile (or AWS_ENDPOINT_URL):
  readiness [-regions R,R] [-accounts A,A] [-member-role NAME] [-lookback 6h] [-tables T,T]
      [-data-buckets B,B] [-evidence-bucket B] [-json]
      audit the account (and each member account given, through its member role) in each region
      for the sources custody collects; each check names its Prowler ID, what a case lacks, the fix
  preflight
      name the account, caller and region a deploy would reach; fail when no credentials are set
  start [-state-machine ARN] -finding-id ID -detector-id ID
  start [-state-machine ARN] -resource-type T -resource-id ID -start TIME -end TIME [-account A] [-region R] [-reason TEXT]
  start [-state-machine ARN] -input FILE
      start the workflow with a documented manual form, checked as Triage checks it first
      (default state machine: the Custody stack's StateMachineArn output)
  cases list [-bucket B] [-json]
  cases show [-bucket B] [-json] CASEID
  cases download [-bucket B] [-out DIR] CASEID
      the cases of the deployed evidence bucket (default: the Custody stack's EvidenceBucketName output):
      each run's status, finding, seal time, artifacts and gaps; download writes OUT/<caseId>/ for verify
  hold [-bucket B] [-json] CASEID
  hold -release [-break-glass-role NAME] [-bucket B] [-json] CASEID
      put an Object Lock legal hold on every version of every object of the case (idempotent: counts
      what it changed and what was held already); -release removes it, as the break-glass role only
  approve [-bucket B] [-run RUNID] [-reason TEXT] CASEID
  reject [-bucket B] [-run RUNID] [-reason TEXT] CASEID
      decide the case's containment plan that awaits approval: sends its task token's result
      (states:SendTaskSuccess/SendTaskFailure: run it as the stack's approver role, CustodyApprover);
      against a local run, set AWS_ENDPOINT_URL to the gate the run prints
  rollback [-bucket B] [-function NAME] [-run RUNID] CASEID
      undo what containment applied: invokes the contain function, which refuses on drift (exit 4,
      nothing changed), restores the recorded before-state and records containment/rollback.json
  verify [-run RUNID] [-manifest-sha256 HEX] [-manifest-version ID] [-json] OUT/<caseId> | s3://BUCKET/cases/<caseId>
      re-read every artifact of every run of a case against its manifests
  help
      this text

Exit status:
  0  done; readiness: every check passes
  1  usage: bad flags, unreadable file
  2  set-up: a tool is missing (named with its install command), no credentials, the emulator,
     build, deploy or seed failed
  3  the input is refused (Triage, or validate: input or seed folder), naming the field;
     hold -release by anyone but the break-glass role
  4  the workflow failed, a deploy check failed; readiness: a check fails
  5  the downloaded run does not verify; readiness: none fails but some could not be read
  verify: 5 changed, 6 missing, 7 unlisted only, 8 manifest, 9 unlocked, 10 signature (README: The commands behind them)
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return localrun.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return localrun.ExitOK
	case "verify":
		// verify needs nothing but the case: it runs anywhere, outside
		// the checkout too.
		return verify.Main(ctx, args[1:], stdout, stderr, nil)
	case "readiness":
		return operator.Readiness(ctx, args[1:], operator.DefaultConfig, readiness.NewClients, stdout, stderr)
	case "preflight":
		return operator.Preflight(ctx, args[1:], operator.DefaultConfig, stdout, stderr)
	case "validate":
		return operator.Validate(args[1:], time.Now, stdout, stderr)
	case "cases":
		return operator.Cases(ctx, args[1:], operator.DefaultConfig, stdout, stderr)
	case "start":
		return operator.Start(ctx, args[1:], operator.DefaultConfig, stdout, stderr)
	case "hold":
		return operator.Hold(ctx, args[1:], operator.DefaultConfig, stdout, stderr)
	case "approve", "reject":
		return operator.Decide(ctx, args[0], args[1:], operator.DefaultConfig, stdout, stderr)
	case "rollback":
		return operator.Rollback(ctx, args[1:], operator.DefaultConfig, stdout, stderr)
	case "demo", "demo-org", "investigate", "deploy-check":
	default:
		fmt.Fprintf(stderr, "custody: unknown command %q (custody help lists them)\n", args[0])
		return localrun.ExitUsage
	}
	root, err := projectRoot()
	if err != nil {
		fmt.Fprintln(stderr, "custody:", err)
		return localrun.ExitUsage
	}
	var runErr error
	switch args[0] {
	case "demo", "demo-org", "investigate":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		demo := filepath.Join(root, "cmd", "custody", "scenarios", "demo")
		findingPath := fs.String("finding", "", "the input: a finding in any accepted form")
		seed := fs.String("seed", "", "the seed folder (scenario.json, s3/, logs/)")
		out := fs.String("out", "out", "where the case is downloaded")
		verbose := fs.Bool("v", false, "show the CDK CLI's and the handlers' output")
		faultRate := fs.Float64("faults", 0, "the fault drill: this fraction of the handlers' calls (0 to 1) answered with throttling, 5xx, HTML 502/503, resets, lost or slow answers")
		faultSeed := fs.Int64("faults-seed", localrun.DefaultFaultSeed, "the fault drill's seed: the same rate and seed inject the same faults")
		timings := fs.String("timings", "", "write the run's phases (build, emulator, deploy, runtimes, seed, workflow, download+verify) in seconds to this JSON file (make bench reads it)")
		var also []string
		switch args[0] {
		case "demo":
			*findingPath = filepath.Join(demo, "finding.json")
			*seed = demo
		case "demo-org":
			org := filepath.Join(root, "cmd", "custody", "scenarios", "org")
			*findingPath, *seed = filepath.Join(org, "finding.json"), org
			also = []string{filepath.Join(org, "finding-no-member-stack.json")}
		}
		if err := fs.Parse(args[1:]); err != nil {
			return localrun.ExitUsage
		}
		if *findingPath == "" {
			fmt.Fprintln(stderr, "custody investigate: -finding is required")
			return localrun.ExitUsage
		}
		var s *localrun.Summary
		s, runErr = localrun.Investigate(ctx, localrun.Options{
			Root: root, Finding: *findingPath, Also: also, Seed: *seed, Out: *out, Log: stdout, Verbose: *verbose,
			Faults: localrun.FaultDrill{Rate: *faultRate, Seed: *faultSeed},
		})
		if runErr == nil {
			s.Print(stdout)
			if *timings != "" {
				runErr = writeTimings(*timings, s)
			}
		}
	case "deploy-check":
		runErr = localrun.DeployCheck(ctx, root, stdout)
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "custody:", runErr)
		var ee *localrun.ExitError
		if errors.As(runErr, &ee) {
			return ee.Code
		}
		return localrun.ExitSetup
	}
	return localrun.ExitOK
}

// writeTimings writes the phases of a local run and of each run after it:
// {"phases": [{"name", "seconds"}…], "then": [[…]…]}.
func writeTimings(path string, s *localrun.Summary) error {
	out := struct {
		Phases []localrun.Phase   `json:"phases"`
		Then   [][]localrun.Phase `json:"then,omitempty"`
	}{Phases: s.Timings}
	for _, t := range s.Then {
		out.Then = append(out.Then, t.Timings)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return &localrun.ExitError{Code: localrun.ExitSetup, Err: fmt.Errorf("-timings: %w", err)}
	}
	return nil
}

// projectRoot finds the folder holding go.mod and cdk.json, from the
// working directory up.
func projectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run custody from inside the project (no cdk.json and go.mod found above the working directory)")
		}
		dir = parent
	}
}
