package incident

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := ConfigFromEnv(env(nil))
	if err != nil || cfg != (Config{6 * time.Hour, time.Hour, 168 * time.Hour}) {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	cfg, err = ConfigFromEnv(env(map[string]string{EnvLookback: "90m", EnvLookahead: "0s", EnvMaxSpan: "48h"}))
	if err != nil || cfg != (Config{90 * time.Minute, 0, 48 * time.Hour}) {
		t.Fatalf("set: %+v %v", cfg, err)
	}
	for name, m := range map[string]map[string]string{
		EnvLookback:  {EnvLookback: "six hours"},
		EnvLookahead: {EnvLookahead: "-1h"},
		EnvMaxSpan:   {EnvMaxSpan: "0"},
	} {
		_, err := ConfigFromEnv(env(m))
		var ce *faults.ConfigurationError
		if !errors.As(err, &ce) || ce.Setting != name {
			t.Errorf("%v: err %v, want ConfigurationError on %s", m, err, name)
		}
	}
}

func TestCaseIDForFinding(t *testing.T) {
	for in, want := range map[string]string{
		// A real GuardDuty ID is kept as it is.
		"b4b01b60fc24a199139f8f5f490edd81": "gd-b4b01b60fc24a199139f8f5f490edd81",
		"1ab92989eaf0e742df4a014d5example": "gd-1ab92989eaf0e742df4a014d5example",
		// Lower-cased or replaced: the hash of the ID as given is appended.
		"ABC":         "gd-abc-b5d4045c",
		"abc":         "gd-abc",
		"Finding/ABC": "gd-finding-abc-" + "7bcf00df",
		"a:b":         "gd-a-b-" + "6783a31e",
		"a/b":         "gd-a-b-" + "c14cddc0",
		// Cut to 60 characters.
		strings.Repeat("a", 70): "gd-" + strings.Repeat("a", 60) + "-" + "6bd5e503",
	} {
		got := CaseIDForFinding(in)
		if got != want {
			t.Errorf("CaseIDForFinding(%q) = %q, want %q", in, got, want)
		}
		if got != CaseIDForFinding(in) {
			t.Errorf("%q: not deterministic", in)
		}
		if len(got) > 72 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("%q: %q is not [a-z0-9-]{,72}", in, got)
		}
	}
}

func TestCaseIDForManual(t *testing.T) {
	w := Window{Start: mustTime(t, "2024-05-01T10:00:00Z"), End: mustTime(t, "2024-05-01T18:00:00Z")}
	got := CaseIDForManual("Instance", "i-0123456789abcdef0", w)
	if got != "mn-"+"d3835c0dd84ac4bab784d432" {
		t.Errorf("got %q", got)
	}
	if CaseIDForManual("INSTANCE", "i-0123456789abcdef0", w) != got {
		t.Error("type case changes the case ID")
	}
	w2 := Window{Start: w.Start, End: w.End.Add(time.Second)}
	if CaseIDForManual("Instance", "i-0123456789abcdef0", w2) == got {
		t.Error("another window gives the same case ID")
	}
	// The same instant in another zone is the same window.
	loc := time.FixedZone("x", 2*3600)
	if CaseIDForManual("instance", "i-0123456789abcdef0", Window{w.Start.In(loc), w.End.In(loc)}) != got {
		t.Error("zone changes the case ID")
	}
}

func TestRunIDFor(t *testing.T) {
	for in, want := range map[string]string{
		"2017-12-08T15:32:49.865Z":       "r20171208T153249865Z",
		"2017-12-08T15:32:49Z":           "r20171208T153249000Z",
		"2017-12-08T17:32:49.1+02:00":    "r20171208T153249100Z",
		"2025-02-25T20:40:06.123456789Z": "r20250225T204006123Z",
	} {
		if got := RunIDFor(mustTime(t, in)); got != want {
			t.Errorf("RunIDFor(%s) = %q, want %q", in, got, want)
		}
	}
	if !(RunIDFor(mustTime(t, "2017-12-08T15:32:49.865Z")) < RunIDFor(mustTime(t, "2017-12-09T01:00:00Z"))) {
		t.Error("run IDs do not sort by time")
	}
}

