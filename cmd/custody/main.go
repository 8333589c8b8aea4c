// Command custody is the operator's tool for running custody on this
// machine.
//
//	custody demo [-out DIR] [-v]
//	    the demo scenario: scenarios/demo's finding and seed folder
//	custody investigate -finding FILE [-seed DIR] [-out DIR] [-v]
//	    any input form, any seed folder
//	custody verify DIR
//	    re-read every artifact of every run of a downloaded case
//	custody deploy-check
//	    cdk deploy the app into a fresh emulator, check its wiring, destroy it
//
// Each starts its own emulator (moto_server) on a free loopback port and
// stops it at the end. Exit status:
//
//	0  done (a run may be complete or partial; a duplicate delivery is 0)
//	1  usage: bad flags, unreadable finding file
//	2  set-up: a tool is missing (the message names the install command), or
//	   the emulator, the build, the deploy or the seed failed
//	3  Triage refused the input (the message names the field)
//	4  the workflow failed, or a deploy check failed
//	5  the downloaded run does not verify (missing or changed artifacts)
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
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: custody demo|investigate|verify|deploy-check [flags]")
		return localrun.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := projectRoot()
	if err != nil {
		fmt.Fprintln(stderr, "custody:", err)
		return localrun.ExitUsage
	}
	var runErr error
	switch args[0] {
	case "demo", "investigate":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		demo := filepath.Join(root, "cmd", "custody", "scenarios", "demo")
		findingPath := fs.String("finding", "", "the input: a finding in any accepted form")
		seed := fs.String("seed", "", "the seed folder (scenario.json, s3/, logs/)")
		out := fs.String("out", "out", "where the case is downloaded")
		verbose := fs.Bool("v", false, "show the CDK CLI's and the handlers' output")
		if args[0] == "demo" {
			*findingPath = filepath.Join(demo, "finding.json")
			*seed = demo
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
			Root: root, Finding: *findingPath, Seed: *seed, Out: *out, Log: stdout, Verbose: *verbose,
		})
		if runErr == nil {
			s.Print(stdout)
		}
	case "verify":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: custody verify DIR")
			return localrun.ExitUsage
		}
		runErr = localrun.VerifyCase(args[1], stdout)
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
