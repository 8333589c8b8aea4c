package attest

import (
	"strings"
	"testing"
	"time"
)

// TestContainmentNames: a statement's name is the number of records it
// covers and its step; only statements, their signatures and the public
// key are signing files, never a record.
func TestContainmentNames(t *testing.T) {
	st := ContainmentStatement{Step: "apply", Records: make([]ContainmentRecord, 3)}
	if got := st.File(); got != "containment/statement-0003-apply.json" {
		t.Errorf("File %s", got)
	}
	if got := ContainmentSignatureFile(st.File()); got != "containment/statement-0003-apply.sig" {
		t.Errorf("signature file %s", got)
	}
	for _, c := range []struct {
		name    string
		signing bool
		n       int
		step    string
		sig     bool
	}{
		{"statement-0003-apply.json", true, 3, "apply", false},
		{"statement-0012-rollback.sig", true, 12, "rollback", true},
		{"public-key.pem", true, 0, "", false},
		{"plan.json", false, 0, "", false},
		{"pending-0a1b2c3d4e5f6071.json", false, 0, "", false},
		{"statement-3-apply.json", false, 0, "", false},
		{"statement-0003-apply.json.bak", false, 0, "", false},
	} {
		if got := ContainmentSigningFile(c.name); got != c.signing {
			t.Errorf("%s: signing file %v, want %v", c.name, got, c.signing)
		}
		n, step, sig, ok := ParseContainmentStatementName(c.name)
		if want := c.step != ""; ok != want || n != c.n || step != c.step || sig != c.sig {
			t.Errorf("%s: parsed %d %q %v %v", c.name, n, step, sig, ok)
		}
	}
}

// TestParseContainmentStatement: a statement round-trips; another type,
// algorithm or an unknown field is refused.
func TestParseContainmentStatement(t *testing.T) {
	good := ContainmentStatement{Type: ContainmentStatementType, CaseID: "gd-x", RunID: "r1", Step: "plan",
		At: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), SigningAlgorithm: SigningAlgorithm,
		Records: []ContainmentRecord{{Name: "plan.json", VersionID: "v1", Size: 2, SHA256: strings.Repeat("a", 64), API: "custody:ContainPlan"}}}
	msg, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    string
		ok   bool
	}{
		{"as made", string(msg), true},
		{"a seal statement's type", strings.Replace(string(msg), ContainmentStatementType, StatementType, 1), false},
		{"another algorithm", strings.Replace(string(msg), SigningAlgorithm, "RSASSA_PSS_SHA_256", 1), false},
		{"an unknown field", strings.Replace(string(msg), `"step":`, `"extra":1,"step":`, 1), false},
	} {
		st, err := ParseContainmentStatement([]byte(c.b))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok %v", c.name, err, c.ok)
		}
		if c.ok && (st.Records[0] != good.Records[0] || !st.At.Equal(good.At)) {
			t.Errorf("%s: parsed %+v", c.name, st)
		}
	}
}
