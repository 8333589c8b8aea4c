package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

// The action log: every AWS call one invocation makes (awsconfig.Load's
// clients record into the log bound to the invocation's context) is
// stored, when the invocation ends, as its own artifact,
// actions/<collector>[-shardNNNN].jsonl in the run folder, one
// awsconfig.Action a line, and listed in the invocation's result, so the
// manifest names it with its SHA-256 like any evidence. It lets custody's
// own footprint in the target's CloudTrail (matched by request ID, time,
// operation) be told from the attacker's. Not in it: the put of the log
// itself and of the result after it (custody's own writes to its own
// bucket, which the bucket's access log records).

// actionPutter stores an action log.
type actionPutter interface {
	Put(ctx context.Context, key string, body io.Reader, meta evidence.PutMeta) (evidence.Artifact, error)
}

// maxActionLogAttempts bounds the names an action log tries: an attempt
// the state machine retried stored its own log first, under the plain
// name (or an earlier numbered one).
const maxActionLogAttempts = 20

// ActionLogError is an action log that could not be stored.
type ActionLogError struct {
	Key string
	Err error
}

func (e *ActionLogError) Error() string { return fmt.Sprintf("store action log %s: %v", e.Key, e.Err) }

func (e *ActionLogError) Unwrap() error { return e.Err }

// StoreActions stores actions as the action log name (a .jsonl name, one
// segment) of the run: at actions/<name>, or, when an earlier attempt of
// the same invocation stored one there, at the first free
// actions/<stem>-attemptN.jsonl. collector and version name the writer in
// the manifest.
func StoreActions(ctx context.Context, w actionPutter, caseID, runID, name, collector, version string, actions []awsconfig.Action) (evidence.Artifact, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, a := range actions {
		if err := enc.Encode(a); err != nil {
			return evidence.Artifact{}, &ActionLogError{Key: name, Err: err}
		}
	}
	meta := evidence.PutMeta{
		Source: evidence.SourceActions, API: "custody:ActionLog", Records: int64(len(actions)),
		Origin:    &evidence.Origin{Description: "every AWS call " + collector + " made in this invocation (" + name + "), as its SDK clients recorded them"},
		Collector: collector, CollectorVersion: version, ContentType: "application/x-ndjson",
		// The same calls stored again (a lost answer, retried by the SDK)
		// are this log, not a conflict.
		AcceptIdentical: true,
	}
	if len(actions) > 0 {
		first, last := actions[0].Start, actions[0].End
		for _, a := range actions {
			if a.Start.Before(first) {
				first = a.Start
			}
			if a.End.After(last) {
				last = a.End
			}
		}
		meta.FirstEvent, meta.LastEvent = &first, &last
	}
	stem, ext := splitExt(name)
	var key string
	for i := 1; i <= maxActionLogAttempts; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s-attempt%d%s", stem, i, ext)
		}
		var err error
		if key, err = evidence.ArtifactKey(caseID, runID, evidence.SourceActions, n); err != nil {
			return evidence.Artifact{}, &ActionLogError{Key: n, Err: err}
		}
		a, err := w.Put(ctx, key, bytes.NewReader(buf.Bytes()), meta)
		if errors.Is(err, evidence.ErrExists) {
			continue
		}
		if err != nil {
			return evidence.Artifact{}, faults.Classify("store action log", err, func(err error) error { return &ActionLogError{Key: key, Err: err} })
		}
		return a, nil
	}
	return evidence.Artifact{}, &ActionLogError{Key: key, Err: fmt.Errorf("%d attempts' logs are there already", maxActionLogAttempts)}
}

// bindActions is ctx with a fresh action log bound, for one invocation;
// ctx and nil when the driver stores none.
func (d *Driver) bindActions(ctx context.Context) (context.Context, *awsconfig.ActionLog) {
	if !d.ActionLogs {
		return ctx, nil
	}
	l := awsconfig.NewActionLog()
	l.Account = d.Account
	return awsconfig.WithActionLog(ctx, l), l
}

// actionLogName is the action log of an invocation of collector:
// <collector>.jsonl, with the shard's number in a shard and -merge in the
// merge step.
func actionLogName(out *Output, collector string, merge bool) string {
	if merge {
		return collector + "-merge.jsonl"
	}
	if out == nil {
		return collector + ".jsonl"
	}
	return out.PartName(collector + ".jsonl")
}
