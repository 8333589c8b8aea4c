package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// collectorName is the collector's name in the Plan, the state machine and
// the manifest. (shared/incident has no CollectorCloudWatch constant yet.)
const collectorName = "cloudwatch"

// The calls the collector makes, as the IAM role must grant them.
const (
	apiFilterLogEvents   = "logs:FilterLogEvents"
	apiDescribeLogGroups = "logs:DescribeLogGroups"
)

// eventFilterer reads a log group's events for a time span.
type eventFilterer interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// groupLister finds the log groups under a name prefix.
type groupLister interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
}

// LogsCollector collects the CloudWatch Logs groups tied to the incident's
// resources: every event of the window, one streamed .jsonl.gz per group.
type LogsCollector struct {
	Events eventFilterer
	Groups groupLister
	// InstanceGroups are the groups an instance's logs are shipped to, from
	// configuration (CUSTODY_INSTANCE_LOG_GROUPS): exact names, or name
	// prefixes written with a trailing "*". They are collected whole, for
	// every instance in scope.
	InstanceGroups []string
	// PageSize is FilterLogEvents' Limit; 0 leaves the service's default
	// (up to 10,000 events or 1 MB a page). Memory is bounded by one page.
	PageSize int32
	// Now is the clock for estimating a group's share in the window (nil:
	// time.Now).
	Now func() time.Time
}

// Name implements collect.Collector.
func (c *LogsCollector) Name() string { return collectorName }

// Source implements collect.Collector.
func (c *LogsCollector) Source() string { return evidence.SourceCloudWatch }

// target is one group, or one group-name prefix, looked for.
type target struct {
	name   string // the group name, or the prefix when prefix is set
	prefix bool
	why    string // the resource it belongs to, for gaps
	fix    string // what to enable when it is missing
	order  int    // its place among the targets, for the gaps' order
}

func (t target) String() string {
	if t.prefix {
		return t.name + "*"
	}
	return t.name
}

// record is one log event as stored in the extract.
type record struct {
	Timestamp     *int64 `json:"timestamp"`
	IngestionTime *int64 `json:"ingestionTime"`
	LogStream     string `json:"logStream"`
	EventID       string `json:"eventId"`
	Message       string `json:"message"`
}

// ParseInstanceGroups reads CUSTODY_INSTANCE_LOG_GROUPS: comma-separated
// group names or prefixes ending in "*". Blank entries are dropped and
// duplicates removed; a bare "*" (every group in the account) or a "*"
// anywhere but at the end is refused.
func ParseInstanceGroups(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" || seen[e] {
			continue
		}
		if i := strings.Index(e, "*"); i >= 0 && i != len(e)-1 {
			return nil, fmt.Errorf("%q: \"*\" is only allowed at the end, as a prefix", e)
		}
		if e == "*" {
			return nil, fmt.Errorf("a bare \"*\" would collect every log group in the account: name a prefix")
		}
		seen[e] = true
		out = append(out, e)
	}
	return out, nil
}

// targets lists what to look for in scope, deduplicated by name. The
// returned gap reason is set when instances are in scope but no instance
// group is configured.
func (c *LogsCollector) targets(sc incident.Scope) (ts []target, instanceGap bool) {
	seen := map[string]bool{}
	add := func(t target) {
		k := t.String()
		if t.name == "" || seen[k] {
			return
		}
		seen[k] = true
		ts = append(ts, t)
	}
	for _, f := range sc.Functions {
		name := lambdaName(f)
		add(target{name: "/aws/lambda/" + name, why: "Lambda function " + name,
			fix: "the function's logs go to /aws/lambda/" + name + " unless its logging config names another group: check the execution role may write logs (logs:CreateLogStream, logs:PutLogEvents)"})
	}
	for _, cl := range sc.Clusters {
		name, ok := eksName(cl)
		if !ok {
			continue
		}
		add(target{name: "/aws/eks/" + name + "/cluster", why: "EKS cluster " + name,
			fix: "enable the EKS control plane logs (audit, authenticator, api) for cluster " + name + " (aws eks update-cluster-config --logging)"})
	}
	for _, db := range sc.DBInstances {
		add(target{name: "/aws/rds/instance/" + db + "/", prefix: true, why: "RDS DB instance " + db,
			fix: "publish the DB instance's logs to CloudWatch Logs (EnableCloudwatchLogsExports: error, general, slowquery, audit, postgresql…) for " + db})
	}
	for _, g := range sc.LogGroups {
		add(target{name: g, why: "log group " + g + " in scope",
			fix: "ship the resource's logs to " + g})
	}
	if len(sc.Instances) > 0 {
		ids := strings.Join(sc.Instances, ", ")
		if len(c.InstanceGroups) == 0 {
			instanceGap = true
		}
		for _, g := range c.InstanceGroups {
			t := target{name: g, why: "instance log group " + g + " (configured, for " + ids + ")",
				fix: "install the CloudWatch agent on the instance and ship its logs to " + g}
			if strings.HasSuffix(g, "*") {
				t.name, t.prefix = strings.TrimSuffix(g, "*"), true
			}
			add(t)
		}
	}
	return ts, instanceGap
}

