package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// synthMember synthesizes the member stack as main.go does.
func synthMember(t *testing.T, ctx map[string]any) (awscdk.Stack, map[string]any) {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	cfg, err := ConfigFromContext(app.Node())
	if err != nil {
		t.Fatal(err)
	}
	stack := NewMemberStack(app, MemberStackName, &MemberStackProps{Config: &cfg})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	b, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return stack, raw
}

// writeActions are IAM action verbs that change something.
var writePrefixes = []string{"Create", "Delete", "Put", "Update", "Attach", "Detach", "Modify", "Set", "Tag", "Untag", "Add", "Remove", "Start", "Stop", "Terminate", "Run", "Lock", "Enable", "Disable", "Pass", "Revoke", "Authorize", "Replace", "Reset", "Associate", "Disassociate", "Import", "Copy", "Restore", "Invoke", "Send", "Publish", "Upload", "Change"}

func isWrite(action string) bool {
	_, verb, _ := strings.Cut(action, ":")
	if verb == "*" || strings.HasSuffix(verb, "*") {
		return true
	}
	for _, p := range writePrefixes {
		if strings.HasPrefix(verb, p) {
			return true
		}
	}
	return false
}

func TestMemberRoleTrustsOnlyTheHubsCollectorRoles(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		org  bool
	}{
		{"default", map[string]any{CtxHubAccount: "999999999999"}, false},
		{"in an organization", map[string]any{CtxHubAccount: "999999999999", CtxOrganizationID: "o-abcdef1234"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, raw := synthMember(t, tc.ctx)
			var role map[string]any
			for _, r := range raw["Resources"].(map[string]any) {
				if path(r, "Type") == "AWS::IAM::Role" {
					if role != nil {
						t.Fatal("more than one role")
					}
					role = r.(map[string]any)
				}
			}
			if role == nil || path(role, "Properties", "RoleName") != "CustodyMember" {
				t.Fatalf("role = %s", jsonString(role))
			}
			if d := path(raw, "Parameters", paramHubAccount, "Default"); d != "999999999999" {
				t.Errorf("HubAccountId default = %v, want the context's hub account", d)
			}
			stmts := list(path(role, "Properties", "AssumeRolePolicyDocument", "Statement"))
			if len(stmts) == 0 {
				t.Fatal("no trust statements")
			}
			for _, st := range stmts {
				p := jsonString(path(st, "Principal"))
				if !strings.Contains(p, `{"Ref":"HubAccountId"}`) || strings.Contains(p, `"*"`) || strings.Contains(p, "Service") {
					t.Errorf("trust principal %s: want only the hub account", p)
				}
				arn := jsonString(path(st, "Condition", "ArnLike", "aws:PrincipalArn"))
				if !strings.Contains(arn, `{"Ref":"HubAccountId"}`) || !strings.Contains(arn, `-Collect*`) {
					t.Errorf("trust condition %s: want aws:PrincipalArn of the hub's collector roles", arn)
				}
				org := path(st, "Condition", "StringEquals", "aws:PrincipalOrgID")
				if tc.org != (org == "o-abcdef1234") {
					t.Errorf("aws:PrincipalOrgID = %v", org)
				}
				for _, a := range list(path(st, "Action")) {
					if a != "sts:AssumeRole" && a != "sts:TagSession" && a != "sts:SetSourceIdentity" {
						t.Errorf("trust allows %v", a)
					}
				}
			}
		})
	}
}

