package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumPath is Debian's chromium; the Makefile's test set-up installs it.
const (
	chromiumPath    = "/usr/bin/chromium"
	chromiumInstall = "apt-get install -y chromium"
)

// The bounds the 50 000-event case is held to. The issue asks that the
// report "opens in under two seconds"; the machine the tests run on is
// shared and noisy, so the load is asserted with slack on top (and logged
// as measured).
const (
	maxReportBytes = 2 << 20 // report.html of 50 000 events
	openBudget     = 2 * time.Second
	openSlack      = 3 * time.Second
)

// The widths the page must fit without horizontal scrolling: a laptop
// window and a phone.
var widths = []int{1400, 500}

// hostileFlag is the window property every payload below would set: it
// must stay unset.
const hostileFlag = "__custodyXSS"

// hostile are values an attacker controls (a user agent, a request's key,
// an ARN-looking actor) that would run script if the report did not
// escape them.
var hostile = []string{
	`"><img src=x onerror="window.` + hostileFlag + `=1">`,
	`<script>window.` + hostileFlag + `=2</script>`,
	`</code><svg onload=window.` + hostileFlag + `=3>`,
	`' onmouseover='window.` + hostileFlag + `=4' x='`,
}

// withHostile puts the hostile values where the evidence reaches the
// page: a user agent and an address in the entity view, the actor, target
// and message of an event, and a chain link.
func withHostile(d *Data) {
	pivotData(d)
	at := time.Date(2024, 8, 2, 8, 23, 30, 0, time.UTC)
	for i, h := range hostile {
		d.Entities = append(d.Entities, EntityRow{Kind: "userAgent", Value: h, FirstSeen: at, LastSeen: at, Events: 1, Sources: []string{"cloudtrail"}, New: "yes"})
		d.Events = append(d.Events, Event{Datetime: at.Add(time.Duration(i) * time.Second).Format(time.RFC3339), TimestampDesc: "Event Time",
			Source: "cloudtrail", Action: "iam:CreateUser", Actor: h, Target: h, SrcIP: "203.0.113.9", Outcome: "Success", Message: h})
	}
	d.Chain = append(d.Chain, ChainLink{Identity: hostile[0], Kind: "user", Depth: 2, Path: "AKIAPIVOTDANA0000001 → CreateUser " + hostile[1], EventTime: at})
}

// probe is what the page reports of itself once loaded.
type probe struct {
	ClientWidth, ScrollWidth, BodyScrollWidth int
	// Overflowing names elements whose right edge is past the viewport.
	Overflowing []string
	Bars        int
	BarsDrawn   int
	KeyTimes    []string
	SummaryText string
	Flag        any
	Scripts     int
	Images      int
	// LoadMS is the navigation's start to its load event; DOMMS to
	// DOMContentLoaded's end (PerformanceNavigationTiming).
	LoadMS, DOMMS float64
}

// probeScript reports the page's layout, chart, key event times, hostile
// flag and navigation timing into a <pre id="probe"> once it is loaded,
// for --dump-dom to carry out. It is the test's only script: report.html
// has none.
const probeScript = `<script id="probe-script">
addEventListener('load', () => {
  const de = document.documentElement, vw = de.clientWidth;
  const over = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 0.5 && over.length < 8) over.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && el.className.baseVal === undefined ? '.' + el.className : '') + ' right=' + Math.round(r.right));
  }
  const bars = [...document.querySelectorAll('#activity svg rect.bar')];
  const nav = performance.getEntriesByType('navigation')[0];
  const out = {
    ClientWidth: vw, ScrollWidth: de.scrollWidth, BodyScrollWidth: document.body.scrollWidth,
    Overflowing: over,
    Bars: bars.length,
    BarsDrawn: bars.filter(b => { const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length,
    KeyTimes: [...document.querySelectorAll('#timeline tr.event.key time.first')].map(t => t.getAttribute('datetime')),
    SummaryText: (document.getElementById('summary') || {}).textContent || '',
    Flag: window.` + hostileFlag + ` === undefined ? null : window.` + hostileFlag + `,
    Scripts: document.scripts.length, Images: document.images.length,
    LoadMS: nav.loadEventStart - nav.startTime, DOMMS: nav.domContentLoadedEventEnd - nav.startTime,
  };
  const p = document.createElement('pre'); p.id = 'probe'; p.textContent = JSON.stringify(out); document.body.appendChild(p);
});
</script>`