// lambdaName is the function name of an ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]) or a name.
func lambdaName(s string) string {
	if !strings.HasPrefix(s, "arn:") {
		return s
	}
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return parts[len(parts)-1]
}

// eksName is the EKS cluster name of an ARN or a name; an ECS cluster's ARN
// is not an EKS cluster.
func eksName(s string) (string, bool) {
	if !strings.HasPrefix(s, "arn:") {
		return s, s != ""
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[2] != "eks" {
		return "", false
	}
	name := strings.TrimPrefix(parts[5], "cluster/")
	return name, name != ""
}

// Collect implements collect.Collector.
func (c *LogsCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	targets, instanceGap := c.targets(inc.Scope)
	if instanceGap {
		out.Gap("instances "+strings.Join(inc.Scope.Instances, ", ")+" are in scope but no instance log group is configured",
			"install the CloudWatch agent on the instances and name their log groups in CUSTODY_INSTANCE_LOG_GROUPS (names, or prefixes ending in *)")
	}
	if len(targets) == 0 {
		if !instanceGap {
			out.Warn("nothing in scope has a CloudWatch Logs group custody knows of (Lambda, EKS, RDS, instances, log groups)")
		}
		return nil
	}
	var reads []groupRead
	var missing []target
	names := map[string]string{} // artifact name -> group
	for i, t := range targets {
		t.order = i
		groups := []logGroup{{name: t.name}}
		if t.prefix {
			var denied string
			var err error
			groups, denied, err = c.listGroups(ctx, t.name)
			if err != nil {
				return err
			}
			if denied != "" {
				out.Gap(fmt.Sprintf("%s: could not list the log groups %s: %s", t.why, t, denied),
					"allow logs:DescribeLogGroups to the cloudwatch collector's role")
				continue
			}
			if len(groups) == 0 {
				missing = append(missing, t)
				continue
			}
		}
		for _, g := range groups {
			reads = append(reads, groupRead{Group: g.name, Artifact: artifactName(g.name, names), Why: t.why, Fix: t.fix, StoredBytes: g.storedBytes, Target: i, info: g})
		}
	}
	// Many or large groups: a shard per piece of them, a large group's
	// window cut in time slices (sizes are estimates from the groups'
	// stored bytes: FilterLogEvents says nothing of size before it reads).
	if b := out.Budget(); b.Bytes > 0 {
		var err error
		if reads, err = c.sliceLarge(ctx, inc.Window, reads, b.Bytes); err != nil {
			return err
		}
	}
	if pieces := collect.Split(reads, func(r groupRead) int64 { return r.StoredBytes }, out.Budget()); len(pieces) > 1 {
		c.missingGaps(out, missing, 1)
		shards := make([]any, len(pieces))
		for i, p := range pieces {
			shards[i] = p
		}
		return out.FanOut(shards...)
	}
	found, err := c.readGroups(ctx, out, inc.Window, reads, &missing)
	if err != nil {
		return err
	}
	c.missingGaps(out, missing, found)
	return nil
}

// groupRead is one log group to read: what a shard is handed, a list of.
type groupRead struct {
	Group string `json:"group"`
	// Artifact is its extract's name, chosen for every group of the case
	// at once so no two groups share one.
	Artifact    string `json:"artifact"`
	Why         string `json:"why"`
	Fix         string `json:"fix"`
	StoredBytes int64  `json:"storedBytes,omitempty"`
	Target      int    `json:"target"` // the target it was found for (its order)
	// Slice, of Slices, is set when the group's window is read in time
	// slices, [StartMs, EndMs] each (epoch ms, inclusive).
	Slice   int   `json:"slice,omitempty"`
	Slices  int   `json:"slices,omitempty"`
	StartMs int64 `json:"startMs,omitempty"`
	EndMs   int64 `json:"endMs,omitempty"`

	info logGroup // what DescribeLogGroups said of it, first invocation only
}

// label names the read in warnings: the group, and its slice.
func (r groupRead) label() string {
	if r.Slices == 0 {
		return r.Group
	}
	return fmt.Sprintf("%s (slice %d of %d, %s to %s)", r.Group, r.Slice, r.Slices,
		time.UnixMilli(r.StartMs).UTC().Format(time.RFC3339), time.UnixMilli(r.EndMs).UTC().Format(time.RFC3339))
}

// maxSlices bounds the time slices of one group; minSlice is the
// shortest one.
const (
	maxSlices = 96
	minSlice  = time.Minute
)

// sliceLarge cuts the window of each group whose share of it is estimated
// above budget bytes into time slices of about budget each. A group's
// share is its stored bytes times the window over the time it has held
// events (since its creation, at most its retention): an estimate, as
// events are not spread evenly, so slices are read by shards that may
// each take up to 15 minutes. Groups known by exact name are described
// first (a refused or failed description leaves the group whole).
func (c *LogsCollector) sliceLarge(ctx context.Context, w incident.Window, reads []groupRead, budget int64) ([]groupRead, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	var out []groupRead
	for _, r := range reads {
		if !r.info.described {
			info, err := c.describe(ctx, r.Group)
			if err != nil {
				return nil, err
			}
			r.info = info
			r.StoredBytes = info.storedBytes
		}
		share := r.info.share(w, now)
		k := int((share + budget - 1) / budget)
		if max := int(w.End.Sub(w.Start) / minSlice); k > max {
			k = max
		}
		if k > maxSlices {
			k = maxSlices
		}
		if k < 2 {
			out = append(out, r)
			continue
		}
		start, end := windowMillis(w)
		step := (end - start + 1) / int64(k)
		stem, ext, _ := strings.Cut(r.Artifact, ".jsonl.gz")
		for i := 0; i < k; i++ {
			s := r
			s.Slice, s.Slices = i+1, k
			s.StartMs = start + int64(i)*step
			s.EndMs = s.StartMs + step - 1
			if i == k-1 {
				s.EndMs = end
			}
			s.StoredBytes = share / int64(k)
			s.Artifact = fmt.Sprintf("%s.%03d.jsonl.gz%s", stem, i+1, ext)
			out = append(out, s)
		}
	}
	return out, nil
}

// share estimates the bytes of the group's events in w.
func (g logGroup) share(w incident.Window, now time.Time) int64 {
	if g.storedBytes <= 0 || g.created.IsZero() {
		return g.storedBytes
	}
	held := now.Sub(g.created)
	if keep := time.Duration(g.retentionDays) * 24 * time.Hour; keep > 0 && held > keep {
		held = keep
	}
	span := w.End.Sub(w.Start)
	if held <= span {
		return g.storedBytes
	}
	return int64(float64(g.storedBytes) * float64(span) / float64(held))
}

// describe reads an exactly named group's size, creation and retention.
// Only throttling and transient errors are returned: a group that cannot
// be described is read whole.
func (c *LogsCollector) describe(ctx context.Context, name string) (logGroup, error) {
	g := logGroup{name: name, described: true}
	resp, err := c.Groups.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	if err != nil {
		if _, ok := gapReason(err); ok {
			return g, nil
		}
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return g, nil
		}
		// Anything else that is not retried: the group is read whole.
		return g, faults.Of(apiDescribeLogGroups, err).Retryable()
	}
	for _, lg := range resp.LogGroups {
		if aws.ToString(lg.LogGroupName) == name {
			return describedGroup(lg), nil
		}
	}
	return g, nil
}

