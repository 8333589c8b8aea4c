package report

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
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

// TestHTMLInChromium loads report.html from disk in headless Chromium and
// checks the DOM it builds: the case ID, a row per artifact with its
// SHA-256 and a row per timeline event. A missing Chromium fails the test
// (it never skips), naming the install command.
func TestHTMLInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s not found: the report's HTML check needs headless Chromium; install it with: %s", chromiumPath, chromiumInstall)
	}
	d := demoData(t)
	dir := t.TempDir()
	page := filepath.Join(dir, HTMLFile)
	var buf bytes.Buffer
	if err := Write(&buf, d, HTML); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile := filepath.Join(dir, "profile")
	cmd := exec.CommandContext(ctx, chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--dump-dom", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)

	if !regexp.MustCompile(`<span id="case-id"[^>]*>` + regexp.QuoteMeta(d.Manifest.CaseID) + `</span>`).MatchString(dom) {
		t.Errorf("the DOM does not show case ID %s in #case-id", d.Manifest.CaseID)
	}
	if !strings.Contains(dom, "<title>custody case "+d.Manifest.CaseID) {
		t.Error("the page title does not name the case")
	}

	evidence := section(t, dom, `<table id="evidence">`)
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

	// Every event is in one of the two timeline tables (the demo is below
	// the caps), and the hostile one arrives as text.
	events := regexp.MustCompile(`(?s)<tr class="event (key|other)">(.*?)</tr>`).FindAllStringSubmatch(dom, -1)
	if len(events) != len(d.Events) {
		t.Errorf("timeline: %d event rows, want one per event (%d)", len(events), len(d.Events))
	}
	for _, e := range d.Events {
		found := false
		for _, r := range events {
			if strings.Contains(r[2], ">"+e.Datetime+"<") && strings.Contains(r[2], ">"+escapeText(e.Message)+"<") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("timeline: no row for the event at %s: %s", e.Datetime, e.Message)
		}
	}
	key := section(t, dom, `<table id="timeline">`)
	if n := strings.Count(key, `<tr class="event key">`); n == 0 {
		t.Error("timeline: no key event rendered")
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<img") {
		t.Error("an event's markup was rendered as markup")
	}
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
