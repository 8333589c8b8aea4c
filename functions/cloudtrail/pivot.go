package main

// The pivot pass: following the attacker through the credentials it made
// (shared/pivot). After the Collect Map the state machine loops:
//
//	PivotDerive: read the CloudTrail extracts of the run so far, derive
//	  the identities the in-scope ones made; when some are not followed
//	  yet (and the depth bound allows), store them as the next pass's
//	  follow list and answer with one plan item, cloudtrail-pivot-N;
//	  otherwise write the chain (cloudtrail/pivot/identities.json, in
//	  the result cloudtrail-pivot) and answer done.
//	CollectCloudTrailPivot: the CloudTrail collector as pass N — the same
//	  listing, fan-out and scoped extract, its scope the derived
//	  identities only, its artifacts under pivot-NNNN/ (nothing of an
//	  earlier pass is overwritten), the log files the first pass copied
//	  not copied again.
//
// A pass that fails is a failed collector (the run seals partial); the
// loop then stops and the chain says which identities were not followed.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/pivot"
	"github.com/custody-ir/custody/shared/s3logs"
)

// ChainCollectorName is the result the chain is written in; ChainName
// the chain's artifact in the CloudTrail folder.
const (
	ChainCollectorName = "cloudtrail-pivot"
	ChainName          = pivot.ChainArtifact
	pivotPrefix        = ChainCollectorName + "-"
	followFile         = "follow.json"
)

// PivotCollectorName is pivot pass n's collector name (cloudtrail-pivot-2).
func PivotCollectorName(n int) string { return pivotPrefix + strconv.Itoa(n) }

// pivotPassOf is the pass a collector name names.
func pivotPassOf(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, pivotPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// pivotPass is what a pivot pass's Collector differs by.
type pivotPass struct {
	n        int
	ids      []pivot.Identity
	follow   *pivot.Follow
	accounts []string
	copied   map[string]bool // bucket/key of the log files the first pass copied
	prior    map[string]bool // eventIDs an earlier pass's extract holds
}

// Input is what the state machine hands the function: a collector's input
// (the first pass, a pivot pass, their shards and merges) or, with Pivot,
// the derive step's.
type Input struct {
	collect.Input
	// Pivot is the loop's state, for PivotDerive.
	Pivot *PivotState `json:"pivot,omitempty"`
	// Last is the pass PivotDerive follows: the result of each item it
	// asked for last time (a failed one as the Catch made it).
	Last []incident.Result `json:"last,omitempty"`
}

// PivotState is the loop's state in the execution: small, the identities
// themselves are in the bucket.
type PivotState struct {
	// Pass is the last pass asked for (0 before the first).
	Pass int `json:"pass"`
	// Followed are the IDs of the identities some pass followed.
	Followed []string `json:"followed,omitempty"`
	// Items is the pass to run now: one plan item, or none when done.
	Items []incident.PlanItem `json:"items"`
	// Results are every pass's result and, when done, the chain's: Seal
	// lists them (a failure the state machine caught is only here).
	Results []incident.Result `json:"results"`
	Done    bool              `json:"done"`
	// Then, when done, are the passes of other collectors over what the
	// chain derived: the IAM collector once per account with new
	// principals (pivot.PrincipalsCollectorPrefix + account), and the S3
	// access-log collector once per account whose buckets the derived
	// identities used (pivot.S3AccessCollectorPrefix + account). Always a
	// list: the state machine's PivotThen? tests its first item.
	Then []incident.PlanItem `json:"then"`
	// Principals are Then's results, put here by the state machine (the
	// PivotPrincipals Map); Seal lists them.
	Principals []incident.Result `json:"principals,omitempty"`
}

// PivotStep is PivotDerive's answer, at $.pivot: the state, and an empty
// Last for the next round.
type PivotStep struct {
	State PivotState        `json:"state"`
	Last  []incident.Result `json:"last"`
}

// follow is a pass's follow list as stored in results/cloudtrail-pivot-N/.
type follow struct {
	Pass       int              `json:"pass"`
	Identities []pivot.Identity `json:"identities"`
}

// route runs what in asks for.
func (h *Handler) route(ctx context.Context, in Input) (any, error) {
	if in.Pivot != nil {
		return h.derive(ctx, in)
	}
	c, err := h.collectorFor(ctx, &in.Input)
	if err != nil {
		return nil, err
	}
	return h.Driver.Run(ctx, c, in.Input)
}

// collectorFor is the collector in's item names: the first pass, or pivot
// pass N, whose incident's scope becomes the identities it follows (for
// the byte-level prefilter and LookupEvents; the pass keeps exactly their
// records).
func (h *Handler) collectorFor(ctx context.Context, in *collect.Input) (collect.Collector, error) {
	n, ok := pivotPassOf(in.Item.Collector)
	if !ok {
		return h.Collector, nil
	}
	pass, err := h.pivotPass(ctx, &in.Incident, n)
	if err != nil {
		return nil, err
	}
	in.Incident.Scope = pass.follow.Scope(in.Incident.Scope.AccountID, in.Incident.Scope.Region)
	return h.withPass(n, pass)
}

// withPass is the pass's collector: the first pass's, built per account as
// it is, with the pass set.
func (h *Handler) withPass(n int, pass *pivotPass) (collect.Collector, error) {
	if h.Build == nil {
		base, ok := h.Collector.(*Collector)
		if !ok {
			return nil, &faults.CollectorError{Collector: PivotCollectorName(n), Err: errors.New("the CloudTrail collector cannot run a pivot pass")}
		}
		pc := *base
		pc.pass = pass
		return &pc, nil
	}
	wrap := func(b collect.Build) collect.Build {
		if b == nil {
			return nil
		}
		return func(a *accounts.Access) collect.Collector {
			c := b(a)
			if base, ok := c.(*Collector); ok {
				pc := *base
				pc.pass = pass
				return &pc
			}
			return c
		}
	}
	return collect.ReachedOr(h.Resolver, h.Resolver.Own(), wrap(h.Build), wrap(h.Denied)), nil
}

// pivotPass is pass n: the pass's follow list (stored by PivotDerive) and
// the earlier passes' copies and records.
func (h *Handler) pivotPass(ctx context.Context, inc *incident.Incident, n int) (*pivotPass, error) {
	key, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, PivotCollectorName(n), followFile)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	var f follow
	ok, err := h.readJSON(ctx, key, &f)
	if err != nil {
		return nil, err
	}
	if !ok || len(f.Identities) == 0 {
		return nil, &faults.CollectorError{Collector: PivotCollectorName(n), Err: fmt.Errorf("no follow list at %s", key)}
	}
	copied, prior := map[string]bool{}, map[string]bool{}
	for k := 0; k < n; k++ {
		name := CollectorName
		if k > 0 {
			name = PivotCollectorName(k)
		}
		r, err := h.storedResult(ctx, inc, name)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		for _, a := range r.Artifacts {
			switch {
			case a.API == "s3:CopyObject" && a.Origin != nil:
				copied[a.Origin.Bucket+"/"+a.Origin.Key] = true
			case isExtract(a):
				if _, err := h.eachRecord(ctx, a, func(e *ctlog.Event) {
					if e.EventID != "" {
						prior[e.EventID] = true
					}
				}); err != nil {
					return nil, err
				}
			}
		}
	}
	return &pivotPass{n: n, ids: f.Identities, follow: pivot.NewFollow(f.Identities),
		accounts: pivot.Accounts(f.Identities, inc.Scope.AccountID), copied: copied, prior: prior}, nil
}