func TestWindowFor(t *testing.T) {
	cfg := DefaultConfig()
	first, last := mustTime(t, "2024-05-01T10:00:00Z"), mustTime(t, "2024-05-01T12:00:00Z")
	cases := []struct {
		name        string
		first, last time.Time
		cfg         Config
		start, end  string
		warn        bool
	}{
		{"lookback and lookahead", first, last, cfg, "2024-05-01T04:00:00Z", "2024-05-01T13:00:00Z", false},
		{"swapped", last, first, cfg, "2024-05-01T04:00:00Z", "2024-05-01T13:00:00Z", false},
		{"zero first", time.Time{}, last, cfg, "2024-05-01T06:00:00Z", "2024-05-01T13:00:00Z", false},
		{"no padding", first, last, Config{MaxSpan: time.Hour * 24}, "2024-05-01T10:00:00Z", "2024-05-01T12:00:00Z", false},
		{"exactly max span", first, first.Add(161 * time.Hour), cfg, "2024-05-01T04:00:00Z", "2024-05-08T04:00:00Z", false},
		{"capped keeps the end", first.Add(-30 * 24 * time.Hour), last, cfg, "2024-04-24T13:00:00Z", "2024-05-01T13:00:00Z", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, warns := WindowFor(c.first, c.last, c.cfg)
			if got := w.Start.Format(time.RFC3339); got != c.start {
				t.Errorf("start %s, want %s", got, c.start)
			}
			if got := w.End.Format(time.RFC3339); got != c.end {
				t.Errorf("end %s, want %s", got, c.end)
			}
			if (len(warns) > 0) != c.warn {
				t.Errorf("warnings %v, want some: %v", warns, c.warn)
			}
			if c.warn && !strings.Contains(warns[0], "capped") {
				t.Errorf("warning %q does not say it was capped", warns[0])
			}
			if w.Start.Location() != time.UTC || w.End.Location() != time.UTC {
				t.Error("window not in UTC")
			}
		})
	}
	w, warns := ManualWindow(first, first.Add(200*time.Hour), cfg)
	if len(warns) != 1 || !w.End.Equal(first.Add(200*time.Hour)) || w.End.Sub(w.Start) != cfg.MaxSpan {
		t.Errorf("manual cap: %v %v", w, warns)
	}
}

func TestPlanFor(t *testing.T) {
	tests := []struct {
		typ  string
		want []string // collectors after guardduty
		warn bool
	}{
		{typ: "Instance", want: []string{"ec2", "cloudtrail", "vpcflow", "cloudwatch", "inspector"}},
		{typ: "INSTANCE", want: []string{"ec2", "cloudtrail", "vpcflow", "cloudwatch", "inspector"}},
		{typ: "EC2_INSTANCE", want: []string{"ec2", "cloudtrail", "vpcflow", "cloudwatch", "inspector"}},
		{typ: "AccessKey", want: []string{"cloudtrail", "iam"}},
		{typ: "ACCESS_KEY", want: []string{"cloudtrail", "iam"}},
		{typ: "principal", want: []string{"cloudtrail", "iam"}},
		{typ: "S3Bucket", want: []string{"cloudtrail", "s3access"}},
		{typ: "S3Object", want: []string{"cloudtrail", "s3access"}},
		{typ: "Lambda", want: []string{"cloudtrail", "cloudwatch", "inspector"}},
		{typ: "EKSCluster", want: []string{"cloudtrail", "cloudwatch"}},
		{typ: "ECSCluster", want: []string{"cloudtrail", "cloudwatch"}},
		{typ: "Container", want: []string{"cloudtrail", "cloudwatch"}},
		{typ: "RDSDBInstance", want: []string{"cloudtrail", "cloudwatch"}},
		{typ: "EBSVolume", want: []string{"cloudtrail"}},
		{typ: "AttackSequence", want: []string{"cloudtrail"}},
		{typ: "Spaceship", want: []string{"cloudtrail"}, warn: true},
		{typ: "", want: []string{"cloudtrail"}, warn: true},
	}
	for _, tc := range tests {
		plan, warns := PlanFor(tc.typ, "r")
		if len(plan) == 0 || plan[0] != (PlanItem{Collector: CollectorGuardDuty, Reason: "r"}) {
			t.Errorf("%q: plan %v does not start with the finding", tc.typ, plan)
			continue
		}
		var got []string
		for _, p := range plan[1:] {
			got = append(got, p.Collector)
			if p.Reason == "" {
				t.Errorf("%q: %s has no reason", tc.typ, p.Collector)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: collectors %q, want %q", tc.typ, got, tc.want)
		}
		if tc.warn != (len(warns) == 1 && strings.Contains(warns[0], "generic plan")) {
			t.Errorf("%q: warnings %q", tc.typ, warns)
		}
	}
}

const corpus = "../finding/testdata/corpus"

func parseFile(t *testing.T, path string) *finding.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, path))
	if err != nil {
		t.Fatal(err)
	}
	in, err := finding.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return in.Finding
}

