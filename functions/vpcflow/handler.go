package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
)

// Name is the collector's name in the Plan, the state machine and the
// manifest.
const Name = incident.CollectorVPCFlow

// Environment variables the function reads (besides
// collect.DriverFromEnv's).
const (
	// EnvPad is the delivery pad for flow log objects in S3 (a Go
	// duration): keys are kept whose delivery time falls in the window
	// widened by it.
	EnvPad = "CUSTODY_VPCFLOW_PAD"
)

// DefaultPad is EnvPad's default: S3 flow log files are delivered every 5
// or 10 minutes (the aggregation interval), a few minutes late.
const DefaultPad = 15 * time.Minute

// copyConcurrency is how many server-side copies run at once.
const copyConcurrency = 8

// PadFromEnv reads EnvPad: unset or empty is DefaultPad; a value that is
// not a duration, or a negative one, is a *faults.ConfigurationError.
func PadFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv(EnvPad)
	if v == "" {
		return DefaultPad, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &faults.ConfigurationError{Setting: EnvPad, Reason: "not a Go duration (e.g. 15m): " + err.Error()}
	}
	if d < 0 {
		return 0, &faults.ConfigurationError{Setting: EnvPad, Reason: v + " must not be negative"}
	}
	return d, nil
}

// ec2API is what the collector asks EC2: the flow logs of the scope, and
// the interfaces of its instances and ENIs (their VPC, subnet, addresses).
type ec2API interface {
	DescribeFlowLogs(ctx context.Context, in *ec2.DescribeFlowLogsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
}

// logEventFilterer reads a flow log's CloudWatch Logs streams.
type logEventFilterer interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// logObjects lists and reads a flow log bucket.
type logObjects interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// FlowLogCollector collects the VPC flow logs of a case: the flow log
// definitions for the scope's interfaces, subnets and VPCs, the original
// S3 log objects of the window (copied unchanged), the interfaces'
// CloudWatch Logs events of the window (streamed), and one extract of the
// records that touch the scope, parsed by each flow log's format. It is a
// collect.ShardCollector: S3 objects over the budget are copied and read
// by shards, each into an extract of its own (shard.go).
type FlowLogCollector struct {
	EC2     ec2API
	Logs    logEventFilterer
	Objects logObjects
	// Region is the region of the S3 key layout when the scope names none.
	Region string
	// Pad widens the window for listing S3 keys by delivery time.
	Pad time.Duration
	// ObjectsReadWith is what Objects reads with (the hub's own role, which
	// a central flow log bucket's policy admits), recorded on the copies;
	// nil: the invocation's.
	ObjectsReadWith *evidence.ReadWith
}

// Name implements collect.Collector.
func (c *FlowLogCollector) Name() string { return Name }

// Source implements collect.Collector.
func (c *FlowLogCollector) Source() string { return evidence.SourceVPCFlow }

// iface is what the collector knows of one network interface.
type iface struct{ vpc, subnet string }

// run is one invocation's collection: the scope as widened by what EC2
// says of its interfaces (in a shard, as the first invocation widened it),
// and the extract every destination it reads writes to.
type run struct {
	c       *FlowLogCollector
	inc     *incident.Incident
	out     *collect.Output
	scope   incident.Scope
	ifaces  map[string]iface // ENI -> its VPC and subnet, where known
	match   *vpcflow.Matcher
	extract *extractWriter
	seen    map[string]bool // bucket/key already taken by an earlier flow log
	// batches are the S3 destinations' objects listS3 found, by flow log
	// ID (nil: the destination could not be listed); pieces, when not
	// nil, are those objects cut for shards, which read them instead.
	batches map[string]*s3Batch
	pieces  []piece
}

// Collect implements collect.Collector.
func (c *FlowLogCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	r := &run{c: c, inc: inc, out: out, scope: inc.Scope, ifaces: map[string]iface{}, seen: map[string]bool{}, batches: map[string]*s3Batch{}}
	if err := r.resolveInterfaces(ctx); err != nil {
		return err
	}
	r.match = vpcflow.NewMatcher(r.scope, inc.Window)
	resources := union(r.scope.ENIs, r.scope.Subnets, r.scope.VPCs)
	if len(resources) == 0 {
		out.Warn("the scope names no VPC, subnet or network interface: no flow logs to read")
		return nil
	}
	logs, err := r.describeFlowLogs(ctx, resources)
	if err != nil || logs == nil {
		return err
	}
	r.coverageGaps(logs)
	if len(logs) == 0 {
		return nil
	}

	// The S3 destinations are listed first: when their objects, over
	// every flow log, are more than the budget, shards copy and read them.
	for _, fl := range logs {
		if fl.LogDestinationType != ec2types.LogDestinationTypeS3 {
			continue
		}
		format, _ := flowLogFormat(fl)
		b, err := r.listS3(ctx, fl, format)
		if err != nil {
			return err
		}
		r.batches[aws.ToString(fl.FlowLogId)] = b
	}
	r.pieces = r.plan(logs)

	// The one extract of what this invocation reads: every destination,
	// or, when shards read the S3 objects, the CloudWatch Logs ones.
	var ids []string
	for _, fl := range logs {
		if _, listed := r.batches[aws.ToString(fl.FlowLogId)]; !listed || r.pieces == nil {
			ids = append(ids, aws.ToString(fl.FlowLogId))
		}
	}
	ext, err := newExtractWriter(out, ExtractName, inc.Window, r.scope, ids)
	if err != nil {
		return err
	}
	r.extract = ext
	read := false
	for _, fl := range logs {
		ok, err := r.flowLog(ctx, fl)
		if err != nil {
			ext.abort()
			return err
		}
		read = read || ok
	}
	if !read {
		ext.abort()
	} else if err := ext.close(ctx); err != nil {
		return err
	}
	if r.pieces == nil {
		return nil
	}
	pieces := make([]any, len(r.pieces))
	for i, p := range r.pieces {
		pieces[i] = p
	}
	return out.FanOut(pieces...)
}

// resolveInterfaces asks EC2 for the interfaces of the scope's instances
// and ENIs, and adds their VPCs, subnets and addresses to the scope (a
// manual start names an instance only). An interface EC2 no longer knows
// (a terminated instance) keeps what the finding said.
func (r *run) resolveInterfaces(ctx context.Context) error {
	sc := &r.scope
	var filters [][]ec2types.Filter
	if len(sc.Instances) > 0 {
		filters = append(filters, []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: sc.Instances}})
	}
	if len(sc.ENIs) > 0 {
		filters = append(filters, []ec2types.Filter{{Name: aws.String("network-interface-id"), Values: sc.ENIs}})
	}
	enis, priv, pub, vpcs, subnets := newSet(sc.ENIs), newSet(sc.PrivateIPs), newSet(sc.PublicIPs), newSet(sc.VPCs), newSet(sc.Subnets)
	for _, f := range filters {
		p := ec2.NewDescribeNetworkInterfacesPaginator(r.c.EC2, &ec2.DescribeNetworkInterfacesInput{Filters: f})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				if denied(err) {
					r.out.Warn("ec2:DescribeNetworkInterfaces denied: the scope is read as the finding gives it (%v)", err)
					return nil
				}
				return faults.Classify("ec2:DescribeNetworkInterfaces", err, func(err error) error { return err })
			}
			for _, n := range page.NetworkInterfaces {
				id := aws.ToString(n.NetworkInterfaceId)
				enis.add(id)
				vpcs.add(aws.ToString(n.VpcId))
				subnets.add(aws.ToString(n.SubnetId))
				r.ifaces[id] = iface{vpc: aws.ToString(n.VpcId), subnet: aws.ToString(n.SubnetId)}
				priv.add(aws.ToString(n.PrivateIpAddress))
				for _, a := range n.PrivateIpAddresses {
					priv.add(aws.ToString(a.PrivateIpAddress))
					if a.Association != nil {
						pub.add(aws.ToString(a.Association.PublicIp))
					}
				}
				if n.Association != nil {
					pub.add(aws.ToString(n.Association.PublicIp))
				}
			}
		}
	}
	sc.ENIs, sc.PrivateIPs, sc.PublicIPs, sc.VPCs, sc.Subnets = enis.list(), priv.list(), pub.list(), vpcs.list(), subnets.list()
	return nil
}

