// Package incident holds what one run of a case is about: the case and run
// IDs, the finding summary, the Scope (what the finding touches), the Window
// (when) and the Plan (which collectors run). Triage builds it; every
// collector and Seal receive it in the state machine payload, so it stays
// small: lists of identifiers, never evidence.
package incident

import "time"

// Collector names, as the Plan and the state machine's Map router use them.
const (
	CollectorGuardDuty  = "guardduty"
	CollectorCloudTrail = "cloudtrail"
	CollectorVPCFlow    = "vpcflow"
	CollectorS3Access   = "s3access"
	CollectorCloudWatch = "cloudwatch"
	CollectorEC2        = "ec2"
	CollectorDynamoDB   = "dynamodb"
	CollectorIAM        = "iam"
	CollectorInspector  = "inspector"
)

// Incident is one run of one case.
type Incident struct {
	CaseID  string          `json:"caseId"`
	RunID   string          `json:"runId"`
	Manual  bool            `json:"manual"`
	Finding *FindingSummary `json:"finding,omitempty"`
	Scope   Scope           `json:"scope"`
	Window  Window          `json:"window"`
	Plan    []PlanItem      `json:"plan"`
	// SecondPass is what runs after the Plan, from what it collected (the
	// tables the CloudTrail extract names): at most one item.
	SecondPass []PlanItem `json:"secondPass,omitempty"`
	Warnings   []string   `json:"warnings,omitempty"`
	// InputKey is the evidence-bucket key of the input exactly as received.
	InputKey string `json:"inputKey,omitempty"`
	// OpenedAt is when Triage accepted this run (UTC).
	OpenedAt time.Time `json:"openedAt"`
}

// FindingSummary is the part of a GuardDuty finding every step needs.
type FindingSummary struct {
	ID           string    `json:"id"`
	DetectorID   string    `json:"detectorId,omitempty"`
	Type         string    `json:"type"`
	Title        string    `json:"title,omitempty"`
	Severity     float64   `json:"severity"`
	AccountID    string    `json:"accountId"`
	Region       string    `json:"region"`
	ResourceType string    `json:"resourceType"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	FirstSeen    time.Time `json:"firstSeen"`
	LastSeen     time.Time `json:"lastSeen"`
}

// Scope lists what the finding touches. Every list is sorted and free of
// duplicates so that the same finding always gives the same Scope.
type Scope struct {
	AccountID  string   `json:"accountId"`
	Region     string   `json:"region"`
	Instances  []string `json:"instances,omitempty"`
	ENIs       []string `json:"enis,omitempty"`
	PrivateIPs []string `json:"privateIps,omitempty"`
	PublicIPs  []string `json:"publicIps,omitempty"`
	VPCs       []string `json:"vpcs,omitempty"`
	Subnets    []string `json:"subnets,omitempty"`
	Principals []string `json:"principals,omitempty"` // IAM ARNs
	// PrincipalIDs are IAM unique IDs (AIDA…, AROA…) from accessKeyDetails.
	PrincipalIDs []string `json:"principalIds,omitempty"`
	AccessKeys   []string `json:"accessKeys,omitempty"`
	// UserNames are IAM user names (accessKeyDetails.userName when userType
	// is not AssumedRole; the user of a principal ARN).
	UserNames []string `json:"userNames,omitempty"`
	// RoleNames are IAM role names (accessKeyDetails.userName when userType
	// is AssumedRole; the role of a principal ARN).
	RoleNames []string `json:"roleNames,omitempty"`
	// SecurityGroups are the security group IDs of the instance's ENIs.
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// KubernetesUsers are Kubernetes user names (kubernetesUserDetails).
	KubernetesUsers []string `json:"kubernetesUsers,omitempty"`
	Buckets         []string `json:"buckets,omitempty"`
	// Objects are S3 objects as "bucket/key" (Malware Protection for S3).
	Objects []string `json:"objects,omitempty"`
	// Tables are DynamoDB table names.
	Tables []string `json:"tables,omitempty"`
	// Clusters are EKS and ECS cluster ARNs (names when the finding gives
	// no ARN).
	Clusters []string `json:"clusters,omitempty"`
	// Functions are Lambda function ARNs (names when the finding gives no
	// ARN).
	Functions []string `json:"functions,omitempty"`
	// Images are AMI IDs and container images (as the finding names them:
	// an ECR URI with tag or digest, or a public image name).
	Images []string `json:"images,omitempty"`
	// Volumes are EBS volume IDs (the volumes a malware scan covered).
	Volumes   []string `json:"volumes,omitempty"`
	LogGroups []string `json:"logGroups,omitempty"`
	RemoteIPs []string `json:"remoteIps,omitempty"` // from service.action
	// DBInstances are RDS DB instance identifiers.
	DBInstances []string `json:"dbInstances,omitempty"`
	// DBUsers are database user names (RDS login findings).
	DBUsers []string `json:"dbUsers,omitempty"`
	// Domains are the DNS names queried (service.action.dnsRequestAction).
	Domains []string `json:"domains,omitempty"`
	// Findings are GuardDuty finding IDs the finding refers to: the one that
	// triggered a malware scan, the FINDING signals of an attack sequence.
	Findings []string `json:"findings,omitempty"`
	// Other lists a resource of a type custody does not know, as
	// "Type:id": a manual start's, an attack sequence's, a Backup scan's
	// snapshot or recovery point.
	Other []string `json:"other,omitempty"`
}

// Window is the closed time interval evidence is collected for (UTC).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && !t.After(w.End)
}

// Widen returns the window grown by pad on both sides, for listing keys of
// sources that deliver late.
func (w Window) Widen(pad time.Duration) Window {
	return Window{Start: w.Start.Add(-pad), End: w.End.Add(pad)}
}

// PlanItem is one collector to run for this incident.
type PlanItem struct {
	Collector string `json:"collector"`
	// Reason says why the plan includes it (for the manifest and report).
	Reason string `json:"reason,omitempty"`
}

// Collector result statuses.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	// StatusFannedOut is a collector's first answer when it handed its
	// work to shards (Result.Shards); the merge step's result replaces it.
	StatusFannedOut = "fanned-out"
)

// ShardRef names one piece of a fanned-out collector's work: shard Index
// (1-based) of Of. What the piece holds is in the collector's plan in the
// bucket, not in the state: a list of objects can outgrow a state's 256 KiB.
type ShardRef struct {
	Index int `json:"index"`
	Of    int `json:"of"`
}

// Result is what a collector returns through the state machine: counts and a
// pointer to its full result object in the bucket, never the artifact list.
type Result struct {
	Collector string `json:"collector"`
	Status    string `json:"status"`
	// ResultKey is the bucket key of the collector's full result (artifacts,
	// gaps, warnings, snapshots) as evidence.CollectorResult.
	ResultKey string `json:"resultKey,omitempty"`
	Artifacts int    `json:"artifacts"`
	Records   int64  `json:"records"`
	Gaps      int    `json:"gaps"`
	// Error is set when Status is failed: the Lambda error type and cause as
	// the state machine's Catch recorded them.
	Error *ResultError `json:"error,omitempty"`
	// Shards, with Status fanned-out, are the pieces of work the state
	// machine's shard Map runs before the merge step.
	Shards []ShardRef `json:"shards,omitempty"`
	// Shard is set on the result of one shard.
	Shard *ShardRef `json:"shard,omitempty"`
}

// ResultError is a failed collector's error as Step Functions reports it.
type ResultError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}
