package main

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
	"github.com/custody-ir/custody/shared/s3logs"
)

// S3Destination is a flow log's S3 destination, arn:aws:s3:::bucket[/prefix].
type S3Destination struct {
	Bucket string
	Prefix string // without leading or trailing "/"
}

// ParseS3Destination reads a flow log's LogDestination ARN.
func ParseS3Destination(arn string) (S3Destination, error) {
	i := strings.Index(arn, ":::")
	if !strings.HasPrefix(arn, "arn:") || i < 0 || !strings.HasSuffix(arn[:i], ":s3") {
		return S3Destination{}, fmt.Errorf("%q is not an S3 bucket ARN", arn)
	}
	bucket, prefix, _ := strings.Cut(arn[i+3:], "/")
	if bucket == "" {
		return S3Destination{}, fmt.Errorf("%q names no bucket", arn)
	}
	return S3Destination{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
}

// Base returns the key prefix under which AWS delivers the flow logs of
// account and region, and the layout of the day folders after it:
//
//	[prefix/]AWSLogs/<account>/vpcflowlogs/<region>/2006/01/02/
//	[prefix/]AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/year=2006/month=01/day=02/
//
// (the second with Hive-compatible partitions; hourly partitions add an
// hour folder inside the day's, which the day's prefix lists).
func (d S3Destination) Base(account, region string, hive bool) (base, layout string) {
	p := ""
	if d.Prefix != "" {
		p = d.Prefix + "/"
	}
	if hive {
		return p + "AWSLogs/aws-account-id=" + account + "/aws-service=vpcflowlogs/aws-region=" + region + "/", "year=2006/month=01/day=02/"
	}
	return p + "AWSLogs/" + account + "/vpcflowlogs/" + region + "/", "2006/01/02/"
}

// KeyName is what a flow log object's file name says:
// <account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz
// (.log.parquet for Parquet).
type KeyName struct {
	FlowLogID string
	Time      time.Time
}

// ParseKeyName reads a flow log object's key; false when its file name is
// not a flow log file name.
func ParseKeyName(key string) (KeyName, bool) {
	parts := strings.Split(path.Base(key), "_")
	if len(parts) < 6 || parts[1] != "vpcflowlogs" || !strings.HasPrefix(parts[3], "fl-") {
		return KeyName{}, false
	}
	t, err := time.Parse("20060102T1504Z", parts[4])
	if err != nil {
		return KeyName{}, false
	}
	return KeyName{FlowLogID: parts[3], Time: t.UTC()}, true
}

// keyTime is the s3logs.KeyTime of flow log objects.
func keyTime(key string) (time.Time, bool) {
	n, ok := ParseKeyName(key)
	return n.Time, ok
}

// s3Batch is what a flow log's S3 destination gives the case: the objects
// delivered in the window (widened by the pad) for this flow log, to copy
// unchanged and read. The first invocation lists every batch of the run;
// it reads them itself or, when their objects exceed its budget, hands
// them to shards in pieces (a piece holds parts of one or more batches).
type s3Batch struct {
	FlowLogID string `json:"flowLogId"`
	// Format is what a file without a header line is read by, as a
	// LogFormat string: the flow log's, or the default when the flow
	// log's would not parse.
	Format string `json:"format"`
	// Bucket and Base are the destination's bucket and the key prefix of
	// the account and region in it (for gaps).
	Bucket  string          `json:"bucket"`
	Base    string          `json:"base"`
	Objects []s3logs.Object `json:"objects"`
}

// isParquet reports a Parquet flow log object: copied, never parsed.
func isParquet(key string) bool { return strings.HasSuffix(key, ".parquet") }

// listS3 lists a flow log's S3 destination: the day prefixes of the
// window, and the objects delivered in it (widened by the pad) for this
// flow log that no earlier flow log took. It returns nil when the
// destination could not be listed, and a batch without objects when it
// holds none for the window (a gap says so, in both cases); Parquet
// objects are named in a gap here, for the whole flow log.
func (r *run) listS3(ctx context.Context, fl ec2types.FlowLog, format vpcflow.Format) (*s3Batch, error) {
	id := aws.ToString(fl.FlowLogId)
	dest, err := ParseS3Destination(aws.ToString(fl.LogDestination))
	if err != nil {
		r.out.Gap(fmt.Sprintf("flow log %s: destination %v", id, err), "check the flow log's destination with ec2:DescribeFlowLogs")
		return nil, nil
	}
	account, region := r.scope.AccountID, r.scope.Region
	if region == "" {
		region = r.c.Region
	}
	if account == "" || region == "" {
		r.out.Gap(fmt.Sprintf("flow log %s: the incident names no account or region, so its S3 key layout is unknown", id),
			"start the case with the account and region of the resource")
		return nil, nil
	}
	hive := fl.DestinationOptions != nil && aws.ToBool(fl.DestinationOptions.HiveCompatiblePartitions)
	base, layout := dest.Base(account, region, hive)
	prefixes := s3logs.DayPrefixes(base, layout, r.inc.Window, r.c.Pad)
	listing, err := s3logs.List(ctx, r.c.Objects, dest.Bucket, prefixes, keyTime, r.inc.Window, r.c.Pad)
	if err != nil {
		if s3logs.Denied(err) || s3logs.Missing(err) {
			r.bucketGap(id, dest.Bucket, err)
			return nil, nil
		}
		return nil, faults.Classify("s3:ListObjectsV2", err, func(err error) error { return err })
	}
	b := &s3Batch{FlowLogID: id, Format: format.String(), Bucket: dest.Bucket, Base: base}
	parquet, otherLog := 0, 0
	for _, o := range listing.Objects {
		if n, ok := ParseKeyName(o.Key); ok && n.FlowLogID != id {
			otherLog++ // another flow log delivering to the same place
			continue
		}
		if r.seen[o.Bucket+"/"+o.Key] {
			continue
		}
		r.seen[o.Bucket+"/"+o.Key] = true
		b.Objects = append(b.Objects, o)
		if isParquet(o.Key) {
			parquet++
		}
	}
	if len(b.Objects) == 0 {
		r.out.Gap(fmt.Sprintf("flow log %s: no log objects in s3://%s/%s for the window (widened by %s); %d listed under the day prefixes, %d for other flow logs",
			id, dest.Bucket, base, r.c.Pad, listing.Listed, otherLog),
			"check the flow log's delivery status and that the bucket policy lets delivery.logs.amazonaws.com write "+base)
	}
	if parquet > 0 {
		r.out.Gap(fmt.Sprintf("flow log %s: %d Parquet objects in s3://%s/%s: parquet flow logs are copied but not parsed, so their records are not in the extract", id, parquet, dest.Bucket, base),
			"read the copied .parquet objects with a Parquet reader (Athena, DuckDB), or add a flow log in the text format")
	}
	return b, nil
}

// s3 collects a flow log's S3 destination as listS3 listed it: its objects
// copied and read here, unless shards read them (r.pieces). It reports
// whether the destination was read.
func (r *run) s3(ctx context.Context, id string) (bool, error) {
	b := r.batches[id]
	if b == nil || r.pieces != nil {
		return false, nil
	}
	return true, r.readObjects(ctx, *b)
}

// readObjects copies a batch's objects unchanged under s3/<bucket>/<key>
// and writes their lines of the scope to r.extract: the first invocation
// does it for whole batches, a shard for its pieces of them.
func (r *run) readObjects(ctx context.Context, b s3Batch) error {
	if len(b.Objects) == 0 {
		return nil
	}
	id := b.FlowLogID
	format, err := vpcflow.ParseFormat(b.Format)
	if err != nil {
		return fmt.Errorf("flow log %s: format %q: %w", id, b.Format, err)
	}
	_, err = s3logs.CopyAll(ctx, r.out, b.Objects, "s3/"+b.Bucket, copyConcurrency, func(o s3logs.Object) evidence.PutMeta {
		// No first or last event: the key names the delivery time, not
		// the records' own; the extract has those.
		m := r.out.Meta("s3:CopyObject", map[string]any{"Bucket": o.Bucket, "Key": o.Key, "flowLogId": id}, &evidence.Origin{Bucket: o.Bucket, Key: o.Key})
		m.ReadWith = r.c.ObjectsReadWith
		return m
	})
	if err != nil {
		if s3logs.Denied(err) || s3logs.Missing(err) {
			r.bucketGap(id, b.Bucket, err)
		} else {
			return faults.Classify("s3:CopyObject", err, func(err error) error { return err })
		}
	}
	var text []s3logs.Object
	for _, o := range b.Objects {
		if !isParquet(o.Key) {
			text = append(text, o)
		}
	}
	var lines atomic.Int64
	// A decoder per object: each line's origin names its object. Objects
	// are read a few at a time, their records written in object order.
	st, err := s3logs.ExtractEach(ctx, r.c.Objects, text, func(o s3logs.Object) s3logs.Decoder {
		return r.decoder(id, format, o, &lines)
	}, r.keep, r.inc.Window, r.extract)
	if err != nil {
		return faults.Classify("s3:GetObject", err, func(err error) error { return err })
	}
	r.extract.malformed += st.Malformed
	for _, w := range st.BoundWarnings() {
		r.out.Warn("flow log %s: %s", id, w)
	}
	if st.Malformed > 0 || len(st.Problems) > 0 {
		r.out.Warn("flow log %s: %d of %d lines in %d objects could not be read and are not in the extract (the rest are): %s",
			id, st.Malformed, lines.Load(), st.Objects, strings.Join(firstN(st.Problems, 5), "; "))
	}
	return nil
}

// decoder reads one flow log object (vpcflow.ObjectDecoder); *lines
// counts every line but headers.
func (r *run) decoder(flowLogID string, format vpcflow.Format, o s3logs.Object, lines *atomic.Int64) s3logs.Decoder {
	return vpcflow.ObjectDecoder(r.match, flowLogID, format, evidence.Origin{Bucket: o.Bucket, Key: o.Key}, lines)
}

// keep is the extract's filter (vpcflow.Matcher.Keep): the record touches
// the scope and its capture window overlaps the case's.
func (r *run) keep(rec s3logs.Record) bool { return r.match.Keep(rec) }

func (r *run) bucketGap(id, bucket string, err error) {
	what := "denied"
	if s3logs.Missing(err) {
		what = "missing"
	}
	r.out.Gap(fmt.Sprintf("flow log %s: bucket s3://%s %s: %v", id, bucket, what, err),
		"allow the vpcflow collector's role s3:ListBucket and s3:GetObject on s3://"+bucket+" (and kms:Decrypt on its key), or check that the bucket exists")
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
