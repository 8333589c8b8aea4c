package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// containOn is every class in auto: the most the template can hold.
var containOn = map[string]any{CtxContainEC2: "auto", CtxContainAccessKey: "dry-run", CtxContainRole: "approve"}

func TestContainOffLeavesNoTrace(t *testing.T) {
	s := defaultStack(t)
	tpl := jsonString(s.raw)
	for _, absent := range []string{"ContainFunction", `"Contain"`, "ContainmentFailed", "ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey", "iam:PutRolePolicy", "CUSTODY_CONTAIN"} {
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
	if seal["Next"] != "Contain" || seal["ResultPath"] != "$.seal" {
		t.Errorf("Seal: Next %v ResultPath %v, want Contain and $.seal", seal["Next"], seal["ResultPath"])
	}
	if js := jsonString(seal["Catch"]); !strings.Contains(js, "SealFailed") || strings.Contains(js, "Contain") {
		t.Errorf("Seal's Catch: %s", js)
	}
	contain := states["Contain"].(map[string]any)
	if contain["Next"] != "Sealed" || !strings.Contains(jsonString(contain["Catch"]), `"Next":"ContainmentFailed"`) {
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
}

func TestContainRoleOnlyWhatEnabledClassesNeed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    map[string]any
		want   []string
		absent []string
	}{
		{"ec2 only", map[string]any{CtxContainEC2: "dry-run"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "ec2:CreateSecurityGroup"},
			[]string{"iam:UpdateAccessKey", "iam:PutRolePolicy", "iam:PutUserPolicy"}},
		{"keys only", map[string]any{CtxContainAccessKey: "auto"},
			[]string{"iam:UpdateAccessKey", "iam:PutUserPolicy"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:PutRolePolicy", "iam:DeleteAccessKey"}},
		{"roles only", map[string]any{CtxContainRole: "auto", CtxContainmentProtectedTag: "keep=yes"},
			[]string{"iam:PutRolePolicy"},
			[]string{"ec2:ModifyNetworkInterfaceAttribute", "iam:UpdateAccessKey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.ctx)
			actions := map[string]bool{}
			for _, st := range s.statements(t, "ContainFunctionRole") {
				res := jsonString(st["Resource"])
				for _, a := range list(st["Action"]) {
					a := a.(string)
					actions[a] = true
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
						"iam:UpdateAccessKey":         true, "iam:PutUserPolicy": true, "iam:PutRolePolicy": true}
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
