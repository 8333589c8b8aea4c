package main

// The pivot pass: the IAM evidence of the principals the attacker made.
// When the CloudTrail pivot loop ends (functions/cloudtrail/pivot.go), its
// chain (cloudtrail/pivot/identities.json) names the keys, users and role
// sessions the case's identities created or received; for each account
// with some the case's own scope does not name, the state machine asks
// for iam-pivot-<account>. This function reads the chain, scopes the
// incident to those principals (pivot.PrincipalScope), and collects them
// as the first pass does — key last use, identity and policies, Access
// Advisor — in that account (the member role, as for any collector), its
// artifacts under iam/pivot-<account>/.

import (
	"context"
	"errors"
	"fmt"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/pivot"
)

// PivotPass is one pass over a pivot chain's principals.
type PivotPass struct {
	// Name is the collector's name: iam-pivot-<account>.
	Name string
	// Folder is the pass's folder under iam/: pivot-<account>.
	Folder string
}

// pivotPass scopes in to the principals the run's chain derived in the
// item's account and returns the collector of that pass.
func (h *Handler) pivotPass(ctx context.Context, in *collect.Input) (collect.Collector, error) {
	name := in.Item.Collector
	account, err := pivot.PassAccount(name, pivot.PrincipalsCollectorPrefix)
	if err != nil {
		return nil, err
	}
	if h.Pivot == nil || h.Driver.Results == nil {
		return nil, &faults.CollectorError{Collector: name, Err: errors.New("this function runs no pivot pass")}
	}
	key, err := evidence.ArtifactKey(in.Incident.CaseID, in.Incident.RunID, evidence.SourceCloudTrail, pivot.ChainArtifact)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	var ch pivot.Chain
	ok, err := h.Driver.ReadJSON(ctx, key, &ch)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &faults.CollectorError{Collector: name, Err: fmt.Errorf("no pivot chain at %s", key)}
	}
	in.Incident.Scope = pivot.PrincipalScope(ch, account, in.Incident.Scope.Region, in.Incident.Scope)
	return h.Pivot(&PivotPass{Name: name, Folder: "pivot-" + account}), nil
}
