package pivot

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
)

// stratus reads a Stratus Red Team detonation (a JSON array of records).
func stratus(t *testing.T, technique string) []*ctlog.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stratus-red-team", technique+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		t.Fatal(err)
	}
	return parse(t, raws)
}

// lines reads a JSON Lines file of records (an extract's shape).
func lines(t *testing.T, name string) []*ctlog.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var raws []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		raws = append(raws, append(json.RawMessage(nil), sc.Bytes()...))
	}
	return parse(t, raws)
}

func parse(t *testing.T, raws []json.RawMessage) []*ctlog.Event {
	t.Helper()
	var out []*ctlog.Event
	for _, r := range raws {
		e, err := ctlog.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func derive(sc incident.Scope, b Bounds, events []*ctlog.Event) Chain {
	d := NewDeriver(sc, b)
	for _, e := range events {
		d.Observe(e, "cases/c/runs/r/cloudtrail/extract.jsonl.gz")
	}
	return d.Chain()
}

// got lists the derived identities as "ID <- parent @ depth via eventID".
type got struct {
	ID, Parent, Via string
	Depth           int
}

func derived(ch Chain) []got {
	var out []got
	for _, i := range ch.Identities {
		if i.Depth == 0 {
			continue
		}
		out = append(out, got{i.ID, i.Parent, i.Via.EventID, i.Depth})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

func leadIDs(ch Chain) []string {
	var out []string
	for _, l := range ch.Leads {
		out = append(out, l.ID)
	}
	sort.Strings(out)
	return out
}

func TestDeriveRealRecords(t *testing.T) {
	tests := []struct {
		name   string
		events []*ctlog.Event
		scope  incident.Scope
		want   []got
	}{
		{
			name:   "CreateUser and CreateAccessKey by a user's key (Stratus iam-create-admin-user)",
			events: stratus(t, "aws.persistence.iam-create-admin-user"),
			scope:  incident.Scope{AccessKeys: []string{"AKIAOZUDECYXYM4ONAN4"}},
			want: []got{
				{"accessKey:AKIAXAFZN8JEPF6L682H", "accessKey:AKIAOZUDECYXYM4ONAN4", "94faedcc-0fa4-46e6-9322-022e8e934f04", 1},
				{"user:arn:aws:iam::229654561268:user/malicious-iam-user", "accessKey:AKIAOZUDECYXYM4ONAN4", "3346344c-5a3e-429e-8405-420f98f75d6e", 1},
			},
		},
		{
			name:   "CreateAccessKey for an existing user: the key, not the user (Stratus iam-backdoor-user)",
			events: stratus(t, "aws.persistence.iam-backdoor-user"),
			scope:  incident.Scope{Principals: []string{"arn:aws:iam::946986569305:user/christophe"}},
			want: []got{
				{"accessKey:AKIAL80DWDVKKM0UXEER", "user:arn:aws:iam::946986569305:user/christophe", "c64c4ded-ef03-4e5c-81eb-153b118d72f2", 1},
			},
		},
		{
			name:   "GetFederationToken (Stratus sts-federation-token)",
			events: stratus(t, "aws.persistence.sts-federation-token"),
			scope:  incident.Scope{AccessKeys: []string{"AKIA6V1GNZTT65XQH36M"}},
			want: []got{
				{"accessKey:ASIASTJKC5GCM7ZE6LUP", "accessKey:AKIA6V1GNZTT65XQH36M", "6e882b9d-2af8-4c67-b91f-aeac6a0e5e70", 1},
			},
		},
		{
			name:   "CreateLoginProfile: the user's console sessions (Stratus iam-create-user-login-profile)",
			events: stratus(t, "aws.persistence.iam-create-user-login-profile"),
			scope:  incident.Scope{UserNames: []string{"christophe"}},
			want: []got{
				{"console:stratus-red-team-login-profile-user", "user:christophe", "d3906a7d-604b-407f-acb6-fc425742821e", 1},
			},
		},
		{
			name:   "an instance's session used from outside it (Stratus ec2-steal-instance-credentials)",
			events: stratus(t, "aws.credential-access.ec2-steal-instance-credentials"),
			scope:  incident.Scope{Instances: []string{"i-786a3A8B5C0d92eF4"}, PrivateIPs: []string{"10.0.1.4"}},
			want:   []got{{"accessKey:ASIAP5CT9NN8EYVU1FXV", "instance:i-786a3A8B5C0d92eF4", "", 1}},
		},
		{
			name:   "the instance's own address derives nothing",
			events: stratus(t, "aws.credential-access.ec2-steal-instance-credentials"),
			scope:  incident.Scope{Instances: []string{"i-786a3A8B5C0d92eF4"}, PublicIPs: []string{"18.236.253.47"}},
		},
		{
			name: "the instance's session through its own account's VPC endpoint derives nothing",
			events: withFields(t, stratus(t, "aws.credential-access.ec2-steal-instance-credentials"),
				map[string]any{"sourceIPAddress": "10.0.9.7", "vpcEndpointId": "vpce-0aa1b2c3d4e5f6071", "vpcEndpointAccountId": "017622104382"}),
			scope: incident.Scope{Instances: []string{"i-786a3A8B5C0d92eF4"}, PrivateIPs: []string{"10.0.1.4"}},
		},
		{
			name: "the instance's session through another account's VPC endpoint is a stolen key, private address or not",
			events: withFields(t, stratus(t, "aws.credential-access.ec2-steal-instance-credentials"),
				map[string]any{"sourceIPAddress": "10.0.9.7", "vpcEndpointId": "vpce-0aa1b2c3d4e5f6071", "vpcEndpointAccountId": "999988887777"}),
			scope: incident.Scope{Instances: []string{"i-786a3A8B5C0d92eF4"}, PrivateIPs: []string{"10.0.1.4"}},
			want:  []got{{"accessKey:ASIAP5CT9NN8EYVU1FXV", "instance:i-786a3A8B5C0d92eF4", "", 1}},
		},
		{
			name:   "records of another key derive nothing",
			events: stratus(t, "aws.persistence.iam-create-admin-user"),
			scope:  incident.Scope{AccessKeys: []string{"AKIAIOSFODNN7EXAMPLE"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := derive(tt.scope, Bounds{}, tt.events)
			g := derived(ch)
			// The instance case's provenance is the first outside record:
			// check it is one, then compare without it.
			for i := range g {
				if g[i].Parent == "instance:i-786a3A8B5C0d92eF4" {
					if g[i].Via == "" {
						t.Errorf("%s has no provenance", g[i].ID)
					}
					g[i].Via = ""
				}
			}
			if !slices.Equal(g, tt.want) {
				t.Errorf("derived:\n got %+v\nwant %+v", g, tt.want)
			}
			for _, i := range ch.Identities {
				if i.Depth > 0 && (i.Via == nil || i.Via.EventTime.IsZero() || i.Via.Artifact == "" || i.Via.EventName == "") {
					t.Errorf("%s: incomplete provenance %+v", i.ID, i.Via)
				}
			}
		})
	}
}

// withFields sets top-level fields of every record of the instance's
// session (a call through a VPC endpoint: its private address, the
// endpoint and the endpoint's account).
func withFields(t *testing.T, events []*ctlog.Event, fields map[string]any) []*ctlog.Event {
	t.Helper()
	var out []*ctlog.Event
	for _, e := range events {
		if e.UserIdentity.Type != "AssumedRole" {
			out = append(out, e)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(e.Raw, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range fields {
			m[k] = v
		}
		out = append(out, reparse(t, m))
	}
	return out
}

func TestDeriveChain(t *testing.T) {
	events := lines(t, "chain.jsonl")
	seed := incident.Scope{AccountID: "229654561268", AccessKeys: []string{"AKIAOZUDECYXYM4ONAN4"}}
	hop1 := got{"accessKey:ASIAHOP1ATTACKER0001", "accessKey:AKIAOZUDECYXYM4ONAN4", "00000001-0000-4000-8000-000000000001", 1}
	hop2 := got{"accessKey:ASIAHOP2CROSSACCT002", "accessKey:ASIAHOP1ATTACKER0001", "00000001-0000-4000-8000-000000000002", 2}
	hop3 := got{"accessKey:AKIAHOP3BACKDOOR0003", "accessKey:ASIAHOP2CROSSACCT002", "00000001-0000-4000-8000-000000000003", 3}
	hop4 := got{"user:arn:aws:iam::111122223333:user/hop4-user", "accessKey:AKIAHOP3BACKDOOR0003", "00000001-0000-4000-8000-000000000004", 4}
	quiet := got{"session:arn:aws:sts::229654561268:assumed-role/admin-role/quiet", "accessKey:AKIAOZUDECYXYM4ONAN4", "00000001-0000-4000-8000-000000000007", 1}
	hiddenLead := "accessKey:redacted@00000001-0000-4000-8000-000000000009"
	tests := []struct {
		name  string
		b     Bounds
		want  []got
		leads []string
	}{
		{"default depth 3: three hops followed, the fourth a lead", Bounds{}, []got{hop3, hop2, hop1, quiet},
			[]string{hiddenLead, hop4.ID}},
		{"depth 4 follows the fourth", Bounds{Depth: 4}, []got{hop3, hop2, hop1, quiet, hop4}, []string{hiddenLead}},
		{"depth 1", Bounds{Depth: 1}, []got{hop1, quiet}, []string{hop2.ID}},
		{"two identities at most", Bounds{MaxIdentities: 2}, []got{hop2, hop1}, []string{hiddenLead, hop3.ID, quiet.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := derive(seed, tt.b, events)
			g := derived(ch)
			want := slices.Clone(tt.want)
			sort.Slice(want, func(a, b int) bool { return want[a].ID < want[b].ID })
			if !slices.Equal(g, want) {
				t.Errorf("derived:\n got %+v\nwant %+v", g, want)
			}
			wantLeads := slices.Sorted(slices.Values(tt.leads))
			if l := leadIDs(ch); !slices.Equal(l, wantLeads) {
				t.Errorf("leads: got %v, want %v", l, wantLeads)
			}
			for _, l := range ch.Leads {
				if l.Reason == "" || l.Via == nil || l.Via.EventID == "" {
					t.Errorf("lead %s without reason or provenance: %+v", l.ID, l)
				}
			}
		})
	}
	t.Run("another session of the same role is not followed", func(t *testing.T) {
		ch := derive(seed, Bounds{Depth: 9}, events)
		for _, i := range ch.Identities {
			switch i.AccessKeyID {
			case "ASIAOTHERSESSION0005", "AKIANOTTHEATTACKER06":
				t.Errorf("followed %s, not the attacker's", i.ID)
			}
		}
		f := NewFollow(ch.Identities)
		for _, e := range events {
			if e.UserIdentity.AccessKeyID == "ASIAOTHERSESSION0005" && f.Match(e) {
				t.Errorf("Follow keeps %s by the other session", e.EventID)
			}
		}
	})
	t.Run("the chained session carries its sourceIdentity", func(t *testing.T) {
		ch := derive(seed, Bounds{}, events)
		for _, i := range ch.Identities {
			if i.AccessKeyID == "ASIAHOP2CROSSACCT002" && (i.SourceIdentity != "attacker-id" || i.AccountID != "111122223333") {
				t.Errorf("hop 2: sourceIdentity %q account %q", i.SourceIdentity, i.AccountID)
			}
			if i.ID == quiet.ID && i.Note == "" {
				t.Errorf("the redacted session has no note")
			}
		}
	})
}

func TestFollowMatch(t *testing.T) {
	events := lines(t, "chain.jsonl")
	d := NewDeriver(incident.Scope{AccessKeys: []string{"AKIAOZUDECYXYM4ONAN4"}}, Bounds{})
	for _, e := range events {
		d.Observe(e, "extract.jsonl.gz")
	}
	f := NewFollow(d.Derived(1))
	// The role owner's copy of hop 1's AssumeRole, as a cross-account
	// call is logged in the role's account: another eventID, the calling
	// account as userIdentity (no key), the same response. A failed copy
	// handed out nothing.
	var first map[string]any
	for _, e := range events {
		if e.EventID == "00000001-0000-4000-8000-000000000001" {
			if err := json.Unmarshal(e.Raw, &first); err != nil {
				t.Fatal(err)
			}
		}
	}
	first["eventID"] = "00000001-0000-4000-8000-0000000000f1"
	first["userIdentity"] = map[string]any{"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "229654561268"}
	first["recipientAccountId"] = "111122223333"
	owner := reparse(t, first)
	first["eventID"] = "00000001-0000-4000-8000-0000000000f2"
	first["errorCode"] = "AccessDenied"
	failed := reparse(t, first)
	var kept []string
	for _, e := range append(append([]*ctlog.Event{}, events...), owner, failed) {
		if f.Match(e) {
			kept = append(kept, e.EventID)
		}
	}
	sort.Strings(kept)
	// The derived identities' own records: hop 2's AssumeRole (by hop 1),
	// hop 3's CreateAccessKey and the hidden one (by hop 2), hop 4's
	// CreateUser (by hop 3); and the records that handed out a followed
	// key: the seed's AssumeRole (hop 1's key) and its owner's copy. Not
	// the seed's other records, not the failed copy.
	want := []string{"00000001-0000-4000-8000-000000000001", "00000001-0000-4000-8000-000000000002", "00000001-0000-4000-8000-000000000003",
		"00000001-0000-4000-8000-000000000004", "00000001-0000-4000-8000-000000000009", "00000001-0000-4000-8000-0000000000f1"}
	if !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	sc := f.Scope("229654561268", "us-east-1")
	if len(sc.AccessKeys) != 3 || len(sc.Principals) != 1 {
		t.Errorf("scope %+v", sc)
	}
}

func reparse(t *testing.T, v any) *ctlog.Event {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, []json.RawMessage{b})[0]
}

func TestCovered(t *testing.T) {
	sc := incident.Scope{AccessKeys: []string{"AKIAOZUDECYXYM4ONAN4"}, Instances: []string{"i-786a3A8B5C0d92eF4"}, UserNames: []string{"alice"}}
	for _, tc := range []struct {
		id   Identity
		want bool
	}{
		{Identity{Kind: KindAccessKey, AccessKeyID: "AKIAOZUDECYXYM4ONAN4"}, true},
		{Identity{Kind: KindAccessKey, AccessKeyID: "ASIAP5CT9NN8EYVU1FXV", ARN: "arn:aws:sts::017622104382:assumed-role/r/i-786a3A8B5C0d92eF4"}, true},
		{Identity{Kind: KindAccessKey, AccessKeyID: "ASIAHOP1ATTACKER0001", ARN: "arn:aws:sts::229654561268:assumed-role/admin-role/attacker"}, false},
		{Identity{Kind: KindUser, UserName: "alice"}, true},
		{Identity{Kind: KindUser, UserName: "hop4-user"}, false},
		{Identity{Kind: KindConsole, UserName: "alice"}, false},
	} {
		if got := Covered(sc, tc.id); got != tc.want {
			t.Errorf("Covered(%+v) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
