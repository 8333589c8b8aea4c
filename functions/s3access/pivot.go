package main

// The pivot pass: the server access log lines of what the attacker's new
// identities did in S3. When the CloudTrail pivot loop ends
// (functions/cloudtrail/pivot.go), PivotDerive writes, for each account
// whose buckets the derived identities' CloudTrail records name, a follow
// list (pivot.S3Follow: the buckets, and the requester ARNs an access log
// names those identities by) and asks for s3access-pivot-<account>. This
// function reads it and collects those buckets as the first pass does —
// configuration, log objects copied, an extract — keeping only the lines
// of those requesters, under s3access/pivot-<account>/, in one invocation
// (no shards: past the budget it is a gap).

import (
	"context"
	"errors"
	"fmt"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/pivot"
)

// PivotFollowFile names the pass's follow list in texts.
const PivotFollowFile = "results/s3access-pivot-<account>/" + pivot.S3FollowFile

// PivotPass is one pass over the buckets a pivot chain's identities
// touched in one account.
type PivotPass struct {
	// Name is the collector's name: s3access-pivot-<account>.
	Name string
	// Folder is the pass's folder under s3access/: pivot-<account>.
	Folder string
	// Requesters are the IAM ARNs whose lines are kept.
	Requesters []string
	set        map[string]bool
}

func newPivotPass(name, account string, requesters []string) *PivotPass {
	p := &PivotPass{Name: name, Folder: "pivot-" + account, Requesters: requesters, set: map[string]bool{}}
	for _, r := range requesters {
		p.set[r] = true
	}
	return p
}

func (p *PivotPass) requester(arn string) bool { return p.set[arn] }

// pivotPass scopes in to the follow list PivotDerive stored for the item's
// account and returns the collector of that pass.
func (h *Handler) pivotPass(ctx context.Context, in *collect.Input) (collect.Collector, error) {
	name := in.Item.Collector
	account, err := pivot.PassAccount(name, pivot.S3AccessCollectorPrefix)
	if err != nil {
		return nil, err
	}
	if h.Pivot == nil || h.Driver.Results == nil {
		return nil, &faults.CollectorError{Collector: name, Err: errors.New("this function runs no pivot pass")}
	}
	key, err := evidence.ShardFileKey(in.Incident.CaseID, in.Incident.RunID, name, pivot.S3FollowFile)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	var f pivot.S3Follow
	ok, err := h.Driver.ReadJSON(ctx, key, &f)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &faults.CollectorError{Collector: name, Err: fmt.Errorf("no follow list at %s", key)}
	}
	in.Incident.Scope.AccountID = account
	in.Incident.Scope.Buckets = f.Buckets
	return h.Pivot(newPivotPass(name, account, f.Requesters)), nil
}
