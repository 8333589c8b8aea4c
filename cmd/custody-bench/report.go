package main

import (
	"fmt"
	"io"
	"time"
)

// row is one line of the table.
type row struct {
	Size   string // the input's nominal size
	Input  string // cloudtrail, vpcflow
	Tool   string
	Wall   time.Duration
	Bytes  int64         // decompressed input bytes
	Floor  time.Duration // the gzip -dc loop's wall on the same files
	MaxRSS int64         // 0: not measured
	Kept   int64         // records out; -1: not counted
}

const tableHeader = "%-6s %-10s %-22s %9s %9s %12s %10s %9s\n"

func printHeader(w io.Writer) {
	fmt.Fprintf(w, tableHeader, "size", "input", "tool", "wall", "MB/s", "x gzip -dc", "peak RSS", "kept")
}

func (r row) print(w io.Writer) {
	rss, kept := "-", "-"
	if r.MaxRSS > 0 {
		rss = fmt.Sprintf("%.1f MiB", float64(r.MaxRSS)/(1<<20))
	}
	if r.Kept >= 0 {
		kept = fmt.Sprint(r.Kept)
	}
	fmt.Fprintf(w, tableHeader, r.Size, r.Input, r.Tool,
		fmt.Sprintf("%.2fs", r.Wall.Seconds()),
		fmt.Sprintf("%.0f", float64(r.Bytes)/1e6/r.Wall.Seconds()),
		fmt.Sprintf("%.2f", r.Wall.Seconds()/r.Floor.Seconds()),
		rss, kept)
}

// check is one requirement's verdict.
type check struct {
	OK   bool
	What string
}

func (c check) print(w io.Writer) {
	verdict := "PASS"
	if !c.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s\n", verdict, c.What)
}

// maxRatio is how much slower than decompression alone an extract may be
// (the CloudTrail extract's bound); maxFlowRatio is the flow log
// extract's, issue 14's goal: 1.5 times faster than the gzip -dc loop,
// which its decoder's one pass over each line and its objects read on
// every core allow. maxRSS is the most memory an extract may hold at any
// input size.
const (
	maxRatio     = 1.25
	maxFlowRatio = 0.67
	maxRSS       = 100 << 20
)

// ratioCheck judges an extract's wall time against the gzip -dc loop's:
// at most limit times it.
func ratioCheck(size, input string, extract, floor time.Duration, limit float64) check {
	r := extract.Seconds() / floor.Seconds()
	return check{OK: r <= limit, What: fmt.Sprintf("%s %s extract: %.2fs is %.2fx the gzip -dc loop's %.2fs (at most %.2fx)",
		size, input, extract.Seconds(), r, floor.Seconds(), limit)}
}

func rssCheck(size, input string, rss int64) check {
	return check{OK: rss < maxRSS, What: fmt.Sprintf("%s %s extract: peak RSS %.1f MiB (under %d MiB)", size, input, float64(rss)/(1<<20), maxRSS>>20)}
}

func countCheck(size, input, what string, got, want int64) check {
	return check{OK: got == want, What: fmt.Sprintf("%s %s: %s %d records, %d generated in scope", size, input, what, got, want)}
}
