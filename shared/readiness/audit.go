package readiness

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/faults"
)

// TrailReader is what the CloudTrail checks call.
type TrailReader interface {
	DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error)
	GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
	GetEventSelectors(context.Context, *cloudtrail.GetEventSelectorsInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetEventSelectorsOutput, error)
}

// NetworkReader is what the flow log check calls.
type NetworkReader interface {
	ec2.DescribeVpcsAPIClient
	ec2.DescribeFlowLogsAPIClient
}

// BucketReader is what the access logging check calls.
type BucketReader interface {
	s3.ListBucketsAPIClient
	s3.ListObjectsV2APIClient
	GetBucketLogging(context.Context, *s3.GetBucketLoggingInput, ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	GetObjectLockConfiguration(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	GetBucketEncryption(context.Context, *s3.GetBucketEncryptionInput, ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
}

// DetectorReader is what the GuardDuty checks call.
type DetectorReader interface {
	guardduty.ListDetectorsAPIClient
	guardduty.ListOrganizationAdminAccountsAPIClient
	guardduty.ListMembersAPIClient
	GetDetector(context.Context, *guardduty.GetDetectorInput, ...func(*guardduty.Options)) (*guardduty.GetDetectorOutput, error)
}

// TableReader is what the stream check calls.
type TableReader interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// InspectorReader is what the Inspector check calls.
type InspectorReader interface {
	BatchGetAccountStatus(context.Context, *inspector2.BatchGetAccountStatusInput, ...func(*inspector2.Options)) (*inspector2.BatchGetAccountStatusOutput, error)
}

// StackReader is what the member stack check calls.
type StackReader interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// Clients are the readers of one account and region.
type Clients struct {
	Trails    TrailReader
	Network   NetworkReader
	Buckets   BucketReader
	LogGroups cloudwatchlogs.DescribeLogGroupsAPIClient
	Detectors DetectorReader
	Tables    TableReader
	Inspector InspectorReader
	Stacks    StackReader
}

// NewClients builds the SDK clients of cfg's account and region.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		Trails:    cloudtrail.NewFromConfig(cfg),
		Network:   ec2.NewFromConfig(cfg),
		Buckets:   s3.NewFromConfig(cfg, awsconfig.S3Options),
		LogGroups: cloudwatchlogs.NewFromConfig(cfg),
		Detectors: guardduty.NewFromConfig(cfg),
		Tables:    dynamodb.NewFromConfig(cfg),
		Inspector: inspector2.NewFromConfig(cfg),
		Stacks:    cloudformation.NewFromConfig(cfg),
	}
}

// Target is one account and region to audit.
type Target struct {
	Account, Region string
	// Member is a member account of the organization deployment (not the
	// hub): the member stack is checked there.
	Member bool
	// Buckets: the account's buckets are checked in this target (buckets
	// are listed account-wide; one target per account sets it).
	Buckets bool
	Clients Clients
}

// Options shape the audit.
type Options struct {
	// Lookback is custody:lookback: a log group must keep at least this.
	Lookback time.Duration
	// Tables is custody:dynamodbTables.
	Tables []string
	// DataBuckets are the buckets whose S3 data events must be recorded
	// (the buckets that matter); none: any S3 data event selector passes.
	DataBuckets []string
	// EvidenceBucket is custody's own bucket, checked in the hub's first
	// target; "" skips the check.
	EvidenceBucket string
	// Organization adds the organization deployment's checks: the
	// delegated administrator (at the hub) and the member stack (in members).
	Organization bool
	// Members are the organization's member accounts audited; at the hub,
	// each must be an enabled GuardDuty member of its detector.
	Members []string
	// MemberStack is the member stack's name (default CustodyMember).
	MemberStack string
	// Now stamps the report (default time.Now).
	Now func() time.Time
}

// Audit runs every check on every target, in order; a call that fails
// makes its check unknown, never the audit.
func Audit(ctx context.Context, opts Options, targets []Target) *Report {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.MemberStack == "" {
		opts.MemberStack = "CustodyMember"
	}
	r := &Report{GeneratedAt: now().UTC(), Lookback: opts.Lookback.String()}
	for _, t := range targets {
		a := &auditor{opts: opts, t: t, c: t.Clients}
		a.trails(ctx)
		a.flowLogs(ctx)
		if t.Buckets && !t.Member && opts.EvidenceBucket != "" {
			a.evidenceBucket(ctx)
		}
		if t.Buckets {
			a.accessLogging(ctx)
		}
		a.logRetention(ctx)
		a.guardDuty(ctx)
		a.streams(ctx)
		a.inspector(ctx)
		if opts.Organization && t.Member {
			a.memberStack(ctx)
		}
		order := map[string]int{}
		for i, c := range Checks {
			order[c.ID] = i
		}
		sort.SliceStable(a.out, func(i, j int) bool { return order[a.out[i].ID] < order[a.out[j].ID] })
		r.Results = append(r.Results, a.out...)
	}
	return r
}

type auditor struct {
	opts Options
	t    Target
	c    Clients
	out  []Result
}

func (a *auditor) add(c Check, s Status, format string, args ...any) {
	a.out = append(a.out, Result{Check: c, Account: a.t.Account, Region: a.t.Region, Status: s, Detail: fmt.Sprintf(format, args...)})
}

// unknown records checks that could not be read, naming the call and how
// it failed (denied: the permission; unimplemented: the endpoint).
func (a *auditor) unknown(op string, err error, checks ...Check) {
	f := faults.Of(op, err)
	for _, c := range checks {
		a.add(c, Unknown, "%s: %s (%v)", op, f.Class, err)
	}
}

// trail is a trail that covers the region, with what the checks read.
type trail struct {
	t         cttypes.Trail
	logging   bool
	selectors *cloudtrail.GetEventSelectorsOutput
}

func (tr trail) name() string { return aws.ToString(tr.t.Name) }

func (a *auditor) trails(ctx context.Context) {
	ctChecks := []Check{CheckTrail, CheckManagementEvents, CheckS3DataEvents, CheckLambdaDataEvents, CheckTrailReadable, CheckLogFileValidation}
	out, err := a.c.Trails.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		a.unknown("cloudtrail:DescribeTrails", err, ctChecks...)
		return
	}
	var covering, single []trail
	var notes []string
	for _, t := range out.TrailList {
		wide := aws.ToBool(t.IsMultiRegionTrail) || aws.ToBool(t.IsOrganizationTrail)
		if !wide && aws.ToString(t.HomeRegion) != a.t.Region {
			continue
		}
		st, err := a.c.Trails.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: or2(t.TrailARN, t.Name)})
		if err != nil {
			a.unknown("cloudtrail:GetTrailStatus "+aws.ToString(t.Name), err, ctChecks...)
			return
		}
		sel, err := a.c.Trails.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: or2(t.TrailARN, t.Name)})
		if err != nil {
			a.unknown("cloudtrail:GetEventSelectors "+aws.ToString(t.Name), err, ctChecks...)
			return
		}
		tr := trail{t: t, logging: aws.ToBool(st.IsLogging), selectors: sel}
		switch {
		case !tr.logging:
			notes = append(notes, tr.name()+" is not logging")
		case wide:
			covering = append(covering, tr)
		default:
			single = append(single, tr)
			notes = append(notes, tr.name()+" is single-region")
		}
	}
	if len(covering) > 0 {
		var names []string
		for _, tr := range covering {
			kind := "multi-region"
			if aws.ToBool(tr.t.IsOrganizationTrail) {
				kind = "organization"
			}
			names = append(names, fmt.Sprintf("%s (%s, s3://%s)", tr.name(), kind, aws.ToString(tr.t.S3BucketName)))
		}
		a.add(CheckTrail, Pass, "%s", list(names, 3))
	} else if len(out.TrailList) == 0 {
		a.add(CheckTrail, Fail, "no trail")
	} else {
		a.add(CheckTrail, Fail, "no multi-region or organization trail is logging: %s", list(notes, 3))
	}
	logging := append(covering, single...)
	if len(logging) == 0 {
		for _, c := range ctChecks[1:] {
			a.add(c, Fail, "no trail is logging in the region")
		}
		return
	}
	a.selectorCheck(CheckManagementEvents, logging, func(tr trail) (bool, bool) { return management(tr.selectors) })
	a.s3DataEvents(logging)
	a.trailReadable(ctx, logging)
	a.selectorCheck(CheckLambdaDataEvents, logging, func(tr trail) (bool, bool) { return dataEvents(tr.selectors, "AWS::Lambda::Function") })
	var valid, invalid []string
	for _, tr := range logging {
		if aws.ToBool(tr.t.LogFileValidationEnabled) {
			valid = append(valid, tr.name())
		} else {
			invalid = append(invalid, tr.name())
		}
	}
	if len(valid) > 0 {
		a.add(CheckLogFileValidation, Pass, "validated: %s", list(valid, 3))
	} else {
		a.add(CheckLogFileValidation, Fail, "no digest files: %s", list(invalid, 3))
	}
}

