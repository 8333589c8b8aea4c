package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	}
	if !strings.Contains(h.String(), "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("report.html lost the hostile message's text")
	}
	for _, tag := range []string{"<script", "<link", "<img", "<iframe", "<object", "<a ", "@import"} {
		if strings.Contains(h.String(), tag) {
			t.Errorf("report.html must be self-contained (no script, no external asset): it holds %q", tag)
		}
	}
	// The chart's hatchings are the page's own (url(#id)); nothing else.
	for _, m := range regexp.MustCompile(`url\(([^)]*)\)`).FindAllStringSubmatch(h.String(), -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("report.html refers to %s: not self-contained", m[0])
		}
	}
	if !strings.Contains(h.String(), `<meta http-equiv="Content-Security-Policy" content="default-src 'none';`) {
		t.Error("report.html has no Content-Security-Policy forbidding script and fetches")
	}
	md := m.String()
	if e := regexp.MustCompile(`&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);`).FindString(md); e != "" {
		t.Errorf("report.md holds the HTML entity %s: Markdown escapes with backslashes", e)
	}
	if i := rawAngle(md); i >= 0 {
		t.Errorf("report.md holds a bare < (inline HTML) outside a code span: …%s…", md[max(0, i-40):min(len(md), i+40)])
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.Contains(line, "not bold") && !strings.Contains(line, `\<script\>alert("x")\</script\> \| \*not bold\* \[link\](http://evil.example/) \`+"`code\\`") {
			t.Errorf("markdown row not escaped: %s", line)
		}
	}
}

// rawAngle is the index of the first < of md that is neither
// backslash-escaped nor inside a code span, or -1.
func rawAngle(md string) int {
	inCode := false
	for i := 0; i < len(md); i++ {
		switch c := md[i]; {
		case c == '\\' && !inCode:
			i++
		case c == '`':
			inCode = !inCode
		case c == '\n':
			inCode = false // the report's code spans never cross a line
		case c == '<' && !inCode:
			return i
		}
	}
	return -1
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

