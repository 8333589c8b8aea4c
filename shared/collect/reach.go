package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// accessResolver is the part of accounts.Resolver Reach calls.
type accessResolver interface {
	For(ctx context.Context, caseID, account, region string) (*accounts.Access, error)
}

// Build makes a collector whose clients read one account and region.
type Build func(a *accounts.Access) Collector

// Reach is a collector that reads the account and region the incident's
// scope names: each invocation resolves them (the hub's own credentials,
// or the member account's collector role assumed for the case), builds the
// collector on that access, and stamps what it read with on every artifact
// (evidence.Artifact.ReadWith). An account the hub cannot assume into is
// a gap naming the account and the fix; the run stays complete.
//
// Reached returns one: a ShardCollector when what build makes is one, so
// the driver fans it out as before.
func Reached(r accessResolver, hub *accounts.Access, build Build) Collector {
	return ReachedOr(r, hub, build, nil)
}

// ReachedOr is Reached with what to read when the account cannot be
// assumed into: after the gap, denied builds the collector on the hub's
// own access in the incident's region (the CloudTrail collector still
// reads an organization trail the hub's role can read). Nil: nothing.
func ReachedOr(r accessResolver, hub *accounts.Access, build, denied Build) Collector {
	probe := build(hub)
	base := reach{resolver: r, build: build, denied: denied, name: probe.Name(), source: probe.Source()}
	if _, ok := probe.(ShardCollector); ok {
		return &reachShard{base}
	}
	return &base
}

type reach struct {
	resolver      accessResolver
	build, denied Build
	name, source  string
}

func (c *reach) Name() string   { return c.name }
func (c *reach) Source() string { return c.source }

// access resolves the incident's account and region; a nil Access with a
// nil error means a gap was recorded.
func (c *reach) access(ctx context.Context, inc *incident.Incident, out *Output) (*accounts.Access, error) {
	a, err := c.resolver.For(ctx, inc.CaseID, inc.Scope.AccountID, inc.Scope.Region)
	var ae *accounts.AssumeError
	if errors.As(err, &ae) && ae.Denied {
		out.Gap(fmt.Sprintf("%s: account %s (%s) could not be read: the hub may not assume %s: %v", c.source, ae.AccountID, ae.Region, ae.RoleARN, ae.Err), ae.Fix())
		if c.denied == nil {
			return nil, nil
		}
		own, err := c.resolver.For(ctx, inc.CaseID, "", inc.Scope.Region)
		if err != nil {
			return nil, err
		}
		out.SetReadWith(own.ReadWith)
		return own, errFallback
	}
	if err != nil {
		return nil, err
	}
	out.SetReadWith(a.ReadWith)
	return a, nil
}

// errFallback says access resolved to the hub's own, for denied.
var errFallback = errors.New("the member could not be assumed into: the hub's own access")

// builder is what builds the collector for a: build, or denied after a
// refused assume.
func (c *reach) builder(err error) Build {
	if errors.Is(err, errFallback) {
		return c.denied
	}
	return c.build
}

// Collect implements Collector.
func (c *reach) Collect(ctx context.Context, inc *incident.Incident, out *Output) error {
	a, err := c.access(ctx, inc, out)
	if a == nil || (err != nil && !errors.Is(err, errFallback)) {
		return err
	}
	return c.builder(err)(a).Collect(ctx, inc, out)
}

type reachShard struct{ reach }

// CollectShard implements ShardCollector.
func (c *reachShard) CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *Output) error {
	a, err := c.access(ctx, inc, out)
	if a == nil || (err != nil && !errors.Is(err, errFallback)) {
		return err
	}
	sc, ok := c.builder(err)(a).(ShardCollector)
	if !ok {
		return fmt.Errorf("collector %s does not collect shards", c.name)
	}
	return sc.CollectShard(ctx, inc, shard, out)
}

// SetReadWith records the account, region and role this invocation reads
// with; every artifact written after it carries it unless its PutMeta
// names another (a log archive read with the hub's own role, say).
func (o *Output) SetReadWith(rw evidence.ReadWith) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.readWith = &rw
}
