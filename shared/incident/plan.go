package incident

import (
	"sort"
	"strings"
)

// Why the GuardDuty collector is in every plan.
const (
	reasonFinding = "the GuardDuty finding itself: stored as received, with its parsed summary, and the related findings"
	reasonManual  = "the manual start request: stored as received"
)

// Why each collector is in a plan.
var (
	cloudTrail = PlanItem{Collector: CollectorCloudTrail, Reason: "API calls by the principals, on the resources and from the IPs in scope"}
	vpcFlow    = PlanItem{Collector: CollectorVPCFlow, Reason: "network flows of the ENIs and IPs in scope"}
	s3Access   = PlanItem{Collector: CollectorS3Access, Reason: "object-level access to the buckets in scope, and their configuration"}
	cloudWatch = PlanItem{Collector: CollectorCloudWatch, Reason: "the log groups of the resource in scope"}
	ec2State   = PlanItem{Collector: CollectorEC2, Reason: "the instance's state, network, volumes and user data, and an EBS snapshot of each volume"}
	dynamoDB   = PlanItem{Collector: CollectorDynamoDB, Reason: "the DynamoDB Streams records of the tables in scope (a stream keeps 24 hours)"}
	iamState   = PlanItem{Collector: CollectorIAM, Reason: "the IAM principals and keys in scope: Access Advisor, policies, groups, boundary, access key last used"}
	inspector  = PlanItem{Collector: CollectorInspector, Reason: "Inspector findings for the instances, images, functions and container images in scope"}
)

// planRow is one row of the plan table.
type planRow struct {
	// Types are the resource types the row plans, as GuardDuty's
	// resource.resourceType, an attack sequence's resources
	// (EC2_INSTANCE, …) and a manual start name them. They match without
	// regard to case, "_", "-" or spaces (normType).
	Types []string
	// Collectors are the collectors the row adds, in order, after the
	// GuardDuty collector every plan starts with.
	Collectors []PlanItem
	// Findings says which findings have these types (for docs/plans.md).
	Findings string
}

// plans is the plan table: per resource type, the collectors that apply to
// it. A type not in the table gets the generic plan and a warning, never an
// error. What a finding names besides its resource (an instance, a bucket,
// a table, a principal, an image) adds collectors through byScope. An
// AttackSequence's plan is the union of its own row and its resources'
// rows. docs/plans.md is generated from this table (TestPlansDoc).
var plans = []planRow{
	{[]string{"Instance", "EC2Instance"}, []PlanItem{ec2State, cloudTrail, vpcFlow, cloudWatch, inspector},
		"EC2 findings, Runtime Monitoring on EC2, Malware Protection for EC2 (GuardDuty-initiated and on-demand scans)"},
	{[]string{"AccessKey", "Principal", "IAMInstanceProfile"}, []PlanItem{cloudTrail, iamState},
		"IAM findings (credentials used from odd places, policy and logging changes); a manual start on a key or principal"},
	{[]string{"S3Bucket", "S3Object"}, []PlanItem{cloudTrail, s3Access},
		"S3 Protection findings; Malware Protection for S3 (S3Object)"},
	{[]string{"EKSCluster", "KubernetesCluster", "KubernetesWorkload"}, []PlanItem{cloudTrail, cloudWatch},
		"EKS audit log findings, Runtime Monitoring on EKS"},
	{[]string{"ECSCluster", "ECSTask", "Container"}, []PlanItem{cloudTrail, cloudWatch},
		"Runtime Monitoring on ECS (Fargate and EC2), Malware Protection for container workloads"},
	{[]string{"Lambda"}, []PlanItem{cloudTrail, cloudWatch, inspector},
		"Lambda Protection findings (network activity of a function)"},
	{[]string{"RDSDBInstance", "RDSLimitlessDB"}, []PlanItem{cloudTrail, cloudWatch},
		"RDS Protection login findings (Aurora, RDS for PostgreSQL and MySQL, Aurora Limitless)"},
	{[]string{"EC2NetworkInterface"}, []PlanItem{cloudTrail, vpcFlow},
		"a network interface in an attack sequence"},
	{[]string{"EBSVolume", "EBSSnapshot", "EC2Image", "RecoveryPoint"}, []PlanItem{cloudTrail},
		"Malware Protection for EC2 on a volume, Malware Protection for AWS Backup (snapshot, AMI, recovery point)"},
	{[]string{"AttackSequence"}, []PlanItem{cloudTrail},
		"Extended Threat Detection: with the rows of every resource of its sequence"},
}

// generic is the plan of a type the table does not know: CloudTrail by
// every principal and IP the finding names.
var generic = []PlanItem{cloudTrail}

// scopeRule adds a collector for what a scope names.
type scopeRule struct {
	has func(Scope) bool
	// What says which part of the scope adds the collector (for
	// docs/plans.md).
	What string
	Item PlanItem
}

