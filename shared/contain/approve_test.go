package contain

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/incident"
)

// TestContainApprovalFlow: approve mode plans and waits; the request
// stores the pending record and notifies; then either an approval applies
// the awaiting actions (and a rollback restores them), or a rejection or
// timeout records that nothing changed. On the emulator.
func TestContainApprovalFlow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		decide  func(w *world, ctx context.Context, in Input) (*Output, error)
		applied bool
		reason  string
	}{
		{"approved applies, rollback restores", func(w *world, ctx context.Context, in Input) (*Output, error) {
			in.Action, in.Approval = ActionApply, &Decision{Decision: "approved", By: "arn:aws:sts::123456789012:assumed-role/CustodyApprover/alice", At: w.h.Now()}
			return w.h.Handle(ctx, in)
		}, true, ""},
		{"rejected changes nothing", func(w *world, ctx context.Context, in Input) (*Output, error) {
			in.Action, in.Error = ActionReject, &StepError{Error: ErrorRejected, Cause: `{"decision":"rejected","by":"alice","reason":"prod db"}`}
			return w.h.Handle(ctx, in)
		}, false, "rejected"},
		{"timeout changes nothing", func(w *world, ctx context.Context, in Input) (*Output, error) {
			in.Action, in.Error = ActionReject, &StepError{Error: "States.Timeout", Cause: ""}
			return w.h.Handle(ctx, in)
		}, false, "no decision within 24h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, map[Class]Mode{ClassEC2: ModeApprove, ClassAccessKey: ModeApprove})
			cfg, err := emu.Config(ctx)
			if err != nil {
				t.Fatal(err)
			}
			snsc := sns.NewFromConfig(cfg)
			topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("cases")})
			if err != nil {
				t.Fatal(err)
			}
			w.h.Notifier, w.h.TopicARN, w.h.Reader, w.h.Bucket = snsc, aws.ToString(topic.TopicArn), w.s3, testBucket
			before := w.eniGroups(t, w.instance)

			planned, err := w.h.Handle(ctx, Input{Incident: w.incident()})
			if err != nil {
				t.Fatal(err)
			}
			if !planned.Awaiting {
				t.Fatalf("approve mode: not awaiting: %+v", planned.Actions)
			}
			if a := byTarget(planned.Actions)[w.protected]; a.Status != StatusProtected {
				t.Errorf("protected instance: %s, want %s", a.Status, StatusProtected)
			}
			in := Input{Action: ActionRequest, Incident: w.incident(), Actions: planned.Actions, Token: "token-1"}
			req, err := w.h.Handle(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(req.PendingKey, "containment/"+PendingPrefix) {
				t.Errorf("pending key %q", req.PendingKey)
			}
			in.Token = ""
			// An invocation naming an action the stored plan did not
			// plan in approve mode changes nothing.
			forged := in
			forged.Action = ActionApply
			forged.Actions = append(slices.Clone(in.Actions), Action{Class: ClassEC2, Mode: ModeApprove, Target: w.protected, Status: StatusAwaiting, Before: &State{}})
			if _, err := w.h.Handle(ctx, forged); err == nil || !strings.Contains(err.Error(), "not in the stored plan") {
				t.Errorf("apply with an unplanned action: %v", err)
			}
			out, err := tc.decide(w, ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			// Decided: a second apply (or one after a rejection) changes
			// nothing.
			again := in
			again.Action, again.Approval = ActionApply, &Decision{Decision: "approved", By: "mallory"}
			if _, err := w.h.Handle(ctx, again); err == nil || !strings.Contains(err.Error(), "decided already") {
				t.Errorf("an apply after the decision: %v", err)
			}
			got := w.eniGroups(t, w.instance)
			keys := w.keyStatus(t, "mallory")
			if tc.applied {
				for eni, g := range got {
					if len(g) != 1 || slices.Equal(g, before[eni]) {
						t.Errorf("approved: %s has %v, want only the isolation group", eni, g)
					}
				}
				if !slices.Equal(keys, []string{"Inactive"}) {
					t.Errorf("approved: keys %v, want Inactive", keys)
				}
				if p := w.storedPlan(t, ApprovedFile); len(p.Actions) == 0 {
					t.Error("approved.json holds no actions")
				}
				// What custody rollback invokes the function with.
				rec, err := w.h.Handle(ctx, Input{Action: ActionRollback, Incident: incident.Incident{CaseID: "case-1", RunID: "run-1"}, By: "alice"})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range rec.Actions {
					if a.Status != StatusRolledBack {
						t.Errorf("rollback of %s: %s %s", a.Target, a.Status, a.Error)
					}
				}
				for eni, g := range w.eniGroups(t, w.instance) {
					if !slices.Equal(g, before[eni]) {
						t.Errorf("rolled back: %s has %v, want %v", eni, g, before[eni])
					}
				}
				if k := w.keyStatus(t, "mallory"); !slices.Equal(k, []string{"Active"}) {
					t.Errorf("rolled back: keys %v", k)
				}
				w.storedPlan(t, RollbackFile)
				var done *NothingToRollBackError
				if _, err := w.h.RollbackRun(ctx, testBucket, "case-1", "run-1", "alice"); !errors.As(err, &done) || !done.Done {
					t.Errorf("a second rollback: %v, want already rolled back", err)
				}
				return
			}
			for eni, g := range got {
				if !slices.Equal(g, before[eni]) {
					t.Errorf("%s: %s changed: %v -> %v", tc.name, eni, before[eni], g)
				}
			}
			if !slices.Equal(keys, []string{"Active"}) {
				t.Errorf("%s: keys %v", tc.name, keys)
			}
			for _, a := range out.Actions {
				if a.Status == StatusAwaiting || a.Status == StatusApplied {
					t.Errorf("%s: %s is %s", tc.name, a.Target, a.Status)
				}
				if a.Status == StatusRejected && !strings.Contains(a.Reason, tc.reason) {
					t.Errorf("%s: reason %q, want %q", tc.name, a.Reason, tc.reason)
				}
			}
			w.storedPlan(t, RejectedFile)
			if _, err := w.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("cases/case-1/runs/run-1/containment/" + ApprovedFile)}); err == nil {
				t.Error("rejected, yet approved.json exists")
			}
			var none *NothingToRollBackError
			if _, err := w.h.RollbackRun(ctx, testBucket, "case-1", "run-1", "alice"); !errors.As(err, &none) {
				t.Errorf("rollback of a rejected run: %v, want nothing to roll back", err)
			}
		})
	}
}
