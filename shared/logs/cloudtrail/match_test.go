package cloudtrail

import (
	"encoding/json"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
)

// event finds the first record of a testdata file that pick accepts.
func event(t testing.TB, name string, pick func(*Event) bool) *Event {
	t.Helper()
	for _, raw := range records(t, name) {
		e, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if pick(e) {
			return e
		}
	}
	t.Fatalf("%s: no record picked", name)
	return nil
}

func TestMatcher(t *testing.T) {
	byName := func(n string) func(*Event) bool { return func(e *Event) bool { return e.EventName == n } }
	// Real records, each named by what it is.
	var (
		// christophe (IAM user, 017622104382) sends an SSM command to
		// i-786a3A8B5C0d92eF4.
		sendCommand = event(t, steal, byName("SendCommand"))
		// The instance's role session (named after the instance) calls
		// DescribeInstances with the stolen credentials.
		stolen = event(t, steal, byName("DescribeInstances"))
		// Another account's "christophe" modifies another instance's user
		// data (i-DDd6c7B0e18F0E35f).
		otherInstance = event(t, userData, byName("ModifyInstanceAttribute"))
		// AssumeRole of a role, with the role in resources.
		assume = event(t, leaveOrg, byName("AssumeRole"))
		// RunInstances in a subnet.
		run = event(t, launch, byName("RunInstances"))
	)
	const (
		userA     = "arn:aws:iam::017622104382:user/christophe"
		userB     = "arn:aws:iam::309303190113:user/christophe"
		stealRole = "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role"
		instance  = "i-786a3A8B5C0d92eF4"
	)
	type want struct {
		ev    *Event
		match bool
	}
	for _, tc := range []struct {
		name  string
		scope incident.Scope
		cases []want
	}{
		{"access key", incident.Scope{AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}},
			[]want{{sendCommand, true}, {stolen, false}, {otherInstance, false}}},
		{"user ARN: that account's user only", incident.Scope{Principals: []string{userA}},
			[]want{{sendCommand, true}, {stolen, false}, {otherInstance, false}}},
		{"the other account's user of the same name", incident.Scope{Principals: []string{userB}},
			[]want{{sendCommand, false}, {otherInstance, true}}},
		{"role ARN matches its assumed-role sessions", incident.Scope{Principals: []string{stealRole}},
			[]want{{stolen, true}, {sendCommand, false}}},
		{"role ARN with a path still matches the session", incident.Scope{Principals: []string{"arn:aws:iam::017622104382:role/some/path/stratus-red-team-ec2-steal-credentials-role"}},
			[]want{{stolen, true}}},
		{"same role name in another account does not", incident.Scope{Principals: []string{"arn:aws:iam::111111111111:role/stratus-red-team-ec2-steal-credentials-role"}},
			[]want{{stolen, false}}},
		{"session ARN itself", incident.Scope{Principals: []string{"arn:aws:sts::017622104382:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-786a3A8B5C0d92eF4"}},
			[]want{{stolen, true}, {sendCommand, false}}},
		{"role name", incident.Scope{RoleNames: []string{"stratus-red-team-ec2-steal-credentials-role"}},
			[]want{{stolen, true}, {sendCommand, false}}},
		{"principal ID of the session", incident.Scope{PrincipalIDs: []string{"AROALHCCSKSM395EGX3XN:i-786a3A8B5C0d92eF4"}},
			[]want{{stolen, true}, {sendCommand, false}}},
		{"user name", incident.Scope{UserNames: []string{"christophe"}},
			[]want{{sendCommand, true}, {otherInstance, true}, {stolen, false}}},
		{"instance: in request parameters and as session name", incident.Scope{Instances: []string{instance}},
			[]want{{sendCommand, true}, {stolen, true}, {otherInstance, false}, {run, false}}},
		{"another instance", incident.Scope{Instances: []string{"i-DDd6c7B0e18F0E35f"}},
			[]want{{otherInstance, true}, {sendCommand, false}, {stolen, false}}},
		{"an ID that only prefixes one in the record", incident.Scope{Instances: []string{"i-786a3A8B5C0d92eF"}},
			[]want{{sendCommand, false}, {stolen, false}}},
		{"a function ARN's name, found in a resources ARN", incident.Scope{Functions: []string{"arn:aws:lambda:us-east-1:307578594326:function:stratus-red-team-leave-org-role"}},
			[]want{{assume, true}, {sendCommand, false}}},
		{"subnet is not a CloudTrail scope key, its ENI would be", incident.Scope{Subnets: []string{"subnet-0e540f0c7ffb48ae9"}},
			[]want{{run, false}}},
		{"source IP from the finding", incident.Scope{RemoteIPs: []string{"18.236.253.47"}},
			[]want{{sendCommand, true}, {stolen, true}, {otherInstance, false}}},
		{"public IP of the instance", incident.Scope{PublicIPs: []string{"251.228.255.218"}},
			[]want{{otherInstance, true}, {sendCommand, false}}},
		{"empty scope matches nothing", incident.Scope{AccountID: "017622104382"},
			[]want{{sendCommand, false}, {stolen, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMatcher(tc.scope)
			for _, w := range tc.cases {
				if got := m.Match(w.ev); got != w.match {
					b, _ := json.Marshal(w.ev.UserIdentity)
					t.Errorf("%s %s by %s: match = %v, want %v", w.ev.EventName, w.ev.EventID, b, got, w.match)
				}
			}
		})
	}
	if !NewMatcher(incident.Scope{AccountID: "1", Region: "r"}).Empty() || NewMatcher(incident.Scope{Buckets: []string{"b"}}).Empty() {
		t.Error("Empty")
	}
}

func TestContainsToken(t *testing.T) {
	for _, tc := range []struct {
		s, id string
		want  bool
	}{
		{`{"instanceId":"i-0abc"}`, "i-0abc", true},
		{`arn:aws:ec2:r:1:instance/i-0abc`, "i-0abc", true},
		{`{"instanceId":"i-0abcd"}`, "i-0abc", false},
		{`{"bucketName":"my.bucket","key":"x"}`, "my.bucket", true},
		{`{"bucketName":"my.bucket2"}`, "my.bucket", false},
		{`arn:aws:s3:::my.bucket/key`, "my.bucket", true},
		{`{"a":"xi-0abc","b":"i-0abc"}`, "i-0abc", true},
		{``, "i-0abc", false},
	} {
		if got := containsToken([]byte(tc.s), []byte(tc.id)); got != tc.want {
			t.Errorf("containsToken(%q, %q) = %v", tc.s, tc.id, got)
		}
	}
}

// TestMaskedRecord: a record whose identifiers were masked upstream
// ("arn***/assumed-role/...", "700***") parses and matches nothing.
func TestMaskedRecord(t *testing.T) {
	e, err := Parse(read(t, "opensearch-catalog/cloudtrail_raw-sample_masked.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(incident.Scope{Principals: []string{"arn:aws:iam::700000000000:role/r"}, RoleNames: []string{"r"}, Instances: []string{"i-0123456789abcdef0"}})
	if m.Match(e) {
		t.Errorf("masked record matched: %+v", e.UserIdentity)
	}
}
