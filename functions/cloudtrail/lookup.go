package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
)

// lookupHorizon is how far back LookupEvents answers.
const lookupHorizon = 90 * 24 * time.Hour

// lookupPageSize is the most events LookupEvents returns a page.
const lookupPageSize = 50

// attribute is one LookupEvents lookup attribute.
type attribute struct {
	Key   cttypes.LookupAttributeKey `json:"AttributeKey"`
	Value string                     `json:"AttributeValue"`
}

// LookupAttributes lists the lookups a scope needs, one attribute per
// call (LookupEvents takes one): AccessKeyId for each access key, Username
// for each user name (and the user of an IAM user ARN, the session of an
// assumed-role ARN), ResourceName for each instance, bucket, table and
// function. Duplicates are dropped; the order is stable.
func LookupAttributes(sc incident.Scope) []attribute {
	var out []attribute
	seen := map[attribute]bool{}
	add := func(k cttypes.LookupAttributeKey, vals ...string) {
		for _, v := range vals {
			a := attribute{Key: k, Value: strings.TrimSpace(v)}
			if a.Value == "" || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	add(cttypes.LookupAttributeKeyAccessKeyId, sc.AccessKeys...)
	add(cttypes.LookupAttributeKeyUsername, sc.UserNames...)
	for _, p := range sc.Principals {
		parts := strings.SplitN(p, ":", 6)
		if len(parts) != 6 {
			continue
		}
		switch {
		case parts[2] == "iam" && strings.HasPrefix(parts[5], "user/"):
			add(cttypes.LookupAttributeKeyUsername, parts[5][strings.LastIndex(parts[5], "/")+1:])
		case parts[2] == "sts":
			add(cttypes.LookupAttributeKeyUsername, ctlog.SessionName(p))
		}
	}
	add(cttypes.LookupAttributeKeyResourceName, sc.Instances...)
	add(cttypes.LookupAttributeKeyResourceName, sc.Buckets...)
	add(cttypes.LookupAttributeKeyResourceName, sc.Tables...)
	add(cttypes.LookupAttributeKeyResourceName, sc.Functions...)
	return out
}

// lookup is the fallback where no trail bucket can be read: LookupEvents
// for each attribute of the scope, every page, paced by the limiter, the
// events merged and deduplicated by EventId into lookup-events.jsonl.gz.
func (c *Collector) lookup(ctx context.Context, out *collect.Output, inc *incident.Incident, noTrail bool) error {
	if c.Lookup == nil {
		out.Gap("no CloudTrail trail bucket could be read and LookupEvents is not available to the collector", fixEnableTrail)
		return nil
	}
	attrs := LookupAttributes(inc.Scope)
	if len(attrs) == 0 {
		out.Gap("no CloudTrail trail bucket could be read, and the scope names no access key, user or resource LookupEvents can look up", fixEnableTrail)
		return nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	start, end := inc.Window.Start, inc.Window.End
	if horizon := now().Add(-lookupHorizon); start.Before(horizon) {
		out.Warn("LookupEvents keeps 90 days: the window's start %s is older, events before %s cannot be had this way",
			start.Format(time.RFC3339), horizon.UTC().Format(time.RFC3339))
	}
	req := map[string]any{
		"LookupAttributes": attrs, "StartTime": start.Format(time.RFC3339), "EndTime": end.Format(time.RFC3339),
		"MaxResults": lookupPageSize, "callPerAttribute": true,
	}
	stream, err := out.CreateGzip(c.name("lookup-events.jsonl.gz"), out.Meta("cloudtrail:LookupEvents", req,
		&evidence.Origin{Description: "CloudTrail event history (management events) of " + inc.Scope.AccountID + " " + inc.Scope.Region}))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var pages, dups, malformed int
	var bad []string
	for _, a := range attrs {
		p := cloudtrail.NewLookupEventsPaginator(c.Lookup, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: a.Key, AttributeValue: aws.String(a.Value)}},
			StartTime:        aws.Time(start), EndTime: aws.Time(end), MaxResults: aws.Int32(lookupPageSize),
		})
		for p.HasMorePages() {
			if c.Limiter != nil {
				if err := c.Limiter.Wait(ctx); err != nil {
					stream.Abort()
					return &faults.TransientError{Op: "cloudtrail:LookupEvents pacing", Err: err}
				}
			}
			page, err := p.NextPage(ctx)
			if err != nil {
				stream.Abort()
				what := "no CloudTrail trail bucket could be read"
				if noTrail {
					what = "there is no CloudTrail trail"
				}
				f := faults.Of("cloudtrail:LookupEvents", err)
				if r := f.Retryable(); r != nil {
					return r
				}
				switch f.Class {
				case faults.Denied:
					out.Gap(what+", and cloudtrail:LookupEvents was denied", fixEnableTrail+"; "+fixLookup)
					return nil
				case faults.Unimplemented:
					// The local emulator has no event history (moto lacks
					// LookupEvents): seed the trail bucket instead.
					out.Gap(fmt.Sprintf("%s, and the endpoint does not implement cloudtrail:LookupEvents (HTTP %d)", what, f.Status),
						fixEnableTrail+"; locally, seed the trail bucket with the trail's log files (the emulator's trails write none)")
					return nil
				}
				return fmt.Errorf("cloudtrail:LookupEvents %s=%s: %w", a.Key, a.Value, err)
			}
			pages++
			for _, ev := range page.Events {
				id := aws.ToString(ev.EventId)
				if id != "" && seen[id] {
					dups++
					continue
				}
				seen[id] = true
				rec, err := ctlog.Parse([]byte(aws.ToString(ev.CloudTrailEvent)))
				if err != nil {
					malformed++
					if len(bad) < 5 {
						bad = append(bad, fmt.Sprintf("event %s: %v", id, err))
					}
					continue
				}
				if c.pass != nil && !c.pass.follow.Match(rec) {
					continue // a user lookup finds the user's other sessions too
				}
				at := rec.Time
				if ev.EventTime != nil && at.IsZero() {
					at = ev.EventTime.UTC()
				}
				if err := stream.WriteRecord(json.RawMessage(rec.Raw), at); err != nil {
					stream.Abort()
					return err
				}
			}
		}
	}
	// The request map is the artifact's: what the calls returned is
	// recorded beside what they asked.
	req["pages"], req["events"], req["duplicates"] = pages, len(seen), dups
	if _, err := stream.Close(ctx); err != nil {
		return err
	}
	if malformed > 0 {
		out.Warn("LookupEvents: %d events whose CloudTrailEvent would not parse were left out: %s", malformed, strings.Join(bad, "; "))
	}
	return nil
}
