package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/pivot"
)

// Context keys read from cdk.json (or `cdk -c key=value`). They are the
// operator's whole interface to the stack, so they are named once, here.
const (
	CtxSeverityThreshold    = "custody:severityThreshold"
	CtxFindingTypeInclude   = "custody:findingTypeInclude"
	CtxFindingTypeExclude   = "custody:findingTypeExclude"
	CtxLockMode             = "custody:lockMode"
	CtxRetentionDays        = "custody:retentionDays"
	CtxBreakGlassRoleName   = "custody:breakGlassRoleName"
	CtxInvestigatorRoleName = "custody:investigatorRoleName"
	CtxLookback             = "custody:lookback"
	CtxLookahead            = "custody:lookahead"
	CtxMaxSpan              = "custody:maxSpan"
	CtxInstanceLogGroups    = "custody:instanceLogGroups"
	CtxLogBuckets           = "custody:logBuckets"
	CtxSnapshotLock         = "custody:snapshotLock"
	CtxDynamoDBTables       = "custody:dynamodbTables"
	CtxShardBytes           = "custody:shardBytes"
	CtxShardObjects         = "custody:shardObjects"
	// Organizations (README, "Organizations").
	CtxMemberRoleName          = "custody:memberRoleName"
	CtxHubAccount              = "custody:hubAccount"
	CtxOrganizationID          = "custody:organizationId"
	CtxLogArchiveBuckets       = "custody:logArchiveBuckets"
	CtxLogArchiveKeys          = "custody:logArchiveKeys"
	CtxOrganizationTrailBucket = "custody:organizationTrailBucket"
	CtxForwarderRegions        = "custody:forwarderRegions"
	CtxHubRegion               = "custody:hubRegion"
	CtxCopySnapshotsToHub      = "custody:copySnapshotsToHub"
	CtxPivotDepth              = "custody:pivotDepth"
	CtxPivotMaxIdentities      = "custody:pivotMaxIdentities"
	CtxBaselineDays            = "custody:baselineDays"
	// Containment (README, "Containment (opt-in)"): one mode per action
	// class, off unless set.
	CtxContainEC2       = "custody:containEc2"
	CtxContainAccessKey = "custody:containAccessKey"
	CtxContainRole      = "custody:containRole"
	CtxContainLambda    = "custody:containLambda"
	CtxContainS3Bucket  = "custody:containS3Bucket"
	// CtxContainEC2SubnetNacl is its own key: its ACL cuts every instance
	// of the subnet, not only the finding's.
	CtxContainEC2SubnetNacl = "custody:containEc2SubnetNacl"
	// CtxMemberContainment puts a containment role in the member stack
	// (with the enabled classes' calls) and lets the hub's contain
	// function assume it; off, a member account's case is refused.
	CtxMemberContainment       = "custody:memberContainment"
	CtxMemberContainRoleName   = "custody:memberContainRoleName"
	CtxContainmentProtectedTag = "custody:containmentProtectedTag"
	// Approval (a class in approve mode): how long the workflow waits for
	// a responder's decision before it rejects, and who may assume the
	// approver role (empty: the account's own principals that IAM allows
	// sts:AssumeRole on it, i.e. its administrators).
	CtxApprovalTimeout    = "custody:approvalTimeout"
	CtxApproverPrincipals = "custody:approverPrincipals"
	CtxApproverRoleName   = "custody:approverRoleName"
)

// Containment modes accepted in the custody:contain* keys.
var containModes = []string{"off", "dry-run", "approve", "auto"}

// Object Lock modes accepted in CtxLockMode.
const (
	LockModeGovernance = "GOVERNANCE"
	LockModeCompliance = "COMPLIANCE"
)