var cspMeta = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)

// requireChromium fails (never skips) without Chromium, naming the
// install command.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s not found: the report's HTML check needs headless Chromium; install it with: %s", chromiumPath, chromiumInstall)
	}
}

// chromium runs headless Chromium on page with args and returns stdout.
func chromium(t *testing.T, dir string, width, height int, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--hide-scrollbars",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), fmt.Sprintf("--window-size=%d,%d", width, height)}, args...)
	cmd := exec.CommandContext(ctx, chromiumPath, all...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return out
}

// load opens report.html at width with the probe and returns the DOM and
// the probe. The page's Content-Security-Policy (which forbids every
// script) is taken out, so that the hostile values are held back by the
// escaping alone.
func load(t *testing.T, page []byte, width int) (string, probe) {
	t.Helper()
	if !cspMeta.Match(page) {
		t.Fatal("report.html has no Content-Security-Policy meta element")
	}
	test := cspMeta.ReplaceAll(page, nil)
	test = bytes.Replace(test, []byte("<head>"), []byte("<head>\n"+probeScript), 1)
	dir := t.TempDir()
	file := filepath.Join(dir, HTMLFile)
	if err := os.WriteFile(file, test, 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(chromium(t, dir, width, 900, "--dump-dom", "file://"+file))
	m := regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("width %d: the probe did not report (no load event?)", width)
	}
	var p probe
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &p); err != nil {
		t.Fatalf("probe: %v: %s", err, m[1])
	}
	return dom, p
}

// checkPage is what holds at every width, whatever the case.
func checkPage(t *testing.T, d Data, p probe, width int) {
	t.Helper()
	if p.ClientWidth != width {
		t.Errorf("width %d: the viewport is %d px wide", width, p.ClientWidth)
	}
	if p.ScrollWidth > p.ClientWidth || p.BodyScrollWidth > p.ClientWidth {
		t.Errorf("width %d: the page scrolls sideways: scrollWidth %d (body %d) > clientWidth %d; overflowing: %v",
			width, p.ScrollWidth, p.BodyScrollWidth, p.ClientWidth, p.Overflowing)
	}
	if p.Bars == 0 || p.BarsDrawn != p.Bars {
		t.Errorf("width %d: the activity chart has %d bars, %d of them drawn", width, p.Bars, p.BarsDrawn)
	}
	if len(p.KeyTimes) == 0 {
		t.Errorf("width %d: no key event in the DOM", width)
	}
	var prev time.Time
	for i, s := range p.KeyTimes {
		at, ok := eventTime(s)
		if !ok {
			t.Errorf("width %d: key event %d: time %q does not parse", width, i, s)
			continue
		}
		if at.Before(prev) {
			t.Errorf("width %d: key events out of time order: %s after %s (row %d)", width, s, prev.Format(time.RFC3339Nano), i)
			break
		}
		prev = at
	}
	if d.Finding.ResourceID == "" || !strings.Contains(p.SummaryText, d.Finding.ResourceID) {
		t.Errorf("width %d: the summary does not name the finding's resource %q: %s", width, d.Finding.ResourceID, p.SummaryText)
	}
	if p.Flag != nil {
		t.Errorf("width %d: a hostile value ran script: window.%s = %v", width, hostileFlag, p.Flag)
	}
	if p.Scripts != 1 || p.Images != 0 {
		t.Errorf("width %d: the page holds %d scripts (want only the test's probe) and %d images (want none)", width, p.Scripts, p.Images)
	}
}

