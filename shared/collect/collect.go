// Package collect is the one driver every collector Lambda runs: it gives a
// collector its incident and an Output to write evidence to, turns a panic
// or an error into a named result, and stores the collector's full result
// in the run folder for Seal. Each collector is only the part that differs:
// what to read and how to name it. A source too large for one invocation
// fans out over shards (fanout.go).
package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Collector is one evidence source.
type Collector interface {
	// Name is the collector's name in the Plan, the state machine and the
	// manifest.
	Name() string
	// Source is the manifest source of what it writes.
	Source() string
	// Collect writes the evidence for inc to out. A source that is off,
	// empty or denied is a gap (out.Gap), not an error. An error is for a
	// collector that could not do its work.
	Collect(ctx context.Context, inc *incident.Incident, out *Output) error
}

// Input is what the state machine's Map hands a collector Lambda.
type Input struct {
	Incident incident.Incident `json:"incident"`
	Item     incident.PlanItem `json:"item"`
	// Shard, from the state machine's shard Map, is the one piece of a
	// fanned-out collector's work this invocation does.
	Shard *incident.ShardRef `json:"shard,omitempty"`
	// Merge, from the step after the shard Map, asks for the fanned-out
	// collector's one result.
	Merge *Merge `json:"merge,omitempty"`
}

// Writer is the part of the evidence writer a collector uses.
type Writer interface {
	Put(ctx context.Context, key string, body io.Reader, meta evidence.PutMeta) (evidence.Artifact, error)
	PutJSON(ctx context.Context, key string, v any, meta evidence.PutMeta) (evidence.Artifact, error)
	CreateGzip(key string, meta evidence.PutMeta) (*evidence.ArtifactWriter, error)
	Copy(ctx context.Context, srcBucket, srcKey, srcVersion, dstKey string, meta evidence.PutMeta) (evidence.Artifact, error)
}

// Output collects what one collector run produced.
type Output struct {
	inc       *incident.Incident
	w         Writer
	collector string
	source    string
	version   string

	mu        sync.Mutex
	artifacts []evidence.Artifact
	gaps      []evidence.Gap
	warnings  []string
	snapshots []evidence.Snapshot

	// Fan-out (fanout.go): what this invocation may take on, the piece it
	// does, and the pieces it handed on.
	budget Budget
	shard  *incident.ShardRef
	fanOut []json.RawMessage

	// readWith is the account, region and role this invocation reads
	// with (SetReadWith, from Reach); nil: the function's own.
	readWith *evidence.ReadWith
}

// Key returns the evidence key for name under this collector's source
// folder in the run.
func (o *Output) Key(name string) (string, error) {
	return evidence.ArtifactKey(o.inc.CaseID, o.inc.RunID, o.source, name)
}

// Meta returns a PutMeta with the collector's name, version and source.
func (o *Output) Meta(api string, request map[string]any, origin *evidence.Origin) evidence.PutMeta {
	return evidence.PutMeta{
		Source: o.source, API: api, Request: request, Origin: origin,
		Collector: o.collector, CollectorVersion: o.version,
	}
}

// PutJSON stores v as name in the collector's folder.
func (o *Output) PutJSON(ctx context.Context, name string, v any, meta evidence.PutMeta) (evidence.Artifact, error) {
	key, err := o.Key(name)
	if err != nil {
		return evidence.Artifact{}, err
	}
	a, err := o.w.PutJSON(ctx, key, v, o.fill(meta))
	return o.add(a, err)
}

// Put streams body as name in the collector's folder.
func (o *Output) Put(ctx context.Context, name string, body io.Reader, meta evidence.PutMeta) (evidence.Artifact, error) {
	key, err := o.Key(name)
	if err != nil {
		return evidence.Artifact{}, err
	}
	a, err := o.w.Put(ctx, key, body, o.fill(meta))
	return o.add(a, err)
}

// Copy copies an original object unchanged into the collector's folder.
func (o *Output) Copy(ctx context.Context, srcBucket, srcKey, srcVersion, name string, meta evidence.PutMeta) (evidence.Artifact, error) {
	key, err := o.Key(name)
	if err != nil {
		return evidence.Artifact{}, err
	}
	a, err := o.w.Copy(ctx, srcBucket, srcKey, srcVersion, key, o.fill(meta))
	return o.add(a, err)
}

