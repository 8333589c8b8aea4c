package incident

import (
	"sort"
	"strings"
)

// Why the GuardDuty collector is in every plan.
const (
	reasonFinding = "the GuardDuty finding itself: stored as received, with its parsed summary"
	reasonManual  = "the manual start request: stored as received"
)

// plans is the plan table: lower-cased resource type -> the collectors that
// apply to it, beyond the GuardDuty collector every plan starts with. Later
// collectors are added here (for example "instance" -> ec2, vpcflow,
// cloudtrail). The keys are GuardDuty's resource types and the manual start's
// types (Principal); a type not in the table gets the generic plan and a
// warning, never an error.
var plans = map[string][]PlanItem{
	"instance":            {},
	"accesskey":           {},
	"principal":           {},
	"s3bucket":            {},
	"s3object":            {},
	"ekscluster":          {},
	"kubernetescluster":   {},
	"container":           {},
	"ecscluster":          {},
	"lambda":              {},
	"rdsdbinstance":       {},
	"rdslimitlessdb":      {},
	"ebsvolume":           {},
	"ebssnapshot":         {},
	"ec2image":            {},
	"ec2networkinterface": {},
	"recoverypoint":       {},
	"attacksequence":      {},
}

// KnownResourceTypes lists the plan table's keys, sorted.
func KnownResourceTypes() []string {
	out := make([]string, 0, len(plans))
	for k := range plans {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PlanFor returns the plan for a resource type (matched without regard to
// case): the GuardDuty collector, with reason (why it runs), then the table's
// collectors for the type. A type not in the table gets the generic plan,
// the GuardDuty collector alone, and a warning.
func PlanFor(resourceType, reason string) ([]PlanItem, []string) {
	plan := []PlanItem{{Collector: CollectorGuardDuty, Reason: reason}}
	extra, ok := plans[strings.ToLower(strings.TrimSpace(resourceType))]
	if !ok {
		name := resourceType
		if strings.TrimSpace(name) == "" {
			name = "(none)"
		}
		return plan, []string{"resource type " + quote(name) + " is not known: generic plan (the GuardDuty collector only)"}
	}
	for _, p := range extra {
		if p.Collector != CollectorGuardDuty {
			plan = append(plan, p)
		}
	}
	return plan, nil
}

func quote(s string) string { return `"` + s + `"` }