// TestHTMLInChromium loads the demo case's report.html (with a pivot
// chain, an entity view and hostile values) in headless Chromium at each
// width and checks the DOM: the case ID, a row per artifact with its
// SHA-256, every event in a timeline row, the layout, the chart, the key
// events' order, the summary and that no hostile value ran. With -update
// (or CUSTODY_REPORT_PNG=1) it writes the screenshot docs/report.png.
func TestHTMLInChromium(t *testing.T) {
	requireChromium(t)
	d := demoData(t)
	withHostile(&d)
	var buf bytes.Buffer
	if err := Write(&buf, d, HTML); err != nil {
		t.Fatal(err)
	}
	for _, w := range widths {
		dom, p := load(t, buf.Bytes(), w)
		checkPage(t, d, p, w)
		if w != widths[0] {
			continue
		}
		if !regexp.MustCompile(`<span id="case-id"[^>]*>` + regexp.QuoteMeta(d.Manifest.CaseID) + `</span>`).MatchString(dom) {
			t.Errorf("the DOM does not show case ID %s in #case-id", d.Manifest.CaseID)
		}
		if !strings.Contains(dom, "<title>custody case "+d.Manifest.CaseID) {
			t.Error("the page title does not name the case")
		}
		evidence := section(t, dom, `<table id="evidence"`)
		rows := regexp.MustCompile(`(?s)<tr class="artifact">(.*?)</tr>`).FindAllStringSubmatch(evidence, -1)
		if len(rows) != len(d.Manifest.Artifacts) {
			t.Errorf("evidence table: %d rows, want one per artifact (%d)", len(rows), len(d.Manifest.Artifacts))
		}
		for _, a := range d.Manifest.Artifacts {
			found := false
			for _, r := range rows {
				if strings.Contains(r[1], ">"+a.Key+"<") && strings.Contains(r[1], ">"+a.SHA256+"<") {
					found = true
				}
			}
			if !found {
				t.Errorf("evidence table: no row with %s and its sha256 %s", a.Key, a.SHA256)
			}
		}
		// Every event is in a timeline row (the demo is below the caps):
		// the rows' counts add up, and each event's message is shown by the
		// row of its kind.
		events := regexp.MustCompile(`(?s)<tr class="event (key|other)" data-count="(\d+)">(.*?)</tr>`).FindAllStringSubmatch(dom, -1)
		total := 0
		for _, r := range events {
			var n int
			fmt.Sscan(r[2], &n)
			total += n
		}
		if total != len(d.Events) {
			t.Errorf("timeline: the rows stand for %d events, want every event (%d)", total, len(d.Events))
		}
		if len(events) >= len(d.Events) {
			t.Errorf("timeline: %d rows for %d events: nothing collapsed", len(events), len(d.Events))
		}
		for _, h := range hostile {
			if !strings.Contains(dom, ">"+escapeText(h)+"<") {
				t.Errorf("the hostile value %s is not on the page as text", h)
			}
		}
		if !strings.Contains(dom, "TA0002 Execution") || !strings.Contains(dom, MappingSourceEvents) {
			t.Error("no ATT&CK tactic, or no mapping source, on the page")
		}
	}
	if *update || os.Getenv("CUSTODY_REPORT_PNG") != "" {
		// The README's picture: the demo case with its chain and entities,
		// without the hostile rows (this test's, not the demo's).
		shot := demoData(t)
		pivotData(&shot)
		var page bytes.Buffer
		if err := Write(&page, shot, HTML); err != nil {
			t.Fatal(err)
		}
		screenshot(t, page.Bytes(), filepath.Join("..", "..", "docs", "report.png"))
	}
}