// selectorCheck passes when one logging trail records both reads and
// writes of what covers reports, or two trails do between them.
func (a *auditor) selectorCheck(c Check, logging []trail, covers func(trail) (read, write bool)) {
	var read, write bool
	var names []string
	for _, tr := range logging {
		r, w := covers(tr)
		if r || w {
			names = append(names, tr.name()+" ("+readWrite(r, w)+")")
		}
		read, write = read || r, write || w
	}
	switch {
	case read && write:
		a.add(c, Pass, "%s", list(names, 3))
	case read || write:
		a.add(c, Fail, "only %s: %s", readWrite(read, write), list(names, 3))
	default:
		var all []string
		for _, tr := range logging {
			all = append(all, tr.name())
		}
		a.add(c, Fail, "not selected by %s", list(all, 3))
	}
}

func readWrite(r, w bool) string {
	switch {
	case r && w:
		return "read and write"
	case r:
		return "read"
	default:
		return "write"
	}
}

func rwOf(t cttypes.ReadWriteType) (bool, bool) {
	switch t {
	case cttypes.ReadWriteTypeReadOnly:
		return true, false
	case cttypes.ReadWriteTypeWriteOnly:
		return false, true
	default:
		return true, true
	}
}

// advancedRW reads an advanced selector's readOnly field.
func advancedRW(fs []cttypes.AdvancedFieldSelector) (bool, bool) {
	for _, f := range fs {
		if aws.ToString(f.Field) == "readOnly" && len(f.Equals) == 1 {
			ro := f.Equals[0] == "true"
			return ro, !ro
		}
	}
	return true, true
}

