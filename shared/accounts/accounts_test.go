package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/faults"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const hubAccount = "123456789012" // the emulator's default account

// TestResolverAssumesTheMemberRoleForTheCase runs against the emulator,
// whose assumed credentials act in the role's account (measured): what a
// member session starts is invisible to the hub.
func TestResolverAssumesTheMemberRoleForTheCase(t *testing.T) {
	ctx := context.Background()
	hub := emu.Fresh(t)
	r := &accounts.Resolver{Hub: hub, HubAccount: hubAccount, MemberRole: "CustodyMember"}

	tests := []struct {
		name, account, region   string
		wantAccount, wantRegion string
		member                  bool
	}{
		{"the hub's own account", hubAccount, "", hubAccount, hub.Region, false},
		{"no account: the hub's", "", "eu-west-2", hubAccount, "eu-west-2", false},
		{"a member in another region", "111111111111", "eu-west-2", "111111111111", "eu-west-2", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := r.For(ctx, "gd-0123abcd", tc.account, tc.region)
			if err != nil {
				t.Fatal(err)
			}
			id, err := sts.NewFromConfig(a.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(id.Account) != tc.wantAccount || a.Config.Region != tc.wantRegion || a.Member != tc.member {
				t.Errorf("caller %s region %s member %v, want %s %s %v", aws.ToString(id.Account), a.Config.Region, a.Member, tc.wantAccount, tc.wantRegion, tc.member)
			}
			rw := a.ReadWith
			if rw.AccountID != tc.wantAccount || rw.Region != tc.wantRegion {
				t.Errorf("ReadWith = %+v", rw)
			}
			if tc.member {
				if rw.RoleARN != "arn:aws:iam::111111111111:role/CustodyMember" || rw.SessionName != "gd-0123abcd" ||
					!strings.Contains(aws.ToString(id.Arn), "assumed-role/CustodyMember/gd-0123abcd") {
					t.Errorf("ReadWith = %+v, caller %s: want the member role, session named for the case", rw, aws.ToString(id.Arn))
				}
			}
		})
	}

	// Accounts are apart: an instance the member session starts is not
	// the hub's.
	member, err := r.For(ctx, "gd-0123abcd", "111111111111", "eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	run, err := ec2.NewFromConfig(member.Config).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	own := hub.Copy()
	own.Region = "eu-west-2"
	out, err := ec2.NewFromConfig(own).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range out.Reservations {
		for _, i := range res.Instances {
			if aws.ToString(i.InstanceId) == aws.ToString(run.Instances[0].InstanceId) {
				t.Errorf("the member's instance is visible to the hub: accounts are not apart")
			}
		}
	}
}

// deniedSTS answers AssumeRole the way STS refuses a role that does not
// exist or does not trust the caller (the emulator assumes any role).
type deniedSTS struct{ calls int }

func (d *deniedSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	d.calls++
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::123456789012:assumed-role/Custody-CollectEC2/x is not authorized to perform: sts:AssumeRole on resource: " + aws.ToString(in.RoleArn), Fault: smithy.FaultClient}
}

func TestResolverNamesTheAccountItCannotAssumeInto(t *testing.T) {
	fake := &deniedSTS{}
	r := &accounts.Resolver{Hub: aws.Config{Region: "us-east-1"}, HubAccount: hubAccount, MemberRole: "CustodyMember", STS: fake}
	_, err := r.For(context.Background(), "gd-1", "222222222222", "eu-west-2")
	var ae *accounts.AssumeError
	if !errors.As(err, &ae) || !ae.Denied || ae.AccountID != "222222222222" || ae.Region != "eu-west-2" {
		t.Fatalf("err = %v, want a denied AssumeError for the account", err)
	}
	if fix := ae.Fix(); !strings.Contains(fix, "create-stack-instances") || !strings.Contains(fix, "Accounts=222222222222") {
		t.Errorf("fix = %q, want the StackSet command for the account", fix)
	}
	if fake.calls != 1 {
		t.Errorf("%d AssumeRole calls, want 1", fake.calls)
	}
}

func TestResolverRefusesWhatIsNotAnAccountOrARegion(t *testing.T) {
	r := &accounts.Resolver{Hub: aws.Config{Region: "us-east-1"}, HubAccount: hubAccount, MemberRole: "CustodyMember", STS: &deniedSTS{}}
	for _, tc := range []struct{ account, region, field string }{
		{"11111111111", "eu-west-2", "scope.accountId"},
		{"../../etc", "eu-west-2", "scope.accountId"},
		{"111111111111", "mars-1", "scope.region"},
		{"111111111111", "eu-west-2/../x", "scope.region"},
	} {
		_, err := r.For(context.Background(), "gd-1", tc.account, tc.region)
		var inv *faults.InvalidInputError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("For(%q, %q) = %v, want an InvalidInputError naming %s", tc.account, tc.region, err, tc.field)
		}
	}
}

func TestSessionNameIsWhatSTSAccepts(t *testing.T) {
	for in, want := range map[string]string{
		"gd-16afba5c5c43e07c9e3e5e2e544e95df": "gd-16afba5c5c43e07c9e3e5e2e544e95df",
		"m-i/0abc def":                        "m-i-0abc-def",
		"x":                                   "custody-x",
		strings.Repeat("a", 80):               strings.Repeat("a", 64),
	} {
		if got := accounts.SessionName(in); got != want {
			t.Errorf("SessionName(%q) = %q, want %q", in, got, want)
		}
	}
}