// byScope adds the collectors for what a finding touches beyond its resource
// type: a finding on an instance that also names a bucket gets that bucket's
// access logs, one on a key that names an instance gets the instance's
// state. DynamoDB comes first: its streams keep 24 hours.
var byScope = []scopeRule{
	{func(s Scope) bool { return len(s.Tables) > 0 }, "a DynamoDB table", dynamoDB},
	{func(s Scope) bool { return len(s.Instances) > 0 }, "an instance", ec2State},
	{func(s Scope) bool { return len(s.ENIs) > 0 || len(s.Instances) > 0 }, "an instance or an ENI", vpcFlow},
	{func(s Scope) bool { return len(s.Buckets) > 0 }, "a bucket", s3Access},
	{func(s Scope) bool { return len(s.Functions) > 0 || len(s.Clusters) > 0 || len(s.LogGroups) > 0 }, "a function, a cluster or a log group", cloudWatch},
	{func(s Scope) bool {
		// Not PrincipalIDs alone: IAM cannot be asked by unique ID.
		return len(s.Principals) > 0 || len(s.AccessKeys) > 0 || len(s.UserNames) > 0 || len(s.RoleNames) > 0
	}, "an IAM principal ARN, user or role name, or access key", iamState},
	{func(s Scope) bool { return len(s.Instances) > 0 || len(s.Images) > 0 || len(s.Functions) > 0 }, "an instance, an image (AMI or container image) or a function", inspector},
}

// normType is the table's key for a resource type: lower-cased, without
// "_", "-" or spaces, so that EC2_INSTANCE, ec2Instance and EC2Instance
// are one key.
func normType(t string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(t)))
}

// rowFor returns the plan table's row for a resource type.
func rowFor(resourceType string) (planRow, bool) {
	key := normType(resourceType)
	for _, r := range plans {
		for _, t := range r.Types {
			if normType(t) == key {
				return r, true
			}
		}
	}
	return planRow{}, false
}

// WithScope returns plan with the collectors for what scope names that the
// plan lacks, in the table's order after the plan's own.
func WithScope(plan []PlanItem, scope Scope) []PlanItem {
	have := map[string]bool{}
	for _, p := range plan {
		have[p.Collector] = true
	}
	for _, b := range byScope {
		if !have[b.Item.Collector] && b.has(scope) {
			plan = append(plan, b.Item)
			have[b.Item.Collector] = true
		}
	}
	return plan
}

// KnownResourceTypes lists the plan table's types as they match (normType),
// sorted.
func KnownResourceTypes() []string {
	var out []string
	for _, r := range plans {
		for _, t := range r.Types {
			out = append(out, normType(t))
		}
	}
	sort.Strings(out)
	return out
}

// PlanFor returns the plan for a resource type (matched without regard to
// case, "_", "-" or spaces): the GuardDuty collector, with reason (why it
// runs), then the table's collectors for the type. A type not in the table
// gets the generic plan and a warning.
func PlanFor(resourceType, reason string) ([]PlanItem, []string) {
	return Plan(reason, Scope{}, resourceType)
}

// Plan returns an incident's plan: the GuardDuty collector, with reason
// (why it runs); then the table's collectors for resourceType; then those
// of each of also (an attack sequence's resource types), each collector
// once, where it first appears; then the collectors for what scope names
// (byScope, as WithScope adds them). A resourceType not in the table gets
// the generic plan and a warning; so does each type of also the table does
// not know (its resource is still covered by CloudTrail through the scope).
// The same arguments always give the same plan.
func Plan(reason string, scope Scope, resourceType string, also ...string) ([]PlanItem, []string) {
	plan := []PlanItem{{Collector: CollectorGuardDuty, Reason: reason}}
	have := map[string]bool{CollectorGuardDuty: true}
	add := func(items []PlanItem) {
		for _, p := range items {
			if !have[p.Collector] {
				plan = append(plan, p)
				have[p.Collector] = true
			}
		}
	}
	var warns []string
	if row, ok := rowFor(resourceType); ok {
		add(row.Collectors)
	} else {
		name := resourceType
		if strings.TrimSpace(name) == "" {
			name = "(none)"
		}
		add(generic)
		warns = append(warns, "resource type "+quote(name)+" is not known: generic plan (the finding, and CloudTrail by every principal and IP it names)")
	}
	unknown := map[string]bool{}
	for _, t := range also {
		if row, ok := rowFor(t); ok {
			add(row.Collectors)
		} else if !unknown[t] {
			unknown[t] = true
			add(generic)
			warns = append(warns, "attack sequence resource type "+quote(t)+" is not known: CloudTrail by its identifiers only")
		}
	}
	return WithScope(plan, scope), warns
}

func quote(s string) string { return `"` + s + `"` }
