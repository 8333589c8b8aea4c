package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// collectorName is the collector's name in the Plan, the state machine and
// the manifest.
const collectorName = "ec2"

// describer is the read-only EC2 calls the collector makes.
type describer interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeSecurityGroupRules(ctx context.Context, in *ec2.DescribeSecurityGroupRulesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	DescribeInstanceAttribute(ctx context.Context, in *ec2.DescribeInstanceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error)
	GetConsoleOutput(ctx context.Context, in *ec2.GetConsoleOutputInput, optFns ...func(*ec2.Options)) (*ec2.GetConsoleOutputOutput, error)
}

// snapshotter is the EBS snapshot calls: the only writes the collector
// makes outside the evidence bucket, and none of them touches the instance.
type snapshotter interface {
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error)
	LockSnapshot(ctx context.Context, in *ec2.LockSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.LockSnapshotOutput, error)
}

// profileGetter reads an instance profile (IAM).
type profileGetter interface {
	GetInstanceProfile(ctx context.Context, in *iam.GetInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
}

// InstanceCollector collects the EC2 and EBS evidence of every instance in
// scope. It reads, and it creates snapshots (tagged at creation, locked
// when SnapshotLock is set); it never stops, tags or modifies an instance.
type InstanceCollector struct {
	EC2       describer
	Snapshots snapshotter
	IAM       profileGetter
	// SnapshotLock, when positive, locks every snapshot taken in governance
	// mode for that long (whole days).
	SnapshotLock time.Duration
	// AccountID and Region are where this deployment collects. An empty
	// AccountID is read from the Lambda context; where neither is known,
	// the incident's is not checked.
	AccountID string
	Region    string
	// HubCopy, when set, copies every snapshot taken in a member account
	// into the hub account, re-encrypted under custody's snapshot key.
	HubCopy *HubCopy
}

// Name implements collect.Collector.
func (c *InstanceCollector) Name() string { return collectorName }

// Source implements collect.Collector.
func (c *InstanceCollector) Source() string { return evidence.SourceEC2 }

// Collect implements collect.Collector: one folder per instance,
// ec2/<instance-id>/, and its snapshots in the result.
func (c *InstanceCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	ids := inc.Scope.Instances
	if len(ids) == 0 {
		out.Warn("no EC2 instance in scope: nothing to describe or snapshot")
		return nil
	}
	if reason, fix := c.elsewhere(ctx, inc.Scope); reason != "" {
		out.Gap(fmt.Sprintf("instances %s: %s", strings.Join(ids, ", "), reason), fix)
		return nil
	}
	for _, id := range ids {
		if err := c.instance(ctx, inc, out, id); err != nil {
			return err
		}
	}
	return nil
}

// elsewhere says why the scope's account or region is out of this
// deployment's reach, or "" when it is not.
func (c *InstanceCollector) elsewhere(ctx context.Context, sc incident.Scope) (reason, fix string) {
	account := c.AccountID
	if account == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			if a, err := arn.Parse(lc.InvokedFunctionArn); err == nil {
				account = a.AccountID
			}
		}
	}
	if sc.AccountID != "" && account != "" && sc.AccountID != account {
		return fmt.Sprintf("in account %s; this invocation reads account %s only", sc.AccountID, account),
			"deploy custody in account " + sc.AccountID + " (or deploy the member stack, CustodyMember, there: the hub reads a member account through its collector role)"
	}
	if sc.Region != "" && c.Region != "" && sc.Region != c.Region {
		return fmt.Sprintf("in region %s; this deployment collects in region %s only", sc.Region, c.Region),
			"deploy custody in region " + sc.Region
	}
	return "", ""
}

// Error codes that mean the instance does not exist (or never did).
var notFoundCodes = map[string]bool{
	"InvalidInstanceID.NotFound": true, "InvalidInstanceID.Malformed": true,
}

