package contain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

// The function's actions (Input.Action), one per containment state.
const (
	// ActionPlan (or ""): plan every enabled class, store the plan, apply
	// the auto ones (the Contain state).
	ActionPlan = "plan"
	// ActionRequest: store the pending approval with its task token and
	// send the notice (the AwaitApproval state, .waitForTaskToken).
	ActionRequest = "request"
	// ActionApply: the responder approved: apply the awaiting actions.
	ActionApply = "apply"
	// ActionReject: the responder rejected, or the wait timed out:
	// record that nothing was applied.
	ActionReject = "reject"
	// ActionRollback: undo what the run applied (custody rollback CASE
	// invokes the function with it).
	ActionRollback = "rollback"
)

// StatusRejected is an awaiting action that was never applied: rejected,
// timed out, or its request failed.
const StatusRejected Status = "rejected"

// The records under a run's containment/ folder. Each is written once
// through the evidence writer (hashed, locked, never overwritten).
const (
	PlanFile     = "plan.json"
	AppliedFile  = "applied.json"  // what auto mode changed
	ApprovedFile = "approved.json" // what an approval changed, with the decision
	RejectedFile = "rejected.json" // a rejection or timeout: nothing changed
	RollbackFile = "rollback.json" // what a rollback restored
	// PendingPrefix + a hash of the task token + .json: the approval
	// request. Named by the token, so a retried request (a new token) is
	// a new file, not an overwrite.
	PendingPrefix = "pending-"
)

// ErrorRejected is the error a rejection sends (SendTaskFailure); a
// timeout arrives as States.Timeout.
const ErrorRejected = "ContainmentRejected"

// Decision is what an approver sends as the task's output, and a
// rejection as its cause: who decided, when, why.
type Decision struct {
	Decision string    `json:"decision"` // approved | rejected
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason,omitempty"`
}

// StepError is a caught Step Functions error ({Error, Cause}).
type StepError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Pending is containment/pending-*.json: what awaits a decision and the
// task token the decision is sent with. The token is not a bearer
// credential: only the stack's approver role may send a task's result.
type Pending struct {
	CaseID    string    `json:"caseId"`
	RunID     string    `json:"runId"`
	At        time.Time `json:"at"`
	Expires   time.Time `json:"expires"`
	TaskToken string    `json:"taskToken"`
	Actions   []Action  `json:"actions"`
}