func fieldEquals(fs []cttypes.AdvancedFieldSelector, field, value string) bool {
	for _, f := range fs {
		if aws.ToString(f.Field) != field {
			continue
		}
		for _, v := range f.Equals {
			if v == value {
				return true
			}
		}
		return false
	}
	return false
}

// management: a trail with no selectors at all records management
// events, read and write (CloudTrail's default).
func management(s *cloudtrail.GetEventSelectorsOutput) (read, write bool) {
	if len(s.EventSelectors) == 0 && len(s.AdvancedEventSelectors) == 0 {
		return true, true
	}
	for _, es := range s.EventSelectors {
		if es.IncludeManagementEvents == nil || *es.IncludeManagementEvents {
			r, w := rwOf(es.ReadWriteType)
			read, write = read || r, write || w
		}
	}
	for _, as := range s.AdvancedEventSelectors {
		if fieldEquals(as.FieldSelectors, "eventCategory", "Management") {
			r, w := advancedRW(as.FieldSelectors)
			read, write = read || r, write || w
		}
	}
	return read, write
}

func dataEvents(s *cloudtrail.GetEventSelectorsOutput, resourceType string) (read, write bool) {
	for _, es := range s.EventSelectors {
		for _, dr := range es.DataResources {
			if aws.ToString(dr.Type) == resourceType {
				r, w := rwOf(es.ReadWriteType)
				read, write = read || r, write || w
			}
		}
	}
	for _, as := range s.AdvancedEventSelectors {
		if fieldEquals(as.FieldSelectors, "eventCategory", "Data") && fieldEquals(as.FieldSelectors, "resources.type", resourceType) {
			r, w := advancedRW(as.FieldSelectors)
			read, write = read || r, write || w
		}
	}
	return read, write
}