// Config is the operator's choice of threshold, filters, lock and window. It
// is read from context once and handed to the stack, so the stack never reads
// context itself and tests can build one directly.
type Config struct {
	// SeverityThreshold: findings at or above it start the workflow.
	SeverityThreshold float64
	// FindingTypeInclude: when not empty, only finding types starting with
	// one of these prefixes start the workflow.
	FindingTypeInclude []string
	// FindingTypeExclude: finding types starting with one of these prefixes
	// never start the workflow.
	FindingTypeExclude []string
	// LockMode is GOVERNANCE or COMPLIANCE. COMPLIANCE is the default: no
	// one, the account root included, can remove a locked version before
	// its retention ends. GOVERNANCE is for drills in a real account: a
	// principal allowed s3:BypassGovernanceRetention can delete, and the
	// root can always rewrite the bucket policy that denies it, so evidence
	// is then only as safe as the root user.
	LockMode string
	// RetentionDays is the bucket's default Object Lock retention.
	RetentionDays int
	// BreakGlassRoleName is the only role that may disable or schedule
	// deletion of the evidence key.
	BreakGlassRoleName string
	// InvestigatorRoleName may read evidence and place legal holds.
	InvestigatorRoleName string
	// Lookback, Lookahead and MaxSpan shape the evidence window; they are Go
	// duration strings because Triage parses them with time.ParseDuration.
	Lookback, Lookahead, MaxSpan string
	// InstanceLogGroups are the CloudWatch log groups (or prefixes ending in
	// "*") an instance's logs are shipped to; collected for instances.
	InstanceLogGroups []string
	// LogBuckets, when set, are the only buckets the log collectors may read
	// (trail, flow log and access log buckets); empty means any bucket of
	// this account.
	LogBuckets []string
	// SnapshotLock, a Go duration in whole days ("720h"), locks each EBS
	// snapshot a case takes with EBS Snapshot Lock (governance); "" leaves
	// them unlocked.
	SnapshotLock string
	// DynamoDBTables are tables whose streams every case collects first
	// (streams keep 24 hours), beside those the finding names.
	DynamoDBTables []string
	// ShardBytes and ShardObjects bound what one invocation of a log
	// collector (cloudtrail, vpcflow, s3access, cloudwatch) reads and
	// copies; past them it fans out over a Map of shards. 0 is no bound on
	// that measure.
	ShardBytes   int64
	ShardObjects int

	// MemberRoleName is the collector role the member stack creates in
	// every member account, and the hub assumes there.
	MemberRoleName string
	// HubAccount is the hub's account, the member stack's default for its
	// HubAccountId parameter ("" when the member stack's deployer gives it).
	HubAccount string
	// OrganizationID ("o-…"), when set, limits the member role's trust and
	// the hub's AssumeRole to the organization's accounts.
	OrganizationID string
	// LogArchiveBuckets are buckets in another account (the log archive)
	// the hub's log collectors read: the organization trail's, central
	// flow log and access log buckets. Their owners grant the hub read in
	// the bucket policy (README).
	LogArchiveBuckets []string
	// LogArchiveKeys are KMS key ARNs (the organization trail's key) the
	// hub may decrypt with, through S3 only.
	LogArchiveKeys []string
	// OrganizationTrailBucket is "bucket" or "bucket/prefix" of the
	// organization trail, read for every member account's records
	// (AWSLogs/o-<org>/<account>/CloudTrail/<region>/…).
	OrganizationTrailBucket string
	// ForwarderRegions are the regions, besides the hub's, whose GuardDuty
	// findings a forwarder stack sends to the hub's event bus.
	ForwarderRegions []string
	// HubRegion is the hub's home region, where the forwarders send (the
	// CLI's region when empty).
	HubRegion string
	// CopySnapshotsToHub copies every EBS snapshot a case takes in a member
	// account into the hub, re-encrypted under custody's snapshot key.
	CopySnapshotsToHub bool
	// PivotDepth and PivotMaxIdentities bound how far a case follows the
	// credentials the attacker made (shared/pivot): hops from the
	// finding's identities, and derived identities in all; what is past
	// them is a lead in the case.
	PivotDepth, PivotMaxIdentities int
	// BaselineDays is the period before the window whose scoped CloudTrail
	// records the entity view compares with (0: none).
	BaselineDays int

	// ContainEC2, ContainAccessKey, ContainRole, ContainLambda and
	// ContainS3Bucket are the containment modes (off, dry-run, approve,
	// auto); all off leaves no trace of containment in the template.
	ContainEC2, ContainAccessKey, ContainRole, ContainLambda, ContainS3Bucket string
	// ContainEC2SubnetNACL is the mode of the deny-all subnet ACL.
	ContainEC2SubnetNACL string
	// MemberContainment: the member stack holds a containment role,
	// MemberContainRoleName, that the hub's contain function assumes for a
	// member account's case.
	MemberContainment     bool
	MemberContainRoleName string
	// ContainmentProtectedTag is key=value: a resource so tagged is never
	// contained.
	ContainmentProtectedTag string
	// ApprovalTimeout is a Go duration (whole seconds): the AwaitApproval
	// state's TimeoutSeconds; past it the plan is rejected.
	ApprovalTimeout string
	// ApproverPrincipals are the IAM principal ARNs the approver role
	// trusts (empty: the account).
	ApproverPrincipals []string
	// ApproverRoleName names the approver role, the only one that may send
	// an approval task's result.
	ApproverRoleName string
}

