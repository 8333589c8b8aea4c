package finding

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/custody-ir/custody/shared/faults"
)

// minimal is a valid bare finding the malformed cases edit.
const minimal = `{"id":"abc123","type":"Recon:EC2/PortProbeUnprotectedPort","severity":2,
"accountId":"123456789012","region":"us-east-1",
"createdAt":"2024-05-01T10:00:00.000Z","updatedAt":"2024-05-01T11:00:00.000Z",
"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0123456789abcdef0"}},
"service":{"detectorId":"d1","eventFirstSeen":"2024-05-01T09:00:00Z","eventLastSeen":"2024-05-01T10:30:00Z"}}`

// edit returns minimal with key set to value (raw JSON) or, when value is
// "", removed.
func edit(t *testing.T, path, value string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(minimal), &m); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		cur = cur[p].(map[string]any)
	}
	last := parts[len(parts)-1]
	if value == "" {
		delete(cur, last)
	} else {
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			t.Fatal(err)
		}
		cur[last] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func envelope(detail string) string {
	return `{"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"123456789012",
"time":"2024-05-01T11:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
}

func TestRefused(t *testing.T) {
	cases := []struct {
		name, input, field string
	}{
		{"empty body", "", ""},
		{"whitespace body", " \n\t", ""},
		{"not JSON", "GuardDuty finding please", ""},
		{"truncated JSON", `{"id": "abc"`, ""},
		{"array", `[` + minimal + `]`, ""},
		{"string", `"abc"`, ""},
		{"null", `null`, ""},
		{"empty object", `{}`, ""},
		{"unrecognised object", `{"hello":"world"}`, ""},
		{"no id", edit(t, "id", ""), "id"},
		{"empty id", edit(t, "id", `"  "`), "id"},
		{"id not a string", edit(t, "id", `42`), "id"},
		{"no type", edit(t, "type", ""), "type"},
		{"no resource", edit(t, "resource", ""), "resource"},
		{"null resource", edit(t, "resource", "null"), "resource"},
		{"resource not an object", edit(t, "resource", `"Instance"`), "resource"},
		{"no severity", edit(t, "severity", ""), "severity"},
		{"severity word", edit(t, "severity", `"high"`), "severity"},
		{"severity bool", edit(t, "severity", `true`), "severity"},
		{"severity object", edit(t, "severity", `{"score":5}`), "severity"},
		{"severity out of range", edit(t, "severity", `11`), "severity"},
		{"severity negative", edit(t, "severity", `-1`), "severity"},
		{"no account", edit(t, "accountId", ""), "accountId"},
		{"no region", edit(t, "region", ""), "region"},
		{"updatedAt not a time", edit(t, "updatedAt", `"yesterday"`), "updatedAt"},
		{"updatedAt a number", edit(t, "updatedAt", `1714560000`), "updatedAt"},
		{"createdAt bad date", edit(t, "createdAt", `"2024-13-01T00:00:00Z"`), "createdAt"},
		{"eventFirstSeen US date", edit(t, "service.eventFirstSeen", `"05/01/2024 09:00"`), "service.eventFirstSeen"},
		{"no updatedAt nor createdAt", `{"id":"a","type":"t","severity":5,"accountId":"123456789012","region":"us-east-1","resource":{}}`, "updatedAt"},
		{"envelope: bad detail time", envelope(edit(t, "updatedAt", `"2024-05-01"`)), "detail.updatedAt"},
		{"envelope: severity word", envelope(edit(t, "severity", `"high"`)), "detail.severity"},
		{"envelope: no detail", `{"source":"aws.guardduty","detail-type":"GuardDuty Finding"}`, "detail"},
		{"envelope: detail not an object", envelope(`"x"`), "detail"},
		{"envelope: empty detail", envelope(`{}`), "detail"},
		{"envelope: other source", strings.Replace(envelope(minimal), "aws.guardduty", "aws.ec2", 1), "source"},
		{"envelope: other detail-type", strings.Replace(envelope(minimal), `"GuardDuty Finding"`, `"GuardDuty Malware Protection Object Scan Result"`, 1), "detail-type"},
		{"envelope: no resource", envelope(edit(t, "resource", "")), "detail.resource"},
		{"envelope: instanceId a number", envelope(edit(t, "resource.instanceDetails", `{"instanceId":5}`)), "detail.resource.instanceDetails.instanceId"},
		{"API list of two", `{"Findings":[{"Id":"a"},{"Id":"b"}]}`, "Findings"},
		{"API empty list", `{"Findings":[]}`, "Findings"},
		{"API list element not an object", `{"Findings":["a"]}`, "Findings[0]"},
		{"API severity word", `{"Findings":[{"Id":"a","Type":"t","Severity":"High","AccountId":"123456789012","Region":"us-east-1","UpdatedAt":"2024-05-01T00:00:00Z","Resource":{"ResourceType":"Instance"}}]}`, "Findings[0].Severity"},
		{"API no resource", `{"Id":"a","Type":"t","Severity":5,"AccountId":"123456789012","Region":"us-east-1","UpdatedAt":"2024-05-01T00:00:00Z"}`, "Resource"},
		{"API bad first seen", `{"Id":"a","Type":"t","Severity":5,"AccountId":"123456789012","Region":"us-east-1","UpdatedAt":"2024-05-01T00:00:00Z","Resource":{},"Service":{"EventFirstSeen":"soon"}}`, "Service.EventFirstSeen"},
		{"ASFF finding", `{"SchemaVersion":"2018-10-08","Id":"x","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/guardduty"}`, ""},
		{"ref: no detector", `{"findingId":"abc"}`, "detectorId"},
		{"ref: empty finding ID", `{"findingId":"","detectorId":"d1"}`, "findingId"},
		{"ref: finding ID a number", `{"findingId":5,"detectorId":"d1"}`, "findingId"},
		{"ref: bad detector", `{"findingId":"abc","detectorId":"d 1"}`, "detectorId"},
		{"ref: bad account", `{"findingId":"abc","detectorId":"d1","accountId":"12"}`, "accountId"},
		{"manual: no window", `{"resource":{"type":"Instance","id":"i-0123456789abcdef0"}}`, "window"},
		{"manual: no resource", `{"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`, "resource"},
		{"manual: end before start", manual("Instance", "i-0123456789abcdef0", "2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z"), "window.end"},
		{"manual: empty window", manual("Instance", "i-0123456789abcdef0", "2024-05-01T11:00:00Z", "2024-05-01 11:00:00"), "window.end"},
		{"manual: bad start", manual("Instance", "i-0123456789abcdef0", "May 1st", "2024-05-01T10:00:00Z"), "window.start"},
		{"manual: no end", `{"resource":{"type":"Instance","id":"i-0123456789abcdef0"},"window":{"start":"2024-05-01T10:00:00Z"}}`, "window.end"},
		{"manual: bad instance", manual("instance", "i-xyz", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: instance ID is a key", manual("Instance", "AKIAIOSFODNN7EXAMPLE", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: bad key", manual("AccessKey", "AKIA123", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: bad principal", manual("Principal", "alice", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: principal of another account", `{"resource":{"type":"Principal","id":"arn:aws:iam::123456789012:user/alice","accountId":"210987654321"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`, "resource.accountId"},
		{"manual: bad bucket", manual("S3Bucket", "My_Bucket", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: bucket IP", manual("bucket", "192.168.1.1", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: bucket ..", manual("bucket", "a..b", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), "resource.id"},
		{"manual: no id", `{"resource":{"type":"Instance"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`, "resource.id"},
		{"manual: type not inferable", `{"resource":{"id":"something"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`, "resource.type"},
		{"manual: bad account", `{"resource":{"type":"Instance","id":"i-0123456789abcdef0","accountId":"abc"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`, "resource.accountId"},
		{"manual: id a number", `{"resource":{"type":"Instance","id":7},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`, "resource.id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := Parse([]byte(c.input))
			var inv *faults.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v (%T), want *faults.InvalidInputError; input %s", err, err, c.input)
			}
			if inv.Field != c.field {
				t.Errorf("field %q, want %q (%v)", inv.Field, c.field, err)
			}
			if inv.Reason == "" {
				t.Error("no reason")
			}
			if string(in.Raw) != c.input {
				t.Error("Input.Raw is not the input as received")
			}
		})
	}
}

func manual(typ, id, start, end string) string {
	return `{"resource":{"type":"` + typ + `","id":"` + id + `"},"window":{"start":"` + start + `","end":"` + end + `"}}`
}

func TestAccepted(t *testing.T) {
	// Severity as SIEM exports write it.
	in, err := Parse([]byte(edit(t, "severity", `"8.0"`)))
	if err != nil || in.Finding.Severity != 8 {
		t.Errorf("numeric string severity: %v %v", in.Finding, err)
	}
	// No updatedAt: createdAt, with a warning.
	in, err = Parse([]byte(edit(t, "updatedAt", "")))
	if err != nil || !in.Finding.UpdatedAt.Equal(in.Finding.CreatedAt.Time) || len(in.Warnings) != 1 {
		t.Errorf("no updatedAt: %v %v", err, in.Warnings)
	}
	// Envelope supplies account and region to a detail without them.
	in, err = Parse([]byte(envelope(edit(t, "accountId", ""))))
	if err != nil || in.Finding.AccountID != "123456789012" || in.Kind != KindEnvelope {
		t.Errorf("envelope account: %v %+v", err, in)
	}
	// No service: window times from createdAt / updatedAt.
	in, err = Parse([]byte(edit(t, "service", "")))
	if err != nil || !in.Finding.FirstSeen().Equal(in.Finding.CreatedAt.Time) || !in.Finding.LastSeen().Equal(in.Finding.UpdatedAt.Time) {
		t.Errorf("no service: %v", err)
	}
	// Unknown resource type is no error.
	in, err = Parse([]byte(edit(t, "resource", `{"resourceType":"Spaceship"}`)))
	if err != nil || in.Finding.ResourceType() != "Spaceship" {
		t.Errorf("unknown resource type: %v", err)
	}
	// A UTF-8 byte order mark is tolerated.
	if _, err := Parse(append([]byte("\xef\xbb\xbf"), minimal...)); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestTimes(t *testing.T) {
	for in, want := range map[string]string{
		"2017-12-08T15:32:49Z":             "2017-12-08T15:32:49Z",
		"2017-12-08T15:32:49.865Z":         "2017-12-08T15:32:49.865Z",
		"2017-12-08T17:32:49.865+02:00":    "2017-12-08T15:32:49.865Z",
		"2025-02-25 20:40:06":              "2025-02-25T20:40:06Z",
		"2025-02-25 20:40:06.721":          "2025-02-25T20:40:06.721Z",
		"2025-02-25 20:40:06.000000000":    "2025-02-25T20:40:06Z",
		"2017-12-18 21:28:11.551000+05:30": "2017-12-18T15:58:11.551Z",
	} {
		got, err := ParseTime(in)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "2024-05-01", "2024-05-01T10:00", "yesterday", "1714560000", "2024-02-30T00:00:00Z", "0000-01-01T00:00:00+01:00", "9999-12-31 23:00:00-05:00"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestRefAndManual(t *testing.T) {
	in, err := Parse([]byte(`{"findingId":"b4b01b60fc24a199139f8f5f490edd81","detectorId":"c0b018e3eb2130078632d999e41d4f02"}`))
	if err != nil || in.Kind != KindFindingRef || *in.Ref != (FindingRef{FindingID: "b4b01b60fc24a199139f8f5f490edd81", DetectorID: "c0b018e3eb2130078632d999e41d4f02"}) {
		t.Errorf("ref: %v %+v", err, in.Ref)
	}
	cases := []struct {
		input string
		want  ManualStart
	}{
		{manual("INSTANCE", "i-0123456789ABCDEF0", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "Instance", ResourceID: "i-0123456789abcdef0"}},
		{manual("accesskey", "AKIAIOSFODNN7EXAMPLE", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "AccessKey", ResourceID: "AKIAIOSFODNN7EXAMPLE"}},
		{manual("", "ASIAIOSFODNN7EXAMPLE", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "AccessKey", ResourceID: "ASIAIOSFODNN7EXAMPLE"}},
		{manual("principal", "arn:aws:iam::123456789012:role/Admin", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "Principal", ResourceID: "arn:aws:iam::123456789012:role/Admin", AccountID: "123456789012"}},
		{manual("", "arn:aws:iam::123456789012:user/ops/alice", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "Principal", ResourceID: "arn:aws:iam::123456789012:user/ops/alice", AccountID: "123456789012"}},
		{manual("s3bucket", "arn:aws:s3:::my-bucket", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "S3Bucket", ResourceID: "my-bucket"}},
		{manual("Bucket", "logs.example.com", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "S3Bucket", ResourceID: "logs.example.com"}},
		{manual("EKSCluster", "prod", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00.5"),
			ManualStart{ResourceType: "EKSCluster", ResourceID: "prod"}},
	}
	for _, c := range cases {
		in, err := Parse([]byte(c.input))
		if err != nil {
			t.Errorf("%s: %v", c.input, err)
			continue
		}
		c.want.Start = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		c.want.End = time.Date(2024, 5, 1, 18, 0, 0, 5e8, time.UTC)
		if in.Kind != KindManual || !reflect.DeepEqual(*in.Manual, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.input, *in.Manual, c.want)
		}
	}
}

// TestFromAPI decodes the CLI example into the SDK's types (encoding/json
// matches its PascalCase keys to the SDK's field names) and checks that
// FromAPI gives the finding Parse gives for the same text.
func TestFromAPI(t *testing.T) {
	raw := readFile(t, "aws-cli-examples/guardduty_get-findings_output.json")
	var out struct{ Findings []gdtypes.Finding }
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	got, warns, err := FromAPI(out.Findings[0])
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	in, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := in.Finding
	got.Raw, want.Raw = nil, nil
	want.Service.AdditionalInfo = nil
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("FromAPI\n got %s\nwant %s", g, w)
	}
	if _, _, err := FromAPI(gdtypes.Finding{}); err == nil {
		t.Error("empty SDK finding accepted")
	}
}

// FuzzParse checks that no input makes Parse panic or return an error that
// is not an InvalidInputError.
func FuzzParse(f *testing.F) {
	for _, s := range []string{minimal, envelope(minimal), `{"Findings":[{"Id":"a"}]}`, `{"findingId":"a","detectorId":"b"}`,
		manual("Instance", "i-0123456789abcdef0", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"), `{}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := Parse(raw)
		if err != nil {
			var inv *faults.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("error %v is %T", err, err)
			}
			return
		}
		n := 0
		for _, set := range []bool{in.Finding != nil, in.Ref != nil, in.Manual != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of Finding, Ref, Manual set for kind %s", n, in.Kind)
		}
	})
}

// TestFromAPIDetails converts the RDS login, Malware Protection and attack
// sequence parts of SDK findings as Parse decodes them from JSON.
func TestFromAPIDetails(t *testing.T) {
	// A derived get-findings output (shared/incident/testdata/SOURCES.md).
	raw, err := os.ReadFile("../incident/testdata/synthetic/rds_login_getfindings.json")
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Findings []gdtypes.Finding }
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	got, _, err := FromAPI(out.Findings[0])
	if err != nil {
		t.Fatal(err)
	}
	in, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := in.Finding
	got.Raw, want.Raw = nil, nil
	want.Service.AdditionalInfo, got.Service.AdditionalInfo = nil, nil // compared by TestFromAPI
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("FromAPI\n got %s\nwant %s", g, w)
	}
	if u := got.Resource.RdsDbUserDetails; u == nil || u.User != "reporting" ||
		got.Service.Action.RdsLoginAttemptAction.LoginAttributes[0].FailedLoginAttempts != 37 {
		t.Errorf("RDS login: %+v %+v", u, got.Service.Action.RdsLoginAttemptAction)
	}

	s := func(v string) *string { return &v }
	sdk := gdtypes.Finding{
		Id: s("f1"), Type: s("AttackSequence:IAM/CompromisedCredentials"), AccountId: s("123456789012"), Region: s("us-east-1"),
		CreatedAt: s("2025-02-25T20:40:06.721Z"), UpdatedAt: s("2025-02-25T20:40:06.721Z"), Severity: aws.Float64(9),
		Resource: &gdtypes.Resource{ResourceType: s("AttackSequence"),
			EbsVolumeDetails: &gdtypes.EbsVolumeDetails{ScannedVolumeDetails: []gdtypes.VolumeDetail{{VolumeArn: s("arn:aws:ec2:us-east-1:123456789012:volume/vol-1"), VolumeSizeInGB: aws.Int32(8)}}}},
		Service: &gdtypes.Service{
			Detection: &gdtypes.Detection{Sequence: &gdtypes.Sequence{
				Uid:       s("seq"),
				Resources: []gdtypes.ResourceV2{{Uid: s("AKIAEXAMPLE"), ResourceType: gdtypes.FindingResourceTypeAccessKey, Data: &gdtypes.ResourceData{AccessKey: &gdtypes.AccessKey{PrincipalId: s("AIDA"), UserName: s("john"), UserType: s("IAMUser")}}}},
				Actors:    []gdtypes.Actor{{Id: s("a1"), User: &gdtypes.User{Name: s("john"), Uid: s("AIDA"), CredentialUid: s("AKIAEXAMPLE"), Account: &gdtypes.Account{Uid: s("123456789012")}}, Session: &gdtypes.Session{Issuer: s("arn:aws:iam::123456789012:role/r"), MfaStatus: gdtypes.MfaStatusDisabled}}},
				Endpoints: []gdtypes.NetworkEndpoint{{Id: s("e1"), Ip: s("10.0.0.1"), Port: aws.Int32(443)}},
				Signals:   []gdtypes.Signal{{Uid: s("f0"), Type: gdtypes.SignalTypeFinding, ResourceUids: []string{"AKIAEXAMPLE"}}},
			}},
			EbsVolumeScanDetails: &gdtypes.EbsVolumeScanDetails{ScanId: s("scan"), TriggerFindingId: s("f0"), Sources: []string{"Amazon"}},
			MalwareScanDetails:   &gdtypes.MalwareScanDetails{Threats: []gdtypes.Threat{{Name: s("EICAR"), ItemPaths: []gdtypes.ItemPath{{NestedItemPath: s("a/b")}}}}},
		},
	}
	f, _, err := FromAPI(sdk)
	if err != nil {
		t.Fatal(err)
	}
	q := f.Sequence()
	if q == nil || q.UID != "seq" || q.Resources[0].ResourceType != "ACCESS_KEY" || q.Resources[0].Data.AccessKey.UserName != "john" ||
		q.Actors[0].User.CredentialUID != "AKIAEXAMPLE" || q.Actors[0].Session.Issuer != "arn:aws:iam::123456789012:role/r" ||
		q.Endpoints[0].IP != "10.0.0.1" || q.Endpoints[0].Port != 443 || q.Signals[0].Type != "FINDING" {
		t.Errorf("sequence %+v", q)
	}
	if v := f.Resource.EbsVolumeDetails; v == nil || v.ScannedVolumeDetails[0].VolumeSizeInGB != 8 ||
		f.Service.EbsVolumeScanDetails.TriggerFindingID != "f0" || f.Service.MalwareScanDetails.Threats[0].ItemPaths[0].NestedItemPath != "a/b" {
		t.Errorf("malware: %+v %+v %+v", f.Resource.EbsVolumeDetails, f.Service.EbsVolumeScanDetails, f.Service.MalwareScanDetails)
	}
	// The model's JSON of the converted finding parses back to the same
	// sequence.
	back, err := Parse(f.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Finding.Sequence(), q) {
		t.Errorf("round trip: %+v", back.Finding.Sequence())
	}
}
