package main

import (
	"context"
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
// data events for the bucket are the CloudTrail collector's.
type Collector struct {
	S3     bucketAPI
	Config Config
}

// Name implements collect.Collector.
func (c *Collector) Name() string { return CollectorName }

// Source implements collect.Collector.
func (c *Collector) Source() string { return evidence.SourceS3Access }

// Gap fixes.
const (
	fixLogging = "enable server access logging to a log bucket, or S3 data events on a trail"
	fixMissing = "none: the bucket is gone; its deletion and earlier use are in the CloudTrail extract"
)

// Collect implements collect.Collector.
func (c *Collector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	if len(inc.Scope.Buckets) == 0 {
		out.Warn("no bucket in scope: nothing to collect")
		return nil
	}
	st := &runState{copied: map[string]bool{}, reported: map[string]bool{}}
	for _, b := range inc.Scope.Buckets {
		if err := c.bucket(ctx, inc, out, b, st); err != nil {
			return err
		}
	}
	return nil
}

// runState is what one Collect shares across its buckets: two buckets in
// scope may log to the same target and prefix, so one log object can serve
// both. It is copied once, and its malformed lines reported once.
type runState struct {
	copied   map[string]bool // bucket/key of each object copied
	reported map[string]bool // s3://bucket/key of each object whose problems were reported
}

// retryable returns err classified when it is throttling or transient
// (the state machine retries the collector), else nil.
func retryable(op string, err error) error {
	cl := faults.Classify(op, err, func(error) error { return nil })
	var thr *faults.ThrottledError
	var trn *faults.TransientError
	if errors.As(cl, &thr) || errors.As(cl, &trn) {
		return cl
	}
	return nil
}

func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// bucket collects one bucket in scope.
func (c *Collector) bucket(ctx context.Context, inc *incident.Incident, out *collect.Output, bucket string, st *runState) error {
	logging, lerr := c.S3.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(bucket)})
	if lerr != nil {
		if err := retryable("s3:GetBucketLogging", lerr); err != nil {
			return err
		}
		if s3logs.Missing(lerr) {
			out.Gap(fmt.Sprintf("bucket %s does not exist (%s): no configuration or server access logs to collect", bucket, errorCode(lerr)), fixMissing)
			return nil
		}
	}

	// The configuration first: it is what an attacker changes.
	snap, region := c.snapshot(ctx, bucket, logging, lerr)
	meta := out.Meta("s3:GetBucket*", map[string]any{"Bucket": bucket, "calls": snapshotAPIs},
		&evidence.Origin{Bucket: bucket, Description: "bucket configuration"})
	meta.Records = 1
	if _, err := out.PutJSON(ctx, "config-"+bucket+".json", snap, meta); err != nil {
		return err
	}
	if denied := deniedCalls(snap); len(denied) > 0 {
		out.Gap(fmt.Sprintf("bucket %s: may not read %s", bucket, strings.Join(denied, ", ")),
			fmt.Sprintf("grant the collector role %s on arn:aws:s3:::%s (and let the bucket policy allow it)", strings.Join(denied, ", "), bucket))
	}

	if lerr != nil {
		if s3logs.Denied(lerr) {
			// The gap above names it: whether access logs exist is unknown.
			return nil
		}
		out.Gap(fmt.Sprintf("bucket %s: GetBucketLogging failed (%s): server access logs not collected", bucket, errorCode(lerr)),
			"check the collector role's s3:GetBucketLogging on arn:aws:s3:::"+bucket)
		return nil
	}
	le := logging.LoggingEnabled
	if le == nil || aws.ToString(le.TargetBucket) == "" {
		out.Gap(fmt.Sprintf("server access logging is off for bucket %s; CloudTrail S3 data events, if enabled, are in the cloudtrail extract", bucket), fixLogging)
		return nil
	}
	return c.logs(ctx, inc, out, bucket, le, region, st)
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