// describedGroup is what DescribeLogGroups says of a group.
func describedGroup(lg types.LogGroup) logGroup {
	g := logGroup{name: aws.ToString(lg.LogGroupName), storedBytes: aws.ToInt64(lg.StoredBytes), described: true,
		retentionDays: aws.ToInt32(lg.RetentionInDays)}
	if lg.CreationTime != nil {
		g.created = time.UnixMilli(*lg.CreationTime).UTC()
	}
	return g
}

// readGroups reads each group into its extract; a group that does not
// exist is added to missing. It returns how many were found.
func (c *LogsCollector) readGroups(ctx context.Context, out *collect.Output, w incident.Window, reads []groupRead, missing *[]target) (int, error) {
	start, end := windowMillis(w)
	found := 0
	for _, r := range reads {
		from, to := start, end
		if r.Slices > 0 {
			from, to = r.StartMs, r.EndMs
		}
		ok, err := c.collectGroup(ctx, out, w, r, from, to)
		if err != nil {
			return found, err
		}
		if ok {
			found++
		} else {
			// Listed under a prefix but gone by the time it was read,
			// or an exact name that does not exist.
			*missing = append(*missing, target{name: r.Group, why: r.Why, fix: r.Fix, order: r.Target})
		}
	}
	return found, nil
}