func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// refused turns an error from op into what the collector does with it, by
// its class (faults.Of): throttled or transient is returned (the state
// machine retries the collector); denied, unimplemented and the service's
// own refusal (not found, invalid) become a gap and nil, so the rest of the
// evidence is still collected; anything else (no answer that could be
// read) is returned and fails the collector.
func refused(out *collect.Output, op, what string, err error) error {
	f := faults.Of(op, err)
	if r := f.Retryable(); r != nil {
		return r
	}
	switch f.Class {
	case faults.Denied:
		out.Gap(fmt.Sprintf("%s for %s denied: %s", op, what, f.Message), "grant "+op+" to the ec2 collector's role")
	case faults.Unimplemented:
		out.Gap(fmt.Sprintf("%s for %s: the endpoint does not implement it (HTTP %d)", op, what, f.Status),
			"collect against AWS EC2; the endpoint (the local emulator) does not implement "+op)
	case faults.InvalidRequest:
		out.Gap(fmt.Sprintf("%s for %s refused: %s: %s", op, what, f.Code, f.Message),
			"see the error; the call can be made by hand with the same parameters (the collector's role is read-only)")
	default:
		return fmt.Errorf("%s for %s: %w", op, what, err)
	}
	return nil
}

// Gap texts for an instance EC2 does not know.
const (
	notFoundReason = "instance %s not found: it may be terminated; its EBS volumes and snapshots may remain"
	notFoundFix    = "look for its volumes and snapshots (DescribeVolumes, DescribeSnapshots), its CloudTrail RunInstances and TerminateInstances events and AWS Config history; a terminated instance stays described for about an hour, so collect sooner (a lower severity threshold)"
	terminatedFix  = "its EBS volumes (if DeleteOnTermination was off) and snapshots may remain: DescribeVolumes, DescribeSnapshots; collect sooner next time (a lower severity threshold)"
)

// instance collects one instance.
func (c *InstanceCollector) instance(ctx context.Context, inc *incident.Incident, out *collect.Output, id string) error {
	origin := &evidence.Origin{Description: "instance " + id}
	in := &ec2.DescribeInstancesInput{InstanceIds: []string{id}}
	resp, err := c.EC2.DescribeInstances(ctx, in)
	if err != nil {
		if notFoundCodes[apiCode(err)] {
			out.Gap(fmt.Sprintf(notFoundReason, id), notFoundFix)
			return nil
		}
		return refused(out, "ec2:DescribeInstances", "instance "+id, err)
	}
	inst := findInstance(resp.Reservations, id)
	if inst == nil {
		out.Gap(fmt.Sprintf(notFoundReason, id), notFoundFix)
		return nil
	}
	if err := c.put(ctx, out, id, "instance.json", struct{ Reservations []types.Reservation }{resp.Reservations},
		out.Meta("ec2:DescribeInstances", collect.Request(in), origin), 1); err != nil {
		return err
	}
	if inst.State != nil && inst.State.Name == types.InstanceStateNameTerminated {
		out.Gap(fmt.Sprintf("instance %s is terminated: its description is kept; it has no security groups, network interfaces, volumes or console output left to collect and nothing to snapshot", id), terminatedFix)
		return nil
	}
	// The disks first, then what is volatile (the console), then the rest.
	steps := []func(context.Context, *incident.Incident, *collect.Output, *types.Instance, *evidence.Origin) error{
		c.snapshots, c.consoleOutput, c.userData, c.networkInterfaces, c.volumes, c.securityGroups, c.instanceProfile,
	}
	for _, step := range steps {
		if err := step(ctx, inc, out, inst, origin); err != nil {
			return err
		}
	}
	return nil
}

func findInstance(rs []types.Reservation, id string) *types.Instance {
	for i := range rs {
		for j := range rs[i].Instances {
			if aws.ToString(rs[i].Instances[j].InstanceId) == id {
				return &rs[i].Instances[j]
			}
		}
	}
	return nil
}

// maxAttemptNames bounds the names put tries after the first.
const maxAttemptNames = 8