func or2(a, b *string) *string {
	if aws.ToString(a) != "" {
		return a
	}
	return b
}

// flowFields are the fields the flow log extract needs to place a record
// in the scope and the window (the v2 default format carries them all).
var flowFields = []string{"interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "start", "end", "action"}

func (a *auditor) flowLogs(ctx context.Context) {
	var vpcs []ec2types.Vpc
	p := ec2.NewDescribeVpcsPaginator(a.c.Network, &ec2.DescribeVpcsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.unknown("ec2:DescribeVpcs", err, CheckFlowLogs)
			return
		}
		vpcs = append(vpcs, page.Vpcs...)
	}
	if len(vpcs) == 0 {
		a.add(CheckFlowLogs, NotApplicable, "no VPC")
		return
	}
	byResource := map[string][]ec2types.FlowLog{}
	fp := ec2.NewDescribeFlowLogsPaginator(a.c.Network, &ec2.DescribeFlowLogsInput{})
	for fp.HasMorePages() {
		page, err := fp.NextPage(ctx)
		if err != nil {
			a.unknown("ec2:DescribeFlowLogs", err, CheckFlowLogs)
			return
		}
		for _, f := range page.FlowLogs {
			byResource[aws.ToString(f.ResourceId)] = append(byResource[aws.ToString(f.ResourceId)], f)
		}
	}
	var without, short, with []string
	for _, v := range vpcs {
		id := aws.ToString(v.VpcId)
		name := vpcName(v)
		fls := byResource[id]
		if len(fls) == 0 {
			without = append(without, name)
			continue
		}
		best := []string(nil)
		for _, f := range fls {
			missing := missingFields(aws.ToString(f.LogFormat))
			if best == nil || len(missing) < len(best) {
				best = missing
			}
		}
		if len(best) > 0 {
			short = append(short, fmt.Sprintf("%s lacks %s", name, strings.Join(best, " ")))
		} else {
			with = append(with, fmt.Sprintf("%s (%s)", name, formatName(aws.ToString(fls[0].LogFormat))))
		}
	}
	switch {
	case len(without) > 0 || len(short) > 0:
		var parts []string
		if len(without) > 0 {
			parts = append(parts, "no flow log: "+list(without, 5))
		}
		if len(short) > 0 {
			parts = append(parts, "format: "+list(short, 5))
		}
		a.add(CheckFlowLogs, Fail, "%s", strings.Join(parts, "; "))
	default:
		a.add(CheckFlowLogs, Pass, "%d VPCs: %s", len(with), list(with, 3))
	}
}

func vpcName(v ec2types.Vpc) string {
	for _, t := range v.Tags {
		if aws.ToString(t.Key) == "Name" && aws.ToString(t.Value) != "" {
			return aws.ToString(v.VpcId) + " (" + aws.ToString(t.Value) + ")"
		}
	}
	return aws.ToString(v.VpcId)
}

// missingFields lists the flowFields a format lacks ("" is the default
// format, which has them all).
func missingFields(format string) []string {
	if format == "" {
		return nil
	}
	has := map[string]bool{}
	for _, f := range strings.Fields(format) {
		has[strings.TrimSuffix(strings.TrimPrefix(f, "${"), "}")] = true
	}
	var missing []string
	for _, f := range flowFields {
		if !has[f] {
			missing = append(missing, f)
		}
	}
	return missing
}

func formatName(format string) string {
	if format == "" || format == defaultFlowFormat {
		return "default format"
	}
	return fmt.Sprintf("custom format, %d fields", len(strings.Fields(format)))
}

const defaultFlowFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