// screenshot writes the top of the page at 1400 px to png.
func screenshot(t *testing.T, page []byte, png string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, HTMLFile)
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(png)
	if err != nil {
		t.Fatal(err)
	}
	chromium(t, dir, 1400, 1700, "--screenshot="+abs, "file://"+file)
	if st, err := os.Stat(abs); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", abs, err)
	}
	t.Logf("wrote %s", abs)
}

// TestHTMLInChromiumLarge is the demo case grown to 50 000 events: the
// report stays under maxReportBytes, opens within openBudget (plus the
// machine's slack), fits both widths, and its chart and key events hold.
func TestHTMLInChromiumLarge(t *testing.T) {
	requireChromium(t)
	if testing.Short() {
		t.Skip("the 50 000-event report: not in -short")
	}
	d := demoData(t)
	withHostile(&d)
	d.Events = largeEvents(d, 50_000)
	var buf bytes.Buffer
	start := time.Now()
	if err := Write(&buf, d, HTML); err != nil {
		t.Fatal(err)
	}
	t.Logf("50,000 events: report.html is %d bytes, written in %v", buf.Len(), time.Since(start).Round(time.Millisecond))
	if buf.Len() >= maxReportBytes {
		t.Errorf("report.html of 50,000 events is %d bytes, want < %d", buf.Len(), maxReportBytes)
	}
	var md bytes.Buffer
	if err := Write(&md, d, Markdown); err != nil {
		t.Fatal(err)
	}
	t.Logf("50,000 events: report.md is %d bytes", md.Len())
	if md.Len() >= maxReportBytes {
		t.Errorf("report.md of 50,000 events is %d bytes, want < %d", md.Len(), maxReportBytes)
	}
	if i := rawAngle(md.String()); i >= 0 {
		t.Errorf("report.md of 50,000 events holds a bare < at %d", i)
	}
	for _, w := range widths {
		_, p := load(t, buf.Bytes(), w)
		checkPage(t, d, p, w)
		t.Logf("width %d: load event at %.0f ms, DOMContentLoaded at %.0f ms (budget %v)", w, p.LoadMS, p.DOMMS, openBudget)
		if p.LoadMS <= 0 || time.Duration(p.LoadMS*float64(time.Millisecond)) > openBudget+openSlack {
			t.Errorf("width %d: report.html of 50,000 events loaded in %.0f ms, want under %v (+%v slack for a shared machine)", w, p.LoadMS, openBudget, openSlack)
		}
		if len(p.KeyTimes) > DefaultMaxKeyEvents {
			t.Errorf("width %d: %d key rows, more than the cap %d", w, len(p.KeyTimes), DefaultMaxKeyEvents)
		}
	}
}

