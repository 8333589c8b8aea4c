package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/logs/s3access"
	"github.com/custody-ir/custody/shared/pivot"
	"github.com/custody-ir/custody/shared/s3logs"
)

// CollectorName is this collector's name in the Plan and the manifest.
const CollectorName = "s3access"

// EnvPad is the delivery pad setting: a Go duration, default DefaultPad.
const EnvPad = "CUSTODY_S3ACCESS_PAD"

// DefaultPad widens the window for listing log object keys: S3 delivers
// server access logs best effort, usually within hours.
const DefaultPad = 3 * time.Hour

// copyConcurrency is how many server-side copies run at once.
const copyConcurrency = 8

// bucketAPI is every S3 call the collector makes.
type bucketAPI interface {
	GetBucketLogging(ctx context.Context, in *s3.GetBucketLoggingInput, optFns ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error)
	GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	GetBucketAcl(ctx context.Context, in *s3.GetBucketAclInput, optFns ...func(*s3.Options)) (*s3.GetBucketAclOutput, error)
	GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	GetBucketOwnershipControls(ctx context.Context, in *s3.GetBucketOwnershipControlsInput, optFns ...func(*s3.Options)) (*s3.GetBucketOwnershipControlsOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	s3logs.ObjectLister
	s3logs.ObjectGetter
}

// Config is the collector's settings.
type Config struct {
	// Pad widens the window for listing log object keys.
	Pad time.Duration
}

// ConfigFromEnv reads CUSTODY_S3ACCESS_PAD (a Go duration, not negative;
// unset or empty: DefaultPad).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Pad: DefaultPad}
	if v := getenv(EnvPad); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, &faults.ConfigurationError{Setting: EnvPad, Reason: "not a Go duration (e.g. 3h, 90m): " + err.Error()}
		}
		if d < 0 {
			return Config{}, &faults.ConfigurationError{Setting: EnvPad, Reason: v + " must not be negative"}
		}
		cfg.Pad = d
	}
	return cfg, nil
}

// Collector collects the S3 object-level evidence of each bucket in scope:
// a snapshot of its configuration, its server access log objects for the
// window (copied unchanged) and an extract of its lines. The CloudTrail S3
// data events for the bucket are the CloudTrail collector's. It is a
// collect.ShardCollector: past its budget, the copies and extracts go to
// shards.
type Collector struct {
	S3     bucketAPI
	Config Config
	// Pass, when set, is the pass over the buckets the identities a pivot
	// chain derived touched (pivot.go): only their lines are kept.
	Pass *PivotPass
}

// Name implements collect.Collector: "s3access", or the pivot pass's.
func (c *Collector) Name() string {
	if c.Pass != nil {
		return c.Pass.Name
	}
	return CollectorName
}

// artifact is an artifact's name for this pass: unchanged in the first,
// under the pass's folder in a pivot pass.
func (c *Collector) artifact(name string) string {
	if c.Pass != nil {
		return c.Pass.Folder + "/" + name
	}
	return name
}

// Source implements collect.Collector.
func (c *Collector) Source() string { return evidence.SourceS3Access }

// Gap fixes.
const (
	fixLogging = "enable server access logging to a log bucket, or S3 data events on a trail"
	fixMissing = "none: the bucket is gone; its deletion and earlier use are in the CloudTrail extract"
)