// DefaultConfig is what an empty context gives; cdk.json repeats these values
// so an operator sees every knob.
func DefaultConfig() Config {
	return Config{
		SeverityThreshold:     4,
		LockMode:              LockModeCompliance,
		RetentionDays:         365,
		BreakGlassRoleName:    "CustodyBreakGlass",
		InvestigatorRoleName:  "CustodyInvestigator",
		Lookback:              "6h",
		Lookahead:             "1h",
		MaxSpan:               "168h",
		ShardBytes:            collect.DefaultBudget.Bytes,
		ShardObjects:          collect.DefaultBudget.Objects,
		MemberRoleName:        "CustodyMember",
		PivotDepth:            pivot.DefaultDepth,
		PivotMaxIdentities:    pivot.DefaultMaxIdentities,
		BaselineDays:          1,
		ContainEC2:            "off",
		ContainAccessKey:      "off",
		ContainRole:           "off",
		ContainLambda:         "off",
		ContainS3Bucket:       "off",
		ContainEC2SubnetNACL:  "off",
		MemberContainRoleName: "CustodyMemberContain",
		// functions/contain's DefaultProtectedTag (a main package: named here).
		ContainmentProtectedTag: "custody:protected=true",
		// shared/contain's DefaultApprovalTimeout.
		ApprovalTimeout:  "24h",
		ApproverRoleName: "CustodyApprover",
	}
}

// ConfigFromContext reads every custody:* key under node (an App or any
// construct below it), falling back to DefaultConfig, and validates the result.
func ConfigFromContext(node constructs.Node) (Config, error) {
	get := func(key string) any { return node.TryGetContext(&key) }
	return configFrom(get)
}

