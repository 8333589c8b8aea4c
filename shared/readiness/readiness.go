// Package readiness audits an account, before any incident, for the
// sources custody collects: what a finding's case would lack while a check
// fails, and how to turn the source on (CLI and CDK). Each check names the
// Prowler check it corresponds to, where Prowler has one, so the result can
// be read beside a Prowler scan.
//
// It reads only (Describe, Get, List); it changes nothing. The command
// `custody readiness` runs it from a terminal, over the accounts and
// regions given, through shared/accounts' Resolver.
package readiness

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is one check's outcome in one account and region.
type Status string

// The outcomes.
const (
	// Pass: the source is on as custody needs it.
	Pass Status = "pass"
	// Fail: a case opened now would lack the evidence the check names.
	Fail Status = "fail"
	// Unknown: the audit could not read the setting (denied, or the
	// endpoint does not implement the call); Detail says which.
	Unknown Status = "unknown"
	// NotApplicable: nothing to check (no VPC, no table configured, the
	// hub's own account for the member stack).
	NotApplicable Status = "n/a"
)

// Check identifies one readiness check: what it is, the Prowler check it
// matches, what evidence is lost while it fails, and the fix.
type Check struct {
	// ID is custody's name for the check, e.g. "cloudtrail.logFileValidation".
	ID string `json:"id"`
	// Prowler is the Prowler check ID it corresponds to ("" when Prowler
	// has none: the check is custody's own).
	Prowler string `json:"prowler,omitempty"`
	// Title says what is checked.
	Title string `json:"title"`
	// Lacks is what a case would lack while the check fails.
	Lacks string `json:"lacks"`
	// FixCLI and FixCDK turn the source on.
	FixCLI string `json:"fixCli"`
	FixCDK string `json:"fixCdk"`
}

// Result is one check in one account and region.
type Result struct {
	Check
	Account string `json:"account"`
	Region  string `json:"region"`
	Status  Status `json:"status"`
	// Detail is what was found: the trail, the VPCs without flow logs, the
	// buckets without access logging, the reason it is unknown.
	Detail string `json:"detail"`
}

// Report is one audit.
type Report struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// Lookback is the evidence window's lookback the log group retention
	// is held against.
	Lookback string   `json:"lookback"`
	Results  []Result `json:"results"`
}

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, x := range r.Results {
		if x.Status == s {
			n++
		}
	}
	return n
}

// Failing returns the keys ("<account>/<region>/<check>") of the failing
// results, sorted; the scheduled run compares them between runs.
func (r *Report) Failing() []string {
	var out []string
	for _, x := range r.Results {
		if x.Status == Fail {
			out = append(out, x.Account+"/"+x.Region+"/"+x.ID)
		}
	}
	sort.Strings(out)
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a table of every result, then, for each failing one,
// what a case would lack and the fix.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tACCOUNT\tREGION\tCHECK\tPROWLER\tDETAIL")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Status, x.Account, x.Region, x.ID, firstProwler(x.Prowler), x.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range r.Results {
		if x.Status != Fail {
			continue
		}
		fmt.Fprintf(w, "\nFAIL %s (%s %s)\n  prowler: %s\n  lacks: %s\n  fix:   %s\n  cdk:   %s\n", x.ID, x.Account, x.Region, or(x.Prowler, "(none: custody's own check)"), x.Lacks, x.FixCLI, x.FixCDK)
	}
	_, err := fmt.Fprintf(w, "\n%d checks: %d pass, %d fail, %d unknown, %d n/a (lookback %s)\n",
		len(r.Results), r.Count(Pass), r.Count(Fail), r.Count(Unknown), r.Count(NotApplicable), r.Lookback)
	return err
}

// firstProwler keeps the table narrow: the first of several Prowler IDs,
// with how many more (the JSON and the FAIL notes carry them all).
func firstProwler(ids string) string {
	first, rest, more := strings.Cut(ids, ", ")
	switch {
	case first == "":
		return "-"
	case more:
		return fmt.Sprintf("%s (+%d)", first, strings.Count(rest, ", ")+1)
	}
	return first
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// list joins names, at most max of them, saying how many more there are.
func list(names []string, max int) string {
	sort.Strings(names)
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}