// Collect implements collect.Collector. Every bucket's configuration is
// snapshotted and its log objects listed first; then its objects are copied
// and its lines extracted (copyExtract), here, or, when all the buckets'
// objects are more than the budget allows, in shards (CollectShard), a
// piece of one bucket's objects each.
func (c *Collector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	if len(inc.Scope.Buckets) == 0 {
		out.Warn("no bucket in scope: nothing to collect")
		return nil
	}
	// Two buckets in scope may log to the same target and prefix, so one
	// log object can serve both: seen holds the objects an earlier
	// bucket listed (bucket/key).
	seen := map[string]bool{}
	var works []logWork
	for _, b := range inc.Scope.Buckets {
		w, err := c.bucket(ctx, inc, out, b, seen)
		if err != nil {
			return err
		}
		if w != nil {
			works = append(works, *w)
		}
	}
	if b := out.Budget(); b != (collect.Budget{}) {
		var all []logObject
		for _, w := range works {
			all = append(all, w.Objects...)
		}
		if len(collect.Split(all, logObjectSize, b)) > 1 {
			if c.Pass != nil {
				// A pivot pass runs as one invocation: the state
				// machine's history is proven for it unsharded.
				out.Gap(fmt.Sprintf("the access logs of the %d buckets the derived identities touched are more than one invocation's budget: their lines were not read", len(works)),
					"read those buckets' access logs by hand for the requesters in "+PivotFollowFile+", or raise custody:shardBytes / custody:shardObjects")
				return nil
			}
			// Too much for one invocation: the objects go to shards.
			return out.FanOut(pieces(works, b)...)
		}
	}
	for _, w := range works {
		if err := c.copyExtract(ctx, inc, out, w); err != nil {
			return err
		}
	}
	return nil
}

// CollectShard implements collect.ShardCollector: it copies and extracts
// the objects of one piece (a logWork) as Collect does inline, its extract
// named by Output.PartName.
func (c *Collector) CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *collect.Output) error {
	var w logWork
	if err := json.Unmarshal(shard, &w); err != nil {
		return fmt.Errorf("s3access: decode shard: %w", err)
	}
	if w.Bucket == "" || w.Target == "" || len(w.Objects) == 0 {
		return fmt.Errorf("s3access: shard names no bucket, log target or object (bucket %q, target %q, %d objects)", w.Bucket, w.Target, len(w.Objects))
	}
	return c.copyExtract(ctx, inc, out, w)
}

var _ collect.ShardCollector = (*Collector)(nil)

// logWork is the copy and extract of server access log objects for one
// bucket in scope: every object listed for it inline, or one piece of them
// in a shard (a fan-out piece is a logWork as JSON).
type logWork struct {
	// Bucket is the bucket in scope whose lines are extracted.
	Bucket string `json:"bucket"`
	// Target and Prefix are its logging configuration's TargetBucket and
	// TargetPrefix: where the objects are.
	Target string `json:"target"`
	Prefix string `json:"prefix"`
	// Prefixes are the key prefixes listed and Pad the delivery pad the
	// listing used (the extract's request).
	Prefixes []string      `json:"prefixes"`
	Pad      time.Duration `json:"pad"`
	// Objects are the log objects to read for Bucket, in key order.
	Objects []logObject `json:"objects"`
}

// logObject is one log object of a logWork.
type logObject struct {
	s3logs.Object
	// First is set on the object in the first bucket in scope that listed
	// it: that bucket's work (or piece) copies it and reports its malformed
	// lines. An object that also serves a later bucket is in that bucket's
	// work too, without First: read again for that bucket's lines, not
	// copied or reported again. So each object is copied once across all
	// shards, and extracted for every bucket it serves.
	First bool `json:"first,omitempty"`
}

func logObjectSize(o logObject) int64 { return o.Size }

// pieces cuts each bucket's work into pieces within b (collect.Split): a
// piece holds one bucket's objects. Past collect.MaxShards pieces in all,
// b is doubled until they fit, or each bucket is one piece.
func pieces(works []logWork, b collect.Budget) []any {
	for {
		var out []any
		for _, w := range works {
			for _, objs := range collect.Split(w.Objects, logObjectSize, b) {
				p := w
				p.Objects = objs
				out = append(out, p)
			}
		}
		if len(out) <= collect.MaxShards || len(out) <= len(works) {
			return out
		}
		b.Bytes, b.Objects = 2*b.Bytes, 2*b.Objects
	}
}