// configFrom is ConfigFromContext over a plain lookup, so the parsing rules
// are testable without a construct tree.
func configFrom(get func(string) any) (Config, error) {
	c := DefaultConfig()
	var err error
	if v := get(CtxSeverityThreshold); v != nil {
		if c.SeverityThreshold, err = toFloat(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxSeverityThreshold, err)
		}
	}
	if v := get(CtxRetentionDays); v != nil {
		f, err := toFloat(v)
		if err != nil {
			return c, fmt.Errorf("context %s: %w", CtxRetentionDays, err)
		}
		if f != float64(int(f)) {
			return c, fmt.Errorf("context %s: %v is not a whole number of days", CtxRetentionDays, v)
		}
		c.RetentionDays = int(f)
	}
	if v := get(CtxShardBytes); v != nil {
		if c.ShardBytes, err = toCount(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxShardBytes, err)
		}
	}
	if v := get(CtxShardObjects); v != nil {
		n, err := toCount(v)
		if err != nil {
			return c, fmt.Errorf("context %s: %w", CtxShardObjects, err)
		}
		c.ShardObjects = int(n)
	}
	for key, dst := range map[string]*int{CtxPivotDepth: &c.PivotDepth, CtxPivotMaxIdentities: &c.PivotMaxIdentities, CtxBaselineDays: &c.BaselineDays} {
		if v := get(key); v != nil {
			n, err := toCount(v)
			if err != nil {
				return c, fmt.Errorf("context %s: %w", key, err)
			}
			*dst = int(n)
		}
	}
	if v := get(CtxFindingTypeInclude); v != nil {
		if c.FindingTypeInclude, err = toStrings(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxFindingTypeInclude, err)
		}
	}
	if v := get(CtxFindingTypeExclude); v != nil {
		if c.FindingTypeExclude, err = toStrings(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxFindingTypeExclude, err)
		}
	}
	if v := get(CtxInstanceLogGroups); v != nil {
		if c.InstanceLogGroups, err = toStrings(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxInstanceLogGroups, err)
		}
	}
	if v := get(CtxDynamoDBTables); v != nil {
		if c.DynamoDBTables, err = toStrings(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxDynamoDBTables, err)
		}
	}
	if v := get(CtxLogBuckets); v != nil {
		if c.LogBuckets, err = toStrings(v); err != nil {
			return c, fmt.Errorf("context %s: %w", CtxLogBuckets, err)
		}
	}
	if v := get(CtxMemberContainment); v != nil {
		switch v {
		case true, "true":
			c.MemberContainment = true
		case false, "false", "":
		default:
			return c, fmt.Errorf("context %s: %v is not true or false", CtxMemberContainment, v)
		}
	}
	if v := get(CtxCopySnapshotsToHub); v != nil {
		switch v {
		case true, "true":
			c.CopySnapshotsToHub = true
		case false, "false", "":
		default:
			return c, fmt.Errorf("context %s: %v is not true or false", CtxCopySnapshotsToHub, v)
		}
	}
	for key, dst := range map[string]*[]string{
		CtxLogArchiveBuckets:  &c.LogArchiveBuckets,
		CtxLogArchiveKeys:     &c.LogArchiveKeys,
		CtxForwarderRegions:   &c.ForwarderRegions,
		CtxApproverPrincipals: &c.ApproverPrincipals,
	} {
		if v := get(key); v != nil {
			if *dst, err = toStrings(v); err != nil {
				return c, fmt.Errorf("context %s: %w", key, err)
			}
		}
	}
	for key, dst := range map[string]*string{
		CtxMemberRoleName:          &c.MemberRoleName,
		CtxHubAccount:              &c.HubAccount,
		CtxOrganizationID:          &c.OrganizationID,
		CtxOrganizationTrailBucket: &c.OrganizationTrailBucket,
		CtxHubRegion:               &c.HubRegion,
		CtxLockMode:                &c.LockMode,
		CtxBreakGlassRoleName:      &c.BreakGlassRoleName,
		CtxInvestigatorRoleName:    &c.InvestigatorRoleName,
		CtxLookback:                &c.Lookback,
		CtxLookahead:               &c.Lookahead,
		CtxMaxSpan:                 &c.MaxSpan,
		CtxSnapshotLock:            &c.SnapshotLock,
		CtxContainEC2:              &c.ContainEC2,
		CtxContainAccessKey:        &c.ContainAccessKey,
		CtxContainRole:             &c.ContainRole,
		CtxContainLambda:           &c.ContainLambda,
		CtxContainS3Bucket:         &c.ContainS3Bucket,
		CtxContainEC2SubnetNacl:    &c.ContainEC2SubnetNACL,
		CtxMemberContainRoleName:   &c.MemberContainRoleName,
		CtxContainmentProtectedTag: &c.ContainmentProtectedTag,
		CtxApprovalTimeout:         &c.ApprovalTimeout,
		CtxApproverRoleName:        &c.ApproverRoleName,
	} {
		if v := get(key); v != nil {
			s, ok := v.(string)
			if !ok {
				return c, fmt.Errorf("context %s: want a string, got %T %v", key, v, v)
			}
			*dst = strings.TrimSpace(s)
		}
	}
	return c, c.Validate()
}

