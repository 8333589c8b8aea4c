package main

import (
	"strings"
	"time"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

// S3 server access log object keys, in the two formats a logging
// configuration's TargetObjectKeyFormat chooses:
//
//	SimplePrefix       <prefix>YYYY-MM-DD-hh-mm-ss-<unique>
//	PartitionedPrefix  <prefix><account>/<region>/<bucket>/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-<unique>
//
// A simple key's time is when S3 delivered the object. A partitioned key's
// time is the delivery time (PartitionDateSource DeliveryTime), or, for
// EventTime, the day of the events the object holds with hh-mm-ss 00-00-00.
// Both formats are listed for every bucket: moto's GetBucketLogging does not
// return TargetObjectKeyFormat, and a bucket whose format changed during the
// window has objects in both.
const keyTimeLayout = "2006-01-02-15-04-05"

// nameTime parses the time at the start of a log object's name
// ("2023-01-31-09-30-12-<unique>").
func nameTime(name string) (time.Time, bool) {
	if len(name) < len(keyTimeLayout)+2 || name[len(keyTimeLayout)] != '-' {
		return time.Time{}, false
	}
	t, err := time.Parse(keyTimeLayout, name[:len(keyTimeLayout)])
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// partitionBase is the partitioned key prefix of one source bucket:
// <prefix><account>/<region>/<bucket>/.
func partitionBase(prefix, account, region, bucket string) string {
	return prefix + account + "/" + region + "/" + bucket + "/"
}

// keyRules decides which log objects of one source bucket a case needs.
type keyRules struct {
	// Prefix is the logging configuration's TargetPrefix.
	Prefix string
	// PartitionBase is partitionBase(...) for the source bucket; "" when
	// the account or region is unknown (partitioned keys not listed).
	PartitionBase string
	// DateSource is the PartitionDateSource GetBucketLogging returned;
	// "" when it returned none (moto, or a simple-prefix configuration).
	DateSource s3types.PartitionDateSource
	Window     incident.Window
	Pad        time.Duration
}

// prefixes returns the prefixes to list: the simple keys of each day the
// padded window covers, then the partitioned day folders.
func (k keyRules) prefixes() []string {
	out := s3logs.DayPrefixes(k.Prefix, "2006-01-02-", k.Window, k.Pad)
	if k.PartitionBase != "" {
		out = append(out, s3logs.DayPrefixes(k.PartitionBase, "2006/01/02/", k.Window, k.Pad)...)
	}
	return out
}

// filter is the s3logs.KeyFilter for both formats:
//
//   - a key that names a delivery time is kept when that time is in the
//     window widened by the pad (S3 delivers access logs hours late);
//   - a partitioned key of an event day (DateSource EventTime, or no
//     DateSource known and the key's time is 00:00:00) holds the events of
//     [day, day+24h): it is kept when that day overlaps the window itself
//     (the delivery pad does not move an event day);
//   - a key under the listed prefixes that names no time is kept, untimed.
func (k keyRules) filter(key string) (time.Time, bool, bool) {
	wide := k.Window.Widen(k.Pad)
	if k.PartitionBase != "" && strings.HasPrefix(key, k.PartitionBase) {
		rest := key[len(k.PartitionBase):] // YYYY/MM/DD/<name>
		t, ok := nameTime(rest[strings.LastIndex(rest, "/")+1:])
		if !ok {
			return time.Time{}, false, true
		}
		eventDay := k.DateSource == s3types.PartitionDateSourceEventTime ||
			(k.DateSource == "" && t.Equal(t.Truncate(24*time.Hour)))
		if eventDay {
			day := t.Truncate(24 * time.Hour)
			return t, true, !day.After(k.Window.End) && day.Add(24*time.Hour).After(k.Window.Start)
		}
		return t, true, wide.Contains(t)
	}
	t, ok := nameTime(strings.TrimPrefix(key, k.Prefix))
	if !ok {
		return time.Time{}, false, true
	}
	return t, true, wide.Contains(t)
}

// regionOf maps GetBucketLocation's LocationConstraint to a region name.
func regionOf(loc s3types.BucketLocationConstraint) string {
	switch loc {
	case "":
		return "us-east-1"
	case s3types.BucketLocationConstraintEu:
		return "eu-west-1"
	}
	return string(loc)
}
