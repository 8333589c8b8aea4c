package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Fan-out: a source too large for one invocation's 15 minutes is split.
// The collector's first invocation lists what there is to read and, when
// it is more than Output.Budget allows, hands the pieces to Output.FanOut
// instead of reading them. The driver stores the pieces as the collector's
// plan (results/<collector>/plan.json) and answers with Status fanned-out
// and one ShardRef a piece; the state machine's shard Map runs the
// collector once a piece (Input.Shard: CollectShard, result stored as
// results/<collector>/shard-NNNN.json), then the merge step (Input.Merge)
// folds the plan's and every shard's artifacts, gaps and warnings into the
// collector's one result. A shard that failed, or never stored a result (a
// timeout), fails the collector with the shards named: the run seals as
// partial, with every artifact the other shards wrote.

// ShardCollector is a Collector that can hand pieces of its work to other
// invocations with Output.FanOut.
type ShardCollector interface {
	Collector
	// CollectShard does one piece: shard is what Collect passed to FanOut
	// for it, as JSON. It writes to out like Collect (Output.PartName keeps
	// the shards' artifact names apart).
	CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *Output) error
}

// Merge is the merge step's input: the shard Map's outcomes, in order.
// Only a failure the shard could not store (a timeout, a crash) is read
// from here; everything else comes from the stored shard results.
type Merge struct {
	Shards []incident.Result `json:"shards"`
}

// Budget is how much one invocation takes on before its collector fans
// out. A zero field is no bound on that measure; a zero Budget never fans
// out.
type Budget struct {
	// Bytes bounds the stored (compressed) bytes of the objects one
	// invocation reads.
	Bytes int64
	// Objects bounds the objects one invocation copies.
	Objects int
}

// DefaultBudget keeps a shard well inside Lambda's 15 minutes at 1 GiB of
// memory: about 2 GiB of gzip'd logs is 20-30 GB of JSON to decompress and
// filter (measured at 150-480 MB/s a core, make bench), and 4,000
// server-side copies at 4-8 in flight.
var DefaultBudget = Budget{Bytes: 2 << 30, Objects: 4000}

// MaxShards bounds the pieces of one fan-out (the Map's history and its
// 256 KiB result): past it, each piece grows beyond the budget instead.
// It is set by Step Functions' 25,000 history events per execution: a
// shard that fails every attempt its Retry allows writes 24 events, four
// collectors fan out, and the rest of a worst-case run writes about 400,
// so 200 shards keep the worst case near 19,600 (infra's
// TestHistoryStaysUnderTheQuota computes it from the synthesized
// definition), with room for a fifth fan-out collector. 200 pieces of the
// default budget are 400 GiB of gzip'd logs or 800,000 objects per source.
const MaxShards = 200

// MaxPivotShards bounds the pieces of one pivot pass (a further CloudTrail
// pass over the same log files for the identities the attacker made, run
// up to custody:pivotDepth times in one execution): fewer and larger, so
// that three passes fit in the history beside the first (infra's
// history test).
const MaxPivotShards = 40

// Widen returns b widened alike so that items of the given sizes make at
// most max pieces.
func Widen[T any](items []T, size func(T) int64, b Budget, max int) Budget {
	var total int64
	for _, it := range items {
		total += size(it)
	}
	if b.Bytes > 0 && total/b.Bytes >= int64(max) {
		b.Bytes = total/int64(max-1) + 1
	}
	if b.Objects > 0 && len(items)/b.Objects >= max {
		b.Objects = len(items)/(max-1) + 1
	}
	return b
}

// Environment variables BudgetFromEnv reads.
const (
	EnvShardBytes   = "CUSTODY_SHARD_BYTES"
	EnvShardObjects = "CUSTODY_SHARD_OBJECTS"
)

// BudgetFromEnv reads EnvShardBytes and EnvShardObjects (non-negative
// integers; unset or empty: DefaultBudget's).
func BudgetFromEnv(getenv func(string) string) (Budget, error) {
	b := DefaultBudget
	for _, v := range []struct {
		name string
		set  func(int64)
	}{
		{EnvShardBytes, func(n int64) { b.Bytes = n }},
		{EnvShardObjects, func(n int64) { b.Objects = int(n) }},
	} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return Budget{}, &faults.ConfigurationError{Setting: v.name, Reason: s + " is not a non-negative integer"}
		}
		v.set(n)
	}
	return b, nil
}