// Record is approved.json, rejected.json and rollback.json: the plan's
// shape plus the decision or error that led to it.
type Record struct {
	Plan
	Decision *Decision `json:"decision,omitempty"`
	Error    string    `json:"error,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// notifier sends the approval notice.
type notifier interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// recordReader reads the applied records a rollback restores from.
type recordReader interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// awaiting are the actions that wait for a decision.
func awaiting(actions []Action) []Action {
	var out []Action
	for _, a := range actions {
		if a.Status == StatusAwaiting {
			out = append(out, a)
		}
	}
	return out
}

func (h *Handler) put(ctx context.Context, key, api string, v any) error {
	if _, err := h.Writer.PutJSON(ctx, key, v, evidence.PutMeta{Source: evidence.SourceCase, API: api, Collector: "contain", CollectorVersion: h.Version, AcceptIdentical: true}); err != nil {
		return faults.Classify("store "+key, err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	return nil
}

// request stores the pending approval and sends the notice of what would
// change and how to decide. The token is stored in the case, not sent in
// the notice: approve reads it there.
func (h *Handler) request(ctx context.Context, in Input, prefix string) (*Output, error) {
	if in.Token == "" {
		return nil, faults.Invalid("token", "an approval request without a task token")
	}
	wait := awaiting(in.Actions)
	now := h.Now().UTC()
	sum := sha256.Sum256([]byte(in.Token))
	key := prefix + "containment/" + PendingPrefix + hex.EncodeToString(sum[:8]) + ".json"
	p := Pending{CaseID: in.Incident.CaseID, RunID: in.Incident.RunID, At: now, Expires: now.Add(h.ApprovalTimeout), TaskToken: in.Token, Actions: wait}
	if err := h.put(ctx, key, "custody:ContainRequest", p); err != nil {
		return nil, err
	}
	// Signed before the notice: a request that cannot be signed fails, and
	// the state machine records it as a rejection (nothing changes).
	stKey, err := h.sign(ctx, p.CaseID, p.RunID, StepRequest)
	if err != nil {
		return nil, err
	}
	if h.Notifier != nil && h.TopicARN != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "custody: containment of case %s (run %s) awaits approval.\n\nIf approved, it changes:\n", p.CaseID, p.RunID)
		for _, a := range wait {
			for _, c := range a.Change {
				fmt.Fprintf(&b, "  - %s\n", c)
			}
		}
		fmt.Fprintf(&b, "\nThe plan with every before-state: s3 key %s%s\n", prefix, "containment/"+PlanFile)
		fmt.Fprintf(&b, "Approve (as the approver role): custody approve %s\nReject:                         custody reject %s\n", p.CaseID, p.CaseID)
		fmt.Fprintf(&b, "Without a decision by %s (%s from now) it is rejected: nothing changes.\n", p.Expires.Format(time.RFC3339), h.ApprovalTimeout)
		subject := "custody: approve containment of case " + p.CaseID
		if len(subject) > 100 {
			subject = subject[:100]
		}
		if _, err := h.Notifier.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.TopicARN), Subject: aws.String(subject), Message: aws.String(b.String())}); err != nil {
			return nil, faults.Classify("sns:Publish", err, contained("Publish"))
		}
	}
	return &Output{PlanKey: prefix + "containment/" + PlanFile, Actions: in.Actions, Awaiting: true, PendingKey: key, StatementKey: stKey}, nil
}

// applyApproved applies the actions that awaited approval, from the plan
// in the state (the approver's answer is recorded, never applied from).
func (h *Handler) applyApproved(ctx context.Context, in Input, prefix string) (*Output, error) {
	actions := slices.Clone(in.Actions)
	// Only what the stored plan planned in approve mode is applied: an
	// invocation with other actions (not the state machine's) changes
	// nothing it did not plan.
	var stored Plan
	if found, err := h.readRecord(ctx, h.Bucket, prefix+"containment/"+PlanFile, &stored); err != nil {
		return nil, err
	} else if !found {
		return nil, faults.Invalid("plan", "no stored plan at %scontainment/%s: nothing to approve", prefix, PlanFile)
	}
	// Decided already: never applied twice, never after a rejection.
	for _, name := range []string{ApprovedFile, RejectedFile} {
		var rec Record
		if found, err := h.readRecord(ctx, h.Bucket, prefix+"containment/"+name, &rec); err != nil {
			return nil, err
		} else if found {
			return nil, faults.Invalid("approval", "case %s run %s was decided already (%s): nothing applied", in.Incident.CaseID, in.Incident.RunID, name)
		}
	}
	inPlan := func(a Action) bool {
		return slices.ContainsFunc(stored.Actions, func(p Action) bool {
			return p.Class == a.Class && p.Target == a.Target && p.User == a.User && p.Mode == ModeApprove && p.Status == StatusPlanned
		})
	}
	for i := range actions {
		if actions[i].Status == StatusAwaiting && !inPlan(actions[i]) {
			return nil, faults.Invalid("actions", "%s %s is not in the stored plan as awaiting approval", actions[i].Class, actions[i].Target)
		}
	}
	for i := range actions {
		if actions[i].Status == StatusAwaiting {
			actions[i].Status = StatusPlanned
			h.Apply(ctx, &actions[i])
		}
	}
	key := prefix + "containment/" + ApprovedFile
	rec := Record{Plan: Plan{CaseID: in.Incident.CaseID, RunID: in.Incident.RunID, At: h.Now().UTC(), Actions: actions}, Decision: in.Approval}
	if err := h.put(ctx, key, "custody:ContainApprove", rec); err != nil {
		return nil, err
	}
	out := &Output{PlanKey: prefix + "containment/" + PlanFile, Actions: actions, RecordKey: key}
	// Applied and recorded: a failed signature is reported (an
	// UnsignedError) with what was applied, and undoes nothing.
	var err error
	out.StatementKey, err = h.sign(ctx, in.Incident.CaseID, in.Incident.RunID, StepApply)
	return out, err
}

// reject records that the awaiting actions were not applied, and why: a
// rejection (its decision in the cause), a timeout, or a failed request.
func (h *Handler) reject(ctx context.Context, in Input, prefix string) (*Output, error) {
	actions := slices.Clone(in.Actions)
	rec := Record{Plan: Plan{CaseID: in.Incident.CaseID, RunID: in.Incident.RunID, At: h.Now().UTC()}}
	reason := "the approval request failed: nothing was applied"
	if in.Error != nil {
		rec.Error = in.Error.Error
		switch in.Error.Error {
		case ErrorRejected:
			reason = "rejected: nothing was applied"
			var d Decision
			if json.Unmarshal([]byte(in.Error.Cause), &d) == nil && d.By != "" {
				rec.Decision = &d
			}
		case "States.Timeout", "States.HeartbeatTimeout":
			reason = fmt.Sprintf("no decision within %s: rejected, nothing was applied", h.ApprovalTimeout)
		default:
			reason += " (" + in.Error.Error + ": " + in.Error.Cause + ")"
		}
	}
	for i := range actions {
		if actions[i].Status == StatusAwaiting {
			actions[i].Status, actions[i].Reason = StatusRejected, reason
		}
	}
	rec.Actions, rec.Reason = actions, reason
	key := prefix + "containment/" + RejectedFile
	if err := h.put(ctx, key, "custody:ContainReject", rec); err != nil {
		return nil, err
	}
	out := &Output{PlanKey: prefix + "containment/" + PlanFile, Actions: actions, RecordKey: key}
	var err error
	out.StatementKey, err = h.sign(ctx, in.Incident.CaseID, in.Incident.RunID, StepReject)
	return out, err
}

// RollbackRun undoes what containment applied in one run (applied.json
// and approved.json): it first checks every applied action for drift and
// changes nothing when one drifted (a *DriftError); then it restores each
// from its recorded before-state and records rollback.json. by names who
// asked.
func (h *Handler) RollbackRun(ctx context.Context, bucket, caseID, runID, by string) (*Record, error) {
	prefix, err := evidence.RunPrefix(caseID, runID)
	if err != nil {
		return nil, faults.Invalid("case", "%v", err)
	}
	var applied []Action
	for _, name := range []string{AppliedFile, ApprovedFile} {
		var rec Record
		found, err := h.readRecord(ctx, bucket, prefix+"containment/"+name, &rec)
		if err != nil {
			return nil, err
		}
		if found {
			for _, a := range rec.Actions {
				if a.Status == StatusApplied {
					applied = append(applied, a)
				}
			}
		}
	}
	if len(applied) == 0 {
		return nil, &NothingToRollBackError{CaseID: caseID, RunID: runID}
	}
	var rb Record
	if found, err := h.readRecord(ctx, bucket, prefix+"containment/"+RollbackFile, &rb); err != nil {
		return nil, err
	} else if found {
		return nil, &NothingToRollBackError{CaseID: caseID, RunID: runID, Done: true}
	}
	// Every drift is found before anything changes: a half-restored
	// case would be worse than either state.
	// Each action is undone in its own account: a member's through its
	// containment role (a record from before actions named their account
	// is this account's).
	in := func(a *Action) (*Handler, error) {
		acct := a.Account
		if acct == "" {
			acct = h.AccountID
		}
		return h.forAccount(ctx, caseID, acct, a.Region)
	}
	for i := range applied {
		hh, err := in(&applied[i])
		if err != nil {
			return nil, err
		}
		if err := hh.drift(ctx, &applied[i]); err != nil {
			return nil, err
		}
	}
	// Undone in the reverse order of apply: an instance is let out of
	// isolation before it rejoins its target groups and Auto Scaling
	// group, whose health checks would otherwise fail it.
	for i := len(applied) - 1; i >= 0; i-- {
		hh, err := in(&applied[i])
		if err == nil {
			err = hh.restore(ctx, &applied[i])
		}
		if err != nil {
			applied[i].Status, applied[i].Error = StatusFailed, err.Error()
		}
	}
	rec := &Record{Plan: Plan{CaseID: caseID, RunID: runID, At: h.Now().UTC(), Actions: applied},
		Decision: &Decision{Decision: "rollback", By: by, At: h.Now().UTC()}}
	if err := h.put(ctx, prefix+"containment/"+RollbackFile, "custody:ContainRollback", rec); err != nil {
		return rec, err
	}
	// Restored and recorded: a failed signature is reported (an
	// UnsignedError) with the record, and restores nothing back.
	if _, err := h.sign(ctx, caseID, runID, StepRollback); err != nil {
		return rec, err
	}
	return rec, nil
}

// NothingToRollBackError: the run applied nothing, or was rolled back
// already.
type NothingToRollBackError struct {
	CaseID, RunID string
	Done          bool
}

func (e *NothingToRollBackError) Error() string {
	if e.Done {
		return fmt.Sprintf("contain: case %s run %s was rolled back already (%s)", e.CaseID, e.RunID, RollbackFile)
	}
	return fmt.Sprintf("contain: case %s run %s applied nothing: nothing to roll back", e.CaseID, e.RunID)
}

func (h *Handler) readRecord(ctx context.Context, bucket, key string, v any) (bool, error) {
	out, err := h.Reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if isNoSuchKey(err) {
			return false, nil
		}
		return false, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 16<<20))
	if err != nil {
		return false, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func isNoSuchKey(err error) bool {
	var ae interface{ ErrorCode() string }
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}