func (a *auditor) accessLogging(ctx context.Context) {
	var names []string
	p := s3.NewListBucketsPaginator(a.c.Buckets, &s3.ListBucketsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.unknown("s3:ListBuckets", err, CheckAccessLogging)
			return
		}
		for _, b := range page.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
	}
	if len(names) == 0 {
		a.add(CheckAccessLogging, NotApplicable, "no bucket")
		return
	}
	logged, targets := map[string]bool{}, map[string]bool{}
	for _, b := range names {
		out, err := a.c.Buckets.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(b)})
		if err != nil {
			a.unknown("s3:GetBucketLogging "+b, err, CheckAccessLogging)
			return
		}
		if out.LoggingEnabled != nil {
			logged[b] = true
			targets[aws.ToString(out.LoggingEnabled.TargetBucket)] = true
		}
	}
	var without []string
	for _, b := range names {
		// A log target logging to itself would log its own deliveries:
		// targets are exempt.
		if !logged[b] && !targets[b] {
			without = append(without, b)
		}
	}
	if len(without) > 0 {
		a.add(CheckAccessLogging, Fail, "no access logging: %s", list(without, 5))
		return
	}
	a.add(CheckAccessLogging, Pass, "%d buckets logged, %d log targets", len(logged), len(targets))
}

func (a *auditor) logRetention(ctx context.Context) {
	days := int32(math.Ceil(a.opts.Lookback.Hours() / 24))
	var short []string
	n := 0
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(a.c.LogGroups, &cloudwatchlogs.DescribeLogGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.unknown("logs:DescribeLogGroups", err, CheckLogRetention)
			return
		}
		for _, g := range page.LogGroups {
			n++
			if g.RetentionInDays != nil && *g.RetentionInDays < days {
				short = append(short, fmt.Sprintf("%s (%d days)", aws.ToString(g.LogGroupName), *g.RetentionInDays))
			}
		}
	}
	switch {
	case n == 0:
		a.add(CheckLogRetention, NotApplicable, "no log group")
	case len(short) > 0:
		a.add(CheckLogRetention, Fail, "shorter than the lookback (%d days): %s", days, list(short, 5))
	default:
		a.add(CheckLogRetention, Pass, "%d groups keep at least %d days", n, days)
	}
}

// protectionPlans are the detector features whose findings custody
// answers.
var protectionPlans = []gdtypes.DetectorFeatureResult{
	gdtypes.DetectorFeatureResultS3DataEvents, gdtypes.DetectorFeatureResultEksAuditLogs,
	gdtypes.DetectorFeatureResultEbsMalwareProtection, gdtypes.DetectorFeatureResultRdsLoginEvents,
	gdtypes.DetectorFeatureResultLambdaNetworkLogs, gdtypes.DetectorFeatureResultRuntimeMonitoring,
}

func (a *auditor) guardDuty(ctx context.Context) {
	checks := []Check{CheckGuardDuty, CheckGuardDutyProtection}
	var ids []string
	p := guardduty.NewListDetectorsPaginator(a.c.Detectors, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.unknown("guardduty:ListDetectors", err, checks...)
			return
		}
		ids = append(ids, page.DetectorIds...)
	}
	if a.opts.Organization && !a.t.Member {
		a.delegatedAdmin(ctx)
	}
	if len(ids) == 0 {
		a.add(CheckGuardDuty, Fail, "no detector")
		a.add(CheckGuardDutyProtection, NotApplicable, "no detector (guardduty.enabled)")
		return
	}
	d, err := a.c.Detectors.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(ids[0])})
	if err != nil {
		a.unknown("guardduty:GetDetector", err, checks...)
		return
	}
	if d.Status != gdtypes.DetectorStatusEnabled {
		a.add(CheckGuardDuty, Fail, "detector %s is %s", ids[0], d.Status)
		a.add(CheckGuardDutyProtection, NotApplicable, "detector disabled (guardduty.enabled)")
		return
	}
	a.add(CheckGuardDuty, Pass, "detector %s", ids[0])
	if a.opts.Organization && !a.t.Member && len(a.opts.Members) > 0 {
		a.guardDutyMembers(ctx, ids[0])
	}
	on := map[gdtypes.DetectorFeatureResult]bool{}
	for _, f := range d.Features {
		if f.Status == gdtypes.FeatureStatusEnabled {
			on[f.Name] = true
		}
	}
	var off []string
	for _, f := range protectionPlans {
		if !on[f] {
			off = append(off, string(f))
		}
	}
	if len(off) > 0 {
		a.add(CheckGuardDutyProtection, Fail, "off: %s", strings.Join(off, " "))
		return
	}
	a.add(CheckGuardDutyProtection, Pass, "every plan on")
}

