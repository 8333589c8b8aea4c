package contain

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/emulator"
)

const memberAccount = "111111111111"

// TestContainInMemberAccount: a member's case is contained in the member
// account, through its containment role assumed for the case (the
// emulator's STS gives the session the member's account), and rolled back
// there; the hub's role of the same name is untouched.
func TestContainInMemberAccount(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassRole: ModeAuto})
	hub, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &accounts.Resolver{Hub: hub, HubAccount: emulator.AccountID, MemberRole: "CustodyMemberContain"}
	w.h.Member = MemberVia(r)
	w.h.Reader, w.h.Bucket = w.s3, testBucket
	access, err := r.For(ctx, "case-1", memberAccount, "")
	if err != nil {
		t.Fatal(err)
	}
	memberIAM := iam.NewFromConfig(access.Config)
	if _, err := memberIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	inc := w.incident()
	inc.Scope.AccountID, inc.Scope.Instances, inc.Scope.UserNames, inc.Scope.RoleNames = memberAccount, nil, nil, []string{"app"}
	out, err := w.h.Handle(ctx, Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	if a := byTarget(out.Actions)["app"]; a.Status != StatusApplied || a.Account != memberAccount {
		t.Fatalf("member role action: %+v", a)
	}
	has := func(c *iam.Client) bool {
		_, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String(RoleDenyPolicy)})
		if err != nil && !notFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	if !has(memberIAM) || has(w.iam) {
		t.Fatalf("deny in the member: %v, in the hub: %v; want only the member", has(memberIAM), has(w.iam))
	}
	if _, err := w.h.Handle(ctx, Input{Action: ActionRollback, Incident: inc, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if has(memberIAM) {
		t.Error("rollback left the member role's deny")
	}

	// Without a member role, a member's case is refused, as before.
	w.h.Member = nil
	var ce *ContainError
	inc.RunID = "run-2"
	if _, err := w.h.Handle(ctx, Input{Incident: inc}); !errors.As(err, &ce) {
		t.Fatalf("member case without a member role: %v, want a ContainError", err)
	}
}