// describeFlowLogs lists every flow log on one of resources and stores
// their definitions. A nil list with a nil error means a gap was recorded.
func (r *run) describeFlowLogs(ctx context.Context, resources []string) ([]ec2types.FlowLog, error) {
	in := &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("resource-id"), Values: resources}}}
	logs := []ec2types.FlowLog{}
	p := ec2.NewDescribeFlowLogsPaginator(r.c.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if denied(err) {
				r.out.Gap(fmt.Sprintf("ec2:DescribeFlowLogs denied for %s: %v", strings.Join(resources, ", "), err),
					"allow the vpcflow collector's role ec2:DescribeFlowLogs")
				return nil, nil
			}
			return nil, faults.Classify("ec2:DescribeFlowLogs", err, func(err error) error { return err })
		}
		logs = append(logs, page.FlowLogs...)
	}
	sort.Slice(logs, func(i, j int) bool { return aws.ToString(logs[i].FlowLogId) < aws.ToString(logs[j].FlowLogId) })
	meta := r.out.Meta("ec2:DescribeFlowLogs", map[string]any{"Filter": []map[string]any{{"Name": "resource-id", "Values": resources}}},
		&evidence.Origin{Description: "flow log definitions for " + strings.Join(resources, ", ")})
	meta.Records = int64(len(logs))
	meta.ContentType = evidence.ContentTypeJSON
	if _, err := r.out.PutJSON(ctx, "flowlogs.json", logs, meta); err != nil {
		return nil, err
	}
	return logs, nil
}