func (a *auditor) delegatedAdmin(ctx context.Context) {
	var admins []string
	p := guardduty.NewListOrganizationAdminAccountsPaginator(a.c.Detectors, &guardduty.ListOrganizationAdminAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.unknown("guardduty:ListOrganizationAdminAccounts (from the management account)", err, CheckGuardDutyAdmin)
			return
		}
		for _, ad := range page.AdminAccounts {
			if ad.AdminStatus == gdtypes.AdminStatusEnabled {
				admins = append(admins, aws.ToString(ad.AdminAccountId))
			}
		}
	}
	if len(admins) == 0 {
		a.add(CheckGuardDutyAdmin, Fail, "no delegated administrator")
		return
	}
	a.add(CheckGuardDutyAdmin, Pass, "delegated administrator %s", strings.Join(admins, ", "))
}

func (a *auditor) streams(ctx context.Context) {
	if len(a.opts.Tables) == 0 {
		a.add(CheckStreams, NotApplicable, "no table configured (custody:dynamodbTables)")
		return
	}
	var without, with []string
	for _, name := range a.opts.Tables {
		out, err := a.c.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			if faults.Is(err, faults.InvalidRequest) {
				without = append(without, name+" (no such table)")
				continue
			}
			a.unknown("dynamodb:DescribeTable "+name, err, CheckStreams)
			return
		}
		if s := out.Table.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) {
			without = append(without, name)
			continue
		}
		with = append(with, name+" ("+string(out.Table.StreamSpecification.StreamViewType)+")")
	}
	if len(without) > 0 {
		a.add(CheckStreams, Fail, "no stream: %s", list(without, 5))
		return
	}
	a.add(CheckStreams, Pass, "%s", list(with, 5))
}

func (a *auditor) inspector(ctx context.Context) {
	out, err := a.c.Inspector.BatchGetAccountStatus(ctx, &inspector2.BatchGetAccountStatusInput{AccountIds: []string{a.t.Account}})
	if err != nil {
		a.unknown("inspector2:BatchGetAccountStatus", err, CheckInspector)
		return
	}
	if len(out.Accounts) == 0 {
		a.add(CheckInspector, Fail, "no status for account %s", a.t.Account)
		return
	}
	rs := out.Accounts[0].ResourceState
	if rs == nil {
		a.add(CheckInspector, Fail, "Inspector is %s", out.Accounts[0].State.Status)
		return
	}
	states := map[string]bool{
		"EC2":    rs.Ec2 != nil && rs.Ec2.Status == "ENABLED",
		"ECR":    rs.Ecr != nil && rs.Ecr.Status == "ENABLED",
		"LAMBDA": rs.Lambda != nil && rs.Lambda.Status == "ENABLED",
	}
	var off []string
	for k, v := range states {
		if !v {
			off = append(off, k)
		}
	}
	sort.Strings(off)
	if len(off) > 0 {
		a.add(CheckInspector, Fail, "not scanning: %s", strings.Join(off, " "))
		return
	}
	a.add(CheckInspector, Pass, "scanning EC2 ECR LAMBDA")
}

func (a *auditor) memberStack(ctx context.Context) {
	out, err := a.c.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(a.opts.MemberStack)})
	if err != nil {
		if faults.Is(err, faults.InvalidRequest) {
			a.add(CheckMemberStack, Fail, "no stack %s", a.opts.MemberStack)
			return
		}
		a.unknown("cloudformation:DescribeStacks "+a.opts.MemberStack, err, CheckMemberStack)
		return
	}
	if len(out.Stacks) > 0 {
		switch st := out.Stacks[0].StackStatus; st {
		case cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete, cfntypes.StackStatusUpdateRollbackComplete:
			a.add(CheckMemberStack, Pass, "%s %s", a.opts.MemberStack, st)
		default:
			a.add(CheckMemberStack, Fail, "%s is %s", a.opts.MemberStack, st)
		}
		return
	}
	a.add(CheckMemberStack, Fail, "no stack %s", a.opts.MemberStack)
}