func TestScopeFromCorpus(t *testing.T) {
	cases := []struct {
		path string
		want Scope
	}{
		{"aws-samples-guardduty-automated-response/guardduty_ec2_event.json", Scope{
			AccountID: "123456789012", Region: "us-east-1",
			Instances:  []string{"i-05746eb48123455e0"},
			PrivateIPs: []string{"0.0.0.0"}, PublicIPs: []string{"11.111.111.1"},
			VPCs: []string{"vpc-34865123"}, Subnets: []string{"subnet-d58b7123"},
			SecurityGroups: []string{"sg-9918a123"},
			Images:         []string{"ami-4836a123"},
			RemoteIPs:      []string{"0.0.0.0"},
		}},
		{"aws-cli-examples/guardduty_get-findings_output.json", Scope{
			AccountID: "111122223333", Region: "us-east-1",
			PrincipalIDs: []string{"AIDACKCEVSQ6C2EXAMPLE"}, AccessKeys: []string{"ASIASZ4SI7REEEXAMPLE"},
			UserNames: []string{"testuser"}, RemoteIPs: []string{"52.94.36.7"},
		}},
		{"aws-samples-guardduty-automated-response/guardduty_s3_event.json", Scope{
			AccountID: "123456789012", Region: "us-east-1",
			Instances:  []string{"i-99999999"},
			ENIs:       []string{"eni-bfcffe88"},
			PrivateIPs: []string{"10.0.0.1"}, PublicIPs: []string{"198.51.100.0"},
			VPCs: []string{"GeneratedFindingVPCId"}, Subnets: []string{"GeneratedFindingSubnetId"},
			SecurityGroups: []string{"GeneratedFindingSecurityId"},
			Principals:     []string{"arn:aws:iam::755484374681:example/instance/profile"},
			PrincipalIDs:   []string{"GeneratedFindingPrincipalId"}, AccessKeys: []string{"GeneratedFindingAccessKeyId"},
			UserNames: []string{"GeneratedFindingUserName"},
			// The bucket of s3BucketDetails, and awsApiCallAction.affectedResources'.
			Buckets:   []string{"GeneratedFindingS3Bucket", "bucketName"},
			Images:    []string{"ami-99999999"},
			RemoteIPs: []string{"198.51.100.0"},
		}},
		{"cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json", Scope{
			AccountID: "883606788610", Region: "us-east-1",
			Instances: []string{"i-99999999"}, Domains: []string{"example.com"},
		}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			got := ScopeOf(parseFile(t, c.path))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("scope\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestFromFinding(t *testing.T) {
	now := mustTime(t, "2026-01-01T00:00:00Z")
	f := parseFile(t, "cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json")
	inc, err := FromFinding(f, DefaultConfig(), now)
	if err != nil {
		t.Fatal(err)
	}
	if inc.CaseID != "gd-b4b01b60fc24a199139f8f5f490edd81" || inc.RunID != "r20171208T153249865Z" || inc.Manual {
		t.Errorf("ids: %s %s", inc.CaseID, inc.RunID)
	}
	want := FindingSummary{ID: "b4b01b60fc24a199139f8f5f490edd81", DetectorID: "c0b018e3eb2130078632d999e41d4f02",
		Type: "Backdoor:EC2/C&CActivity.B!DNS", Title: "Command and Control server domain name queried by EC2 instance i-99999999.",
		Severity: 5, AccountID: "883606788610", Region: "us-east-1", ResourceType: "Instance",
		CreatedAt: mustTime(t, "2017-12-08T15:32:49.865Z"), UpdatedAt: mustTime(t, "2017-12-08T15:32:49.865Z"),
		FirstSeen: mustTime(t, "2017-12-08T15:32:49Z"), LastSeen: mustTime(t, "2017-12-08T15:32:49Z")}
	if !reflect.DeepEqual(*inc.Finding, want) {
		t.Errorf("summary\n got %+v\nwant %+v", *inc.Finding, want)
	}
	if inc.Window.Start != mustTime(t, "2017-12-08T09:32:49Z") || inc.Window.End != mustTime(t, "2017-12-08T16:32:49Z") {
		t.Errorf("window %+v", inc.Window)
	}
	if len(inc.Plan) != 6 || inc.Plan[0].Collector != CollectorGuardDuty || inc.Plan[0].Reason == "" || len(inc.Warnings) != 0 {
		t.Errorf("plan %+v warnings %v", inc.Plan, inc.Warnings)
	}
	if !inc.OpenedAt.Equal(now) {
		t.Errorf("openedAt %v", inc.OpenedAt)
	}
	// A newer updatedAt: same case, a later run.
	f2 := *f
	f2.UpdatedAt = finding.NewTime(f.UpdatedAt.Add(time.Hour))
	inc2, _ := FromFinding(&f2, DefaultConfig(), now)
	if inc2.CaseID != inc.CaseID || !(inc2.RunID > inc.RunID) {
		t.Errorf("newer version: %s %s", inc2.CaseID, inc2.RunID)
	}
	// Unknown resource type: generic plan and a warning, not an error.
	f3 := *f
	f3.Resource = &finding.Resource{ResourceType: "Spaceship"}
	inc3, err := FromFinding(&f3, DefaultConfig(), now)
	if err != nil || len(inc3.Warnings) != 1 || len(inc3.Plan) != 2 || inc3.Plan[1].Collector != CollectorCloudTrail {
		t.Errorf("unknown type: %v %+v", err, inc3)
	}
	if _, err := FromFinding(nil, DefaultConfig(), now); err == nil {
		t.Error("nil finding accepted")
	}
}

// TestEveryCorpusFinding builds an incident from every finding the corpus
// golden file accepts.
func TestEveryCorpusFinding(t *testing.T) {
	for _, p := range []string{
		"cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json",
		"cloud-custodian/guardduty_eventbridge_iam_toripcaller.json",
		"aws-samples-guardduty-automated-response/guardduty_ec2_event.json",
		"aws-samples-guardduty-automated-response/guardduty_iam_event.json",
		"aws-samples-guardduty-automated-response/guardduty_s3_event.json",
		"aws-cli-examples/guardduty_get-findings_output.json",
	} {
		f := parseFile(t, p)
		inc, err := FromFinding(f, DefaultConfig(), time.Now())
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !strings.HasPrefix(inc.CaseID, "gd-") || !inc.Window.Contains(inc.Finding.FirstSeen) || !inc.Window.Contains(inc.Finding.LastSeen) {
			t.Errorf("%s: %+v", p, inc)
		}
		if len(inc.Warnings) != 0 {
			t.Errorf("%s: warnings %v", p, inc.Warnings)
		}
	}
}

func TestFromManual(t *testing.T) {
	now := mustTime(t, "2026-01-01T00:00:00Z")
	parse := func(s string) *finding.ManualStart {
		t.Helper()
		in, err := finding.Parse([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if in.Kind != finding.KindManual {
			t.Fatalf("%s: kind %s", s, in.Kind)
		}
		return in.Manual
	}
	m := parse(`{"resource":{"type":"instance","id":"i-0123456789ABCDEF0","accountId":"123456789012","region":"eu-west-1"},
		"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01 18:00:00"}}`)
	inc, err := FromManual(m, DefaultConfig(), now)
	if err != nil {
		t.Fatal(err)
	}
	if inc.CaseID != "mn-d3835c0dd84ac4bab784d432" || inc.RunID != "r20240501T180000000Z" || !inc.Manual || inc.Finding != nil {
		t.Errorf("%+v", inc)
	}
	if !reflect.DeepEqual(inc.Scope, Scope{AccountID: "123456789012", Region: "eu-west-1", Instances: []string{"i-0123456789abcdef0"}}) {
		t.Errorf("scope %+v", inc.Scope)
	}
	if inc.Window != (Window{mustTime(t, "2024-05-01T10:00:00Z"), mustTime(t, "2024-05-01T18:00:00Z")}) {
		t.Errorf("window %+v", inc.Window)
	}
	// The same request written differently: same case, same run.
	again, _ := FromManual(parse(`{"resource":{"type":"INSTANCE","id":"i-0123456789abcdef0"},
		"window":{"start":"2024-05-01T12:00:00+02:00","end":"2024-05-01T18:00:00.000Z"}}`), DefaultConfig(), now)
	if again.CaseID != inc.CaseID || again.RunID != inc.RunID {
		t.Errorf("same request: %s/%s vs %s/%s", again.CaseID, again.RunID, inc.CaseID, inc.RunID)
	}

	principal, _ := FromManual(parse(`{"resource":{"type":"Principal","id":"arn:aws:sts::123456789012:assumed-role/Admin/session-1"},
		"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`), DefaultConfig(), now)
	if !reflect.DeepEqual(principal.Scope, Scope{AccountID: "123456789012",
		Principals: []string{"arn:aws:sts::123456789012:assumed-role/Admin/session-1"}, RoleNames: []string{"Admin"}}) {
		t.Errorf("principal scope %+v", principal.Scope)
	}
	key, _ := FromManual(parse(`{"resource":{"id":"AKIAIOSFODNN7EXAMPLE"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`), DefaultConfig(), now)
	if !reflect.DeepEqual(key.Scope.AccessKeys, []string{"AKIAIOSFODNN7EXAMPLE"}) {
		t.Errorf("key scope %+v", key.Scope)
	}
	bucket, _ := FromManual(parse(`{"resource":{"type":"s3bucket","id":"arn:aws:s3:::my-bucket.logs"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`), DefaultConfig(), now)
	if !reflect.DeepEqual(bucket.Scope.Buckets, []string{"my-bucket.logs"}) {
		t.Errorf("bucket scope %+v", bucket.Scope)
	}

	// Unknown type: generic plan and a warning.
	other, err := FromManual(parse(`{"resource":{"type":"SageMakerNotebook","id":"my-notebook"},"window":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}}`), DefaultConfig(), now)
	if err != nil || len(other.Warnings) != 1 || !strings.Contains(other.Warnings[0], "generic plan") ||
		!reflect.DeepEqual(other.Scope.Other, []string{"SageMakerNotebook:my-notebook"}) {
		t.Errorf("unknown type: %v %+v", err, other)
	}
	// A long window is capped, keeping its end, with a warning.
	long, _ := FromManual(parse(`{"resource":{"type":"Instance","id":"i-0123456789abcdef0"},"window":{"start":"2024-01-01T00:00:00Z","end":"2024-05-01T00:00:00Z"}}`), DefaultConfig(), now)
	if long.Window.End != mustTime(t, "2024-05-01T00:00:00Z") || long.Window.Start != mustTime(t, "2024-04-24T00:00:00Z") || len(long.Warnings) != 1 {
		t.Errorf("long window: %+v %v", long.Window, long.Warnings)
	}
	if _, err := FromManual(nil, DefaultConfig(), now); err == nil {
		t.Error("nil manual start accepted")
	}
}

func TestWithScope(t *testing.T) {
	tests := []struct {
		name  string
		plan  []string
		scope Scope
		want  []string
	}{
		{name: "an instance finding naming a bucket", plan: []string{"guardduty", "ec2", "cloudtrail", "vpcflow", "cloudwatch", "inspector"},
			scope: Scope{Instances: []string{"i-1"}, Buckets: []string{"b"}}, want: []string{"guardduty", "ec2", "cloudtrail", "vpcflow", "cloudwatch", "inspector", "s3access"}},
		{name: "a key finding naming an instance", plan: []string{"guardduty", "cloudtrail", "iam"},
			scope: Scope{Instances: []string{"i-1"}, AccessKeys: []string{"AKIA"}}, want: []string{"guardduty", "cloudtrail", "iam", "ec2", "vpcflow", "inspector"}},
		{name: "nothing more in scope", plan: []string{"guardduty", "cloudtrail", "iam"},
			scope: Scope{AccessKeys: []string{"AKIA"}}, want: []string{"guardduty", "cloudtrail", "iam"}},
		{name: "a function", plan: []string{"guardduty", "cloudtrail"},
			scope: Scope{Functions: []string{"f"}}, want: []string{"guardduty", "cloudtrail", "cloudwatch", "inspector"}},
		{name: "a bucket finding with a key: iam", plan: []string{"guardduty", "cloudtrail", "s3access"},
			scope: Scope{Buckets: []string{"b"}, AccessKeys: []string{"AKIA"}, PrincipalIDs: []string{"AIDA"}}, want: []string{"guardduty", "cloudtrail", "s3access", "iam"}},
		{name: "a table comes first of what scope adds", plan: []string{"guardduty", "cloudtrail", "iam"},
			scope: Scope{Tables: []string{"orders"}, Buckets: []string{"b"}, RoleNames: []string{"r"}}, want: []string{"guardduty", "cloudtrail", "iam", "dynamodb", "s3access"}},
		{name: "a container image: inspector", plan: []string{"guardduty", "cloudtrail", "cloudwatch"},
			scope: Scope{Clusters: []string{"c"}, Images: []string{"repo/img:1"}}, want: []string{"guardduty", "cloudtrail", "cloudwatch", "inspector"}},
		{name: "a user name alone: iam", plan: []string{"guardduty", "cloudtrail"},
			scope: Scope{UserNames: []string{"u"}}, want: []string{"guardduty", "cloudtrail", "iam"}},
		{name: "an ENI alone: vpcflow only", plan: []string{"guardduty", "cloudtrail"},
			scope: Scope{ENIs: []string{"eni-1"}}, want: []string{"guardduty", "cloudtrail", "vpcflow"}},
		{name: "what adds nothing", plan: []string{"guardduty", "cloudtrail"},
			scope: Scope{RemoteIPs: []string{"192.0.2.1"}, Domains: []string{"example.com"}, DBUsers: []string{"u"}, KubernetesUsers: []string{"k"}, Volumes: []string{"vol-1"}, Objects: []string{"b/k"}, Findings: []string{"f"}, Other: []string{"X:y"}},
			want:  []string{"guardduty", "cloudtrail"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var plan []PlanItem
			for _, c := range tc.plan {
				plan = append(plan, PlanItem{Collector: c})
			}
			var got []string
			for _, p := range WithScope(plan, tc.scope) {
				got = append(got, p.Collector)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