// Validate fails on any value that would deploy a stack that does not do what
// the operator meant, naming the context key, so synth stops before deploy.
func (c Config) Validate() error {
	switch c.LockMode {
	case LockModeGovernance, LockModeCompliance:
	default:
		return fmt.Errorf("context %s: %q is not an Object Lock mode: use %s or %s",
			CtxLockMode, c.LockMode, LockModeGovernance, LockModeCompliance)
	}
	if c.RetentionDays < 1 {
		return fmt.Errorf("context %s: %d: retention must be at least 1 day", CtxRetentionDays, c.RetentionDays)
	}
	// GuardDuty severities run from 1.0 to 8.9 (10 for some types); a
	// threshold outside 0-10 would silently match everything or nothing.
	if c.SeverityThreshold < 0 || c.SeverityThreshold > 10 {
		return fmt.Errorf("context %s: %v is outside GuardDuty's 0-10 severity range", CtxSeverityThreshold, c.SeverityThreshold)
	}
	if err := c.validateOrganization(); err != nil {
		return err
	}
	for key, name := range map[string]string{CtxBreakGlassRoleName: c.BreakGlassRoleName, CtxInvestigatorRoleName: c.InvestigatorRoleName, CtxMemberRoleName: c.MemberRoleName,
		CtxMemberContainRoleName: c.MemberContainRoleName} {
		if name == "" || strings.ContainsAny(name, " :*") {
			return fmt.Errorf("context %s: %q is not an IAM role name", key, name)
		}
	}
	if c.SnapshotLock != "" {
		d, err := time.ParseDuration(c.SnapshotLock)
		if err != nil || d <= 0 || d%(24*time.Hour) != 0 {
			return fmt.Errorf("context %s: %q is not a whole number of days as a Go duration (e.g. 720h)", CtxSnapshotLock, c.SnapshotLock)
		}
	}
	// The window settings reach Triage as its environment: check them with
	// Triage's own rules, so a synth never deploys what Triage refuses.
	env := map[string]string{"CUSTODY_LOOKBACK": c.Lookback, "CUSTODY_LOOKAHEAD": c.Lookahead, "CUSTODY_MAX_SPAN": c.MaxSpan}
	for key, d := range map[string]string{CtxLookback: c.Lookback, CtxLookahead: c.Lookahead, CtxMaxSpan: c.MaxSpan} {
		if _, err := time.ParseDuration(d); err != nil {
			return fmt.Errorf("context %s: %q is not a Go duration (e.g. 6h, 90m): %v", key, d, err)
		}
	}
	if _, err := incident.ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
		return fmt.Errorf("context %s/%s/%s: %v", CtxLookback, CtxLookahead, CtxMaxSpan, err)
	}
	for key, list := range map[string][]string{CtxFindingTypeInclude: c.FindingTypeInclude, CtxFindingTypeExclude: c.FindingTypeExclude} {
		for _, p := range list {
			if p == "" {
				return fmt.Errorf("context %s: an empty prefix would match every finding type", key)
			}
		}
	}
	// The bounds reach the CloudTrail function as its environment: the
	// function's own rules decide.
	if _, err := pivot.BoundsFromEnv(func(k string) string { return c.PivotEnv()[k] }); err != nil {
		key := CtxPivotDepth
		if strings.Contains(err.Error(), pivot.EnvMaxIdentities) {
			key = CtxPivotMaxIdentities
		}
		return fmt.Errorf("context %s: %v", key, err)
	}
	if c.BaselineDays < 0 || c.BaselineDays > 90 {
		return fmt.Errorf("context %s: %d is not a whole number of days from 0 to 90", CtxBaselineDays, c.BaselineDays)
	}
	for key, m := range c.containModes() {
		if !slices.Contains(containModes, m) {
			return fmt.Errorf("context %s: %q is not a containment mode: use %s", key, m, strings.Join(containModes, ", "))
		}
	}
	if k, v, ok := strings.Cut(c.ContainmentProtectedTag, "="); !ok || k == "" || v == "" {
		return fmt.Errorf("context %s: %q is not key=value", CtxContainmentProtectedTag, c.ContainmentProtectedTag)
	}
	if _, err := c.ApprovalWait(); err != nil {
		return err
	}
	for _, p := range c.ApproverPrincipals {
		if !strings.HasPrefix(p, "arn:") || strings.Contains(p, "*") {
			return fmt.Errorf("context %s: %q is not an IAM principal ARN (no wildcards)", CtxApproverPrincipals, p)
		}
	}
	if n := c.ApproverRoleName; n == "" || strings.ContainsAny(n, " :*") {
		return fmt.Errorf("context %s: %q is not an IAM role name", CtxApproverRoleName, n)
	}
	_, err := typePattern(c.FindingTypeInclude, c.FindingTypeExclude)
	return err
}