// s3DataEvents is selectorCheck for S3, and, with DataBuckets, that every
// one of them is selected.
func (a *auditor) s3DataEvents(logging []trail) {
	a.selectorCheck(CheckS3DataEvents, logging, func(tr trail) (bool, bool) { return dataEvents(tr.selectors, "AWS::S3::Object") })
	last := &a.out[len(a.out)-1]
	if last.Status != Pass || len(a.opts.DataBuckets) == 0 {
		return
	}
	var uncovered []string
	for _, b := range a.opts.DataBuckets {
		covered := false
		for _, tr := range logging {
			covered = covered || s3Covers(tr.selectors, b)
		}
		if !covered {
			uncovered = append(uncovered, b)
		}
	}
	if len(uncovered) > 0 {
		last.Status = Fail
		last.Detail = "no selector covers " + list(uncovered, 5) + " (" + last.Detail + ")"
	}
}

// s3Covers: an S3 object data event selector of s records bucket's
// objects (a basic selector's values "arn:aws:s3" or "arn:aws:s3:::" are
// every bucket; an advanced selector without resources.ARN is too).
func s3Covers(s *cloudtrail.GetEventSelectorsOutput, bucket string) bool {
	arn := "arn:aws:s3:::" + bucket
	for _, es := range s.EventSelectors {
		for _, dr := range es.DataResources {
			if aws.ToString(dr.Type) != "AWS::S3::Object" {
				continue
			}
			for _, v := range dr.Values {
				if v == "arn:aws:s3" || v == "arn:aws:s3:::" || v == arn || strings.HasPrefix(v, arn+"/") {
					return true
				}
			}
		}
	}
	for _, as := range s.AdvancedEventSelectors {
		if !fieldEquals(as.FieldSelectors, "eventCategory", "Data") || !fieldEquals(as.FieldSelectors, "resources.type", "AWS::S3::Object") {
			continue
		}
		named := false
		for _, f := range as.FieldSelectors {
			if aws.ToString(f.Field) != "resources.ARN" {
				continue
			}
			named = true
			for _, v := range append(append([]string{}, f.Equals...), f.StartsWith...) {
				if v == arn || v == arn+"/" || strings.HasPrefix(arn+"/", v) {
					return true
				}
			}
		}
		if !named {
			return true
		}
	}
	return false
}

// trailReadable reads the first byte of one log file of each logging
// trail, as the collector would: s3:GetObject, and kms:Decrypt when the
// files are encrypted with the trail's key.
func (a *auditor) trailReadable(ctx context.Context, logging []trail) {
	var read, empty, denied []string
	for _, tr := range logging {
		bucket := aws.ToString(tr.t.S3BucketName)
		prefix := "AWSLogs/"
		if p := aws.ToString(tr.t.S3KeyPrefix); p != "" {
			prefix = strings.TrimSuffix(p, "/") + "/AWSLogs/"
		}
		list, err := a.c.Buckets.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
		if err != nil {
			if faults.Is(err, faults.Denied) {
				denied = append(denied, fmt.Sprintf("%s: s3:ListBucket on %s denied", tr.name(), bucket))
				continue
			}
			a.unknown("s3:ListObjectsV2 "+bucket, err, CheckTrailReadable)
			return
		}
		if len(list.Contents) == 0 {
			empty = append(empty, tr.name())
			continue
		}
		key := aws.ToString(list.Contents[0].Key)
		obj, err := a.c.Buckets.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-0")})
		if err != nil {
			if faults.Is(err, faults.Denied) {
				denied = append(denied, fmt.Sprintf("%s: s3://%s/%s: %v", tr.name(), bucket, key, err))
				continue
			}
			a.unknown("s3:GetObject "+bucket, err, CheckTrailReadable)
			return
		}
		obj.Body.Close()
		via := "s3:GetObject"
		if aws.ToString(tr.t.KmsKeyId) != "" {
			via += " and kms:Decrypt"
		}
		read = append(read, fmt.Sprintf("%s (%s)", tr.name(), via))
	}
	switch {
	case len(denied) > 0:
		a.add(CheckTrailReadable, Fail, "%s", list(denied, 3))
	case len(read) > 0:
		a.add(CheckTrailReadable, Pass, "read one log file of %s", list(read, 3))
	default:
		a.add(CheckTrailReadable, NotApplicable, "no log file delivered yet: %s", list(empty, 3))
	}
}

