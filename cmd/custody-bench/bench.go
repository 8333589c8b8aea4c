package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/custody-ir/custody/shared/pivot"
)

// benchSize is one input size.
type benchSize struct {
	name  string
	bytes int64
}

func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "GB"):
		mult, s = 1e9, strings.TrimSuffix(s, "GB")
	case strings.HasSuffix(s, "MB"):
		mult, s = 1e6, strings.TrimSuffix(s, "MB")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a number of MB or GB (100MB, 1GB)", s)
	}
	return int64(n * float64(mult)), nil
}

// measureSize generates one size's inputs, times every tool on them,
// prints their rows and returns the checks; the inputs are removed after.
func measureSize(s benchSize, dir string, plain, scoped []template, flows []flowLine, runs int, w io.Writer) ([]check, error) {
	if os.Getenv("CUSTODY_BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	}
	ctDir, flowDir := filepath.Join(dir, "cloudtrail"), filepath.Join(dir, "vpcflow")
	ct, err := genCloudTrail(ctDir, s.bytes, plain, scoped)
	if err != nil {
		return nil, fmt.Errorf("generate CloudTrail: %w", err)
	}
	fl, err := genFlowLogs(flowDir, s.bytes, flows)
	if err != nil {
		return nil, fmt.Errorf("generate flow logs: %w", err)
	}
	var checks []check

	// CloudTrail.
	floor, ex, err := bestPair(runs,
		func() (measurement, error) { return runShell(gzipLoop(ctDir)) },
		func() (measurement, error) { return runChild("extract-cloudtrail", ctDir) })
	if err != nil {
		return nil, err
	}
	base := row{Size: s.name, Input: "cloudtrail", Bytes: ct.Bytes, Floor: floor.Wall, Kept: -1}
	r := base
	r.Tool, r.Wall = fmt.Sprintf("gzip -dc (%d files)", ct.Files), floor.Wall
	r.print(w)
	res, err := childResult(&ex)
	if err != nil {
		return nil, err
	}
	r = base
	r.Tool, r.Wall, r.MaxRSS, r.Kept = "custody extract", ex.Wall, ex.MaxRSS, res.Written
	r.print(w)
	jq, err := runShell(jqScript(ctDir))
	if err != nil {
		return nil, err
	}
	r = base
	r.Tool, r.Wall, r.Kept = "gzip -dc | jq", jq.Wall, count(jq.Out)
	r.print(w)
	// A pivot pass: the same files again, 50 identities followed.
	pv, err := best(runs, func() (measurement, error) { return runChild("extract-cloudtrail-pivot", ctDir) })
	if err != nil {
		return nil, err
	}
	pres, err := childResult(&pv)
	if err != nil {
		return nil, err
	}
	r = base
	r.Tool, r.Wall, r.MaxRSS, r.Kept = "custody pivot pass", pv.Wall, pv.MaxRSS, pres.Written
	r.print(w)
	stored, err := storedBytes(ctDir)
	if err != nil {
		return nil, err
	}
	checks = append(checks,
		check{OK: pv.Wall.Seconds() <= maxPivotRatio*floor.Wall.Seconds() && pres.Records == res.Records,
			What: fmt.Sprintf("%s cloudtrail pivot pass (%d identities): %.2fs, %.2fx the gzip -dc loop (at most %.2fx) and %.2fx the first pass's %.2fs, reading the same %d log files again: %.1f MB stored, %.1f MB decompressed; a case pays this once a hop, custody:pivotDepth times at most",
				s.name, pivot.DefaultMaxIdentities, pv.Wall.Seconds(), pv.Wall.Seconds()/floor.Wall.Seconds(), maxPivotRatio, pv.Wall.Seconds()/ex.Wall.Seconds(), ex.Wall.Seconds(), ct.Files, float64(stored)/1e6, float64(ct.Bytes)/1e6)},
		countCheck(s.name, "cloudtrail", "the pivot pass wrote", pres.Written, ct.InScope),
		rssCheck(s.name, "cloudtrail pivot", pv.MaxRSS))
	checks = append(checks,
		ratioCheck(s.name, "cloudtrail", ex.Wall, floor.Wall, maxRatio),
		rssCheck(s.name, "cloudtrail", ex.MaxRSS),
		countCheck(s.name, "cloudtrail", "the extract wrote", res.Written, ct.InScope),
		countCheck(s.name, "cloudtrail", "jq kept", count(jq.Out), ct.InScope),
		check{OK: res.Records == ct.Records && res.Malformed == 0 && res.Problems == 0,
			What: fmt.Sprintf("%s cloudtrail extract: read %d of %d records, %d malformed, %d problems", s.name, res.Records, ct.Records, res.Malformed, res.Problems)})

	// Flow logs.
	floor, ex, err = bestPair(runs,
		func() (measurement, error) { return runShell(gzipLoop(flowDir)) },
		func() (measurement, error) { return runChild("extract-vpcflow", flowDir) })
	if err != nil {
		return nil, err
	}
	base = row{Size: s.name, Input: "vpcflow", Bytes: fl.Bytes, Floor: floor.Wall, Kept: -1}
	r = base
	r.Tool, r.Wall = fmt.Sprintf("gzip -dc (%d files)", fl.Files), floor.Wall
	r.print(w)
	if res, err = childResult(&ex); err != nil {
		return nil, err
	}
	r = base
	r.Tool, r.Wall, r.MaxRSS, r.Kept = "custody extract", ex.Wall, ex.MaxRSS, res.Written
	r.print(w)
	gr, err := runShell(grepScript(flowDir))
	if err != nil {
		return nil, err
	}
	r = base
	r.Tool, r.Wall, r.Kept = "gzip -dc | grep -F", gr.Wall, count(gr.Out)
	r.print(w)
	checks = append(checks,
		ratioCheck(s.name, "vpcflow", ex.Wall, floor.Wall, maxFlowRatio),
		rssCheck(s.name, "vpcflow", ex.MaxRSS),
		countCheck(s.name, "vpcflow", "the extract wrote", res.Written, fl.InScope),
		countCheck(s.name, "vpcflow", "grep -F matched", count(gr.Out), fl.InScope),
		check{OK: res.Malformed == 0 && res.Problems == 0,
			What: fmt.Sprintf("%s vpcflow extract: %d malformed, %d problems", s.name, res.Malformed, res.Problems)})
	return checks, nil
}

// maxPivotRatio is how much slower than decompression alone a pivot pass
// following pivot.DefaultMaxIdentities identities may be: its prefilter
// searches every record for each of them (the first pass's scope names a
// few), so it is allowed more than an extract's maxRatio.
const maxPivotRatio = 1.5

// storedBytes is the compressed size of the log files under dir.
func storedBytes(dir string) (int64, error) {
	files, err := gzFiles(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return 0, err
		}
		n += st.Size()
	}
	return n, nil
}