// retryable returns err classified when it is throttling or transient
// (the state machine retries the collector), else nil.
func retryable(op string, err error) error { return faults.Of(op, err).Retryable() }

func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// bucket snapshots one bucket in scope and lists its log objects: the
// work of copying and extracting them (nil when there are none, a gap).
func (c *Collector) bucket(ctx context.Context, inc *incident.Incident, out *collect.Output, bucket string, seen map[string]bool) (*logWork, error) {
	logging, lerr := c.S3.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(bucket)})
	if lerr != nil {
		if err := retryable("s3:GetBucketLogging", lerr); err != nil {
			return nil, err
		}
		if s3logs.Missing(lerr) {
			out.Gap(fmt.Sprintf("bucket %s does not exist (%s): no configuration or server access logs to collect", bucket, errorCode(lerr)), fixMissing)
			return nil, nil
		}
	}

	// The configuration first: it is what an attacker changes.
	snap, region := c.snapshot(ctx, bucket, logging, lerr)
	meta := out.Meta("s3:GetBucket*", map[string]any{"Bucket": bucket, "calls": snapshotAPIs},
		&evidence.Origin{Bucket: bucket, Description: "bucket configuration"})
	meta.Records = 1
	if _, err := out.PutJSON(ctx, c.artifact("config-"+bucket+".json"), snap, meta); err != nil {
		return nil, err
	}
	if denied := deniedCalls(snap); len(denied) > 0 {
		out.Gap(fmt.Sprintf("bucket %s: may not read %s", bucket, strings.Join(denied, ", ")),
			fmt.Sprintf("grant the collector role %s on arn:aws:s3:::%s (and let the bucket policy allow it)", strings.Join(denied, ", "), bucket))
	}

	if lerr != nil {
		if s3logs.Denied(lerr) {
			// The gap above names it: whether access logs exist is unknown.
			return nil, nil
		}
		out.Gap(fmt.Sprintf("bucket %s: GetBucketLogging failed (%s): server access logs not collected", bucket, errorCode(lerr)),
			"check the collector role's s3:GetBucketLogging on arn:aws:s3:::"+bucket)
		return nil, nil
	}
	le := logging.LoggingEnabled
	if le == nil || aws.ToString(le.TargetBucket) == "" {
		out.Gap(fmt.Sprintf("server access logging is off for bucket %s; CloudTrail S3 data events, if enabled, are in the cloudtrail extract", bucket), fixLogging)
		return nil, nil
	}
	return c.logs(ctx, inc, out, bucket, le, region, seen)
}

// deniedCalls lists the configuration calls that were refused.
func deniedCalls(s configSnapshot) []string {
	var out []string
	for _, c := range []call{s.Location, s.Logging, s.Policy, s.ACL, s.PublicAccessBlock, s.OwnershipControls, s.Versioning, s.Encryption} {
		if c.Status == callDenied {
			out = append(out, c.API)
		}
	}
	return out
}

// extractRecord is one line of extract-<bucket>.jsonl.gz: the parsed access
// log line, with the original object and line number it came from.
type extractRecord struct {
	// Object is s3://<target bucket>/<key> of the original log object.
	Object string `json:"object"`
	Line   int    `json:"line"`
	s3access.Record
}