// put stores v as <instance-id>/<name>. A retried run whose earlier attempt
// stored different bytes under that name (the console output has a new
// timestamp, a volume finished attaching) keeps both: this attempt's goes to
// <name without .json>.attempt-N.json, with a warning, since a locked
// evidence object is never overwritten.
func (c *InstanceCollector) put(ctx context.Context, out *collect.Output, id, name string, v any, meta evidence.PutMeta, records int64) error {
	meta.Records = records
	full := id + "/" + name
	_, err := out.PutJSON(ctx, full, v, meta)
	for n := 2; errors.Is(err, evidence.ErrExists) && n <= maxAttemptNames; n++ {
		alt := id + "/" + strings.TrimSuffix(name, ".json") + fmt.Sprintf(".attempt-%d.json", n)
		if _, err = out.PutJSON(ctx, alt, v, meta); err == nil {
			out.Warn("%s: an earlier attempt of this run stored a different %s; both are kept, this attempt's as %s", id, name, alt)
		}
	}
	return err
}

// consoleDoc is console-output.json: GetConsoleOutput's answer (Output is
// base64, as the API returns it) and the decoded text.
type consoleDoc struct {
	InstanceId *string
	Timestamp  *time.Time
	Output     *string
	// Latest says whether the output is the latest (Nitro, Latest=true)
	// rather than the buffered one.
	Latest  bool
	Decoded *string `json:",omitempty"`
	// DecodeError says why Output could not be decoded to text.
	DecodeError string `json:",omitempty"`
}

// Error codes with which EC2 refuses Latest=true (an instance that is not
// built on Nitro).
var latestUnsupported = map[string]bool{
	"UnsupportedOperation": true, "InvalidParameter": true, "InvalidParameterValue": true,
	"InvalidParameterCombination": true, "NotImplemented": true,
}

func (c *InstanceCollector) consoleOutput(ctx context.Context, _ *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	in := &ec2.GetConsoleOutputInput{InstanceId: inst.InstanceId, Latest: aws.Bool(true)}
	resp, err := c.EC2.GetConsoleOutput(ctx, in)
	if err != nil && latestUnsupported[apiCode(err)] {
		out.Warn("%s: the latest console output is not available (%s): the buffered output was collected instead", id, apiCode(err))
		in = &ec2.GetConsoleOutputInput{InstanceId: inst.InstanceId}
		resp, err = c.EC2.GetConsoleOutput(ctx, in)
	}
	if err != nil {
		return refused(out, "ec2:GetConsoleOutput", "instance "+id, err)
	}
	doc := consoleDoc{InstanceId: resp.InstanceId, Timestamp: resp.Timestamp, Output: resp.Output, Latest: aws.ToBool(in.Latest)}
	doc.Decoded, doc.DecodeError = decodeText(aws.ToString(resp.Output))
	var records int64
	if aws.ToString(resp.Output) != "" {
		records = 1
	}
	return c.put(ctx, out, id, "console-output.json", doc, out.Meta("ec2:GetConsoleOutput", collect.Request(in), origin), records)
}

// userDataDoc is user-data.json: DescribeInstanceAttribute's answer
// (UserData.Value is base64, as the API returns it) and the decoded text.
type userDataDoc struct {
	InstanceId *string
	UserData   *types.AttributeValue
	Decoded    *string `json:",omitempty"`
	// Gzipped says Decoded was gunzipped from the base64 (cloud-init
	// accepts gzip-compressed user data).
	Gzipped     bool   `json:",omitempty"`
	DecodeError string `json:",omitempty"`
}

