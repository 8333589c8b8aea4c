package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// containOn is every mode at once: the most the template can hold.
var containOn = map[string]any{CtxContainEC2: "auto", CtxContainAccessKey: "dry-run", CtxContainRole: "approve", CtxContainLambda: "auto", CtxContainS3Bucket: "auto", CtxContainEC2SubnetNacl: "approve",
	CtxMemberContainment: true}

func TestContainOffLeavesNoTrace(t *testing.T) {
	s := defaultStack(t)
	tpl := jsonString(s.raw)
	for _, absent := range []string{"ContainFunction", `"Contain"`, "ContainmentFailed", "ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey", "iam:PutRolePolicy", "lambda:PutFunctionConcurrency", "s3:PutBucketPublicAccessBlock", "autoscaling:DetachInstances", "elasticloadbalancing:DeregisterTargets", "ec2:ReplaceNetworkAclAssociation", "CUSTODY_CONTAIN"} {
		if strings.Contains(tpl, absent) {
			t.Errorf("containment off, yet the template holds %s", absent)
		}
	}
	if _, ok := s.definition(t)["States"].(map[string]any)["Contain"]; ok {
		t.Error("containment off, yet the definition has a Contain state")
	}
}

func TestContainRunsOnlyAfterSeal(t *testing.T) {
	s := synth(t, containOn)
	def := s.definition(t)
	if bad := unsealedPaths(def); len(bad) > 0 {
		t.Errorf("unsealed paths with containment on:\n  %s", strings.Join(bad, "\n  "))
	}
	states := def["States"].(map[string]any)
	// The only way into Contain is Seal's success; its failure is caught
	// into ContainmentFailed, which goes on to Sealed.
	for name, st := range states {
		js := jsonString(st)
		if name != "Seal" && strings.Contains(js, `"Next":"Contain"`) {
			t.Errorf("%s leads to Contain: %s", name, js)
		}
	}
	seal := states["Seal"].(map[string]any)
	if seal["Next"] != "Contain" || seal["ResultPath"] != "$.sealed" {
		t.Errorf("Seal: Next %v ResultPath %v, want Contain and $.sealed", seal["Next"], seal["ResultPath"])
	}
	if js := jsonString(seal["Catch"]); !strings.Contains(js, "SealFailed") || strings.Contains(js, "Contain") {
		t.Errorf("Seal's Catch: %s", js)
	}
	contain := states["Contain"].(map[string]any)
	// With a class in approve mode (containOn's role class), Contain goes
	// on to the approval choice, whose default is Sealed.
	if c, _ := states["AwaitingApproval?"].(map[string]any); contain["Next"] != "AwaitingApproval?" || c["Default"] != "Sealed" ||
		!strings.Contains(jsonString(contain["Catch"]), `"Next":"ContainmentFailed"`) {
		t.Errorf("Contain: %s", jsonString(contain))
	}
	if f := states["ContainmentFailed"].(map[string]any); f["Next"] != "Sealed" {
		t.Errorf("ContainmentFailed: %s", jsonString(f))
	}
	msgs := assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"),
		assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, m := range *msgs {
		t.Errorf("unsuppressed: %s", jsonString(m))
	}
}

// writes are the containment calls that change something.
var containWrites = map[string]bool{
	"ec2:CreateSecurityGroup": true, "ec2:CreateTags": true, "ec2:RevokeSecurityGroupEgress": true,
	"ec2:ModifyInstanceAttribute": true, "ec2:ModifyNetworkInterfaceAttribute": true,
	"iam:UpdateAccessKey": true, "iam:PutUserPolicy": true, "iam:DeleteUserPolicy": true,
	"iam:PutRolePolicy": true, "iam:DeleteRolePolicy": true,
	"lambda:PutFunctionConcurrency": true, "lambda:DeleteFunctionConcurrency": true,
	"s3:PutBucketPolicy": true, "s3:DeleteBucketPolicy": true, "s3:PutBucketPublicAccessBlock": true,
	"autoscaling:DetachInstances": true, "autoscaling:AttachInstances": true,
	"ec2:CreateNetworkAcl": true, "ec2:ReplaceNetworkAclAssociation": true,
	"elasticloadbalancing:DeregisterTargets": true, "elasticloadbalancing:RegisterTargets": true,
}