// logs lists the server access log objects of bucket for the window: the
// work of copying and extracting them, nil when there are none (a gap).
// seen is the objects earlier buckets listed; the objects it lacks are
// marked First and added to it.
func (c *Collector) logs(ctx context.Context, inc *incident.Incident, out *collect.Output, bucket string, le *s3types.LoggingEnabled, region string, seen map[string]bool) (*logWork, error) {
	target, prefix := aws.ToString(le.TargetBucket), aws.ToString(le.TargetPrefix)
	rules := keyRules{Prefix: prefix, Window: inc.Window, Pad: c.Config.Pad}
	if f := le.TargetObjectKeyFormat; f != nil && f.PartitionedPrefix != nil {
		rules.DateSource = f.PartitionedPrefix.PartitionDateSource
	}
	account := inc.Scope.AccountID
	if region == "" {
		region = inc.Scope.Region
	}
	if account == "" || region == "" {
		out.Warn("bucket %s: account or region unknown (account %q, region %q): date-partitioned log keys under s3://%s/%s not listed, simple keys only",
			bucket, account, region, target, prefix)
	} else {
		rules.PartitionBase = partitionBase(prefix, account, region, bucket)
	}
	where := "s3://" + target + "/" + prefix

	prefixes := rules.prefixes()
	listing, err := s3logs.ListFiltered(ctx, c.S3, target, prefixes, rules.filter)
	if err != nil {
		if rerr := retryable("s3:ListObjectsV2", err); rerr != nil {
			return nil, rerr
		}
		if s3logs.Denied(err) || s3logs.Missing(err) {
			out.Gap(fmt.Sprintf("bucket %s logs to %s, which the collector cannot list (%s); a log bucket in another account needs its own grant", bucket, where, errorCode(err)),
				fmt.Sprintf("grant the collector role s3:ListBucket on arn:aws:s3:::%s and s3:GetObject on arn:aws:s3:::%s/%s*", target, target, prefix))
			return nil, nil
		}
		return nil, faults.Classify("s3:ListObjectsV2", err, func(err error) error { return err })
	}
	if len(listing.Objects) == 0 {
		out.Gap(fmt.Sprintf("no server access log objects for bucket %s under %s for the window widened by %s (%d listed, %d outside it): S3 delivers access logs best effort",
			bucket, where, c.Config.Pad, listing.Listed, listing.OutOfWindow), fixLogging)
		return nil, nil
	}
	w := &logWork{Bucket: bucket, Target: target, Prefix: prefix, Prefixes: prefixes, Pad: c.Config.Pad}
	for _, o := range listing.Objects {
		id := o.Bucket + "/" + o.Key
		w.Objects = append(w.Objects, logObject{Object: o, First: !seen[id]})
		seen[id] = true
	}
	return w, nil
}

// copyExtract copies the work's First objects unchanged into the case
// (logs/<target>/<key>) and writes the extract of its bucket's lines from
// all its objects. Collect runs it for each bucket's work, CollectShard
// for one piece: both write the same artifacts, but for the extract's name.
func (c *Collector) copyExtract(ctx context.Context, inc *incident.Incident, out *collect.Output, w logWork) error {
	where := "s3://" + w.Target + "/" + w.Prefix
	var fresh []s3logs.Object
	for _, o := range w.Objects {
		if o.First {
			fresh = append(fresh, o.Object)
		}
	}
	_, err := s3logs.CopyAll(ctx, out, fresh, c.artifact("logs/"+w.Target), copyConcurrency, func(o s3logs.Object) evidence.PutMeta {
		m := out.Meta("s3:CopyObject", map[string]any{"Bucket": o.Bucket, "Key": o.Key}, nil)
		if !o.KeyTime.IsZero() {
			// The time the key names (delivery time, or the event day).
			m.Request["keyTime"] = o.KeyTime.Format(time.RFC3339)
		}
		return m
	})
	if err != nil {
		if rerr := retryable("s3:CopyObject", err); rerr != nil {
			return rerr
		}
		if !s3logs.Denied(err) {
			return err
		}
		out.Gap(fmt.Sprintf("bucket %s: could not copy access log objects from %s (AccessDenied)", w.Bucket, where),
			fmt.Sprintf("grant the collector role s3:GetObject and s3:GetObjectVersion on arn:aws:s3:::%s/%s*", w.Target, w.Prefix))
	}
	return c.extract(ctx, inc, out, w, where)
}