// ApprovalWait is ApprovalTimeout parsed: whole seconds, from a minute to
// Step Functions' one-year limit on a standard execution.
func (c Config) ApprovalWait() (time.Duration, error) {
	d, err := time.ParseDuration(c.ApprovalTimeout)
	if err != nil || d < time.Minute || d > 365*24*time.Hour || d%time.Second != 0 {
		return 0, fmt.Errorf("context %s: %q is not a Go duration of whole seconds from 1m to 8760h", CtxApprovalTimeout, c.ApprovalTimeout)
	}
	return d, nil
}

// ApprovalOn reports whether some class is in approve mode: only then
// does the template hold the approval states and the approver role.
func (c Config) ApprovalOn() bool {
	for _, m := range c.containModes() {
		if m == "approve" {
			return true
		}
	}
	return false
}

// containModes is each action class's mode by its context key.
func (c Config) containModes() map[string]string {
	return map[string]string{CtxContainEC2: c.ContainEC2, CtxContainAccessKey: c.ContainAccessKey, CtxContainRole: c.ContainRole,
		CtxContainLambda: c.ContainLambda, CtxContainS3Bucket: c.ContainS3Bucket, CtxContainEC2SubnetNacl: c.ContainEC2SubnetNACL}
}

// ContainmentOn reports whether any containment class is not off: only
// then does the template hold the containment state, function and role.
func (c Config) ContainmentOn() bool {
	for _, m := range c.containModes() {
		if m != "off" {
			return true
		}
	}
	return false
}

// ContainEnv is the containment modes as functions/contain reads them.
func (c Config) ContainEnv() map[string]string {
	return map[string]string{
		"CUSTODY_CONTAIN_EC2":             c.ContainEC2,
		"CUSTODY_CONTAIN_ACCESS_KEY":      c.ContainAccessKey,
		"CUSTODY_CONTAIN_ROLE":            c.ContainRole,
		"CUSTODY_CONTAIN_LAMBDA":          c.ContainLambda,
		"CUSTODY_CONTAIN_S3_BUCKET":       c.ContainS3Bucket,
		"CUSTODY_CONTAIN_EC2_SUBNET_NACL": c.ContainEC2SubnetNACL,
		"CUSTODY_PROTECTED_TAG":           c.ContainmentProtectedTag,
		"CUSTODY_APPROVAL_TIMEOUT":        c.ApprovalTimeout,
	}
}

// PivotEnv is the pivot bounds and the baseline as the CloudTrail
// function reads them.
func (c Config) PivotEnv() map[string]string {
	return map[string]string{
		pivot.EnvDepth:         strconv.Itoa(c.PivotDepth),
		pivot.EnvMaxIdentities: strconv.Itoa(c.PivotMaxIdentities),
		// functions/cloudtrail's EnvBaselineDays (a main package: named here).
		"CUSTODY_BASELINE_DAYS": strconv.Itoa(c.BaselineDays),
	}
}