// missingGaps reports the groups looked for and not found: one gap for
// all when none was found, else one each.
func (c *LogsCollector) missingGaps(out *collect.Output, missing []target, found int) {
	sort.SliceStable(missing, func(i, j int) bool { return missing[i].order < missing[j].order })
	switch {
	case len(missing) == 0:
	case found == 0 && len(missing) > 1:
		looked, fixes := make([]string, len(missing)), make([]string, len(missing))
		for i, t := range missing {
			looked[i] = t.String() + " (" + t.why + ")"
			fixes[i] = t.fix
		}
		out.Gap("no CloudWatch Logs group found for the scope; looked for: "+strings.Join(looked, ", "), strings.Join(fixes, "; "))
	default:
		for _, t := range missing {
			out.Gap(fmt.Sprintf("log group %s does not exist (%s)", t, t.why), t.fix)
		}
	}
}

// CollectShard implements collect.ShardCollector: one piece of the log
// groups, read as Collect reads them when they fit one invocation.
func (c *LogsCollector) CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *collect.Output) error {
	var reads []groupRead
	if err := json.Unmarshal(shard, &reads); err != nil {
		return fmt.Errorf("cloudwatch shard: %w", err)
	}
	var missing []target
	found, err := c.readGroups(ctx, out, inc.Window, reads, &missing)
	if err != nil {
		return err
	}
	c.missingGaps(out, missing, found+1) // one gap per group: the others are other shards'
	return nil
}

// windowMillis is the window in epoch milliseconds, both ends inclusive as
// FilterLogEvents takes them: the start rounded up and the end down, so
// no event outside the window is asked for.
func windowMillis(w incident.Window) (int64, int64) {
	start := w.Start.UnixMilli()
	if time.UnixMilli(start).Before(w.Start) {
		start++
	}
	return start, w.End.UnixMilli()
}

// logGroup is a group as DescribeLogGroups lists it: its stored bytes
// (all its events, not only the window's), creation and retention.
type logGroup struct {
	name          string
	storedBytes   int64
	created       time.Time
	retentionDays int32
	described     bool
}