// coverageGaps names the scope's interfaces, subnets and VPCs no flow log
// covers (an interface is covered by a flow log on it, its subnet or its
// VPC).
func (r *run) coverageGaps(logs []ec2types.FlowLog) {
	covered := map[string]bool{}
	for _, fl := range logs {
		covered[aws.ToString(fl.ResourceId)] = true
	}
	fix := func(vpc string) string {
		if vpc == "" {
			vpc = "the interface's VPC"
		}
		return "create a VPC flow log for " + vpc + " to S3 or CloudWatch Logs (ec2:CreateFlowLogs, traffic type ALL)"
	}
	oneVPC := ""
	if len(r.scope.VPCs) == 1 {
		oneVPC = r.scope.VPCs[0]
	}
	vpcOf := func(id string) string {
		if i, ok := r.ifaces[id]; ok && i.vpc != "" {
			return i.vpc
		}
		for _, i := range r.ifaces {
			if i.subnet == id && i.vpc != "" {
				return i.vpc
			}
		}
		return oneVPC
	}
	switch {
	case len(r.scope.ENIs) > 0:
		for _, e := range r.scope.ENIs {
			i := r.ifaces[e]
			v := vpcOf(e)
			if covered[e] || (i.subnet != "" && covered[i.subnet]) || (v != "" && covered[v]) {
				continue
			}
			r.out.Gap(fmt.Sprintf("no flow log records traffic of %s (no flow log on it, its subnet or its VPC %s)", e, orUnknown(v)), fix(v))
		}
	case len(r.scope.Subnets) > 0:
		for _, s := range r.scope.Subnets {
			v := vpcOf(s)
			if covered[s] || (v != "" && covered[v]) {
				continue
			}
			r.out.Gap(fmt.Sprintf("no flow log records traffic of %s (no flow log on it or its VPC %s)", s, orUnknown(v)), fix(v))
		}
	default:
		for _, v := range r.scope.VPCs {
			if !covered[v] {
				r.out.Gap("no flow log records traffic of "+v, fix(v))
			}
		}
	}
}

// flowLog collects one flow log's destination. It reports whether the
// destination was read.
func (r *run) flowLog(ctx context.Context, fl ec2types.FlowLog) (bool, error) {
	id := aws.ToString(fl.FlowLogId)
	if s := aws.ToString(fl.DeliverLogsStatus); s != "" && s != "SUCCESS" {
		r.out.Warn("flow log %s on %s: delivery status %s: %s", id, aws.ToString(fl.ResourceId), s, aws.ToString(fl.DeliverLogsErrorMessage))
	}
	if fl.TrafficType != "" && fl.TrafficType != ec2types.TrafficTypeAll {
		r.out.Warn("flow log %s on %s records %s traffic only", id, aws.ToString(fl.ResourceId), fl.TrafficType)
	}
	format, err := flowLogFormat(fl)
	if err != nil {
		r.out.Warn("flow log %s: LogFormat %q: %v: lines are read by their file's header, else the default format", id, aws.ToString(fl.LogFormat), err)
	}
	switch fl.LogDestinationType {
	case ec2types.LogDestinationTypeCloudWatchLogs, "":
		return r.cloudWatch(ctx, fl, format)
	case ec2types.LogDestinationTypeS3:
		return r.s3(ctx, id)
	default:
		r.out.Gap(fmt.Sprintf("flow log %s on %s delivers to %s (%s), which custody does not read", id, aws.ToString(fl.ResourceId), fl.LogDestinationType, aws.ToString(fl.LogDestination)),
			"add a flow log for "+aws.ToString(fl.ResourceId)+" to S3 or CloudWatch Logs, or collect the "+string(fl.LogDestinationType)+" destination by hand")
		return false, nil
	}
}

// flowLogFormat is the format fl's lines are read by when they come
// without a header: its LogFormat, or, with the error, the default format
// when that would not parse.
func flowLogFormat(fl ec2types.FlowLog) (vpcflow.Format, error) {
	format, err := vpcflow.ParseFormat(aws.ToString(fl.LogFormat))
	if err != nil {
		return vpcflow.Default, err
	}
	return format, nil
}

// notFound reports a CloudWatch Logs error that says the group is not there.
func notFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// set collects identifiers, sorted and without duplicates.
type set map[string]struct{}

func newSet(vals []string) set { s := set{}; s.add(vals...); return s }

func (s set) add(vals ...string) {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			s[v] = struct{}{}
		}
	}
}

func (s set) list() []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func union(lists ...[]string) []string {
	s := set{}
	for _, l := range lists {
		s.add(l...)
	}
	return s.list()
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

// denied reports an error of class Denied (faults.Of): throttling and
// transient errors come first and are never a gap.
func denied(err error) bool { return faults.Is(err, faults.Denied) }