// derive is PivotDerive: it folds the last pass's results into the state,
// derives from every CloudTrail extract of the run, and asks for the next
// pass or writes the chain.
func (h *Handler) derive(ctx context.Context, in Input) (*PivotStep, error) {
	inc := &in.Incident
	st := *in.Pivot
	st.Items = []incident.PlanItem{}
	st.Then = []incident.PlanItem{}
	st.Results = append(append([]incident.Result{}, st.Results...), in.Last...)
	var failed []string
	for _, r := range in.Last {
		if r.Status == incident.StatusFailed || r.Error != nil {
			failed = append(failed, r.Collector)
		}
	}
	step := &PivotStep{State: st, Last: []incident.Result{}}
	first, err := h.storedResult(ctx, inc, CollectorName)
	if err != nil {
		return nil, err
	}
	if first == nil {
		step.State.Done = true // CloudTrail was not collected: nothing to follow from
		return step, nil
	}
	results := []*evidence.CollectorResult{first}
	for n := 1; n <= st.Pass; n++ {
		r, err := h.storedResult(ctx, inc, PivotCollectorName(n))
		if err != nil {
			return nil, err
		}
		if r != nil {
			results = append(results, r)
		}
	}
	d := pivot.NewDeriver(inc.Scope, h.Bounds)
	touches := newBucketTouches()
	var extracts []string
	var records int64
	for _, r := range results {
		for _, a := range r.Artifacts {
			if !isExtract(a) {
				continue
			}
			n, err := h.eachRecord(ctx, a, func(e *ctlog.Event) {
				d.Observe(e, a.Key)
				touches.observe(e)
			})
			if err != nil {
				return nil, err
			}
			records += n
			extracts = append(extracts, a.Key)
		}
	}
	followed := map[string]bool{}
	for _, id := range st.Followed {
		followed[id] = true
	}
	var next []pivot.Identity
	for _, id := range d.Derived(1) {
		if !followed[id.ID] && !pivot.Covered(inc.Scope, id) {
			next = append(next, id)
		}
	}
	if len(next) > 0 && len(failed) == 0 && st.Pass < h.bounds().Depth {
		n := st.Pass + 1
		key, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, PivotCollectorName(n), followFile)
		if err != nil {
			return nil, faults.Invalid("incident", "%v", err)
		}
		if _, err := h.Driver.Writer.PutJSON(ctx, key, follow{Pass: n, Identities: next}, evidence.PutMeta{
			Source: evidence.SourceCase, API: "custody:PivotFollow", Collector: ChainCollectorName,
			CollectorVersion: h.Driver.Version, AcceptIdentical: true,
		}); err != nil {
			return nil, faults.Classify("store the pivot follow list", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
		}
		step.State.Pass = n
		for _, id := range next {
			step.State.Followed = append(step.State.Followed, id.ID)
		}
		step.State.Items = []incident.PlanItem{{Collector: PivotCollectorName(n),
			Reason: fmt.Sprintf("pivot pass %d: the CloudTrail records of %d identities the case's identities made", n, len(next))}}
		return step, nil
	}
	cc := &chainCollector{chain: d.Chain(), passes: st.Pass, extracts: extracts, records: records, failed: failed}
	if len(next) > 0 {
		cc.notFollowed = next
	}
	principalAccounts := pivot.PrincipalAccounts(cc.chain, inc.Scope)
	if len(principalAccounts) > pivot.MaxPrincipalAccounts {
		cc.principalsLeft = principalAccounts[pivot.MaxPrincipalAccounts:]
		principalAccounts = principalAccounts[:pivot.MaxPrincipalAccounts]
	}
	s3Follows := touches.follows(d.Derived(1), inc.Scope)
	if len(s3Follows) > pivot.MaxPrincipalAccounts {
		for _, f := range s3Follows[pivot.MaxPrincipalAccounts:] {
			cc.s3Left = append(cc.s3Left, f.Account)
		}
		s3Follows = s3Follows[:pivot.MaxPrincipalAccounts]
	}
	cc.s3Follows, cc.touchesDropped = s3Follows, touches.dropped
	res, err := h.Driver.Run(ctx, cc, collect.Input{Incident: *inc, Item: incident.PlanItem{Collector: ChainCollectorName}})
	if err != nil {
		return nil, err
	}
	step.State.Results = append(step.State.Results, res)
	step.State.Done = true
	for _, a := range principalAccounts {
		step.State.Then = append(step.State.Then, incident.PlanItem{Collector: pivot.PrincipalsCollectorPrefix + a,
			Reason: "the IAM principals (keys, users, roles of sessions) the chain derived in account " + a})
	}
	s3Items, err := h.storeS3Follows(ctx, inc, s3Follows)
	if err != nil {
		return nil, err
	}
	step.State.Then = append(step.State.Then, s3Items...)
	return step, nil
}

