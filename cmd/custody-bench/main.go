// Command custody-bench measures the log extracts against the tools a
// responder would otherwise use (issue 3, Benchmarks). It generates
// CloudTrail log files and VPC flow log objects from the real samples at
// about 100 MB and 1 GB decompressed (about 2 % of records in scope), then
// times, on the same files, the collectors' extracts (each in a child
// process, for its own peak RSS), a gzip -dc loop (decompression alone,
// the floor), jq doing the CloudTrail filter and grep -F the flow log
// one. It prints a table and a PASS or FAIL line per requirement, and
// exits 1 when one fails.
//
//	custody-bench [-sizes 100MB,1GB] [-runs 3] [-corpus DIR] [-demo dist/bin/custody]
//	custody-bench extract-cloudtrail DIR   (the child: prints its counts)
//	custody-bench extract-vpcflow DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

func main() {
	if len(os.Args) == 3 && strings.HasPrefix(os.Args[1], "extract-") {
		os.Exit(child(os.Args[1], os.Args[2]))
	}
	sizes := flag.String("sizes", "100MB,1GB", "decompressed input sizes, comma-separated (MB, GB)")
	runs := flag.Int("runs", 3, "runs of each extract and gzip -dc loop, an extract's taken in turn with the loop's; the fastest of each counts")
	corpusDir := flag.String("corpus", "", "folder of the real samples (default: the repository's testdata copies)")
	tmp := flag.String("tmp", "", "where to generate the inputs (default: the system's temporary folder)")
	demo := flag.String("demo", "", "also time custody demo with this custody binary (from the working directory, the project root), split into deploy and workflow")
	flag.Parse()
	for _, tool := range []struct{ name, fix string }{
		{"jq", "apt-get install -y jq"}, {"gzip", "apt-get install -y gzip"}, {"grep", "apt-get install -y grep"},
	} {
		if _, err := exec.LookPath(tool.name); err != nil {
			fmt.Fprintf(os.Stderr, "custody-bench: %s not found: install it with: %s\n", tool.name, tool.fix)
			os.Exit(2)
		}
	}
	roots := defaultCorpus
	if *corpusDir != "" {
		roots = []string{*corpusDir}
	}
	var plan []benchSize
	for _, s := range strings.Split(*sizes, ",") {
		if strings.TrimSpace(s) == "" {
			continue // -sizes "": no extracts (the demo alone)
		}
		n, err := parseSize(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "custody-bench:", err)
			os.Exit(2)
		}
		plan = append(plan, benchSize{name: strings.TrimSpace(s), bytes: n})
	}
	ok := true
	if len(plan) > 0 {
		var err error
		if ok, err = run(roots, plan, *runs, *tmp, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "custody-bench:", err)
			os.Exit(2)
		}
	}
	if *demo != "" {
		wd, err := os.Getwd()
		if err == nil {
			err = benchDemo(*demo, wd, *tmp, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "custody-bench:", err)
			os.Exit(2)
		}
	}
	if !ok {
		os.Exit(1)
	}
}

// child runs one extract and prints its counts as JSON.
func child(what, dir string) int {
	if p := os.Getenv("CUSTODY_BENCH_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var (
		res extractResult
		err error
	)
	switch what {
	case "extract-cloudtrail":
		res, err = extractCloudTrail(context.Background(), dir)
	case "extract-cloudtrail-pivot":
		res, err = extractPivot(context.Background(), dir)
	case "extract-vpcflow":
		res, err = extractFlowLogs(context.Background(), dir)
	default:
		err = fmt.Errorf("unknown command %s", what)
	}
	if err == nil {
		err = printResult(res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "custody-bench:", err)
		return 1
	}
	return 0
}

// The child's CPU profile goes to $CUSTODY_BENCH_CPUPROFILE when it is set.

// run generates each size, measures, prints and judges.
func run(roots []string, plan []benchSize, runs int, tmp string, w *os.File) (bool, error) {
	c, err := findCorpus(roots)
	if err != nil {
		return false, err
	}
	plain, scoped, err := cloudTrailTemplates(c.cloudTrail)
	if err != nil {
		return false, err
	}
	flows, err := flowSamples(c.flowLogs)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp(tmp, "custody-bench-")
	if err != nil {
		return false, err
	}
	if os.Getenv("CUSTODY_BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintln(w, "inputs kept in", dir)
	}
	fmt.Fprintf(w, "samples: %d CloudTrail records from %d files, %d flow log records from %d files; best of %d runs\n\n",
		len(plain), len(c.cloudTrail), len(flows), len(c.flowLogs), runs)
	printHeader(w)
	var checks []check
	for _, s := range plan {
		cs, err := measureSize(s, filepath.Join(dir, s.name), plain, scoped, flows, runs, w)
		if err != nil {
			return false, err
		}
		checks = append(checks, cs...)
	}
	fmt.Fprintln(w)
	ok := true
	for _, c := range checks {
		c.print(w)
		ok = ok && c.OK
	}
	return ok, nil
}