// listGroups lists the groups whose names start with prefix, every page.
// denied is set (and err nil) when the call is refused.
func (c *LogsCollector) listGroups(ctx context.Context, prefix string) (groups []logGroup, denied string, err error) {
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(c.Groups, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupNamePrefix: aws.String(prefix),
	}, func(o *cloudwatchlogs.DescribeLogGroupsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if reason, ok := gapReason(err); ok {
				return nil, reason, nil
			}
			return nil, "", classify(apiDescribeLogGroups, err)
		}
		for _, g := range page.LogGroups {
			// A prefix is a prefix: the emulator and AWS agree, but check.
			if name := aws.ToString(g.LogGroupName); strings.HasPrefix(name, prefix) {
				groups = append(groups, describedGroup(g))
			}
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	return groups, "", nil
}

// collectGroup streams group's events of the window into one artifact,
// page by page. It reports false, with no artifact, when the group does
// not exist; a refused call is a gap.
func (c *LogsCollector) collectGroup(ctx context.Context, out *collect.Output, w incident.Window, r groupRead, start, end int64) (bool, error) {
	group, name := r.Group, r.Artifact
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(group), StartTime: aws.Int64(start), EndTime: aws.Int64(end),
	}
	p := cloudwatchlogs.NewFilterLogEventsPaginator(c.Events, in, func(o *cloudwatchlogs.FilterLogEventsPaginatorOptions) {
		o.Limit = c.PageSize
		o.StopOnDuplicateToken = true
	})
	request := map[string]any{"logGroupName": group, "startTime": start, "endTime": end}
	if c.PageSize > 0 {
		request["limit"] = c.PageSize
	}

	var s *collect.Stream
	abort := func() {
		if s != nil {
			s.Abort()
		}
	}
	var outside, pages int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			abort()
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) || apiCode(err) == "ResourceNotFoundException" {
				if pages == 0 {
					return false, nil
				}
				out.Gap(fmt.Sprintf("log group %s disappeared while it was read (after %d pages): nothing of it was stored", group, pages),
					"collect the case again; keep the group's retention and protect it from deletion (IAM: deny logs:DeleteLogGroup)")
				return true, nil
			}
			if reason, ok := gapReason(err); ok {
				out.Gap(fmt.Sprintf("log group %s: %s", group, reason),
					"allow logs:FilterLogEvents on "+group+" to the cloudwatch collector's role")
				return true, nil
			}
			return false, classify(apiFilterLogEvents, err)
		}
		pages++
		if s == nil {
			s, err = out.CreateGzip(name, out.Meta(apiFilterLogEvents, request, &evidence.Origin{LogGroup: group}))
			if err != nil {
				return false, err
			}
		}
		for _, e := range page.Events {
			var at time.Time
			if e.Timestamp != nil {
				at = time.UnixMilli(*e.Timestamp).UTC()
				if !w.Contains(at) {
					outside++
					continue
				}
			}
			if err := s.WriteRecord(record{
				Timestamp: e.Timestamp, IngestionTime: e.IngestionTime, LogStream: aws.ToString(e.LogStreamName),
				EventID: aws.ToString(e.EventId), Message: aws.ToString(e.Message),
			}, at); err != nil {
				abort()
				return false, &faults.EvidenceError{Key: s.Key(), Err: err}
			}
		}
	}
	if s == nil {
		return true, nil // no page at all: cannot happen with the SDK paginator
	}
	if outside > 0 {
		out.Warn("log group %s: %d events outside the window were returned and left out", r.label(), outside)
	}
	if s.Records() == 0 {
		out.Warn("log group %s has no events in the window (stored empty, as the record of the query)", r.label())
	}
	_, err := s.Close(ctx)
	return true, err
}

// maxName bounds an artifact name (one key segment).
const maxName = 200

// artifactName is the extract's name for group: the name without its
// leading slash, "/" as "_", and ".jsonl.gz". Two groups that would share
// a name (or a name too long) get a short hash of the group name.
func artifactName(group string, used map[string]string) string {
	base := strings.ReplaceAll(strings.TrimLeft(group, "/"), "/", "_")
	if base == "" || base == "." || base == ".." {
		base = "group"
	}
	sum := sha256.Sum256([]byte(group))
	tag := hex.EncodeToString(sum[:4])
	if len(base) > maxName {
		base = base[:maxName] + "-" + tag
	}
	name := base + ".jsonl.gz"
	if g, ok := used[name]; ok && g != group {
		name = base + "-" + tag + ".jsonl.gz"
	}
	used[name] = group
	return name
}

func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// gapReason reports whether err is a refusal that makes a gap, not a
// failure: the call denied, or not implemented by the endpoint (by its
// class, faults.Of; throttled and transient come first and are no gap).
func gapReason(err error) (string, bool) {
	f := faults.Of("", err)
	if f == nil {
		return "", false
	}
	switch f.Class {
	case faults.Denied:
		if f.Message != "" {
			return "access denied (" + f.Code + "): " + f.Message, true
		}
		return "access denied (" + f.Code + ")", true
	case faults.Unimplemented:
		return fmt.Sprintf("the endpoint does not implement the call (HTTP %d)", f.Status), true
	}
	return "", false
}

// classify names an AWS error for the state machine: throttled and
// transient errors are retried; anything else fails the collector.
func classify(op string, err error) error {
	return faults.Classify(op, err, func(err error) error { return fmt.Errorf("%s: %w", op, err) })
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
