package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// demoData is the report of the demo case (testdata/SOURCES.md).
func demoData(t testing.TB) Data {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := evidence.ParseManifest(raw)
	if err != nil {
		t.Fatalf("testdata/manifest.json: %v", err)
	}
	raw, err = os.ReadFile(filepath.Join("testdata", "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	if err := json.Unmarshal(raw, &evs); err != nil {
		t.Fatalf("testdata/events.json: %v", err)
	}
	return Data{
		Manifest: m,
		Finding: Finding{
			Title:        "Canary:EC2/Stateless.IntegTest on instance i-0b5a2c3d4e5f60718",
			ResourceType: "Instance",
			ResourceID:   "i-0b5a2c3d4e5f60718",
			FirstSeen:    time.Date(2024, 8, 2, 8, 22, 39, 0, time.UTC),
			LastSeen:     time.Date(2024, 8, 2, 8, 23, 56, 0, time.UTC),
			RemoteIPs:    []string{"0.0.0.0", "18.236.253.47"},
		},
		Scope: []ScopeEntry{
			{Kind: "instance", IDs: []string{"i-0b5a2c3d4e5f60718"}},
			{Kind: "networkInterface", IDs: []string{"eni-0a1b2c3d4e5f60718"}},
			{Kind: "principal", IDs: []string{"arn:aws:sts::123456789012:assumed-role/web-role/i-0b5a2c3d4e5f60718"}},
		},
		Events: evs,
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		edit   func(*Data)
	}{
		{"demo.md", Markdown, nil},
		{"demo.html", HTML, nil},
		// The selection a caller passes at scale: a few events, the
		// counts of the whole timeline, small caps.
		{"capped.md", Markdown, func(d *Data) {
			d.Counts = &Counts{Events: 2_000_000, Untimed: 3,
				ByAction: map[string]int64{"ssm:DescribeInstanceInformation": 1_500_000, "sts:GetCallerIdentity": 400_000, "ACCEPT": 99_997, "REJECT": 3},
				ByActor:  map[string]int64{"arn:aws:iam::123456789012:user/alice": 1_500_000, "eni-0a1b2c3d4e5f60718": 100_000, "x": 400_000}}
			d.MaxKeyEvents, d.MaxOtherEvents, d.MaxCounts = 3, 2, 2
		}},
		// A case that followed the attacker: the chain and the entities.
		{"pivot.md", Markdown, pivotData},
		{"pivot.html", HTML, pivotData},
		// A manual start: no finding in the manifest, nothing in the scope.
		{"manual.html", HTML, func(d *Data) {
			d.Manifest.Finding = nil
			d.Manifest.Manual = true
			d.Finding = Finding{}
			d.Scope = nil
			d.Events = nil
			d.Manifest.Gaps, d.Manifest.Warnings, d.Manifest.Snapshots = nil, nil, nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := demoData(t)
			if c.edit != nil {
				c.edit(&d)
			}
			var buf bytes.Buffer
			if err := Write(&buf, d, c.format); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", c.name)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the output (go test -update rewrites it); got:\n%s", golden, buf.String())
			}
		})
	}
}