// Stream is an artifact written as its records are produced (gzip, hashed
// and spooled as it goes); Close stores it and lists it in the result.
type Stream struct {
	*evidence.ArtifactWriter
	out *Output
}

// Close stores the artifact and adds it to the collector's result.
func (s *Stream) Close(ctx context.Context) (evidence.Artifact, error) {
	a, err := s.ArtifactWriter.Close(ctx)
	return s.out.add(a, err)
}

// CreateGzip starts a streamed, gzip-compressed artifact named name in the
// collector's folder (a .jsonl.gz extract, typically).
func (o *Output) CreateGzip(name string, meta evidence.PutMeta) (*Stream, error) {
	key, err := o.Key(name)
	if err != nil {
		return nil, err
	}
	meta = o.fill(meta)
	if meta.ContentType == "" {
		meta.ContentType = evidence.ContentTypeGzip
	}
	w, err := o.w.CreateGzip(key, meta)
	if err != nil {
		return nil, err
	}
	return &Stream{ArtifactWriter: w, out: o}, nil
}

// Gap records evidence that could not be had and what to enable.
func (o *Output) Gap(reason, fix string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gaps = append(o.gaps, evidence.Gap{Source: o.source, Reason: reason, Fix: fix})
}

// Warn records something a responder should know.
func (o *Output) Warn(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.warnings = append(o.warnings, fmt.Sprintf(format, args...))
}

// Snapshot records an EBS snapshot taken for the case.
func (o *Output) Snapshot(s evidence.Snapshot) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.snapshots = append(o.snapshots, s)
}

func (o *Output) fill(m evidence.PutMeta) evidence.PutMeta {
	if m.Source == "" {
		m.Source = o.source
	}
	m.Collector, m.CollectorVersion = o.collector, o.version
	if m.ReadWith == nil {
		o.mu.Lock()
		m.ReadWith = o.readWith
		o.mu.Unlock()
	}
	// A retried collector writes the same bytes again: that is the same
	// evidence, not an overwrite.
	m.AcceptIdentical = true
	return m
}

