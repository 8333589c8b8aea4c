// Command custody is the operator's tool for running custody on this
// machine.
//
//	custody demo [-out DIR] [-v]
//	    the demo scenario: scenarios/demo's finding and seed folder
//	custody demo-org [-out DIR] [-v]
//	    the organization drill: scenarios/org (a hub, two member accounts, a
//	    log archive, two regions): its finding, then finding-no-member-stack.json
//	custody investigate -finding FILE [-seed DIR] [-out DIR] [-v]
//	    any input form, any seed folder
//	custody verify [-key FILE|FINGERPRINT] [-allow-unsigned] [-run RUNID] [-manifest-sha256 HEX] [-manifest-version ID] [-json] OUT/<caseId> | s3://BUCKET/cases/<caseId>
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
//	   as it did when sealed (re-checked offline, case folders only)
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
//	   SHA-256 or version), or a key other than the one -key pins
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/custody-ir/custody/cmd/custody/internal/localrun"
	"github.com/custody-ir/custody/cmd/custody/internal/verify"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: custody demo|demo-org|investigate|verify|deploy-check [flags]")
		return localrun.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if args[0] == "verify" {
		// verify needs nothing but the case: it runs anywhere, outside
		// the checkout too.
		return verify.Main(ctx, args[1:], stdout, stderr, nil)
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
		})
		if runErr == nil {
			s.Print(stdout)
		}
	case "deploy-check":
		runErr = localrun.DeployCheck(ctx, root, stdout)
	default:
		fmt.Fprintf(stderr, "custody: unknown command %q\n", args[0])
		return localrun.ExitUsage
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
