package main

import (
	"slices"
	"strings"
	"testing"
)

// TestSigningKey: the seal key is asymmetric, SIGN_VERIFY, retained; its
// policy lets Seal's role alone sign (asserted here: the emulator enforces
// no key policy), grants none, and keeps signing out of the account's
// administration; Seal is given its ARN; the stack outputs it.
func TestSigningKey(t *testing.T) {
	s := defaultStack(t)
	_, k := s.one(t, "AWS::KMS::Key", "SigningKey")
	p := props(k)
	if k["DeletionPolicy"] != "Retain" || p["KeySpec"] != "RSA_2048" || p["KeyUsage"] != "SIGN_VERIFY" {
		t.Fatalf("signing key: deletion %v spec %v usage %v, want Retain RSA_2048 SIGN_VERIFY", k["DeletionPolicy"], p["KeySpec"], p["KeyUsage"])
	}
	sealRole, _ := s.one(t, "AWS::IAM::Role", "SealFunctionRole")
	sealArn := `{"Fn::GetAtt":["` + sealRole + `","Arn"]}`
	bySid := map[string]map[string]any{}
	for _, st := range list(path(p, "KeyPolicy", "Statement")) {
		m := st.(map[string]any)
		sid, _ := m["Sid"].(string)
		bySid[sid] = m
		acts := list(m["Action"])
		if m["Effect"] == "Deny" {
			continue
		}
		// No Allow but Seal's gives kms:Sign (or a wildcard that holds it).
		for _, a := range acts {
			a := a.(string)
			if (a == "kms:Sign" || a == "kms:*" || a == "*" || a == "kms:S*" || a == "kms:Si*") && sid != "SealSignsTheSealStatement" {
				t.Errorf("statement %s allows %s", sid, a)
			}
		}
	}
	cases := []struct {
		sid, effect, action, principal string
	}{
		{"OnlySealSigns", "Deny", "kms:Sign", `"*"`},
		{"NoGrants", "Deny", "kms:CreateGrant", `"*"`},
		{"SealSignsTheSealStatement", "Allow", "kms:Sign", sealArn},
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
	if got := jsonString(path(bySid["OnlySealSigns"], "Condition", "ArnNotEquals", "aws:PrincipalArn")); got != sealArn {
		t.Errorf("OnlySealSigns exempts %s, want Seal's role only (%s)", got, sealArn)
	}
	if _, ok := path(bySid["NoGrants"], "Condition").(map[string]any); ok {
		t.Error("NoGrants has a condition: grants would bypass the policy")
	}
	_, fn := s.one(t, "AWS::Lambda::Function", "SealFunction")
	if v := jsonString(path(props(fn), "Environment", "Variables", "CUSTODY_SIGNING_KEY_ARN")); !strings.Contains(v, "SigningKey") {
		t.Errorf("Seal is not given the signing key: %s", v)
	}
	outs := s.raw["Outputs"].(map[string]any)
	for _, id := range []string{"SigningKeyArn", "SigningKeyFingerprintCommand"} {
		if outs[id] == nil {
			t.Errorf("no output %s", id)
		}
	}
	// No other role is given kms:Sign in IAM.
	for id, r := range s.resources("AWS::IAM::Policy") {
		if strings.Contains(jsonString(path(props(r), "PolicyDocument")), "kms:Sign") {
			t.Errorf("IAM policy %s names kms:Sign", id)
		}
	}
}
