package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// demoPhase is one phase of custody demo -timings' file (the localrun
// package's Phase: its JSON is the contract between the two commands).
type demoPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// The phases of the set-up a deployed custody does not pay per finding,
// and the one it does: the workflow, StartExecution to the sealed run.
var (
	deployPhases  = []string{"build", "emulator", "deploy", "runtimes"}
	workflowPhase = "workflow"
)

// benchDemo runs custody demo (the binary at bin, from the project root
// root) into a fresh folder under tmp with -timings, its output to a log
// file beside the case, and prints the finding-to-sealed time split into
// the deploy (build, emulator, cdk deploy, the runtimes) and the workflow,
// the seed and the download between and after. The workflow's share is
// the ratio that matters: it is what a finding costs once custody is
// deployed; the deploy is paid once.
func benchDemo(bin, root, tmp string, w io.Writer) error {
	dir, err := os.MkdirTemp(tmp, "custody-bench-demo-")
	if err != nil {
		return err
	}
	if os.Getenv("CUSTODY_BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	}
	log, err := os.Create(filepath.Join(dir, "demo.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	timings := filepath.Join(dir, "timings.json")
	cmd := exec.Command(bin, "demo", "-out", filepath.Join(dir, "out"), "-timings", timings)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s demo: %v (its output: %s)", bin, err, log.Name())
	}
	b, err := os.ReadFile(timings)
	if err != nil {
		return err
	}
	var t struct {
		Phases []demoPhase `json:"phases"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("%s: %w", timings, err)
	}
	return printDemo(w, t.Phases)
}

// printDemo prints the phases, the deploy and the workflow; a file
// without all of them is an error (a demo that did not run its workflow is
// no measurement).
func printDemo(w io.Writer, phases []demoPhase) error {
	var total, deploy, workflow float64
	seen := map[string]bool{}
	for _, p := range phases {
		total += p.Seconds
		seen[p.Name] = true
		for _, d := range deployPhases {
			if p.Name == d {
				deploy += p.Seconds
			}
		}
		if p.Name == workflowPhase {
			workflow += p.Seconds
		}
	}
	for _, want := range append(append([]string{}, deployPhases...), workflowPhase) {
		if !seen[want] {
			return fmt.Errorf("custody demo -timings has no %q phase (it has %v)", want, phases)
		}
	}
	fmt.Fprintf(w, "\ncustody demo on the emulator (one process; seconds and share of the whole run)\n")
	fmt.Fprintf(w, "%-18s %9s %7s\n", "phase", "wall", "share")
	for _, p := range phases {
		fmt.Fprintf(w, "%-18s %8.1fs %6.0f%%\n", p.Name, p.Seconds, 100*p.Seconds/total)
	}
	fmt.Fprintf(w, "%-18s %8.1fs %6.0f%%\n", "= deploy", deploy, 100*deploy/total)
	fmt.Fprintf(w, "%-18s %8.1fs %6.0f%%\n", "= workflow", workflow, 100*workflow/total)
	fmt.Fprintf(w, "finding to sealed case: %.1fs of workflow once deployed (the deploy, paid once, is %.2fx that)\n", workflow, deploy/workflow)
	return nil
}