func (h *Handler) bounds() pivot.Bounds {
	b := h.Bounds
	if b.Depth <= 0 {
		b.Depth = pivot.DefaultDepth
	}
	if b.MaxIdentities <= 0 {
		b.MaxIdentities = pivot.DefaultMaxIdentities
	}
	return b
}

// isExtract reports a CloudTrail extract of records (the first pass's,
// a shard's, a pivot pass's, or LookupEvents').
func isExtract(a evidence.Artifact) bool {
	return a.Source == evidence.SourceCloudTrail && a.API != "s3:CopyObject" && strings.HasSuffix(path.Base(a.Key), ".jsonl.gz")
}

// eachRecord streams one extract's records to fn, one line at a time.
func (h *Handler) eachRecord(ctx context.Context, a evidence.Artifact, fn func(*ctlog.Event)) (int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(h.Driver.Bucket), Key: aws.String(a.Key)}
	if a.VersionID != "" {
		in.VersionId = aws.String(a.VersionID)
	}
	obj, err := h.Driver.Results.GetObject(ctx, in)
	if err != nil {
		return 0, faults.Classify("read extract", err, func(err error) error { return &faults.EvidenceError{Key: a.Key, Err: err} })
	}
	defer obj.Body.Close()
	body, err := s3logs.Decompressed(obj.Body)
	if err != nil {
		return 0, &faults.EvidenceError{Key: a.Key, Err: err}
	}
	var n int64
	err = s3logs.Lines(func(line []byte) (s3logs.Record, error) {
		e, err := ctlog.Parse(line)
		if err != nil {
			return s3logs.Record{}, err
		}
		return s3logs.Record{Time: e.Time, Value: e}, nil
	})(body, func(r s3logs.Record) error {
		n++
		fn(r.Value.(*ctlog.Event))
		return nil
	}, func(error) {})
	if err != nil {
		return n, &faults.EvidenceError{Key: a.Key, Err: err}
	}
	return n, nil
}