func (c *InstanceCollector) userData(ctx context.Context, _ *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	in := &ec2.DescribeInstanceAttributeInput{InstanceId: inst.InstanceId, Attribute: types.InstanceAttributeNameUserData}
	resp, err := c.EC2.DescribeInstanceAttribute(ctx, in)
	if err != nil {
		return refused(out, "ec2:DescribeInstanceAttribute", "user data of instance "+id, err)
	}
	doc := userDataDoc{InstanceId: resp.InstanceId, UserData: resp.UserData}
	var raw string
	if resp.UserData != nil {
		raw = aws.ToString(resp.UserData.Value)
	}
	var records int64
	if raw != "" {
		records = 1
		doc.Decoded, doc.DecodeError = decodeText(raw)
		if b, err := base64.StdEncoding.DecodeString(raw); err == nil && len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			doc.Decoded, doc.DecodeError = gunzipText(b)
			doc.Gzipped = doc.Decoded != nil
		}
	}
	return c.put(ctx, out, id, "user-data.json", doc, out.Meta("ec2:DescribeInstanceAttribute", collect.Request(in), origin), records)
}

// decodeText decodes base64 to text; binary content is left as base64 and
// said so, since JSON would mangle it.
func decodeText(b64 string) (*string, string) {
	if b64 == "" {
		return nil, ""
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "not base64: " + err.Error()
	}
	if !utf8.Valid(b) {
		return nil, "binary content: kept as base64 only"
	}
	s := string(b)
	return &s, ""
}

// maxGunzip bounds gunzipped user data (user data itself is at most 16 KB).
const maxGunzip = 1 << 20

func gunzipText(b []byte) (*string, string) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, "gzip: " + err.Error()
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxGunzip+1))
	if err != nil {
		return nil, "gzip: " + err.Error()
	}
	if len(plain) > maxGunzip {
		return nil, fmt.Sprintf("gzip: more than %d bytes once decompressed: kept as base64 only", maxGunzip)
	}
	if !utf8.Valid(plain) {
		return nil, "binary content once gunzipped: kept as base64 only"
	}
	s := string(plain)
	return &s, ""
}

func attachedTo(id string) []types.Filter {
	return []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{id}}}
}

func (c *InstanceCollector) networkInterfaces(ctx context.Context, _ *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	in := &ec2.DescribeNetworkInterfacesInput{Filters: attachedTo(id)}
	var enis []types.NetworkInterface
	p := ec2.NewDescribeNetworkInterfacesPaginator(c.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return refused(out, "ec2:DescribeNetworkInterfaces", "instance "+id, err)
		}
		enis = append(enis, page.NetworkInterfaces...)
	}
	if enis == nil {
		enis = []types.NetworkInterface{}
	}
	return c.put(ctx, out, id, "network-interfaces.json", struct{ NetworkInterfaces []types.NetworkInterface }{enis},
		out.Meta("ec2:DescribeNetworkInterfaces", collect.Request(in), origin), int64(len(enis)))
}

func (c *InstanceCollector) volumes(ctx context.Context, _ *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	in := &ec2.DescribeVolumesInput{Filters: attachedTo(id)}
	var vols []types.Volume
	p := ec2.NewDescribeVolumesPaginator(c.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return refused(out, "ec2:DescribeVolumes", "instance "+id, err)
		}
		vols = append(vols, page.Volumes...)
	}
	if vols == nil {
		vols = []types.Volume{}
	}
	return c.put(ctx, out, id, "volumes.json", struct{ Volumes []types.Volume }{vols},
		out.Meta("ec2:DescribeVolumes", collect.Request(in), origin), int64(len(vols)))
}

// groupIDs are the instance's security groups: its own list and those of
// every network interface, sorted, without duplicates.
func groupIDs(inst *types.Instance) []string {
	seen := map[string]bool{}
	var ids []string
	add := func(g *string) {
		if v := aws.ToString(g); v != "" && !seen[v] {
			seen[v] = true
			ids = append(ids, v)
		}
	}
	for _, g := range inst.SecurityGroups {
		add(g.GroupId)
	}
	for _, n := range inst.NetworkInterfaces {
		for _, g := range n.Groups {
			add(g.GroupId)
		}
	}
	sort.Strings(ids)
	return ids
}