// extract writes extract-<bucket>.jsonl.gz (in a shard, its
// Output.PartName: extract-<bucket>-shard0003.jsonl.gz): the lines of the
// work's objects that are for its bucket and whose own time is in the
// window.
func (c *Collector) extract(ctx context.Context, inc *incident.Incident, out *collect.Output, w logWork, where string) error {
	bucket := w.Bucket
	// The objects read are the work's: each is named by its copy's
	// manifest entry, so the request names the prefixes, not every key.
	meta := out.Meta("s3:GetObject", map[string]any{
		"Bucket": w.Target, "Prefixes": w.Prefixes, "objects": len(w.Objects), "sourceBucket": bucket,
		"window": map[string]string{"start": inc.Window.Start.Format(time.RFC3339), "end": inc.Window.End.Format(time.RFC3339)},
		"pad":    w.Pad.String(),
	}, &evidence.Origin{Bucket: w.Target, Description: fmt.Sprintf("server access log lines of bucket %s from %d objects under %s", bucket, len(w.Objects), where)})
	if c.Pass != nil {
		meta.Request["requesters"] = c.Pass.Requesters
		meta.Origin.Description += ", only the lines of the requesters the pivot chain derived"
	}
	stream, err := out.CreateGzip(c.artifact(out.PartName("extract-"+bucket+".jsonl.gz")), meta)
	if err != nil {
		return err
	}
	var total s3logs.Stats
	keep := func(r s3logs.Record) bool {
		rec := r.Value.(extractRecord)
		return rec.Bucket == bucket && (c.Pass == nil || c.Pass.requester(rec.Requester))
	}
	for _, o := range w.Objects {
		object := "s3://" + o.Bucket + "/" + o.Key
		decode := s3logs.NumberedLines(func(n int, line []byte) (s3logs.Record, error) {
			rec, err := s3access.Parse(line)
			if err != nil {
				return s3logs.Record{}, err
			}
			return s3logs.Record{Time: rec.Time, Value: extractRecord{Object: object, Line: n, Record: rec}}, nil
		})
		st, err := s3logs.Extract(ctx, c.S3, []s3logs.Object{o.Object}, decode, keep, inc.Window, stream)
		total.Objects += st.Objects
		total.Records += st.Records
		total.Kept += st.Kept
		if o.First {
			// An object read again for a later bucket in scope has the
			// same problems: they are reported once, by the work that
			// copies it.
			total.Malformed += st.Malformed
			total.Oversize += st.Oversize
			total.Bombs += st.Bombs
			for _, p := range st.Problems {
				if len(total.Problems) < 20 {
					total.Problems = append(total.Problems, p)
				}
			}
		}
		if err != nil {
			stream.Abort()
			return err
		}
	}
	if _, err := stream.Close(ctx); err != nil {
		return err
	}
	if total.Malformed > 0 || len(total.Problems) > 0 {
		out.Warn("bucket %s: %d malformed access log lines in %d objects under %s (the rest collected): %s",
			bucket, total.Malformed, total.Objects, where, strings.Join(total.Problems, "; "))
	}
	for _, w := range total.BoundWarnings() {
		out.Warn("bucket %s: %s", bucket, w)
	}
	if total.Kept == 0 {
		out.Warn("bucket %s: none of the %d access log lines in %d objects under %s is for this bucket in the window",
			bucket, total.Records, total.Objects, where)
	}
	return nil
}

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
	// Pivot builds the pass over the buckets a pivot chain's identities
	// touched (pivot.go); nil: such an item fails naming it.
	Pivot func(*PivotPass) collect.Collector
}

// Handle runs the collector through the shared driver: the first pass, or
// a pivot pass (item s3access-pivot-<account>).
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	if strings.HasPrefix(in.Item.Collector, pivot.S3AccessCollectorPrefix) {
		c, err := h.pivotPass(ctx, &in)
		if err != nil {
			return incident.Result{}, err
		}
		return h.Driver.Run(ctx, c, in)
	}
	return h.Driver.Run(ctx, h.Collector, in)
}