// storedResult reads the stored result of collector name in inc's run,
// nil when there is none.
func (h *Handler) storedResult(ctx context.Context, inc *incident.Incident, name string) (*evidence.CollectorResult, error) {
	key, err := evidence.ResultKey(inc.CaseID, inc.RunID, name)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	var r evidence.CollectorResult
	ok, err := h.readJSON(ctx, key, &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

// readJSON decodes the run's object at key; false when there is none.
func (h *Handler) readJSON(ctx context.Context, key string, v any) (bool, error) {
	if h.Driver.Results == nil {
		return false, errors.New("cloudtrail: the driver reads no stored results")
	}
	return h.Driver.ReadJSON(ctx, key, v)
}

// chainCollector writes the chain as an artifact of the run, in its own
// result (cloudtrail-pivot), so that Seal lists it in the manifest.
type chainCollector struct {
	chain       pivot.Chain
	passes      int
	extracts    []string
	records     int64
	failed      []string
	notFollowed []pivot.Identity
	// principalsLeft are accounts with derived principals past
	// pivot.MaxPrincipalAccounts: no IAM pass describes them.
	principalsLeft []string
	// s3Follows are the S3 access-log passes asked for; s3Left the
	// accounts past the bound; touchesDropped the S3 calls not
	// remembered past maxBucketTouches.
	s3Follows      []pivot.S3Follow
	s3Left         []string
	touchesDropped int
}

// Name implements collect.Collector.
func (c *chainCollector) Name() string { return ChainCollectorName }

// Source implements collect.Collector.
func (c *chainCollector) Source() string { return evidence.SourceCloudTrail }

// chainFile is pivot/identities.json.
type chainFile struct {
	pivot.Chain
	// Passes is how many pivot passes ran.
	Passes int `json:"passes"`
	// Extracts are the extracts the chain was derived from.
	Extracts []string `json:"extracts"`
	// FailedPasses name passes that failed: their identities' records
	// may be missing, and what those made is not derived.
	FailedPasses []string `json:"failedPasses,omitempty"`
	// NotFollowed are identities derived but not collected (a pass
	// failed, or the passes ran out).
	NotFollowed []pivot.Identity `json:"notFollowed,omitempty"`
}

// Collect implements collect.Collector.
func (c *chainCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	f := chainFile{Chain: c.chain, Passes: c.passes, Extracts: c.extracts, FailedPasses: c.failed, NotFollowed: c.notFollowed}
	if f.Extracts == nil {
		f.Extracts = []string{}
	}
	meta := out.Meta("custody:Pivot", map[string]any{"bounds": c.chain.Bounds, "passes": c.passes, "extracts": len(c.extracts), "records": c.records},
		&evidence.Origin{Description: "identities the case's identities made, with the record each came from, derived from the run's CloudTrail extracts"})
	meta.Records = int64(len(c.chain.Identities))
	meta.ContentType = evidence.ContentTypeJSON
	if _, err := out.PutJSON(ctx, ChainName, f, meta); err != nil {
		return err
	}
	if n := len(c.chain.Leads); n > 0 {
		out.Warn("%d leads not followed (past custody:pivotDepth %d or custody:pivotMaxIdentities %d, or nothing exact to follow): see %s",
			n, c.chain.Bounds.Depth, c.chain.Bounds.MaxIdentities, ChainName)
	}
	// Every follow list carries the same identities that an access log
	// cannot name: said once.
	if len(c.s3Follows) > 0 {
		for _, u := range c.s3Follows[0].Unmatched {
			out.Warn("S3 access logs: %s: not followed there", u)
		}
	}
	if len(c.s3Left) > 0 {
		out.Warn("the derived identities used buckets in %d more accounts than the %d whose access logs are read (%s)", len(c.s3Left), pivot.MaxPrincipalAccounts, strings.Join(c.s3Left, ", "))
	}
	if c.touchesDropped > 0 {
		out.Warn("%d S3 calls of the extracts past the %d remembered were not checked for the buckets the derived identities used", c.touchesDropped, maxBucketTouches)
	}
	if len(c.principalsLeft) > 0 {
		out.Warn("the chain derived IAM principals in %d more accounts than the %d the IAM collector describes (%s): read them there by hand",
			len(c.principalsLeft), pivot.MaxPrincipalAccounts, strings.Join(c.principalsLeft, ", "))
	}
	if len(c.failed) > 0 {
		out.Warn("pivot stopped after %s failed: the records of the identities it followed may be missing, and what they made is not derived (%d derived identities not followed): see %s",
			strings.Join(c.failed, ", "), len(c.notFollowed), ChainName)
	}
	return nil
}