// logs lists, copies and extracts the server access logs of bucket.
func (c *Collector) logs(ctx context.Context, inc *incident.Incident, out *collect.Output, bucket string, le *s3types.LoggingEnabled, region string, st *runState) error {
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
			return rerr
		}
		if s3logs.Denied(err) || s3logs.Missing(err) {
			out.Gap(fmt.Sprintf("bucket %s logs to %s, which the collector cannot list (%s); a log bucket in another account needs its own grant", bucket, where, errorCode(err)),
				fmt.Sprintf("grant the collector role s3:ListBucket on arn:aws:s3:::%s and s3:GetObject on arn:aws:s3:::%s/%s*", target, target, prefix))
			return nil
		}
		return faults.Classify("s3:ListObjectsV2", err, func(err error) error { return err })
	}
	if len(listing.Objects) == 0 {
		out.Gap(fmt.Sprintf("no server access log objects for bucket %s under %s for the window widened by %s (%d listed, %d outside it): S3 delivers access logs best effort",
			bucket, where, c.Config.Pad, listing.Listed, listing.OutOfWindow), fixLogging)
		return nil
	}

	var fresh []s3logs.Object
	for _, o := range listing.Objects {
		if id := o.Bucket + "/" + o.Key; !st.copied[id] {
			st.copied[id] = true
			fresh = append(fresh, o)
		}
	}
	_, err = s3logs.CopyAll(ctx, out, fresh, "logs/"+target, copyConcurrency, func(o s3logs.Object) evidence.PutMeta {
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
		out.Gap(fmt.Sprintf("bucket %s: could not copy access log objects from %s (AccessDenied)", bucket, where),
			fmt.Sprintf("grant the collector role s3:GetObject and s3:GetObjectVersion on arn:aws:s3:::%s/%s*", target, prefix))
	}

	return c.extract(ctx, inc, out, bucket, target, where, prefixes, listing, st)
}

// extract writes extract-<bucket>.jsonl.gz: the lines of the listed
// objects that are for bucket and whose own time is in the window.
func (c *Collector) extract(ctx context.Context, inc *incident.Incident, out *collect.Output, bucket, target, where string, prefixes []string, listing s3logs.Listing, rs *runState) error {
	// The objects read are the listing's: each is named by its copy's
	// manifest entry, so the request names the prefixes, not every key.
	meta := out.Meta("s3:GetObject", map[string]any{
		"Bucket": target, "Prefixes": prefixes, "objects": len(listing.Objects), "sourceBucket": bucket,
		"window": map[string]string{"start": inc.Window.Start.Format(time.RFC3339), "end": inc.Window.End.Format(time.RFC3339)},
		"pad":    c.Config.Pad.String(),
	}, &evidence.Origin{Bucket: target, Description: fmt.Sprintf("server access log lines of bucket %s from %d objects under %s", bucket, len(listing.Objects), where)})
	stream, err := out.CreateGzip("extract-"+bucket+".jsonl.gz", meta)
	if err != nil {
		return err
	}
	var total s3logs.Stats
	keep := func(r s3logs.Record) bool { return r.Value.(extractRecord).Bucket == bucket }
	for _, o := range listing.Objects {
		object := "s3://" + o.Bucket + "/" + o.Key
		decode := s3logs.NumberedLines(func(n int, line []byte) (s3logs.Record, error) {
			rec, err := s3access.Parse(line)
			if err != nil {
				return s3logs.Record{}, err
			}
			return s3logs.Record{Time: rec.Time, Value: extractRecord{Object: object, Line: n, Record: rec}}, nil
		})
		st, err := s3logs.Extract(ctx, c.S3, []s3logs.Object{o}, decode, keep, inc.Window, stream)
		total.Objects += st.Objects
		total.Records += st.Records
		total.Kept += st.Kept
		if !rs.reported[object] {
			// An object read again for another bucket in scope has
			// the same problems: they are reported once.
			rs.reported[object] = true
			total.Malformed += st.Malformed
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
}

// Handle runs the collector through the shared driver.
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	return h.Driver.Run(ctx, h.Collector, in)
}