// toFloat accepts a JSON number (cdk.json) or a numeric string (`-c key=7`).
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	default:
		return 0, fmt.Errorf("want a number, got %T %v", v, v)
	}
}

// toCount accepts a whole, non-negative number (JSON or a numeric string).
func toCount(v any) (int64, error) {
	f, err := toFloat(v)
	if err != nil {
		return 0, err
	}
	if f < 0 || f != float64(int64(f)) {
		return 0, fmt.Errorf("%v is not a whole number of at least 0", v)
	}
	return int64(f), nil
}

// toStrings accepts a JSON list (cdk.json), or from `-c` a JSON list string or
// a comma-separated string.
func toStrings(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings, got element %T %v", e, e)
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	case []string:
		return x, nil
	case string:
		x = strings.TrimSpace(x)
		if x == "" {
			return nil, nil
		}
		if strings.HasPrefix(x, "[") {
			var out []string
			if err := json.Unmarshal([]byte(x), &out); err != nil {
				return nil, fmt.Errorf("%q is not a JSON list of strings: %v", x, err)
			}
			return out, nil
		}
		var out []string
		for _, s := range strings.Split(x, ",") {
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("want a list of strings, got %T %v", v, v)
	}
}

var (
	orgIDPattern     = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	bucketPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	kmsKeyARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
)

// validateOrganization checks the organization keys: each names its key
// and what a valid value looks like.
func (c Config) validateOrganization() error {
	if c.HubAccount != "" && !finding.ValidAccountID(c.HubAccount) {
		return fmt.Errorf("context %s: %q is not a twelve-digit account ID", CtxHubAccount, c.HubAccount)
	}
	if c.OrganizationID != "" && !orgIDPattern.MatchString(c.OrganizationID) {
		return fmt.Errorf("context %s: %q is not an organization ID (o- and 10 to 32 lower-case letters or digits)", CtxOrganizationID, c.OrganizationID)
	}
	for _, b := range c.LogArchiveBuckets {
		if !bucketPattern.MatchString(b) {
			return fmt.Errorf("context %s: %q is not a bucket name", CtxLogArchiveBuckets, b)
		}
	}
	for _, k := range c.LogArchiveKeys {
		if !kmsKeyARNPattern.MatchString(k) {
			return fmt.Errorf("context %s: %q is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)", CtxLogArchiveKeys, k)
		}
	}
	if t := c.OrganizationTrailBucket; t != "" {
		bucket, _, _ := strings.Cut(t, "/")
		if !bucketPattern.MatchString(bucket) {
			return fmt.Errorf("context %s: %q is not bucket or bucket/prefix", CtxOrganizationTrailBucket, t)
		}
		if !slices.Contains(c.LogArchiveBuckets, bucket) && !slices.Contains(c.LogBuckets, bucket) && len(c.LogBuckets) > 0 {
			return fmt.Errorf("context %s: bucket %q is in neither %s nor %s: the hub could not read it", CtxOrganizationTrailBucket, bucket, CtxLogArchiveBuckets, CtxLogBuckets)
		}
	}
	if c.HubRegion != "" && !finding.ValidRegion(c.HubRegion) {
		return fmt.Errorf("context %s: %q is not an AWS region", CtxHubRegion, c.HubRegion)
	}
	for _, r := range c.ForwarderRegions {
		if !finding.ValidRegion(r) {
			return fmt.Errorf("context %s: %q is not an AWS region", CtxForwarderRegions, r)
		}
		if r == c.HubRegion {
			return fmt.Errorf("context %s: %s is the hub's own region (%s): its findings reach the hub without a forwarder", CtxForwarderRegions, r, CtxHubRegion)
		}
	}
	return nil
}