// Alike events are one row with their count and first and last time;
// rows are in time order whatever the input's.
func TestCollapse(t *testing.T) {
	ev := func(at, action, actor, outcome string) eventRow {
		return eventRow{Event: Event{Datetime: at, Source: "cloudtrail", Action: action, Actor: actor, Outcome: outcome}, Tags: []string{TagWrite}}
	}
	cases := []struct {
		name string
		in   []eventRow
		want []string // action count first last
	}{
		{"one", []eventRow{ev("2024-08-01T00:00:01Z", "iam:CreateUser", "a", "Success")}, []string{"iam:CreateUser 1 2024-08-01T00:00:01Z 2024-08-01T00:00:01Z"}},
		{"repeats out of order", []eventRow{
			ev("2024-08-01T00:00:05Z", "iam:CreateUser", "a", "Success"),
			ev("2024-08-01T00:00:01Z", "iam:CreateUser", "a", "Success"),
			ev("2024-08-01T00:00:09Z", "iam:CreateUser", "a", "Success"),
		}, []string{"iam:CreateUser 3 2024-08-01T00:00:01Z 2024-08-01T00:00:09Z"}},
		{"another outcome, another actor: other rows", []eventRow{
			ev("2024-08-01T00:00:01Z", "iam:CreateUser", "a", "Success"),
			ev("2024-08-01T00:00:02Z", "iam:CreateUser", "a", "AccessDenied"),
			ev("2024-08-01T00:00:03Z", "iam:CreateUser", "b", "Success"),
			ev("2024-08-01T00:00:04Z", "iam:CreateUser", "a", "Success"),
		}, []string{"iam:CreateUser 2 2024-08-01T00:00:01Z 2024-08-01T00:00:04Z", "iam:CreateUser 1 2024-08-01T00:00:02Z 2024-08-01T00:00:02Z", "iam:CreateUser 1 2024-08-01T00:00:03Z 2024-08-01T00:00:03Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, g := range collapse(c.in) {
				got = append(got, fmt.Sprintf("%s %d %s %s", g.Action, g.Count, g.First, g.Last))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// The key table is in time order even when the cap keeps the scope's
// events over earlier ones outside it.
func TestKeyEventsInTimeOrder(t *testing.T) {
	d := demoData(t)
	d.MaxKeyEvents = 3
	tv := timeline(d, d.Finding)
	if len(tv.Key) != 3 || tv.KeyMore == 0 {
		t.Fatalf("%d key rows, %d left out: want the cap to bite", len(tv.Key), tv.KeyMore)
	}
	for i := 1; i < len(tv.Key); i++ {
		if tv.Key[i].t.Before(tv.Key[i-1].t) {
			t.Errorf("row %d (%s) before row %d (%s)", i, tv.Key[i].First, i-1, tv.Key[i-1].First)
		}
	}
	for _, g := range tv.Key {
		if priority(g.Tags) != 0 {
			t.Errorf("the cap kept %s %v over the scope's writes and denials", g.Action, g.Tags)
		}
	}
}

func TestMapping(t *testing.T) {
	cases := []struct {
		e            Event
		tactic, tech string
		known        bool
	}{
		{Event{Source: "guardduty", Action: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"}, "", "", false},
		{Event{Source: "guardduty", Action: "Discovery:S3/AnomalousBehavior"}, "TA0007", "", true},
		{Event{Source: "guardduty", Action: "Exfiltration:S3/AnomalousBehavior"}, "TA0010", "", true},
		{Event{Source: "guardduty", Action: "Recon:EC2/PortProbeUnprotectedPort"}, "TA0043", "", true},
		{Event{Source: "guardduty", Action: "CryptoCurrency:EC2/BitcoinTool.B!DNS"}, "", "", false},
		{Event{Source: "cloudtrail", Action: "ssm:SendCommand"}, "TA0002", "aws.execution.ssm-send-command", true},
		{Event{Source: "cloudtrail", Action: "cloudtrail:StopLogging"}, "TA0005", "aws.defense-evasion.cloudtrail-stop", true},
		{Event{Source: "cloudtrail", Action: "iam:CreateAccessKey"}, "TA0003", "aws.persistence.iam-backdoor-user", true},
		{Event{Source: "cloudtrail", Action: "ec2:DescribeInstances"}, "", "", false},
		{Event{Source: "vpcflow", Action: "flow"}, "", "", false},
	}
	for _, c := range cases {
		m, ok := eventMapping(c.e)
		if ok != c.known || m.Tactic.ID != c.tactic || m.Technique != c.tech {
			t.Errorf("%s %s: got %v %+v, want %v %s %s", c.e.Source, c.e.Action, ok, m, c.known, c.tactic, c.tech)
		}
		if ok && !strings.HasPrefix(m.Technique, "aws.") && m.Technique != "" {
			t.Errorf("%s: technique %q is not a Stratus Red Team ID", c.e.Action, m.Technique)
		}
	}
	// Every Stratus ID's tactic is the one its ID is filed under.
	for name, tech := range eventTechniques {
		word := strings.Split(tech.ID, ".")[1]
		if want := strings.ToLower(strings.ReplaceAll(tech.Tactic.Name, " ", "-")); word != want {
			t.Errorf("%s: %s is filed under %s, mapped to %s", name, tech.ID, word, tech.Tactic.Name)
		}
	}
}

func TestNextSteps(t *testing.T) {
	cases := []struct{ typ, want string }{
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*"},
		{"UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B", "UnauthorizedAccess:IAMUser/*"},
		{"Backdoor:EC2/C&CActivity.B!DNS", "Backdoor:EC2/*"},
		{"CryptoCurrency:EC2/BitcoinTool.B!DNS", "CryptoCurrency:EC2/*"},
		{"Exfiltration:S3/AnomalousBehavior", "Exfiltration:S3/*"},
		{"Discovery:S3/AnomalousBehavior", "Discovery:S3/*"},
		{"Recon:EC2/PortProbeUnprotectedPort", "Recon:EC2/*"},
		{"PrivilegeEscalation:IAMUser/AnomalousBehavior", "PrivilegeEscalation:*"},
		{"Canary:EC2/Stateless.IntegTest", defaultFamily.Name},
		{"", defaultFamily.Name},
	}
	for _, c := range cases {
		f := nextSteps(c.typ)
		if f.Name != c.want {
			t.Errorf("%q: family %q, want %q", c.typ, f.Name, c.want)
		}
		if len(f.Steps) == 0 {
			t.Errorf("%q: no steps", c.typ)
		}
	}
}

func TestActivity(t *testing.T) {
	start := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
	a := NewActivity(start, start.Add(48*time.Minute), 48)
	a.Add("cloudtrail", start)
	a.Add("cloudtrail", start.Add(90*time.Second))
	a.Add("cloudtrail", start.Add(48*time.Minute)) // the end: the last bucket
	a.Add("vpcflow", start.Add(-time.Second))      // outside
	if got := a.BySource["cloudtrail"]; got[0] != 1 || got[1] != 1 || got[47] != 1 {
		t.Errorf("buckets %v", got)
	}
	if a.Outside != 1 || a.BySource["vpcflow"] != nil {
		t.Errorf("outside %d, vpcflow %v", a.Outside, a.BySource["vpcflow"])
	}
	cv := chart(a, start.Add(24*time.Minute))
	if len(cv.Lanes) != 1 || len(cv.Lanes[0].Bars) != 3 || cv.Lanes[0].Peak != 1 || !cv.HasMark || cv.MarkX != "480.0" {
		t.Errorf("chart %+v", cv)
	}
	if chart(NewActivity(start, start, 0), time.Time{}) != nil {
		t.Error("an empty activity draws a chart")
	}
}