// The hostile event's values reach the page as text, never as markup.
func TestEscaping(t *testing.T) {
	d := demoData(t)
	var h, m bytes.Buffer
	if err := Write(&h, d, HTML); err != nil {
		t.Fatal(err)
	}
	if err := Write(&m, d, Markdown); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img src=x", "</script>"} {
		if strings.Contains(h.String(), bad) {
			t.Errorf("report.html holds %q unescaped", bad)
		}
		if strings.Contains(m.String(), bad) {
			t.Errorf("report.md holds %q unescaped", bad)
		}
	}
	if !strings.Contains(h.String(), "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("report.html lost the hostile message's text")
	}
	for _, tag := range []string{"<script", "<link", "<img", "<iframe", "<object", "<a ", "url("} {
		if strings.Contains(h.String(), tag) {
			t.Errorf("report.html must be self-contained (no script, no external asset): it holds %q", tag)
		}
	}
	for _, line := range strings.Split(m.String(), "\n") {
		if strings.Contains(line, "not bold") && !strings.Contains(line, `\| \*not bold\* \[link\](http://evil.example/) \`+"`code\\`") {
			t.Errorf("markdown row not escaped: %s", line)
		}
	}
}

func TestClassify(t *testing.T) {
	scope := []string{"i-0b5a2c3d4e5f60718", "AKIAIOSFODNN7EXAMPLE"}
	ips := []string{"18.236.253.47"}
	cases := []struct {
		e    Event
		want string
	}{
		{Event{Source: "cloudtrail", Action: "ssm:DescribeInstanceInformation", Outcome: "Success"}, ""},
		{Event{Source: "cloudtrail", Action: "ssm:SendCommand", Target: "i-0b5a2c3d4e5f60718", Outcome: "success"}, "scope,write"},
		{Event{Source: "cloudtrail", Action: "s3:GetObject", Outcome: "AccessDenied"}, "denied"},
		{Event{Source: "cloudtrail", Action: "signin:ConsoleLogin", Outcome: "Failure"}, "denied,login"},
		{Event{Source: "cloudtrail", Action: "iam:CreateAccessKey", Actor: "arn:aws:iam::1:user/AKIAIOSFODNN7EXAMPLE"}, "scope,write,credentials"},
		{Event{Source: "cloudtrail", Action: "sts:GetSessionToken"}, "credentials"},
		{Event{Source: "cloudtrail", Action: "sts:AssumeRoleWithWebIdentity"}, "write,credentials"},
		{Event{Source: "cloudtrail", Action: "iam:CreateLoginProfile"}, "write,credentials"},
		{Event{Source: "cloudtrail", Action: "sts:GetFederationToken"}, "credentials"},
		{Event{Source: "vpcflow", Action: "flow", Target: "18.236.253.47:443/tcp", SrcIP: "172.31.16.21", Outcome: "ACCEPT"}, "remote-ip"},
		{Event{Source: "vpcflow", Action: "flow", Target: "172.31.9.12:3389/tcp", SrcIP: "172.31.9.69", Outcome: "REJECT"}, "denied"},
		{Event{Source: "vpcflow", Action: "flow", Message: "eni-0a1b2c3d4e5f60718 1.2.3.4:1 -> 5.6.7.8:2", Outcome: "ACCEPT"}, ""},
		{Event{Source: "vpcflow", Action: "flow", Message: "i-0b5a2c3d4e5f60718", Outcome: "REJECT NODATA"}, "scope,denied"},
		{Event{Source: "s3access", Action: "REST.GET.OBJECT", Outcome: "200"}, ""},
		{Event{Source: "s3access", Action: "REST.DELETE.OBJECT", Outcome: "204"}, "write"},
		{Event{Source: "s3access", Action: "REST.GET.OBJECT", Outcome: "403 AccessDenied"}, "denied"},
		{Event{Source: "dynamodb", Action: "REMOVE"}, "write"},
		{Event{Source: "cloudwatch", Action: "log", Message: "PutObject"}, ""},
	}
	for _, c := range cases {
		if got := strings.Join(Classify(c.e, scope, ips), ","); got != c.want {
			t.Errorf("Classify(%+v) = %q, want %q", c.e, got, c.want)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	if err := Write(&bytes.Buffer{}, Data{}, HTML); err == nil {
		t.Error("no manifest: want an error")
	}
	if err := Write(&bytes.Buffer{}, demoData(t), "pdf"); err == nil {
		t.Error("unknown format: want an error")
	}
}

// pivotData adds a pivot chain (the scenario of cmd/custody/scenarios/pivot)
// and an entity view to the demo's data.
func pivotData(d *Data) {
	at := func(m int) time.Time { return time.Date(2024, 8, 1, 13, m, 0, 0, time.UTC) }
	d.Chain = []ChainLink{
		{Identity: "ASIAPIVOTATTACKER001", Kind: "accessKey", Depth: 1, Path: "AKIAPIVOTDANA0000001 → AssumeRole admin-role → ASIAPIVOTATTACKER001",
			EventID: "a0000000-0000-4000-8000-000000000002", EventTime: at(40), Region: "us-east-1"},
		{Identity: "AKIAPIVOTBOBNEWKEY01", Kind: "accessKey", Depth: 2, Path: "AKIAPIVOTDANA0000001 → AssumeRole admin-role → ASIAPIVOTATTACKER001 → CreateAccessKey → AKIAPIVOTBOBNEWKEY01",
			EventID: "a0000000-0000-4000-8000-000000000004", EventTime: at(42), Region: "us-east-1"},
		{Identity: "user hop4-user", Kind: "user", Depth: 4, Path: "AKIAPIVOTBOBNEWKEY01 → CreateUser hop4-user → user hop4-user",
			EventID: "a0000000-0000-4000-8000-000000000009", EventTime: at(50), Region: "us-east-1", Lead: true, Reason: "deeper than the depth bound (3): custody:pivotDepth"},
	}
	d.Entities = []EntityRow{
		{Kind: "accessKey", Value: "AKIAPIVOTBOBNEWKEY01", FirstSeen: time.Date(2024, 8, 1, 14, 0, 0, 0, time.UTC), LastSeen: time.Date(2024, 8, 1, 14, 1, 0, 0, time.UTC), Events: 2, Sources: []string{"cloudtrail"}, New: "yes"},
		{Kind: "address", Value: "203.0.113.77", FirstSeen: at(39), LastSeen: at(40), Events: 2, Sources: []string{"cloudtrail", "vpcflow"}, New: "no"},
		{Kind: "userAgent", Value: "aws-cli/2.15.0 | Python/3.11.6", FirstSeen: at(39), LastSeen: at(42), Events: 4, Sources: []string{"cloudtrail"}},
	}
}
