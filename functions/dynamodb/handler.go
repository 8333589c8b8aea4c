package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Collector names, as the Plan and the state machine use them. (shared/
// incident has no constants for them yet.) The first pass runs with the
// other collectors; the CloudTrail pass is a second step after the
// CloudTrail collector, for the tables its extract names. The two have
// their own stored results (results/<name>.json), so the second is never
// answered from the first's.
const (
	collectorName           = "dynamodb"
	collectorNameCloudTrail = "dynamodb-cloudtrail"
)

// The calls the collector makes, as the IAM role must grant them.
const (
	apiDescribeTable    = "dynamodb:DescribeTable"
	apiDescribeStream   = "dynamodb:DescribeStream"
	apiGetShardIterator = "dynamodb:GetShardIterator"
	apiGetRecords       = "dynamodb:GetRecords"
	apiGetObject        = "s3:GetObject"
	// apiArtifact is the API an extract names in the manifest: the Streams
	// API's own name for the call that read its records.
	apiArtifact = "dynamodbstreams:GetRecords"
)

// Inventory artifact names, one per pass.
const (
	inventoryFirst      = "tables.json"
	inventoryCloudTrail = "tables-cloudtrail.json"
)

// streamRetention is how long DynamoDB Streams keep a record.
const streamRetention = 24 * time.Hour

// tableDescriber reads a table's description (its latest stream).
type tableDescriber interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// streamReader reads a stream's shards and records.
type streamReader interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// objectGetter reads the run's CloudTrail extract and the first pass's
// inventory from the evidence bucket.
type objectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Pass says which tables a collector run takes.
type Pass int

const (
	// PassFirst takes the tables the finding names and those configured,
	// first (streams keep 24 hours), then those the run's CloudTrail
	// extract names if the extract is already there.
	PassFirst Pass = iota
	// PassCloudTrail takes the tables the run's CloudTrail extract names
	// that the first pass did not take. Run it after the CloudTrail
	// collector.
	PassCloudTrail
)

// Defaults for StreamsCollector's limits.
const (
	DefaultMaxEmptyPolls = 5
	DefaultPollWait      = 250 * time.Millisecond
	DefaultReserve       = 30 * time.Second
)

// StreamsCollector collects the DynamoDB Streams records of the window of
// the tables in scope: every shard, one streamed .jsonl.gz per table.
type StreamsCollector struct {
	Tables  tableDescriber
	Streams streamReader
	// Objects and Bucket read the run's CloudTrail extract and the first
	// pass's inventory from the evidence bucket.
	Objects objectGetter
	Bucket  string
	// Configured are tables named in configuration
	// (CUSTODY_DYNAMODB_TABLES), collected for every incident.
	Configured []string
	Pass       Pass

	// PageLimit is GetRecords' Limit; 0 leaves the service's (1,000).
	PageLimit int32
	// MaxEmptyPolls is how many GetRecords answers in a row without
	// records end the reading of an open shard (it has been read to the
	// present). 0 means DefaultMaxEmptyPolls.
	MaxEmptyPolls int
	// PollWait is the pause after an empty answer; 0 means
	// DefaultPollWait, a negative value no pause.
	PollWait time.Duration
	// Reserve is kept free before the context's deadline (the Lambda's
	// timeout) to store what was read; 0 means DefaultReserve.
	Reserve time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Name implements collect.Collector.
func (c *StreamsCollector) Name() string {
	if c.Pass == PassCloudTrail {
		return collectorNameCloudTrail
	}
	return collectorName
}

// Source implements collect.Collector.
func (c *StreamsCollector) Source() string { return evidence.SourceDynamoDB }

func (c *StreamsCollector) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// Where a table came from, in the inventory.
const (
	fromFinding    = "finding"
	fromConfig     = "config"
	fromCloudTrail = "cloudtrail"
)

// Table outcomes, in the inventory.
const (
	statusCollected = "collected"
	statusNoStream  = "no-stream"
	statusNotFound  = "not-found"
	statusDenied    = "denied"
	statusElsewhere = "other-account-or-region"
	statusInvalid   = "invalid-name"
	statusTruncated = "truncated"
)

// tableEntry is one table the collector looked at.
type tableEntry struct {
	Table          string   `json:"table"`
	ARN            string   `json:"arn,omitempty"`
	From           []string `json:"from"`
	Status         string   `json:"status"`
	Reason         string   `json:"reason,omitempty"`
	StreamArn      string   `json:"streamArn,omitempty"`
	StreamEnabled  *bool    `json:"streamEnabled,omitempty"`
	StreamViewType string   `json:"streamViewType,omitempty"`
	Shards         int      `json:"shards,omitempty"`
	Records        int64    `json:"records"`
	Key            string   `json:"key,omitempty"`
}

// extractState is what became of the run's CloudTrail extract.
type extractState struct {
	Key string `json:"key"`
	// Parts are every extract read, when there were more than one (a
	// fanned-out CloudTrail collector writes one a shard).
	Parts  []string `json:"parts,omitempty"`
	Status string   `json:"status"` // read | not-ready | denied | unreadable | not-looked-at
	Tables []string `json:"tables,omitempty"`
	Detail string   `json:"detail,omitempty"`
}

// Extract statuses.
const (
	extractRead       = "read"
	extractNotReady   = "not-ready"
	extractDenied     = "denied"
	extractUnreadable = "unreadable"
)

// inventory is the pass's record of what it looked at: one small JSON
// artifact beside the extracts, which the second pass reads to skip the
// tables the first took.
type inventory struct {
	Pass              string          `json:"pass"`
	CollectedAt       time.Time       `json:"collectedAt"`
	Window            incident.Window `json:"window"`
	CloudTrailExtract *extractState   `json:"cloudtrailExtract,omitempty"`
	Tables            []tableEntry    `json:"tables"`
}

// tableRef is a table to collect, by name, with where it came from.
type tableRef struct {
	name string
	arn  string // when it was named by ARN
	from []string
	// bad is set when the name is not a table the collector can read: the
	// reason, and the status it gets.
	bad, badStatus string
}

var tableNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

// parseTable reads a table name or ARN
// (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME[/stream/…|/index/…]). sc's
// account and region, where set, are the ones this stack collects in.
func parseTable(s string, sc incident.Scope) tableRef {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "arn:") {
		r := tableRef{name: s}
		if !tableNameRe.MatchString(s) {
			r.bad, r.badStatus = fmt.Sprintf("%q is not a DynamoDB table name", s), statusInvalid
		}
		return r
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[2] != "dynamodb" || !strings.HasPrefix(parts[5], "table/") {
		return tableRef{name: s, bad: fmt.Sprintf("%q is not a DynamoDB table ARN", s), badStatus: statusInvalid}
	}
	name := strings.TrimPrefix(parts[5], "table/")
	if i := strings.Index(name, "/"); i >= 0 {
		name = name[:i]
	}
	arn := strings.Join(parts[:5], ":") + ":table/" + name
	r := tableRef{name: name, arn: arn}
	switch {
	case !tableNameRe.MatchString(name):
		r.bad, r.badStatus = fmt.Sprintf("%q is not a DynamoDB table ARN", s), statusInvalid
	case sc.AccountID != "" && parts[4] != "" && parts[4] != sc.AccountID:
		r.bad, r.badStatus = fmt.Sprintf("table %s is in account %s, not %s: collecting from another account is not supported yet", arn, parts[4], sc.AccountID), statusElsewhere
	case sc.Region != "" && parts[3] != "" && parts[3] != sc.Region:
		r.bad, r.badStatus = fmt.Sprintf("table %s is in region %s: this stack collects in %s", arn, parts[3], sc.Region), statusElsewhere
	}
	return r
}

// tableList collects tableRefs by name, keeping the order they were added.
type tableList struct {
	order []string
	refs  map[string]*tableRef
}

func (l *tableList) add(s, from string, sc incident.Scope) {
	if strings.TrimSpace(s) == "" {
		return
	}
	r := parseTable(s, sc)
	if l.refs == nil {
		l.refs = map[string]*tableRef{}
	}
	key := r.name
	if r.bad != "" {
		key = "bad:" + s
	}
	if have, ok := l.refs[key]; ok {
		for _, f := range have.from {
			if f == from {
				return
			}
		}
		have.from = append(have.from, from)
		if have.arn == "" {
			have.arn = r.arn
		}
		return
	}
	r.from = []string{from}
	l.refs[key] = &r
	l.order = append(l.order, key)
}

func (l *tableList) list() []*tableRef {
	out := make([]*tableRef, 0, len(l.order))
	for _, k := range l.order {
		out = append(out, l.refs[k])
	}
	return out
}

// named is the first pass's tables: the finding's, then configuration's.
func (c *StreamsCollector) named(sc incident.Scope) *tableList {
	l := &tableList{}
	for _, t := range sc.Tables {
		l.add(t, fromFinding, sc)
	}
	for _, t := range c.Configured {
		l.add(t, fromConfig, sc)
	}
	return l
}

// ParseTables reads CUSTODY_DYNAMODB_TABLES: comma-separated table names
// or ARNs; blanks dropped, duplicates removed. A value that is neither a
// table name nor a table ARN is refused.
func ParseTables(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" || seen[e] {
			continue
		}
		if r := parseTable(e, incident.Scope{}); r.bad != "" {
			return nil, errors.New(r.bad)
		}
		seen[e] = true
		out = append(out, e)
	}
	return out, nil
}