// largeEvents grows the demo's events to n, demo-shaped: the demo's own
// events, then CloudTrail calls, flows and S3 accesses spread over the
// window, by a few hundred principals from a few thousand addresses (most
// reads, some writes, denials and credential calls, some in the scope), so
// that the key events need both collapsing and the cap. Seeded: the same
// events every run.
//
// The repository's generators (cmd/custody-bench, shared/timeline's
// bench_test.go) write raw log records for the extract and timeline
// benchmarks; the report takes timeline events, so this makes those
// directly.
func largeEvents(d Data, n int) []Event {
	r := rand.New(rand.NewPCG(14, 1))
	evs := append([]Event(nil), d.Events...)
	start, end := d.Manifest.Window.Start, d.Manifest.Window.End
	span := end.Sub(start)
	calls := []struct {
		action, outcome string
		weight          int
	}{
		{"ec2:DescribeInstances", "Success", 30}, {"s3:ListBuckets", "Success", 15}, {"sts:GetCallerIdentity", "Success", 15},
		{"ssm:DescribeInstanceInformation", "Success", 10}, {"s3:GetObject", "AccessDenied", 6}, {"iam:ListUsers", "Success", 5},
		{"ec2:RunInstances", "Success", 3}, {"iam:CreateAccessKey", "Success", 2}, {"sts:AssumeRole", "Success", 4},
		{"ssm:SendCommand", "Success", 2}, {"cloudtrail:StopLogging", "Success", 1}, {"iam:AttachUserPolicy", "Success", 1},
		{"secretsmanager:GetSecretValue", "Success", 3}, {"ec2:ModifySnapshotAttribute", "Success", 1}, {"s3:PutBucketPolicy", "AccessDenied", 2},
	}
	totalWeight := 0
	for _, c := range calls {
		totalWeight += c.weight
	}
	pick := func() (string, string) {
		x := r.IntN(totalWeight)
		for _, c := range calls {
			if x < c.weight {
				return c.action, c.outcome
			}
			x -= c.weight
		}
		return calls[0].action, calls[0].outcome
	}
	scoped := d.Scope[len(d.Scope)-1].IDs[0] // the instance role session
	for len(evs) < n {
		at := start.Add(time.Duration(r.Int64N(int64(span)))).UTC()
		ip := fmt.Sprintf("198.51.%d.%d", r.IntN(16), r.IntN(250))
		switch k := r.IntN(100); {
		case k < 55:
			action, outcome := pick()
			actor := fmt.Sprintf("arn:aws:iam::123456789012:user/svc-%03d", r.IntN(300))
			if r.IntN(20) == 0 {
				actor, ip = scoped, "18.236.253.47"
			}
			target := ""
			if r.IntN(3) == 0 {
				target = fmt.Sprintf("arn:aws:s3:::bucket-%d/very/long/prefix/that/keeps/going/object-%d.parquet", r.IntN(50), r.IntN(100000))
			}
			evs = append(evs, Event{Datetime: at.Format(time.RFC3339), TimestampDesc: "Event Time", Source: "cloudtrail", Action: action,
				Actor: actor, Target: target, SrcIP: ip, Outcome: outcome,
				Message: fmt.Sprintf("%s called %s from %s", actor, action, ip)})
		case k < 85:
			dst := fmt.Sprintf("172.31.%d.%d:%d/tcp", r.IntN(4), r.IntN(250), []int{22, 443, 3389, 5432}[r.IntN(4)])
			outcome := "ACCEPT"
			if r.IntN(5) == 0 {
				outcome = "REJECT"
			}
			evs = append(evs, Event{Datetime: at.Format(time.RFC3339), TimestampDesc: "Start Time", Source: "vpcflow", Action: "flow",
				Actor: ip, Target: dst, SrcIP: ip, Outcome: outcome, Message: fmt.Sprintf("%s -> %s %s on eni-0a1b2c3d4e5f60718", ip, dst, outcome)})
		default:
			key := fmt.Sprintf("custody-demo-data/reports/2024/08/%02d/part-%05d.csv", r.IntN(28)+1, r.IntN(5000))
			op := []string{"REST.GET.OBJECT", "REST.GET.OBJECT", "REST.PUT.OBJECT", "REST.DELETE.OBJECT"}[r.IntN(4)]
			evs = append(evs, Event{Datetime: at.Format("2006-01-02T15:04:05.000Z"), TimestampDesc: "Request Time", Source: "s3access", Action: op,
				Actor: fmt.Sprintf("arn:aws:iam::123456789012:user/svc-%03d", r.IntN(300)), Target: key, SrcIP: ip, Outcome: "200",
				Message: op + " " + key})
		}
	}
	return evs
}

// section is the DOM from start to the end of that table.
func section(t *testing.T, dom, start string) string {
	t.Helper()
	i := strings.Index(dom, start)
	if i < 0 {
		t.Fatalf("the DOM has no %s", start)
	}
	j := strings.Index(dom[i:], "</table>")
	if j < 0 {
		t.Fatalf("%s is not closed", start)
	}
	return dom[i : i+j]
}

// escapeText is how Chromium serialises a text node: &, < and > escaped,
// quotes as they are.
func escapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}
