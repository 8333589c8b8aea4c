package main

// The S3 access-log pass of the pivot: the buckets the derived identities'
// CloudTrail records name (requestParameters.bucketName of s3.amazonaws.com
// calls), per account, so that the S3 access-log collector reads those
// buckets' server access logs for the requesters the chain derived
// (functions/s3access/pivot.go). PivotDerive finds them while it reads
// the extracts for the chain, and writes one follow list per account.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/pivot"
)

// maxBucketTouches bounds the distinct (caller, bucket) pairs remembered
// while the extracts are read.
const maxBucketTouches = 10000

// bucketTouch is one caller's use of one bucket, kept small: what
// pivot.Follow.Match reads, the bucket and its account.
type bucketTouch struct {
	caller  ctlog.UserIdentity
	event   string
	last    time.Time
	account string
	bucket  string
}

// bucketTouches remembers the S3 calls of the extracts' records.
type bucketTouches struct {
	byKey   map[string]*bucketTouch
	dropped int
}

func newBucketTouches() *bucketTouches { return &bucketTouches{byKey: map[string]*bucketTouch{}} }

// observe remembers e when it is an S3 call naming a bucket.
func (b *bucketTouches) observe(e *ctlog.Event) {
	if e.EventSource != "s3.amazonaws.com" || e.ErrorCode != "" {
		return
	}
	var req struct {
		BucketName string `json:"bucketName"`
	}
	if len(e.RequestParameters) == 0 || e.RequestParameters[0] != '{' || json.Unmarshal(e.RequestParameters, &req) != nil || req.BucketName == "" {
		return
	}
	bucket := req.BucketName
	account := e.RecipientAccountID
	for _, r := range e.Resources {
		if r.Type == "AWS::S3::Bucket" && r.AccountID != "" {
			account = r.AccountID
		}
	}
	u := e.UserIdentity
	k := u.AccessKeyID + "\x00" + u.ARN + "\x00" + u.UserName + "\x00" + e.EventName + "\x00" + account + "\x00" + bucket
	if t := b.byKey[k]; t != nil {
		if e.Time.After(t.last) {
			t.last = e.Time
		}
		return
	}
	if len(b.byKey) >= maxBucketTouches {
		b.dropped++
		return
	}
	b.byKey[k] = &bucketTouch{caller: u, event: e.EventName, last: e.Time, account: account, bucket: bucket}
}

// follows are the S3 follow lists of the derived identities ids: per
// account, the buckets their records name that the case's scope does not
// (the first pass read every line of those), at most pivot.MaxS3Buckets
// each, and the requesters an access log names them by. None when no
// identity can be named in an access log.
func (b *bucketTouches) follows(ids []pivot.Identity, sc incident.Scope) []pivot.S3Follow {
	requesters, unmatched := pivot.S3Requesters(ids)
	if len(requesters) == 0 {
		return nil
	}
	f := pivot.NewFollow(ids)
	buckets := map[string][]string{}
	for _, t := range b.byKey {
		e := &ctlog.Event{UserIdentity: t.caller, EventName: t.event, Time: t.last}
		if len(t.account) != 12 || slices.Contains(sc.Buckets, t.bucket) || !f.Match(e) {
			continue
		}
		if !slices.Contains(buckets[t.account], t.bucket) && len(buckets[t.account]) < pivot.MaxS3Buckets {
			buckets[t.account] = append(buckets[t.account], t.bucket)
		}
	}
	var out []pivot.S3Follow
	for account, bs := range buckets {
		slices.Sort(bs)
		out = append(out, pivot.S3Follow{Account: account, Buckets: bs, Requesters: requesters, Unmatched: unmatched})
	}
	slices.SortFunc(out, func(a, b pivot.S3Follow) int {
		if a.Account < b.Account {
			return -1
		}
		if a.Account > b.Account {
			return 1
		}
		return 0
	})
	return out
}

// storeS3Follows writes each follow list where its pass reads it and
// returns the passes' plan items.
func (h *Handler) storeS3Follows(ctx context.Context, inc *incident.Incident, follows []pivot.S3Follow) ([]incident.PlanItem, error) {
	var items []incident.PlanItem
	for _, f := range follows {
		name := pivot.S3AccessCollectorPrefix + f.Account
		key, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, name, pivot.S3FollowFile)
		if err != nil {
			return nil, faults.Invalid("incident", "%v", err)
		}
		if _, err := h.Driver.Writer.PutJSON(ctx, key, f, evidence.PutMeta{
			Source: evidence.SourceCase, API: "custody:PivotFollow", Collector: ChainCollectorName,
			CollectorVersion: h.Driver.Version, AcceptIdentical: true,
		}); err != nil {
			return nil, faults.Classify("store the S3 follow list", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
		}
		items = append(items, incident.PlanItem{Collector: name,
			Reason: fmt.Sprintf("the server access log lines of %d requesters the chain derived, in %d buckets of account %s their CloudTrail records name", len(f.Requesters), len(f.Buckets), f.Account)})
	}
	return items, nil
}
