package evidence

import "time"

// Evidence sources an artifact or gap may name.
const (
	SourceGuardDuty  = "guardduty"
	SourceCloudTrail = "cloudtrail"
	SourceVPCFlow    = "vpcflow"
	SourceS3Access   = "s3access"
	SourceCloudWatch = "cloudwatch"
	SourceDynamoDB   = "dynamodb"
	SourceIAM        = "iam"
	SourceInspector  = "inspector"
	SourceEC2        = "ec2"
	SourceCase       = "case"
	// SourceActions is custody's own action log: every AWS call one
	// invocation made (actions/<collector>.jsonl).
	SourceActions = "actions"
)

// Sources lists every valid source, in the manifest schema's order.
var Sources = []string{SourceGuardDuty, SourceCloudTrail, SourceVPCFlow, SourceS3Access,
	SourceCloudWatch, SourceDynamoDB, SourceIAM, SourceInspector, SourceEC2, SourceCase, SourceActions}

// Artifact is one object in the evidence bucket and how it came to be.
type Artifact struct {
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Size      int64  `json:"size"`
	// SHA256 is the hex SHA-256 of the stored bytes, computed by the writer
	// as it streamed them (or by S3 for a server-side copy).
	SHA256 string `json:"sha256"`
	// S3ChecksumSHA256 is the checksum S3 stored with the object (base64), kept
	// beside ours: for a multipart object it is a checksum of parts.
	S3ChecksumSHA256 string         `json:"s3ChecksumSha256,omitempty"`
	ContentType      string         `json:"contentType,omitempty"`
	Source           string         `json:"source"`
	API              string         `json:"api"`
	Request          map[string]any `json:"request,omitempty"`
	Origin           *Origin        `json:"origin,omitempty"`
	Records          int64          `json:"records"`
	FirstEvent       *time.Time     `json:"firstEvent,omitempty"`
	LastEvent        *time.Time     `json:"lastEvent,omitempty"`
	CollectedAt      time.Time      `json:"collectedAt"`
	Collector        string         `json:"collector"`
	CollectorVersion string         `json:"collectorVersion"`
	// ReadWith is the account, region and role the content was read with
	// (the member account's collector role for an organization's member;
	// the hub's own function role otherwise).
	ReadWith *ReadWith `json:"readWith,omitempty"`
}

// ReadWith is the identity an artifact was read with: which account and
// region the calls went to, and the role and session that made them (the
// session is named for the case, so the account's own CloudTrail shows
// every call custody made for it).
type ReadWith struct {
	AccountID   string `json:"accountId"`
	Region      string `json:"region,omitempty"`
	RoleARN     string `json:"roleArn,omitempty"`
	SessionName string `json:"sessionName,omitempty"`
}

// Origin says where an artifact's content came from.
type Origin struct {
	Bucket    string `json:"bucket,omitempty"`
	Key       string `json:"key,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	LogGroup  string `json:"logGroup,omitempty"`
	LogStream string `json:"logStream,omitempty"`
	Table     string `json:"table,omitempty"`
	Shard     string `json:"shard,omitempty"`
	FindingID string `json:"findingId,omitempty"`
	// Description is free text for an origin the fields above do not name.
	Description string `json:"description,omitempty"`
}

// Gap is evidence that could not be had, and what to enable to have it.
type Gap struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
	Fix    string `json:"fix"`
}

// Snapshot is an EBS snapshot taken for the case; it lives in EC2, not in
// the bucket, so it is listed apart from the artifacts.
type Snapshot struct {
	SnapshotID string            `json:"snapshotId"`
	VolumeID   string            `json:"volumeId"`
	InstanceID string            `json:"instanceId"`
	Tags       map[string]string `json:"tags,omitempty"`
	Locked     bool              `json:"locked"`
	// AccountID is the account the snapshot is in (a member's, for an
	// organization's finding).
	AccountID string `json:"accountId,omitempty"`
	// HubCopyID is the copy in the hub account (custody:copySnapshotsToHub),
	// re-encrypted under custody's snapshot key; HubCopyLocked says whether
	// it is snapshot-locked.
	HubCopyID     string `json:"hubCopyId,omitempty"`
	HubCopyLocked bool   `json:"hubCopyLocked,omitempty"`
}

// CollectorResult is a collector's full result, stored in the run folder and
// read by Seal.
type CollectorResult struct {
	Collector        string     `json:"collector"`
	CollectorVersion string     `json:"collectorVersion"`
	Status           string     `json:"status"`
	Error            string     `json:"error,omitempty"`
	Artifacts        []Artifact `json:"artifacts"`
	Gaps             []Gap      `json:"gaps"`
	Warnings         []string   `json:"warnings"`
	Snapshots        []Snapshot `json:"snapshots"`
	StartedAt        time.Time  `json:"startedAt"`
	FinishedAt       time.Time  `json:"finishedAt"`
}

// Run statuses.
const (
	RunComplete = "complete"
	RunPartial  = "partial"
)

// Manifest is the chain of custody of one case run.
type Manifest struct {
	SchemaVersion string            `json:"schemaVersion"`
	CaseID        string            `json:"caseId"`
	RunID         string            `json:"runId"`
	Manual        bool              `json:"manual"`
	Finding       *ManifestFinding  `json:"finding,omitempty"`
	Window        ManifestWindow    `json:"window"`
	Status        string            `json:"status"`
	Bucket        string            `json:"bucket"`
	Gaps          []Gap             `json:"gaps"`
	Warnings      []string          `json:"warnings"`
	Collectors    []CollectorStatus `json:"collectors"`
	Snapshots     []Snapshot        `json:"snapshots"`
	Artifacts     []Artifact        `json:"artifacts"`
	OpenedAt      time.Time         `json:"openedAt"`
	SealedAt      time.Time         `json:"sealedAt"`
	SealedBy      string            `json:"sealedBy"`
}

// ManifestFinding is the finding a run answers.
type ManifestFinding struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Severity  float64   `json:"severity"`
	AccountID string    `json:"accountId"`
	Region    string    `json:"region"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ManifestWindow is the collection window.
type ManifestWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// CollectorStatus is one collector's outcome in the manifest.
type CollectorStatus struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
}
