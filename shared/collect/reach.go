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
	probe := build(hub)
	base := reach{resolver: r, build: build, name: probe.Name(), source: probe.Source()}
	if _, ok := probe.(ShardCollector); ok {
		return &reachShard{base}
	}
	return &base
}

type reach struct {
	resolver     accessResolver
	build        Build
	name, source string
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
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out.SetReadWith(a.ReadWith)
	return a, nil
}

// Collect implements Collector.
func (c *reach) Collect(ctx context.Context, inc *incident.Incident, out *Output) error {
	a, err := c.access(ctx, inc, out)
	if a == nil || err != nil {
		return err
	}
	return c.build(a).Collect(ctx, inc, out)
}

type reachShard struct{ reach }

// CollectShard implements ShardCollector.
func (c *reachShard) CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *Output) error {
	a, err := c.access(ctx, inc, out)
	if a == nil || err != nil {
		return err
	}
	sc, ok := c.build(a).(ShardCollector)
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