// Collect implements collect.Collector.
func (c *StreamsCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	started := c.now()
	// An open shard is read to the present: the moment the run was opened
	// (Triage's OpenedAt), the same for every attempt and both passes, so
	// a retried collector writes the same records again; without it, now.
	cutoff := started
	if !inc.OpenedAt.IsZero() && inc.OpenedAt.Before(started) {
		cutoff = inc.OpenedAt.UTC()
	}
	run := &run{c: c, inc: inc, out: out, started: started, cutoff: cutoff, deadline: c.deadline(ctx)}
	inv := inventory{Pass: "first", CollectedAt: started, Window: inc.Window}
	name := inventoryFirst
	named := c.named(inc.Scope)
	done := map[string]bool{}

	if c.Pass == PassCloudTrail {
		inv.Pass, name = "cloudtrail", inventoryCloudTrail
		first, err := c.readInventory(ctx, inc)
		if err != nil {
			return err
		}
		switch {
		case first != nil && first.CloudTrailExtract != nil && first.CloudTrailExtract.Status == extractRead:
			out.Warn("the first pass already read the CloudTrail extract and collected the tables it names: nothing left for this pass")
			inv.CloudTrailExtract = &extractState{Key: first.CloudTrailExtract.Key, Status: "read-by-first-pass", Tables: first.CloudTrailExtract.Tables}
			inv.Tables = []tableEntry{}
			return c.putInventory(ctx, out, name, inv)
		case first != nil:
			for _, e := range first.Tables {
				done[e.Table] = true
			}
		default:
			out.Warn("the first pass's inventory (%s) is not there: the tables the finding and configuration name are left to it", inventoryFirst)
			for _, r := range named.list() {
				done[r.name] = true
			}
		}
	} else {
		for _, r := range named.list() {
			e, err := run.table(ctx, r)
			if err != nil {
				return err
			}
			inv.Tables = append(inv.Tables, e)
			done[r.name] = true
		}
	}

	ex, tables, err := c.readExtract(ctx, inc)
	if err != nil {
		return err
	}
	inv.CloudTrailExtract = ex
	switch ex.Status {
	case extractRead:
		ct := &tableList{}
		for _, t := range tables {
			ct.add(t, fromCloudTrail, inc.Scope)
		}
		for _, r := range ct.list() {
			if done[r.name] {
				continue
			}
			e, err := run.table(ctx, r)
			if err != nil {
				return err
			}
			inv.Tables = append(inv.Tables, e)
			done[r.name] = true
		}
	case extractNotReady:
		if c.Pass == PassCloudTrail {
			out.Gap("CloudTrail-named tables: the run's CloudTrail extract ("+ex.Key+") does not exist, so the tables it would name were not collected",
				"see the cloudtrail collector's result for this run: its extract is written when it has a trail bucket or LookupEvents to read")
		} else {
			out.Warn("CloudTrail-named tables: the extract was not ready; run a second pass (collector %s, after the cloudtrail collector)", collectorNameCloudTrail)
		}
	case extractDenied:
		out.Gap("CloudTrail-named tables: reading the run's CloudTrail extract ("+ex.Key+") was refused: "+ex.Detail,
			"allow s3:GetObject on the evidence bucket's cases/* to the dynamodb collector's role")
	case extractUnreadable:
		out.Warn("CloudTrail-named tables: the run's CloudTrail extract (%s) could not be read to the end: %s; the tables named before that point were collected", ex.Key, ex.Detail)
	}
	run.retentionGap()
	if inv.Tables == nil {
		inv.Tables = []tableEntry{}
	}
	if len(inv.Tables) == 0 && c.Pass == PassFirst && ex.Status != extractRead {
		out.Warn("the finding and configuration name no DynamoDB table (set CUSTODY_DYNAMODB_TABLES to collect tables for every incident)")
	}
	return c.putInventory(ctx, out, name, inv)
}

