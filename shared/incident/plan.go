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

// Why each collector is in a plan.
var (
	cloudTrail = PlanItem{Collector: CollectorCloudTrail, Reason: "API calls by the principals, on the resources and from the IPs in scope"}
	vpcFlow    = PlanItem{Collector: CollectorVPCFlow, Reason: "network flows of the ENIs and IPs in scope"}
	s3Access   = PlanItem{Collector: CollectorS3Access, Reason: "object-level access to the buckets in scope, and their configuration"}
	cloudWatch = PlanItem{Collector: CollectorCloudWatch, Reason: "the log groups of the resource in scope"}
	ec2State   = PlanItem{Collector: CollectorEC2, Reason: "the instance's state, network, volumes and user data, and an EBS snapshot of each volume"}
)

// plans is the plan table: lower-cased resource type -> the collectors that
// apply to it, beyond the GuardDuty collector every plan starts with. The
// keys are GuardDuty's resource types and the manual start's types
// (Principal); a type not in the table gets the generic plan and a warning,
// never an error. The README's table of sources per resource type is this.
var plans = map[string][]PlanItem{
	"instance":            {ec2State, cloudTrail, vpcFlow, cloudWatch},
	"accesskey":           {cloudTrail},
	"principal":           {cloudTrail},
	"s3bucket":            {cloudTrail, s3Access},
	"s3object":            {cloudTrail, s3Access},
	"ekscluster":          {cloudTrail, cloudWatch},
	"kubernetescluster":   {cloudTrail, cloudWatch},
	"container":           {cloudTrail, cloudWatch},
	"ecscluster":          {cloudTrail, cloudWatch},
	"lambda":              {cloudTrail, cloudWatch},
	"rdsdbinstance":       {cloudTrail, cloudWatch},
	"rdslimitlessdb":      {cloudTrail, cloudWatch},
	"ebsvolume":           {cloudTrail},
	"ebssnapshot":         {cloudTrail},
	"ec2image":            {cloudTrail},
	"ec2networkinterface": {cloudTrail, vpcFlow},
	"recoverypoint":       {cloudTrail},
	"attacksequence":      {cloudTrail},
}

// generic is the plan of a type the table does not know: CloudTrail by
// every principal and IP the finding names.
var generic = []PlanItem{cloudTrail}

// byScope adds the collectors for what a finding touches beyond its resource
// type: a finding on an instance that also names a bucket gets that bucket's
// access logs, one on a key that names an instance gets the instance's state.
var byScope = []struct {
	has  func(Scope) bool
	item PlanItem
}{
	{func(s Scope) bool { return len(s.Instances) > 0 }, ec2State},
	{func(s Scope) bool { return len(s.ENIs) > 0 || len(s.Instances) > 0 }, vpcFlow},
	{func(s Scope) bool { return len(s.Buckets) > 0 }, s3Access},
	{func(s Scope) bool { return len(s.Functions) > 0 || len(s.Clusters) > 0 || len(s.LogGroups) > 0 }, cloudWatch},
}

// WithScope returns plan with the collectors for what scope names that the
// plan lacks, in the table's order after the plan's own.
func WithScope(plan []PlanItem, scope Scope) []PlanItem {
	have := map[string]bool{}
	for _, p := range plan {
		have[p.Collector] = true
	}
	for _, b := range byScope {
		if !have[b.item.Collector] && b.has(scope) {
			plan = append(plan, b.item)
			have[b.item.Collector] = true
		}
	}
	return plan
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
// collectors for the type. A type not in the table gets the generic plan
// and a warning.
func PlanFor(resourceType, reason string) ([]PlanItem, []string) {
	plan := []PlanItem{{Collector: CollectorGuardDuty, Reason: reason}}
	extra, ok := plans[strings.ToLower(strings.TrimSpace(resourceType))]
	if !ok {
		name := resourceType
		if strings.TrimSpace(name) == "" {
			name = "(none)"
		}
		return append(plan, generic...), []string{"resource type " + quote(name) + " is not known: generic plan (the finding, and CloudTrail by every principal and IP it names)"}
	}
	for _, p := range extra {
		if p.Collector != CollectorGuardDuty {
			plan = append(plan, p)
		}
	}
	return plan, nil
}

func quote(s string) string { return `"` + s + `"` }
