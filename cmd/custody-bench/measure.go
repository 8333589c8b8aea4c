package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// measurement is one timed run.
type measurement struct {
	Wall   time.Duration
	MaxRSS int64 // bytes; the child's own peak (0 when not measured)
	Out    []byte
}

// runChild runs this program again with args and reports its wall time
// and peak RSS (from the child's rusage: the extract alone, not the
// generator's memory).
func runChild(args ...string) (measurement, error) {
	self, err := os.Executable()
	if err != nil {
		return measurement{}, err
	}
	cmd := exec.Command(self, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	m := measurement{Wall: time.Since(start), Out: out.Bytes()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.MaxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	if err != nil {
		return m, fmt.Errorf("%s %s: %v: %s", self, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return m, nil
}

// runShell times a bash script.
func runShell(script string) (measurement, error) {
	cmd := exec.Command("bash", "-c", "set -o pipefail; shopt -s globstar nullglob; "+script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	m := measurement{Wall: time.Since(start), Out: out.Bytes()}
	if err != nil {
		return m, fmt.Errorf("bash -c %q: %v: %s", script, err, strings.TrimSpace(errb.String()))
	}
	return m, nil
}

// best runs f n times and keeps the fastest run (the least disturbed by
// the rest of the machine); its peak RSS is the largest seen.
func best(n int, f func() (measurement, error)) (measurement, error) {
	var runs []measurement
	for i := 0; i < n; i++ {
		m, err := f()
		if err != nil {
			return m, err
		}
		if bytes.HasPrefix(m.Out, []byte("{")) {
			if _, err := childResult(&m); err != nil {
				return m, err
			}
		}
		runs = append(runs, m)
	}
	return fastest(runs), nil
}

// bestPair is best of n runs of floor and of f, taken in turn (floor, f,
// floor, f, ...): the two counts of a ratio are then measured under the
// same load even as the machine's changes, where n runs of one and then n
// of the other may catch a burst of other work on one side only.
func bestPair(n int, floor, f func() (measurement, error)) (measurement, measurement, error) {
	var fl, m []measurement
	for i := 0; i < n; i++ {
		for _, run := range []struct {
			f   func() (measurement, error)
			out *[]measurement
		}{{floor, &fl}, {f, &m}} {
			r, err := best(1, run.f)
			if err != nil {
				return measurement{}, measurement{}, err
			}
			*run.out = append(*run.out, r)
		}
	}
	return fastest(fl), fastest(m), nil
}

// fastest is the fastest of runs, with the largest peak RSS of them.
func fastest(runs []measurement) measurement {
	var b measurement
	var rss int64
	for i, m := range runs {
		rss = max(rss, m.MaxRSS)
		if i == 0 || m.Wall < b.Wall {
			b = m
		}
	}
	b.MaxRSS = rss
	return b
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// gzipLoop is decompression alone: gzip -dc of every file, one after the
// other.
func gzipLoop(dir string) string {
	return `for f in ` + shellQuote(dir) + `/**/*.gz; do gzip -dc "$f"; done >/dev/null`
}

// jqScript is jq doing the CloudTrail extract's filter, file by file; it
// prints how many records it kept.
func jqScript(dir string) string {
	return `for f in ` + shellQuote(dir) + `/**/*.gz; do gzip -dc "$f" | jq -c ` + shellQuote(jqFilter) + `; done | wc -l`
}

// grepScript is the flow extract's poor relation: the lines that name the
// interface.
func grepScript(dir string) string {
	return `for f in ` + shellQuote(dir) + `/**/*.gz; do gzip -dc "$f"; done | { grep -F ` + shellQuote(scopeENI) + ` || true; } | wc -l`
}

func count(out []byte) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	return n
}

// childResult reads the counts a child printed; its peak RSS is the one
// it measured itself when it could (see extractResult.PeakRSS).
func childResult(m *measurement) (extractResult, error) {
	var r extractResult
	if err := json.Unmarshal(m.Out, &r); err != nil {
		return r, fmt.Errorf("extract child printed %q: %v", m.Out, err)
	}
	if r.PeakRSS > 0 {
		m.MaxRSS = r.PeakRSS
	}
	return r, nil
}