func (c *StreamsCollector) putInventory(ctx context.Context, out *collect.Output, name string, inv inventory) error {
	names := make([]string, len(inv.Tables))
	for i, e := range inv.Tables {
		names[i] = e.Table
	}
	meta := out.Meta(apiDescribeTable, map[string]any{"tables": names}, nil)
	meta.Records = int64(len(inv.Tables))
	_, err := out.PutJSON(ctx, name, inv, meta)
	return err
}

// deadline is when reading must stop: the context's deadline less the
// reserve, or zero.
func (c *StreamsCollector) deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	reserve := c.Reserve
	if reserve == 0 {
		reserve = DefaultReserve
	}
	return d.Add(-reserve)
}

// run is one collector run's state.
type run struct {
	c       *StreamsCollector
	inc     *incident.Incident
	out     *collect.Output
	started time.Time
	// cutoff ends an open shard: a record written after it is past the
	// present the run collects up to.
	cutoff   time.Time
	deadline time.Time
	// streamed lists the tables whose stream was read, for the retention
	// gap.
	streamed []string
}

// retentionGap reports the part of the window streams no longer hold.
func (r *run) retentionGap() {
	horizon := r.started.Add(-streamRetention)
	if len(r.streamed) == 0 || !r.inc.Window.Start.Before(horizon) {
		return
	}
	r.out.Gap(fmt.Sprintf("DynamoDB Streams keep records 24 hours: for %s, the records from the window's start (%s) to %s had aged out when the streams were read",
		strings.Join(r.streamed, ", "), r.inc.Window.Start.Format(time.RFC3339), horizon.Format(time.RFC3339)),
		"collect sooner after the finding (custody runs on it by itself); for older activity enable CloudTrail data events for DynamoDB, and point-in-time recovery on the tables")
}