// Split cuts items, in order, into consecutive pieces within b (size is
// an item's bytes). An item larger than b.Bytes is a piece of its own;
// more than MaxShards pieces are avoided by widening every piece alike.
// A zero Budget, or items that fit, give one piece.
func Split[T any](items []T, size func(T) int64, b Budget) [][]T {
	if len(items) == 0 {
		return nil
	}
	b = Widen(items, size, b, MaxShards)
	var pieces [][]T
	start, bytes := 0, int64(0)
	for i, it := range items {
		n := size(it)
		full := (b.Bytes > 0 && bytes > 0 && bytes+n > b.Bytes) || (b.Objects > 0 && i-start >= b.Objects)
		if full {
			pieces = append(pieces, items[start:i:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	return append(pieces, items[start:])
}

// Budget is how much this invocation may take on before it fans out; zero
// when it may not (a shard, or a driver configured without fan-out).
func (o *Output) Budget() Budget {
	if o.shard != nil {
		return Budget{}
	}
	return o.budget
}

// Shard is the piece this invocation does, nil outside a shard.
func (o *Output) Shard() *incident.ShardRef { return o.shard }

// FanOut hands the pieces of work to shards: each is stored as JSON in the
// collector's plan and given to one CollectShard. Call it at most once, from
// Collect, and only when Budget is not zero.
func (o *Output) FanOut(pieces ...any) error {
	if o.shard != nil || o.budget == (Budget{}) {
		return errors.New("collect: FanOut outside a first invocation that may fan out")
	}
	if o.fanOut != nil {
		return errors.New("collect: FanOut called twice")
	}
	if len(pieces) == 0 {
		return nil
	}
	if len(pieces) > MaxShards {
		// More would outgrow the execution's history and fail the whole
		// run unsealed; failing this collector seals the rest as partial.
		return fmt.Errorf("collect: %d pieces of work, more than MaxShards (%d) one execution can run", len(pieces), MaxShards)
	}
	for i, p := range pieces {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("collect: shard %d: %w", i+1, err)
		}
		o.fanOut = append(o.fanOut, b)
	}
	return nil
}

// PartName is name for this invocation: unchanged outside a shard, and
// with the shard's number before its extension inside one
// (extract.jsonl.gz in shard 3 is extract-shard0003.jsonl.gz;
// extract-my.bucket.jsonl.gz is extract-my.bucket-shard0003.jsonl.gz), so
// two shards never write the same key.
func (o *Output) PartName(name string) string {
	if o.shard == nil {
		return name
	}
	stem, ext := splitExt(name)
	return fmt.Sprintf("%s-shard%04d%s", stem, o.shard.Index, ext)
}

// compressions are extensions that wrap another one (.jsonl.gz).
var compressions = []string{".gz", ".zst", ".bz2"}

// splitExt splits name's file extension off, a compressed one with the
// extension it wraps: "a/x.y.jsonl.gz" is "a/x.y" and ".jsonl.gz".
func splitExt(name string) (stem, ext string) {
	ext = path.Ext(name)
	for _, c := range compressions {
		if ext == c {
			ext = path.Ext(strings.TrimSuffix(name, c)) + c
		}
	}
	if ext == path.Base(name) { // a dot file: no stem to keep
		return name, ""
	}
	return strings.TrimSuffix(name, ext), ext
}

// plan is what a fanned-out first invocation stores: its own output and
// the pieces for the shards.
type plan struct {
	Result evidence.CollectorResult `json:"result"`
	Shards []json.RawMessage        `json:"shards"`
}

const planFile = "plan.json"

func shardFile(i int) string { return fmt.Sprintf("shard-%04d.json", i) }

// shardRefs are the state machine's references to a plan's n pieces.
func shardRefs(n int) []incident.ShardRef {
	refs := make([]incident.ShardRef, n)
	for i := range refs {
		refs[i] = incident.ShardRef{Index: i + 1, Of: n}
	}
	return refs
}

// fannedOut is the first invocation's answer for a stored plan.
func fannedOut(name, key string, p *plan) incident.Result {
	return incident.Result{Collector: name, Status: incident.StatusFannedOut, ResultKey: key,
		Artifacts: len(p.Result.Artifacts), Gaps: len(p.Result.Gaps), Shards: shardRefs(len(p.Shards))}
}

// readPlan reads the collector's stored plan, nil when there is none.
func (d *Driver) readPlan(ctx context.Context, inc *incident.Incident, name string) (*plan, string, error) {
	key, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, name, planFile)
	if err != nil {
		return nil, "", err
	}
	var p plan
	ok, err := d.ReadJSON(ctx, key, &p)
	if err != nil || !ok {
		return nil, key, err
	}
	return &p, key, nil
}

// shard runs one piece of a fanned-out collector and stores its result.
func (d *Driver) shard(ctx context.Context, c Collector, in Input) (incident.Result, error) {
	ctx, actions := d.bindActions(ctx)
	inc, ref := &in.Incident, *in.Shard
	sc, ok := c.(ShardCollector)
	if !ok {
		return incident.Result{}, &faults.CollectorError{Collector: c.Name(), Err: errors.New("invoked for a shard, but it does not fan out")}
	}
	key, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, c.Name(), shardFile(ref.Index))
	if err != nil {
		return incident.Result{}, &faults.CollectorError{Collector: c.Name(), Err: err}
	}
	if prev, err := d.stored(ctx, key); err != nil || prev != nil {
		if err != nil {
			return incident.Result{}, err
		}
		return shardSummary(key, ref, prev)
	}
	p, planKey, err := d.readPlan(ctx, inc, c.Name())
	if err != nil {
		return incident.Result{}, err
	}
	if p == nil || ref.Index < 1 || ref.Index > len(p.Shards) || ref.Of != len(p.Shards) {
		have := 0
		if p != nil {
			have = len(p.Shards)
		}
		return incident.Result{}, &faults.CollectorError{Collector: c.Name(),
			Err: fmt.Errorf("shard %d of %d: the plan %s has %d shards", ref.Index, ref.Of, planKey, have)}
	}
	out := d.output(inc, c)
	out.shard = &ref
	res, _, err := d.collect(ctx, c, out, actions, func() error { return sc.CollectShard(ctx, inc, p.Shards[ref.Index-1], out) })
	if err != nil {
		return incident.Result{}, err
	}
	if err := d.store(ctx, key, c.Name(), res); err != nil {
		return incident.Result{}, err
	}
	return shardSummary(key, ref, res)
}

func shardSummary(key string, ref incident.ShardRef, r *evidence.CollectorResult) (incident.Result, error) {
	s, err := summary(key, r)
	var ce *faults.CollectorError
	if errors.As(err, &ce) {
		ce.Err = fmt.Errorf("shard %d of %d: %w", ref.Index, ref.Of, ce.Err)
	}
	s.Shard = &ref
	return s, err
}

// merge folds a fanned-out collector's plan and shard results into its
// one result.
func (d *Driver) merge(ctx context.Context, c Collector, in Input) (incident.Result, error) {
	ctx, actions := d.bindActions(ctx)
	inc := &in.Incident
	key, err := evidence.ResultKey(inc.CaseID, inc.RunID, c.Name())
	if err != nil {
		return incident.Result{}, &faults.CollectorError{Collector: c.Name(), Err: err}
	}
	if prev, err := d.stored(ctx, key); err != nil || prev != nil {
		if err != nil {
			return incident.Result{}, err
		}
		return summary(key, prev)
	}
	p, planKey, err := d.readPlan(ctx, inc, c.Name())
	if err != nil {
		return incident.Result{}, err
	}
	if p == nil {
		return incident.Result{}, &faults.CollectorError{Collector: c.Name(), Err: fmt.Errorf("merge: no plan at %s", planKey)}
	}
	res := p.Result
	res.Status, res.FinishedAt = incident.StatusOK, d.now().UTC()
	caught := map[int]*incident.ResultError{}
	for _, r := range in.Merge.Shards {
		if r.Shard != nil && r.Error != nil {
			caught[r.Shard.Index] = r.Error
		}
	}
	var failed []string
	for i := 1; i <= len(p.Shards); i++ {
		skey, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, c.Name(), shardFile(i))
		if err != nil {
			return incident.Result{}, err
		}
		sr, err := d.stored(ctx, skey)
		if err != nil {
			return incident.Result{}, err
		}
		what := fmt.Sprintf("shard %d of %d", i, len(p.Shards))
		switch {
		case sr == nil:
			why := "it stored no result"
			if e := caught[i]; e != nil {
				why = e.Error + ": " + e.Cause
			}
			failed = append(failed, what+": "+why)
			continue
		case sr.Status == incident.StatusFailed:
			failed = append(failed, what+": "+sr.Error)
		}
		res.Artifacts = append(res.Artifacts, sr.Artifacts...)
		res.Gaps = append(res.Gaps, sr.Gaps...)
		for _, w := range sr.Warnings {
			res.Warnings = append(res.Warnings, what+": "+w)
		}
		res.Snapshots = append(res.Snapshots, sr.Snapshots...)
	}
	if len(failed) > 0 {
		res.Status, res.Error = incident.StatusFailed, fmt.Sprintf("%d of %d shards failed (their pieces of the source are not collected): %s",
			len(failed), len(p.Shards), strings.Join(failed, "; "))
	}
	if err := d.addActions(ctx, &res, inc, actionLogName(nil, c.Name(), true), actions); err != nil {
		return incident.Result{}, err
	}
	sortResult(&res)
	if err := d.store(ctx, key, c.Name(), &res); err != nil {
		return incident.Result{}, err
	}
	return summary(key, &res)
}

