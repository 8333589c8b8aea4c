package main

// The baseline: the scope's records in the days before the window, so that
// the entity view (Seal's entities.json) can tell an access key, an
// address or a user agent new in the window from one seen before it. It
// is one more scoped read of the log files of the BaselineDays before the
// window's start, as the window's are read (every region folder, the same
// matcher), counted into baseline.json (ctlog.Baseline: per entity, its
// events and first and last time) rather than written as an extract: the
// case's CloudTrail extracts hold only the window's records. Its log files
// are context, not the incident's evidence: they are named in the
// artifact's request, not copied. When they come to more than one
// invocation's budget the baseline is left out, with a warning: the
// window's evidence comes first.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/s3logs"
)

// EnvBaselineDays is the baseline in whole days (the stack sets it from
// custody:baselineDays); 0 reads none.
const EnvBaselineDays = "CUSTODY_BASELINE_DAYS"

// DefaultBaselineDays is the baseline when EnvBaselineDays is unset.
const DefaultBaselineDays = 1

// MaxBaselineDays bounds the baseline (90: LookupEvents' horizon, and a
// month of a busy trail is already many invocations' worth).
const MaxBaselineDays = 90

// BaselineName is the baseline summary's name in the CloudTrail folder.
const BaselineName = ctlog.BaselineName

// BaselineDaysFromEnv reads EnvBaselineDays: a whole number from 0 to
// MaxBaselineDays; unset or empty is DefaultBaselineDays.
func BaselineDaysFromEnv(getenv func(string) string) (int, error) {
	v := strings.TrimSpace(getenv(EnvBaselineDays))
	if v == "" {
		return DefaultBaselineDays, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxBaselineDays {
		return 0, &faults.ConfigurationError{Setting: EnvBaselineDays, Reason: fmt.Sprintf("%q is not a whole number of days from 0 to %d", v, MaxBaselineDays)}
	}
	return n, nil
}

// baseline writes baseline.json: the entities of the records match keeps
// whose eventTime is in the BaselineDays before the window, counted (each
// record once, by eventID).
func (c *Collector) baseline(ctx context.Context, out *collect.Output, inc *incident.Incident, locs []*location, match *ctlog.Matcher) error {
	bw := incident.Window{Start: inc.Window.Start.Add(-time.Duration(c.BaselineDays) * 24 * time.Hour), End: inc.Window.Start.Add(-time.Nanosecond)}
	pad := c.pad()
	var objs []s3logs.Object
	var sources []map[string]any
	var size int64
	for _, l := range locs {
		var prefixes []string
		for _, f := range l.regionFolders {
			prefixes = append(prefixes, s3logs.DayPrefixes(f, "2006/01/02/", bw, pad)...)
		}
		listing, err := s3logs.List(ctx, c.Logs, l.bucket, prefixes, KeyTime, bw, pad)
		if err != nil {
			if s3logs.Denied(err) || s3logs.Missing(err) {
				out.Warn("baseline not read from s3://%s/%s: %v", l.bucket, l.prefix, firstLine(err))
				continue
			}
			return faults.Classify("s3:ListObjectsV2 "+l.bucket, err, func(err error) error { return err })
		}
		for _, o := range listing.Objects {
			size += o.Size
		}
		objs = append(objs, listing.Objects...)
		sources = append(sources, map[string]any{"bucket": l.bucket, "prefixes": prefixes, "trails": l.trails})
	}
	if b := out.Budget(); (b.Bytes > 0 && size > b.Bytes) || (b.Objects > 0 && len(objs) > b.Objects) {
		out.Warn("baseline not read: its %d log files (%d bytes) are more than one invocation's budget (custody:shardBytes, custody:shardObjects); the entity view cannot say what is new", len(objs), size)
		return nil
	}
	req := map[string]any{"window": map[string]string{"start": bw.Start.Format(time.RFC3339), "end": bw.End.Format(time.RFC3339Nano)},
		"baselineDays": c.BaselineDays, "sources": sources, "objects": len(objs)}
	counter := ctlog.NewBaselineCounter(bw.Start, bw.End, c.BaselineDays)
	dedupe := &dedupeWriter{w: baselineWriter{counter}, seen: map[string]bool{}}
	stats, err := s3logs.Extract(ctx, &s3logs.DeniedGetter{ObjectGetter: c.Logs}, objs, ctlog.DecodeFor(match), func(r s3logs.Record) bool {
		e, ok := r.Value.(*ctlog.Event)
		return ok && match.Match(e)
	}, bw, dedupe)
	if err != nil {
		return faults.Classify("baseline read", err, func(err error) error { return err })
	}
	if _, err := out.PutJSON(ctx, BaselineName, counter.Baseline(), out.Meta("s3:GetObject", req, &evidence.Origin{Bucket: locs[0].bucket, Key: locs[0].prefix + "AWSLogs/",
		Description: fmt.Sprintf("what the scope's records in the %d days before the window name (the entity view's baseline), counted from %d CloudTrail log files, not copied", c.BaselineDays, len(objs))})); err != nil {
		return err
	}
	if len(stats.Problems) > 0 {
		out.Warn("baseline: %d log files or records not read whole: %s", len(stats.Problems), strings.Join(stats.Problems, "; "))
	}
	return nil
}

// baselineWriter counts the records the baseline read.
type baselineWriter struct{ c *ctlog.BaselineCounter }

func (w baselineWriter) WriteRecord(v any, _ time.Time) error {
	if e, ok := v.(*ctlog.Event); ok {
		w.c.Add(e)
	}
	return nil
}