// table collects one table: its stream's records of the window, or a gap.
func (r *run) table(ctx context.Context, t *tableRef) (tableEntry, error) {
	e := tableEntry{Table: t.name, ARN: t.arn, From: t.from}
	why := strings.Join(t.from, ", ")
	if t.bad != "" {
		e.Status, e.Reason = t.badStatus, t.bad
		r.out.Gap(t.bad+" (named by "+why+")", "name the table by name, or by ARN in this stack's account and region")
		return e, nil
	}
	desc, err := r.c.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)})
	if err != nil {
		var nf *ddbtypes.ResourceNotFoundException
		if errors.As(err, &nf) || apiCode(err) == "ResourceNotFoundException" {
			e.Status, e.Reason = statusNotFound, "table does not exist"
			r.out.Gap(fmt.Sprintf("table %s does not exist (named by %s)", t.name, why),
				"check the table's name and region; a table deleted during the incident leaves its records in CloudTrail data events only")
			return e, nil
		}
		if reason, ok := gapReason(err); ok {
			e.Status, e.Reason = statusDenied, reason
			r.out.Gap(fmt.Sprintf("table %s: %s", t.name, reason), "allow "+apiDescribeTable+" on the table to the dynamodb collector's role")
			return e, nil
		}
		return e, classify(apiDescribeTable, err)
	}
	td := desc.Table
	if td == nil {
		td = &ddbtypes.TableDescription{}
	}
	if e.ARN == "" {
		e.ARN = aws.ToString(td.TableArn)
	}
	if spec := td.StreamSpecification; spec != nil {
		e.StreamEnabled = spec.StreamEnabled
		e.StreamViewType = string(spec.StreamViewType)
	}
	e.StreamArn = aws.ToString(td.LatestStreamArn)
	if e.StreamArn == "" {
		e.Status, e.Reason = statusNoStream, "no stream"
		r.out.Gap(fmt.Sprintf("table %s has no stream: enable DynamoDB Streams (NEW_AND_OLD_IMAGES)", t.name),
			"enable a stream on table "+t.name+" with view type NEW_AND_OLD_IMAGES (aws dynamodb update-table --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES)")
		return e, nil
	}
	if e.StreamEnabled != nil && !*e.StreamEnabled {
		r.out.Warn("table %s: its stream is disabled; the last stream (readable for 24 hours after) was read: check CloudTrail for an UpdateTable that disabled it", t.name)
	}
	return r.stream(ctx, t, e)
}

// apiCode is the AWS error code of err, or "".
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

// sortShards orders shards by their first sequence number (numerically:
// the numbers are decimal strings of varying length), parents before
// children; a shard without one goes last, by ID.
func sortShards(ids []string, start map[string]string) {
	sort.SliceStable(ids, func(i, j int) bool {
		a, b := start[ids[i]], start[ids[j]]
		switch {
		case a == "" && b == "":
			return ids[i] < ids[j]
		case a == "":
			return false
		case b == "":
			return true
		case len(a) != len(b):
			return len(a) < len(b)
		case a != b:
			return a < b
		}
		return ids[i] < ids[j]
	})
}

// Handler is the collector Lambda: one deployment runs both passes,
// chosen by the plan item's collector name.
type Handler struct {
	Driver     *collect.Driver
	First      collect.Collector
	CloudTrail collect.Collector
}

// Handle runs the pass the item names through the shared driver: the
// CloudTrail pass for "dynamodb-cloudtrail", the first pass otherwise.
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	c := h.First
	if in.Item.Collector == collectorNameCloudTrail && h.CloudTrail != nil {
		c = h.CloudTrail
	}
	return h.Driver.Run(ctx, c, in)
}