// maxRunJSON bounds a run's bookkeeping object read back (a result, a
// plan, a follow list, the pivot chain): a larger one is cut and fails to
// decode rather than filling memory.
const maxRunJSON = 64 << 20

// ReadJSON decodes the run's bookkeeping object at key (a stored result or
// plan, a pivot follow list or chain) into v, read through Results; false
// when there is none (or the driver reads no stored objects).
func (d *Driver) ReadJSON(ctx context.Context, key string, v any) (bool, error) {
	body, err := d.open(ctx, key)
	if err != nil || body == nil {
		return false, err
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, maxRunJSON)).Decode(v); err != nil {
		return false, &faults.EvidenceError{Key: key, Err: fmt.Errorf("decode: %w", err)}
	}
	return true, nil
}

// Outcome is every answer of one collector run through RunAll.
type Outcome struct {
	// First is the first invocation's answer; Final the collector's result
	// (the merge's when it fanned out, else First).
	First, Final incident.Result
	// Shards are the shards' answers in order, a failed one as the state
	// machine's Catch records it.
	Shards []incident.Result
}

// RunAll runs c for in as the state machine does, one step after another:
// the first invocation and, when it fans out, each shard and the merge. A
// shard's error is its failed entry, as the shard Map's Catch makes it;
// the first invocation's or the merge's is returned. It serves tests and
// running a collector outside Step Functions.
func (d *Driver) RunAll(ctx context.Context, c Collector, in Input) (Outcome, error) {
	first, err := d.Run(ctx, c, in)
	o := Outcome{First: first, Final: first}
	if err != nil || first.Status != incident.StatusFannedOut {
		return o, err
	}
	for _, ref := range first.Shards {
		shardIn := in
		shardIn.Shard = &ref
		r, err := d.Run(ctx, c, shardIn)
		if err != nil {
			r = incident.Result{Collector: c.Name(), Status: incident.StatusFailed, Shard: &ref,
				Error: &incident.ResultError{Error: errorType(err), Cause: err.Error()}}
		}
		o.Shards = append(o.Shards, r)
	}
	mergeIn := in
	mergeIn.Merge = &Merge{Shards: o.Shards}
	o.Final, err = d.Run(ctx, c, mergeIn)
	return o, err
}

// errorType is err's type name as Lambda reports it (CollectorError).
func errorType(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