func TestContainRoleOnlyWhatEnabledClassesNeed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    map[string]any
		want   []string
		absent []string
	}{
		{"ec2 only", map[string]any{CtxContainEC2: "dry-run"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "ec2:CreateSecurityGroup", "autoscaling:DetachInstances", "autoscaling:AttachInstances",
				"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"},
			[]string{"iam:UpdateAccessKey", "iam:PutRolePolicy", "iam:PutUserPolicy", "autoscaling:TerminateInstanceInAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup"}},
		{"keys only", map[string]any{CtxContainAccessKey: "auto"},
			[]string{"iam:UpdateAccessKey", "iam:PutUserPolicy"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:PutRolePolicy", "iam:DeleteAccessKey"}},
		{"roles only", map[string]any{CtxContainRole: "auto", CtxContainmentProtectedTag: "keep=yes"},
			[]string{"iam:PutRolePolicy"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey", "lambda:PutFunctionConcurrency"}},
		{"lambda only", map[string]any{CtxContainLambda: "approve"},
			[]string{"lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunction"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey", "iam:PutRolePolicy", "lambda:UpdateFunctionCode", "lambda:DeleteFunction"}},
		{"subnet ACL only", map[string]any{CtxContainEC2SubnetNacl: "auto"},
			[]string{"ec2:CreateNetworkAcl", "ec2:ReplaceNetworkAclAssociation", "ec2:DescribeNetworkAcls"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "ec2:DeleteNetworkAcl", "ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAclEntry", "iam:UpdateAccessKey"}},
		{"ec2 isolation holds no ACL write", map[string]any{CtxContainEC2: "auto"}, []string{"ec2:ModifyNetworkInterfaceAttribute"},
			[]string{"ec2:CreateNetworkAcl", "ec2:ReplaceNetworkAclAssociation"}},
		{"s3 only", map[string]any{CtxContainS3Bucket: "dry-run"},
			[]string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:GetBucketTagging"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey", "lambda:PutFunctionConcurrency", "s3:DeleteBucket", "s3:PutBucketAcl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.ctx)
			actions := map[string]bool{}
			denied := map[string]string{}
			for _, st := range s.statements(t, "ContainFunctionRole") {
				res := jsonString(st["Resource"])
				for _, a := range list(st["Action"]) {
					a := a.(string)
					actions[a] = true
					if st["Effect"] == "Deny" {
						denied[a] = res
						continue
					}
					if !containWrites[a] {
						continue
					}
					if res == `"*"` || strings.Contains(res, `["*"]`) {
						t.Errorf("%s on *: %s", a, jsonString(st))
					}
					// Writes on a resource the finding names are refused
					// on a protected one by IAM too.
					scoped := map[string]bool{"ec2:ModifyNetworkInterfaceAttribute": strings.Contains(res, "network-interface"),
						"ec2:ModifyInstanceAttribute": strings.Contains(res, "instance/"),
						"iam:UpdateAccessKey":         true, "iam:PutUserPolicy": true, "iam:PutRolePolicy": true,
						"lambda:PutFunctionConcurrency": true, "lambda:DeleteFunctionConcurrency": true}
					if scoped[a] {
						prot := "custody:protected"
						if v, ok := tc.ctx[CtxContainmentProtectedTag]; ok {
							prot, _, _ = strings.Cut(v.(string), "=")
						}
						if c := jsonString(st["Condition"]); !strings.Contains(c, "StringNotEquals") || !strings.Contains(c, "aws:ResourceTag/"+prot) {
							t.Errorf("%s not conditioned on the protected tag: %s", a, jsonString(st))
						}
					}
				}
			}
			for _, a := range tc.want {
				if !actions[a] {
					t.Errorf("missing %s", a)
				}
			}
			// S3 has no tag condition on a bucket's policy writes: IAM
			// refuses them on the evidence bucket instead.
			if tc.ctx[CtxContainS3Bucket] != nil {
				for _, a := range []string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock"} {
					if !strings.Contains(denied[a], "EvidenceBucket") {
						t.Errorf("%s not denied on the evidence bucket: %q", a, denied[a])
					}
				}
			}
			for _, a := range tc.absent {
				if actions[a] {
					t.Errorf("has %s, which no enabled class needs", a)
				}
			}
		})
	}
}

func TestContainConfig(t *testing.T) {
	for _, tc := range []struct {
		ctx     map[string]any
		wantErr string
		on      bool
	}{
		{map[string]any{}, "", false},
		{map[string]any{CtxContainEC2: "off"}, "", false},
		{map[string]any{CtxContainEC2: "dry-run"}, "", true},
		{map[string]any{CtxContainRole: "yes"}, CtxContainRole, false},
		{map[string]any{CtxContainmentProtectedTag: "nokey"}, CtxContainmentProtectedTag, false},
		{map[string]any{CtxApprovalTimeout: "30s"}, CtxApprovalTimeout, false},
		{map[string]any{CtxApprovalTimeout: "soon"}, CtxApprovalTimeout, false},
		{map[string]any{CtxApproverPrincipals: []any{"arn:aws:iam::123456789012:role/*"}}, CtxApproverPrincipals, false},
		{map[string]any{CtxContainRole: "approve", CtxApprovalTimeout: "90m"}, "", true},
		{map[string]any{CtxContainLambda: "auto"}, "", true},
		{map[string]any{CtxContainLambda: "on"}, CtxContainLambda, false},
		{map[string]any{CtxContainS3Bucket: "approve"}, "", true},
		{map[string]any{CtxContainS3Bucket: "yes"}, CtxContainS3Bucket, false},
		{map[string]any{CtxContainEC2SubnetNacl: "dry-run"}, "", true},
		{map[string]any{CtxContainEC2SubnetNacl: "true"}, CtxContainEC2SubnetNacl, false},
		{map[string]any{CtxMemberContainment: "maybe"}, CtxMemberContainment, false},
		{map[string]any{CtxMemberContainRoleName: "a b"}, CtxMemberContainRoleName, false},
	} {
		c, err := configFrom(func(k string) any { return tc.ctx[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want one naming %s", tc.ctx, err, tc.wantErr)
			}
			continue
		}
		if err != nil || c.ContainmentOn() != tc.on {
			t.Errorf("%v: on %v err %v, want on %v", tc.ctx, c.ContainmentOn(), err, tc.on)
		}
	}
}

// TestApprovalStates: the waitForTaskToken state, its timeout and the
// approver role exist only when some class is in approve mode; only the
// approver role may send a task's result (so the token stored in the case
// is no bearer credential); every path, the rejected and timed-out ones
// too, ends Sealed. Proved on the template only: the emulator's step
// runner has no task tokens (the local run shims AwaitApproval).
func TestApprovalStates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ctx     map[string]any
		approve bool
		timeout float64
		trust   string
	}{
		{"dry-run and auto: no approval states", map[string]any{CtxContainEC2: "dry-run", CtxContainAccessKey: "auto"}, false, 0, ""},
		{"approve, default timeout", map[string]any{CtxContainEC2: "approve"}, true, 86400, ":root"},
		{"approve, 2h, a named approver", map[string]any{CtxContainAccessKey: "approve", CtxApprovalTimeout: "2h",
			CtxApproverPrincipals: []any{"arn:aws:iam::123456789012:role/IncidentLead"}}, true, 7200, "role/IncidentLead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.ctx)
			def := s.definition(t)
			if bad := unsealedPaths(def); len(bad) > 0 {
				t.Errorf("unsealed paths:\n  %s", strings.Join(bad, "\n  "))
			}
			states := def["States"].(map[string]any)
			await, ok := states["AwaitApproval"].(map[string]any)
			tpl := jsonString(s.raw)
			if !tc.approve {
				if ok || strings.Contains(tpl, "waitForTaskToken") || strings.Contains(tpl, "ApproverRole") || strings.Contains(tpl, "states:SendTask") {
					t.Error("no class in approve mode, yet the template holds the approval states or role")
				}
				return
			}
			if !ok {
				t.Fatal("approve mode without an AwaitApproval state")
			}
			if res := jsonString(await["Resource"]); !strings.Contains(res, "lambda:invoke.waitForTaskToken") {
				t.Errorf("AwaitApproval's resource %s", res)
			}
			if await["TimeoutSeconds"] != tc.timeout {
				t.Errorf("AwaitApproval's TimeoutSeconds %v, want %v", await["TimeoutSeconds"], tc.timeout)
			}
			if p := jsonString(await["Parameters"]); !strings.Contains(p, `"token.$":"$$.Task.Token"`) || !strings.Contains(p, `"action":"request"`) {
				t.Errorf("AwaitApproval's payload %s", p)
			}
			// A rejection, a timeout and a failed request are all caught
			// into ContainRejected, which records and goes on to Sealed.
			if c := jsonString(await["Catch"]); !strings.Contains(c, `"States.ALL"`) || !strings.Contains(c, `"Next":"ContainRejected"`) {
				t.Errorf("AwaitApproval's Catch %s", c)
			}
			for _, name := range []string{"ContainApproved", "ContainRejected"} {
				st := states[name].(map[string]any)
				if st["Next"] != "Sealed" || !strings.Contains(jsonString(st["Catch"]), `"Next":"ContainmentFailed"`) {
					t.Errorf("%s: %s", name, jsonString(st))
				}
			}
			if await["Next"] != "ContainApproved" {
				t.Errorf("AwaitApproval's Next %v", await["Next"])
			}
			// The execution outlives the wait: a plan still waiting is
			// rejected and recorded before the execution times out.
			if ts, _ := def["TimeoutSeconds"].(float64); ts <= tc.timeout+3600 {
				t.Errorf("execution TimeoutSeconds %v, not past the approval wait %v", def["TimeoutSeconds"], tc.timeout)
			}
			// Only the approver role holds states:SendTask*.
			holders := map[string]bool{}
			for _, p := range s.resources("AWS::IAM::Policy") {
				if strings.Contains(jsonString(path(props(p), "PolicyDocument")), "states:SendTask") {
					for _, r := range list(props(p)["Roles"]) {
						holders[jsonString(r)] = true
					}
				}
			}
			for _, r := range s.resources("AWS::IAM::Role") {
				if strings.Contains(jsonString(props(r)["Policies"]), "states:SendTask") || len(list(props(r)["ManagedPolicyArns"])) > 0 &&
					strings.Contains(jsonString(props(r)["ManagedPolicyArns"]), "StepFunctions") {
					t.Errorf("a role holds states:SendTask* inline or managed: %s", jsonString(props(r)["RoleName"]))
				}
			}
			if len(holders) != 1 || !strings.Contains(jsonString(holders), "ApproverRole") {
				t.Errorf("roles holding states:SendTask*: %v, want the approver role only", holders)
			}
			acts := map[string]bool{}
			for _, st := range s.statements(t, "ApproverRole") {
				for _, a := range list(st["Action"]) {
					acts[a.(string)] = true
				}
			}
			for _, want := range []string{"states:SendTaskSuccess", "states:SendTaskFailure", "s3:GetObject"} {
				if !acts[want] {
					t.Errorf("the approver role lacks %s", want)
				}
			}
			for a := range acts {
				if strings.HasPrefix(a, "s3:Put") || strings.HasPrefix(a, "s3:Delete") || a == "states:*" || a == "*" {
					t.Errorf("the approver role holds %s", a)
				}
			}
			_, role := s.one(t, "AWS::IAM::Role", "ApproverRole")
			if trust := jsonString(path(props(role), "AssumeRolePolicyDocument")); !strings.Contains(trust, tc.trust) {
				t.Errorf("the approver role trusts %s, want %s", trust, tc.trust)
			}
			// The contain function notifies; it never decides. It reads
			// records that may not exist (so lists, for a 404 not a 403).
			fnActs := map[string]bool{}
			for _, st := range s.statements(t, "ContainFunctionRole") {
				if js := jsonString(st["Action"]); strings.Contains(js, "states:") {
					t.Errorf("the contain function holds %s", js)
				}
				for _, a := range list(st["Action"]) {
					fnActs[a.(string)] = true
				}
			}
			for _, want := range []string{"sns:Publish", "s3:GetObject", "s3:ListBucket"} {
				if !fnActs[want] {
					t.Errorf("the contain function lacks %s", want)
				}
			}
			msgs := assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"),
				assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			for _, m := range *msgs {
				t.Errorf("unsuppressed: %s", jsonString(m))
			}
		})
	}
}