func (o *Output) add(a evidence.Artifact, err error) (evidence.Artifact, error) {
	if err != nil {
		return a, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.artifacts = append(o.artifacts, a)
	return a, nil
}

// resultReader reads a result an earlier attempt stored.
type resultReader interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Driver runs collectors.
type Driver struct {
	Writer  Writer
	Version string
	Now     func() time.Time
	// Results and Bucket, when set, let a collector invoked again for a run
	// it already finished (a lost response, a Lambda retry) answer from its
	// stored result instead of failing on evidence that already exists.
	// Fan-out needs them too: shards read the plan from the bucket.
	Results resultReader
	Bucket  string
	// Budget is how much one invocation takes on before a ShardCollector
	// fans out (Output.Budget); zero, or no Results, never fans out.
	Budget Budget
	// ActionLogs stores each invocation's action log (actions.go): every
	// AWS call it made through clients of an awsconfig.Load
	// configuration. DriverFromEnv sets it.
	ActionLogs bool
	// Account is the function's own account, named in the action log for
	// the calls of clients not made for another (awsconfig.InAccount).
	Account string
}

func (d *Driver) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// output is a fresh Output for one invocation of c.
func (d *Driver) output(inc *incident.Incident, c Collector) *Output {
	out := &Output{inc: inc, w: d.Writer, collector: c.Name(), source: c.Source(), version: d.Version}
	if _, ok := c.(ShardCollector); ok && d.Results != nil && d.Bucket != "" {
		out.budget = d.Budget
	}
	return out
}

// open opens the stored object at key, nil when there is none.
func (d *Driver) open(ctx context.Context, key string) (io.ReadCloser, error) {
	if d.Results == nil || key == "" {
		return nil, nil
	}
	obj, err := d.Results.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.Bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		var apiErr smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound")) {
			return nil, nil
		}
		return nil, faults.Classify("read stored result", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	return obj.Body, nil
}

// stored returns the result an earlier attempt stored, or nil.
func (d *Driver) stored(ctx context.Context, key string) (*evidence.CollectorResult, error) {
	var r evidence.CollectorResult
	ok, err := d.ReadJSON(ctx, key, &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

// summary is the state machine's view of a stored result.
func summary(key string, r *evidence.CollectorResult) (incident.Result, error) {
	if r.Status == incident.StatusFailed {
		return incident.Result{}, &faults.CollectorError{Collector: r.Collector, Err: errors.New(r.Error)}
	}
	var records int64
	for _, a := range r.Artifacts {
		records += a.Records
	}
	return incident.Result{
		Collector: r.Collector, Status: r.Status, ResultKey: key,
		Artifacts: len(r.Artifacts), Records: records, Gaps: len(r.Gaps),
	}, nil
}

// Run runs c for in and stores its result as results/<name>.json in the
// run folder. A throttled or transient error is returned as such so the
// state machine retries the whole collector; any other error or a panic is
// stored as a failed result and returned as *faults.CollectorError, which
// the state machine catches into a failed entry while the run goes on.
//
// A ShardCollector may fan out instead (fanout.go): Run then stores its
// plan and answers fanned-out; in.Shard runs one piece and in.Merge folds
// the pieces into the one result.
func (d *Driver) Run(ctx context.Context, c Collector, in Input) (result incident.Result, err error) {
	switch {
	case in.Merge != nil:
		return d.merge(ctx, c, in)
	case in.Shard != nil:
		return d.shard(ctx, c, in)
	}
	ctx, actions := d.bindActions(ctx)
	inc := &in.Incident
	key, keyErr := evidence.ResultKey(inc.CaseID, inc.RunID, c.Name())
	if keyErr == nil {
		prev, err := d.stored(ctx, key)
		if err != nil {
			return incident.Result{}, err
		}
		if prev != nil {
			return summary(key, prev)
		}
		if _, ok := c.(ShardCollector); ok {
			p, planKey, err := d.readPlan(ctx, inc, c.Name())
			if err != nil {
				return incident.Result{}, err
			}
			if p != nil {
				return fannedOut(c.Name(), planKey, p), nil
			}
		}
	}

	out := d.output(inc, c)
	res, cause, err := d.collect(ctx, c, out, actions, func() error {
		if inc.CaseID == "" || inc.RunID == "" {
			return faults.Invalid("incident", "caseId and runId are required")
		}
		return c.Collect(ctx, inc, out)
	})
	if err != nil {
		return incident.Result{}, err
	}
	if keyErr != nil {
		if cause != nil {
			// No place to store the result (no caseId or runId): report
			// why the collector did not run, not the key it could not make.
			keyErr = cause
		}
		return incident.Result{}, &faults.CollectorError{Collector: c.Name(), Err: keyErr}
	}
	if res.Status == incident.StatusOK && out.fanOut != nil {
		p := &plan{Result: *res, Shards: out.fanOut}
		planKey, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, c.Name(), planFile)
		if err != nil {
			return incident.Result{}, &faults.CollectorError{Collector: c.Name(), Err: err}
		}
		if err := d.storeJSON(ctx, planKey, c.Name(), "custody:CollectorPlan", p); err != nil {
			return incident.Result{}, err
		}
		return fannedOut(c.Name(), planKey, p), nil
	}
	if err := d.store(ctx, key, c.Name(), res); err != nil {
		return incident.Result{}, err
	}
	return summary(key, res)
}

// collect runs fn, the collector's work, with out; a panic or an error is
// the result's failure, and cause is that error. Throttling and transient errors are returned
// instead, with nothing stored, for the state machine to retry the
// invocation (objects this attempt stored stay in the bucket). The named
// error itself is returned, not a wrapper around it: the state machine
// matches the Go type name, and a fmt.Errorf wrapper is "wrapError".
//
// Either way the invocation's action log is stored (StoreActions) and,
// when a result is, listed in it.
func (d *Driver) collect(ctx context.Context, c Collector, out *Output, actions *awsconfig.ActionLog, fn func() error) (res *evidence.CollectorResult, cause, err error) {
	started := d.now().UTC()
	cerr := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		return fn()
	}()
	var retry *faults.ThrottledError
	var transient *faults.TransientError
	if errors.As(cerr, &retry) || errors.As(cerr, &transient) {
		// This attempt's calls are stored too, for the next attempt to
		// find its own name beside them; a failure to is the retry's.
		_, _ = d.storeActions(ctx, out.inc, actionLogName(out, c.Name(), false), c.Name(), actions)
		if retry != nil {
			return nil, nil, retry
		}
		return nil, nil, transient
	}
	res = &evidence.CollectorResult{
		Collector: c.Name(), CollectorVersion: d.Version, Status: incident.StatusOK,
		Artifacts: out.artifacts, Gaps: out.gaps, Warnings: out.warnings, Snapshots: out.snapshots,
		StartedAt: started, FinishedAt: d.now().UTC(),
	}
	if cerr != nil {
		res.Status, res.Error = incident.StatusFailed, cerr.Error()
	} else if out.fanOut != nil {
		if _, ok := c.(ShardCollector); !ok {
			res.Status, res.Error = incident.StatusFailed, "collect: FanOut from a collector that cannot collect shards"
		}
	}
	if err := d.addActions(ctx, res, out.inc, actionLogName(out, c.Name(), false), actions); err != nil {
		return nil, nil, err
	}
	sortResult(res)
	return res, cerr, nil
}

// storeActions stores the invocation's action log, when there is a
// writer and an incident to store it in.
func (d *Driver) storeActions(ctx context.Context, inc *incident.Incident, name, collector string, actions *awsconfig.ActionLog) (*evidence.Artifact, error) {
	if d.Writer == nil || actions == nil || inc.CaseID == "" || inc.RunID == "" {
		return nil, nil
	}
	a, err := StoreActions(ctx, d.Writer, inc.CaseID, inc.RunID, name, collector, d.Version, actions.Actions())
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// addActions stores the action log and lists it in res. Throttling or a
// transient error is returned, for the state machine to retry the
// invocation; any other failure is a warning on res, since the evidence
// the collector wrote is no less evidence for it.
func (d *Driver) addActions(ctx context.Context, res *evidence.CollectorResult, inc *incident.Incident, name string, actions *awsconfig.ActionLog) error {
	a, err := d.storeActions(ctx, inc, name, res.Collector, actions)
	var retry *faults.ThrottledError
	var transient *faults.TransientError
	switch {
	case errors.As(err, &retry):
		return retry
	case errors.As(err, &transient):
		return transient
	case err != nil:
		res.Warnings = append(res.Warnings, "action log not stored: "+err.Error())
	case a != nil:
		res.Artifacts = append(res.Artifacts, *a)
	}
	return nil
}

// store writes a collector's result at key.
func (d *Driver) store(ctx context.Context, key, collector string, res *evidence.CollectorResult) error {
	return d.storeJSON(ctx, key, collector, "custody:CollectorResult", res)
}

func (d *Driver) storeJSON(ctx context.Context, key, collector, api string, v any) error {
	// AcceptIdentical: a put whose answer was lost, retried by the SDK,
	// finds its own bytes there (412): that is this result, stored.
	if _, err := d.Writer.PutJSON(ctx, key, v, evidence.PutMeta{
		Source: evidence.SourceCase, API: api, Collector: collector, CollectorVersion: d.Version,
		AcceptIdentical: true,
	}); err != nil {
		return faults.Classify("store "+api, err, func(err error) error {
			return &faults.EvidenceError{Key: key, Err: err}
		})
	}
	return nil
}

func sortResult(r *evidence.CollectorResult) {
	sort.Slice(r.Artifacts, func(i, j int) bool { return r.Artifacts[i].Key < r.Artifacts[j].Key })
	if r.Artifacts == nil {
		r.Artifacts = []evidence.Artifact{}
	}
	if r.Gaps == nil {
		r.Gaps = []evidence.Gap{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if r.Snapshots == nil {
		r.Snapshots = []evidence.Snapshot{}
	}
}

// NewOutput is an Output for inc that records gaps, warnings and
// snapshots and has no writer: for a collector's steps that write no
// evidence, tested alone (a put on it panics).
func NewOutput(inc *incident.Incident, collector, source string) *Output {
	return &Output{inc: inc, collector: collector, source: source}
}

// Gaps returns the gaps recorded so far.
func (o *Output) Gaps() []evidence.Gap {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]evidence.Gap(nil), o.gaps...)
}