// securityGroupsDoc is security-groups.json: the groups and every rule of
// them, as the two calls return them. Its records count both.
type securityGroupsDoc struct {
	SecurityGroups     []types.SecurityGroup
	SecurityGroupRules []types.SecurityGroupRule
}

func (c *InstanceCollector) securityGroups(ctx context.Context, _ *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	ids := groupIDs(inst)
	if len(ids) == 0 {
		out.Warn("%s: the instance has no security group to describe", id)
		return nil
	}
	doc := securityGroupsDoc{SecurityGroups: []types.SecurityGroup{}, SecurityGroupRules: []types.SecurityGroupRule{}}
	gin := &ec2.DescribeSecurityGroupsInput{GroupIds: ids}
	gp := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, gin)
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return refused(out, "ec2:DescribeSecurityGroups", "instance "+id, err)
		}
		doc.SecurityGroups = append(doc.SecurityGroups, page.SecurityGroups...)
	}
	rin := &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: ids}}}
	rp := ec2.NewDescribeSecurityGroupRulesPaginator(c.EC2, rin)
	for rp.HasMorePages() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			// The groups (with their permissions) are still worth keeping.
			if err := refused(out, "ec2:DescribeSecurityGroupRules", "instance "+id, err); err != nil {
				return err
			}
			break
		}
		doc.SecurityGroupRules = append(doc.SecurityGroupRules, page.SecurityGroupRules...)
	}
	// One artifact from two calls: the API names both, the request holds
	// each call's parameters under its name.
	meta := out.Meta("ec2:DescribeSecurityGroups,ec2:DescribeSecurityGroupRules", map[string]any{
		"ec2:DescribeSecurityGroups": collect.Request(gin), "ec2:DescribeSecurityGroupRules": collect.Request(rin),
	}, origin)
	return c.put(ctx, out, id, "security-groups.json", doc, meta, int64(len(doc.SecurityGroups)+len(doc.SecurityGroupRules)))
}

// profileName is the name in an instance profile ARN
// (arn:aws:iam::123456789012:instance-profile/path/name).
func profileName(profileArn string) string {
	a, err := arn.Parse(profileArn)
	if err != nil || !strings.HasPrefix(a.Resource, "instance-profile/") {
		return ""
	}
	return a.Resource[strings.LastIndex(a.Resource, "/")+1:]
}

func (c *InstanceCollector) instanceProfile(ctx context.Context, _ *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	if inst.IamInstanceProfile == nil || aws.ToString(inst.IamInstanceProfile.Arn) == "" {
		return nil // none: instance.json says so
	}
	profileArn := aws.ToString(inst.IamInstanceProfile.Arn)
	name := profileName(profileArn)
	if name == "" {
		out.Warn("%s: instance profile ARN %q names no instance profile", id, profileArn)
		return nil
	}
	if c.IAM == nil {
		out.Gap(fmt.Sprintf("instance profile %s of instance %s not described: the collector has no IAM client", profileArn, id), "wire an IAM client into the ec2 collector")
		return nil
	}
	in := &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)}
	resp, err := c.IAM.GetInstanceProfile(ctx, in)
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			out.Gap(fmt.Sprintf("instance profile %s of instance %s not found: deleted since the instance was launched?", profileArn, id),
				"look for its DeleteInstanceProfile and RemoveRoleFromInstanceProfile events in CloudTrail")
			return nil
		}
		return refused(out, "iam:GetInstanceProfile", "instance profile "+profileArn, err)
	}
	o := *origin
	o.Description += " instance profile " + profileArn
	return c.put(ctx, out, id, "instance-profile.json", struct{ InstanceProfile *iamtypes.InstanceProfile }{resp.InstanceProfile},
		out.Meta("iam:GetInstanceProfile", collect.Request(in), &o), 1)
}

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
}

// Handle runs the collector through the shared driver.
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	return h.Driver.Run(ctx, h.Collector, in)
}