// evidenceBucket checks what an emulator deploy drops (DESIGN.md): the
// lock with a default retention, the bucket policy, SSE-KMS.
func (a *auditor) evidenceBucket(ctx context.Context) {
	b := aws.String(a.opts.EvidenceBucket)
	var missing, found []string
	lock, err := a.c.Buckets.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	switch {
	case err != nil && !faults.Is(err, faults.InvalidRequest):
		a.unknown("s3:GetObjectLockConfiguration "+a.opts.EvidenceBucket, err, CheckEvidenceBucket)
		return
	case err != nil || lock.ObjectLockConfiguration == nil || lock.ObjectLockConfiguration.ObjectLockEnabled != "Enabled":
		missing = append(missing, "Object Lock")
	case lock.ObjectLockConfiguration.Rule == nil || lock.ObjectLockConfiguration.Rule.DefaultRetention == nil:
		missing = append(missing, "a default retention")
	default:
		r := lock.ObjectLockConfiguration.Rule.DefaultRetention
		found = append(found, fmt.Sprintf("lock %s %d days", r.Mode, aws.ToInt32(r.Days)))
	}
	pol, err := a.c.Buckets.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
	switch {
	case err != nil && !faults.Is(err, faults.InvalidRequest):
		a.unknown("s3:GetBucketPolicy "+a.opts.EvidenceBucket, err, CheckEvidenceBucket)
		return
	case err != nil || !strings.Contains(aws.ToString(pol.Policy), "s3:DeleteObjectVersion"):
		missing = append(missing, "the bucket policy's deny of s3:DeleteObjectVersion")
	default:
		found = append(found, "policy")
	}
	enc, err := a.c.Buckets.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	kms := false
	if err == nil && enc.ServerSideEncryptionConfiguration != nil {
		for _, r := range enc.ServerSideEncryptionConfiguration.Rules {
			if d := r.ApplyServerSideEncryptionByDefault; d != nil && strings.HasPrefix(string(d.SSEAlgorithm), "aws:kms") {
				kms = true
			}
		}
	} else if err != nil && !faults.Is(err, faults.InvalidRequest) {
		a.unknown("s3:GetBucketEncryption "+a.opts.EvidenceBucket, err, CheckEvidenceBucket)
		return
	}
	if kms {
		found = append(found, "SSE-KMS")
	} else {
		missing = append(missing, "SSE-KMS")
	}
	if len(missing) > 0 {
		a.add(CheckEvidenceBucket, Fail, "%s lacks %s", a.opts.EvidenceBucket, strings.Join(missing, ", "))
		return
	}
	a.add(CheckEvidenceBucket, Pass, "%s: %s", a.opts.EvidenceBucket, strings.Join(found, ", "))
}

// guardDutyMembers: each member account is an enabled member of the hub's
// detector (relationshipStatus Enabled).
func (a *auditor) guardDutyMembers(ctx context.Context, detector string) {
	status := map[string]string{}
	p := guardduty.NewListMembersPaginator(a.c.Detectors, &guardduty.ListMembersInput{DetectorId: aws.String(detector), OnlyAssociated: aws.String("false")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.unknown("guardduty:ListMembers", err, CheckGuardDutyMembers)
			return
		}
		for _, m := range page.Members {
			status[aws.ToString(m.AccountId)] = aws.ToString(m.RelationshipStatus)
		}
	}
	var not []string
	for _, m := range a.opts.Members {
		switch st := status[m]; st {
		case "Enabled":
		case "":
			not = append(not, m+" (not a member)")
		default:
			not = append(not, m+" ("+st+")")
		}
	}
	if len(not) > 0 {
		a.add(CheckGuardDutyMembers, Fail, "not enabled: %s", list(not, 5))
		return
	}
	a.add(CheckGuardDutyMembers, Pass, "%d members enabled", len(a.opts.Members))
}
