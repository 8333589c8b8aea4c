package pivot

import (
	"slices"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
)

// TestPrincipalScope: the IAM principals of the chain in chain.jsonl, per
// account — hop 1's session (its role), hop 2's cross-account session,
// hop 3's key, hop 4's user (depth 4) — and nothing the case's scope names
// already or a starting identity.
func TestPrincipalScope(t *testing.T) {
	seed := incident.Scope{AccountID: "229654561268", AccessKeys: []string{"AKIAOZUDECYXYM4ONAN4"}}
	ch := derive(seed, Bounds{Depth: 4}, lines(t, "chain.jsonl"))
	accounts := PrincipalAccounts(ch, seed)
	if !slices.Equal(accounts, []string{"111122223333", "229654561268"}) {
		t.Fatalf("accounts %v", accounts)
	}
	tests := []struct {
		account    string
		scope      incident.Scope
		keys       []string
		users      []string
		principals []string
	}{
		{account: "229654561268", scope: seed,
			principals: []string{"arn:aws:sts::229654561268:assumed-role/admin-role/attacker", "arn:aws:sts::229654561268:assumed-role/admin-role/quiet"}},
		{account: "111122223333", scope: seed, keys: []string{"AKIAHOP3BACKDOOR0003"}, users: []string{"hop4-user"},
			principals: []string{"arn:aws:sts::111122223333:assumed-role/deploy-role/hop2"}},
		// The first pass describes admin-role already: its sessions are
		// not listed again.
		{account: "229654561268", scope: incident.Scope{AccountID: "229654561268", AccessKeys: seed.AccessKeys, RoleNames: []string{"admin-role"}}},
	}
	for _, tc := range tests {
		sc := PrincipalScope(ch, tc.account, "us-east-1", tc.scope)
		if sc.AccountID != tc.account || sc.Region != "us-east-1" {
			t.Errorf("scope of %s: %s/%s", tc.account, sc.AccountID, sc.Region)
		}
		slices.Sort(sc.Principals)
		if !slices.Equal(sc.AccessKeys, tc.keys) || !slices.Equal(sc.UserNames, tc.users) || !slices.Equal(sc.Principals, tc.principals) {
			t.Errorf("scope of %s (roles %v):\n keys %v users %v principals %v\nwant %v %v %v", tc.account, tc.scope.RoleNames,
				sc.AccessKeys, sc.UserNames, sc.Principals, tc.keys, tc.users, tc.principals)
		}
	}
}