func TestMemberRoleGrantsNoWriteOnStar(t *testing.T) {
	stack, raw := synthMember(t, map[string]any{CtxHubAccount: "999999999999"})
	n := 0
	for _, r := range raw["Resources"].(map[string]any) {
		if path(r, "Type") != "AWS::IAM::Policy" {
			continue
		}
		for _, st := range list(path(r, "Properties", "PolicyDocument", "Statement")) {
			n++
			if path(st, "Effect") != "Allow" {
				continue
			}
			star := false
			for _, res := range list(path(st, "Resource")) {
				if res == "*" {
					star = true
				}
			}
			for _, a := range list(path(st, "Action")) {
				a := a.(string)
				if star && isWrite(a) {
					t.Errorf("%s on *", a)
				}
				// Writes that remain are the EC2 snapshot calls, each on
				// instance/volume/snapshot ARNs and, for tags and locks,
				// conditioned as in the hub.
				if isWrite(a) && a != "ec2:CreateSnapshots" && path(st, "Condition") == nil {
					t.Errorf("%s without a condition: %s", a, jsonString(st))
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("%d statements: the collectors' reads are missing", n)
	}
	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, m := range *msgs {
		t.Errorf("unsuppressed: %s", jsonString(m))
	}
	// No asset and no bootstrap: the template deploys as a StackSet.
	if _, ok := raw["Parameters"].(map[string]any)["BootstrapVersion"]; ok {
		t.Error("the member template needs a CDK bootstrap: a StackSet cannot deploy it")
	}
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Fatal("cfn-lint not found: install: pip install cfn-lint")
	}
	f := filepath.Join(t.TempDir(), "CustodyMember.template.json")
	b, _ := json.MarshalIndent(raw, "", " ")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cfn-lint", "--", f).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}

func TestHubCollectorsMayAssumeOnlyTheMemberRole(t *testing.T) {
	s := synth(t, map[string]any{CtxOrganizationID: "o-abcdef1234", CtxLogArchiveBuckets: []any{"org-trail-archive"}})
	for _, c := range collectors {
		t.Run(c.Name, func(t *testing.T) {
			var assume []map[string]any
			for _, st := range s.statements(t, c.State+"FunctionRole") {
				for _, a := range list(st["Action"]) {
					if a == "sts:AssumeRole" {
						assume = append(assume, st)
					}
				}
			}
			if !c.Member {
				if len(assume) != 0 {
					t.Errorf("%s may assume roles: %s", c.Name, jsonString(assume))
				}
				return
			}
			if len(assume) != 1 {
				t.Fatalf("AssumeRole statements = %s", jsonString(assume))
			}
			res := jsonString(assume[0]["Resource"])
			if !strings.Contains(res, ":iam::*:role/CustodyMember") || path(assume[0], "Condition", "StringEquals", "aws:ResourceOrgID") != "o-abcdef1234" {
				t.Errorf("AssumeRole = %s: want the member role only, in the organization", jsonString(assume[0]))
			}
		})
	}
}

func TestForwarderSendsTheHubsFindingsToTheHubBus(t *testing.T) {
	app := awscdk.NewApp(nil)
	cfg := DefaultConfig()
	cfg.SeverityThreshold = 7
	stack := NewForwarderStack(app, "eu-west-2", "999999999999", "us-east-1", cfg, nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	b, _ := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var rule map[string]any
	for _, r := range raw["Resources"].(map[string]any) {
		if path(r, "Type") == "AWS::Events::Rule" {
			rule = r.(map[string]any)
		}
	}
	if rule == nil {
		t.Fatal("no rule")
	}
	pattern := jsonString(path(rule, "Properties", "EventPattern"))
	if !strings.Contains(pattern, `"source":["aws.guardduty"]`) || !strings.Contains(pattern, `"numeric":["\u003e=",7]`) {
		t.Errorf("pattern = %s: want the hub's (GuardDuty findings over the threshold)", pattern)
	}
	targets := list(path(rule, "Properties", "Targets"))
	if len(targets) != 1 {
		t.Fatalf("targets = %s", jsonString(targets))
	}
	tg := targets[0]
	if arn := jsonString(path(tg, "Arn")); !strings.Contains(arn, ":events:us-east-1:999999999999:event-bus/default") {
		t.Errorf("target = %s: want the hub region's default bus", arn)
	}
	if path(tg, "RoleArn") == nil || path(tg, "DeadLetterConfig") == nil {
		t.Errorf("target = %s: want a role (cross-region) and a dead-letter queue", jsonString(tg))
	}
	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, m := range *msgs {
		t.Errorf("unsuppressed: %s", jsonString(m))
	}
	for _, bad := range []map[string]any{
		{CtxForwarderRegions: []any{"us-east-1"}, CtxHubRegion: "us-east-1"},
		{CtxForwarderRegions: []any{"mars-1"}},
		{CtxHubRegion: "x"},
	} {
		if _, err := configFrom(func(k string) any { return bad[k] }); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}

func TestSnapshotKeyIsTheOrganizationsThroughEC2Only(t *testing.T) {
	s := synth(t, map[string]any{CtxCopySnapshotsToHub: true, CtxOrganizationID: "o-abcdef1234"})
	_, key := s.one(t, "AWS::KMS::Key", "SnapshotKey")
	var orgUse bool
	for _, st := range list(path(props(key), "KeyPolicy", "Statement")) {
		if path(st, "Sid") == "SnapshotCopiesThroughEC2" || path(st, "Sid") == "EC2GrantsForTheCopies" {
			if path(st, "Condition", "StringEquals", "aws:PrincipalOrgID") != "o-abcdef1234" ||
				path(st, "Condition", "StringLike", "kms:ViaService") != "ec2.*.amazonaws.com" {
				t.Errorf("%v = %s: want the organization, through EC2 only", path(st, "Sid"), jsonString(st))
			}
			orgUse = true
		}
	}
	if !orgUse {
		t.Errorf("key policy %s: no use for the organization", jsonString(path(props(key), "KeyPolicy")))
	}
	if path(key, "DeletionPolicy") != "Retain" {
		t.Errorf("the snapshot key is not retained")
	}
	_, fn := s.one(t, "AWS::Lambda::Function", "CollectEC2Function")
	if v := jsonString(path(props(fn), "Environment", "Variables", "CUSTODY_SNAPSHOT_KEY_ARN")); !strings.Contains(v, "SnapshotKey") {
		t.Errorf("the EC2 collector is not given the key: %s", v)
	}
	copies := 0
	for _, st := range s.statements(t, "CollectEC2FunctionRole") {
		if jsonString(st["Action"]) == `"ec2:CopySnapshot"` {
			copies++
			if path(st, "Condition", "Null", "aws:RequestTag/custody:case-id") != "false" {
				t.Errorf("CopySnapshot without the case tag condition: %s", jsonString(st))
			}
		}
	}
	if copies != 1 {
		t.Errorf("%d CopySnapshot statements, want 1", copies)
	}
	msgs := assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, m := range *msgs {
		t.Errorf("unsuppressed: %s", jsonString(m))
	}
}

// TestHubWithForwardersReadsEveryRegion: with forwarders the hub answers
// findings of other regions, so its grants name every region; cdk-nag
// still passes on the reasons given.
func TestHubWithForwardersReadsEveryRegion(t *testing.T) {
	s := synth(t, map[string]any{CtxForwarderRegions: []any{"eu-west-2"}, CtxHubRegion: "us-east-1", CtxCopySnapshotsToHub: true})
	msgs := assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, m := range *msgs {
		t.Errorf("unsuppressed: %s", jsonString(m))
	}
	found := false
	for _, st := range s.statements(t, "CollectEC2FunctionRole") {
		if strings.Contains(jsonString(st["Resource"]), ":ec2:*:") {
			found = true
		}
	}
	if !found {
		t.Error("the EC2 collector's grants are still the hub region's only")
	}
}

// memberContainRole is the member stack's containment role, or nil.
func memberContainRole(raw map[string]any) (role map[string]any, stmts []any) {
	var id string
	for k, r := range raw["Resources"].(map[string]any) {
		if path(r, "Type") == "AWS::IAM::Role" && path(r, "Properties", "RoleName") == "CustodyMemberContain" {
			role, id = r.(map[string]any), k
		}
	}
	if role == nil {
		return nil, nil
	}
	for _, r := range raw["Resources"].(map[string]any) {
		if path(r, "Type") == "AWS::IAM::Policy" && strings.Contains(jsonString(path(r, "Properties", "Roles")), `"`+id+`"`) {
			stmts = append(stmts, list(path(r, "Properties", "PolicyDocument", "Statement"))...)
		}
	}
	return role, stmts
}

func TestMemberContainRole(t *testing.T) {
	hub := map[string]any{CtxHubAccount: "999999999999"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{CtxHubAccount: "999999999999"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		ctx     map[string]any
		present bool
		want    []string
		absent  []string
	}{
		{"default: absent", hub, false, nil, nil},
		{"containment on, member containment off: absent", with(CtxContainEC2, "auto"), false, nil, nil},
		{"member containment on, every class off: absent", with(CtxMemberContainment, true), false, nil, nil},
		{"roles only", with(CtxMemberContainment, true, CtxContainRole, "approve"), true,
			[]string{"iam:PutRolePolicy", "iam:DeleteRolePolicy"},
			[]string{"iam:UpdateAccessKey", "ec2:ModifyNetworkInterfaceAttribute", "s3:PutBucketPolicy", "lambda:PutFunctionConcurrency"}},
		{"every class", with(CtxMemberContainment, "true", CtxContainEC2, "auto", CtxContainAccessKey, "auto", CtxContainRole, "auto",
			CtxContainLambda, "auto", CtxContainS3Bucket, "auto", CtxContainEC2SubnetNacl, "dry-run", CtxOrganizationID, "o-abcdef1234"), true,
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey", "lambda:PutFunctionConcurrency", "s3:PutBucketPolicy", "ec2:ReplaceNetworkAclAssociation", "autoscaling:DetachInstances"},
			[]string{"ec2:TerminateInstances", "iam:DeleteAccessKey", "s3:DeleteBucket", "ec2:DeleteNetworkAcl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack, raw := synthMember(t, tc.ctx)
			role, stmts := memberContainRole(raw)
			if !tc.present {
				if role != nil || strings.Contains(jsonString(raw), "MemberContainRoleArn") {
					t.Fatalf("containment role present: %s", jsonString(role))
				}
				return
			}
			if role == nil {
				t.Fatal("no containment role")
			}
			for _, st := range list(path(role, "Properties", "AssumeRolePolicyDocument", "Statement")) {
				if p := jsonString(path(st, "Principal")); !strings.Contains(p, `{"Ref":"HubAccountId"}`) || strings.Contains(p, `"*"`) {
					t.Errorf("trust principal %s", p)
				}
				arn := jsonString(path(st, "Condition", "ArnLike", "aws:PrincipalArn"))
				if !strings.Contains(arn, "-ContainFunctionRole*") || strings.Contains(arn, "Collect") {
					t.Errorf("trust condition %s: want only the hub's contain function role", arn)
				}
				if org := path(st, "Condition", "StringEquals", "aws:PrincipalOrgID"); (tc.ctx[CtxOrganizationID] != nil) != (org == "o-abcdef1234") {
					t.Errorf("aws:PrincipalOrgID = %v", org)
				}
			}
			actions := map[string]bool{}
			for _, st := range stmts {
				res := jsonString(path(st, "Resource"))
				for _, a := range list(path(st, "Action")) {
					a := a.(string)
					actions[a] = true
					if containWrites[a] && (res == `"*"` || strings.Contains(res, `["*"]`)) {
						t.Errorf("%s on *: %s", a, jsonString(st))
					}
				}
			}
			for _, a := range tc.want {
				if !actions[a] {
					t.Errorf("missing %s", a)
				}
			}
			for _, a := range tc.absent {
				if actions[a] {
					t.Errorf("has %s, which no enabled class needs", a)
				}
			}
			// The collectors' role stays read-only: no containment write.
			for k, r := range raw["Resources"].(map[string]any) {
				if path(r, "Type") == "AWS::IAM::Policy" && strings.Contains(jsonString(path(r, "Properties", "Roles")), "CollectorRole") {
					for _, a := range []string{"iam:PutRolePolicy", "iam:UpdateAccessKey", "s3:PutBucketPolicy"} {
						if strings.Contains(jsonString(r), a) {
							t.Errorf("collector policy %s holds %s", k, a)
						}
					}
				}
			}
			msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, m := range *msgs {
				t.Errorf("unsuppressed: %s", jsonString(m))
			}
			// cfn-lint knows IAM's action names: a misspelled one fails.
			f := filepath.Join(t.TempDir(), "CustodyMember.template.json")
			b, _ := json.MarshalIndent(raw, "", " ")
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("cfn-lint", "--", f).CombinedOutput(); err != nil {
				t.Errorf("cfn-lint: %v\n%s", err, out)
			}
		})
	}
}

func TestHubContainMayAssumeOnlyTheMemberContainRole(t *testing.T) {
	for _, member := range []bool{false, true} {
		s := synth(t, map[string]any{CtxContainRole: "auto", CtxMemberContainment: member})
		var assume []map[string]any
		for _, st := range s.statements(t, "ContainFunctionRole") {
			for _, a := range list(st["Action"]) {
				if a == "sts:AssumeRole" {
					assume = append(assume, st)
				}
			}
		}
		tpl := jsonString(s.raw)
		if !member {
			if len(assume) != 0 || strings.Contains(tpl, "CUSTODY_MEMBER_CONTAIN_ROLE") {
				t.Errorf("member containment off, yet the contain function may assume %s", jsonString(assume))
			}
			continue
		}
		if len(assume) != 1 || !strings.HasSuffix(strings.Trim(jsonString(assume[0]["Resource"]), `"]}`), ":iam::*:role/CustodyMemberContain") ||
			!strings.Contains(tpl, `"CUSTODY_MEMBER_CONTAIN_ROLE":"CustodyMemberContain"`) {
			t.Errorf("AssumeRole = %s: want the member containment role only", jsonString(assume))
		}
	}
}
