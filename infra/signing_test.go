package main

import (
	"slices"
	"strings"
	"testing"
)

// TestSigningKey: the seal key is asymmetric, SIGN_VERIFY, retained; its
// policy lets Seal's role alone sign (asserted here: the emulator enforces
// no key policy), grants none, and keeps signing out of the account's
// administration; Seal is given its ARN; the stack outputs it. With
// containment on, the containment key is the same shape for the contain
// function's role alone, and the seal key's policy is unchanged: still
// only Seal signs, so a contain role can never forge a seal.
func TestSigningKey(t *testing.T) {
	on := synth(t, containOn)
	for _, c := range []struct {
		name                            string
		s                               *synthed
		key, role, fn, env              string
		denySid, allowSid, outputPrefix string
	}{
		{"seal key, containment off", defaultStack(t), "SigningKey", "SealFunctionRole", "SealFunction", "CUSTODY_SIGNING_KEY_ARN", "OnlySealSigns", "SealSignsTheSealStatement", "SigningKey"},
		{"seal key, containment on", on, "SigningKey", "SealFunctionRole", "SealFunction", "CUSTODY_SIGNING_KEY_ARN", "OnlySealSigns", "SealSignsTheSealStatement", "SigningKey"},
		{"containment key", on, "ContainSigningKey", "ContainFunctionRole", "ContainFunction", "CUSTODY_CONTAIN_SIGNING_KEY_ARN", "OnlyContainSigns", "ContainSignsTheContainmentStatement", "ContainSigningKey"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			_, k := s.one(t, "AWS::KMS::Key", c.key)
			p := props(k)
			if k["DeletionPolicy"] != "Retain" || p["KeySpec"] != "RSA_2048" || p["KeyUsage"] != "SIGN_VERIFY" {
				t.Fatalf("signing key: deletion %v spec %v usage %v, want Retain RSA_2048 SIGN_VERIFY", k["DeletionPolicy"], p["KeySpec"], p["KeyUsage"])
			}
			role, _ := s.one(t, "AWS::IAM::Role", c.role)
			roleArn := `{"Fn::GetAtt":["` + role + `","Arn"]}`
			bySid := map[string]map[string]any{}
			for _, st := range list(path(p, "KeyPolicy", "Statement")) {
				m := st.(map[string]any)
				sid, _ := m["Sid"].(string)
				bySid[sid] = m
				acts := list(m["Action"])
				if m["Effect"] == "Deny" {
					continue
				}
				// No Allow but the signer's gives kms:Sign (or a wildcard that holds it).
				for _, a := range acts {
					a := a.(string)
					if (a == "kms:Sign" || a == "kms:*" || a == "*" || a == "kms:S*" || a == "kms:Si*") && sid != c.allowSid {
						t.Errorf("statement %s allows %s", sid, a)
					}
				}
			}
			if len(bySid) != 5 {
				t.Errorf("%d statements, want 5: %s", len(bySid), jsonString(path(p, "KeyPolicy")))
			}
			cases := []struct {
				sid, effect, action, principal string
			}{
				{c.denySid, "Deny", "kms:Sign", `"*"`},
				{"NoGrants", "Deny", "kms:CreateGrant", `"*"`},
				{c.allowSid, "Allow", "kms:Sign", roleArn},
				{"OnlyBreakGlassMayDisableDeleteOrRepolicy", "Deny", "kms:PutKeyPolicy", `"*"`},
			}
			for _, c := range cases {
				st := bySid[c.sid]
				if st == nil {
					t.Errorf("no statement %s in %s", c.sid, jsonString(path(p, "KeyPolicy")))
					continue
				}
				if st["Effect"] != c.effect && !(c.effect == "Allow" && st["Effect"] == nil) {
					t.Errorf("%s effect %v, want %s", c.sid, st["Effect"], c.effect)
				}
				if !slices.Contains(list(st["Action"]), any(c.action)) {
					t.Errorf("%s actions %v lack %s", c.sid, st["Action"], c.action)
				}
				if got := jsonString(path(st, "Principal", "AWS")); got != c.principal {
					t.Errorf("%s principal %s, want %s", c.sid, got, c.principal)
				}
			}
			if got := jsonString(path(bySid[c.denySid], "Condition", "ArnNotEquals", "aws:PrincipalArn")); got != roleArn {
				t.Errorf("%s exempts %s, want %s only (%s)", c.denySid, got, c.role, roleArn)
			}
			if _, ok := path(bySid["NoGrants"], "Condition").(map[string]any); ok {
				t.Error("NoGrants has a condition: grants would bypass the policy")
			}
			_, fn := s.one(t, "AWS::Lambda::Function", c.fn)
			if v := jsonString(path(props(fn), "Environment", "Variables", c.env)); !strings.Contains(v, `"`+c.key) {
				t.Errorf("%s is not given the signing key in %s: %s", c.fn, c.env, v)
			}
			outs := s.raw["Outputs"].(map[string]any)
			for _, id := range []string{c.outputPrefix + "Arn", c.outputPrefix + "FingerprintCommand"} {
				if outs[id] == nil {
					t.Errorf("no output %s", id)
				}
			}
			// No role is given kms:Sign in IAM.
			for id, r := range s.resources("AWS::IAM::Policy") {
				if strings.Contains(jsonString(path(props(r), "PolicyDocument")), "kms:Sign") {
					t.Errorf("IAM policy %s names kms:Sign", id)
				}
			}
		})
	}
}

// TestContainSigningKeyOnlyWithContainment: with every class off there is
// no containment key, no output of it, and nothing in the template names
// the contain function's key.
func TestContainSigningKeyOnlyWithContainment(t *testing.T) {
	s := defaultStack(t)
	for id := range s.resources("AWS::KMS::Key") {
		if strings.HasPrefix(id, "ContainSigningKey") {
			t.Errorf("containment off, yet the template holds %s", id)
		}
	}
	tpl := jsonString(s.raw)
	for _, absent := range []string{"ContainSigningKey", "CUSTODY_CONTAIN_SIGNING_KEY_ARN", "OnlyContainSigns"} {
		if strings.Contains(tpl, absent) {
			t.Errorf("containment off, yet the template holds %s", absent)
		}
	}
}
