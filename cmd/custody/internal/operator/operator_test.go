package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/readiness"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

func root(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "..", ".."}, parts...)...)
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"resource": {"type": "Instance", "id": "i-0123456789abcdef0"}, "window": {"start": "yesterday"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badSeed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(badSeed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badSeed, "scenario.json"), []byte(`{"vpcs": [{"name": "a"}], "unknown": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Glob(root("docs", "examples", "*.json"))
	if len(examples) < 5 {
		t.Fatalf("docs/examples: %d files", len(examples))
	}
	type tc struct {
		name string
		args []string
		code int
		out  string // in stdout (0) or stderr
	}
	cases := []tc{
		{"the demo with its seed", []string{"-seed", root("cmd", "custody", "scenarios", "demo"), root("cmd", "custody", "scenarios", "demo", "finding.json")}, ExitOK, "  vpcflow "},
		{"a refused input names the field", []string{bad}, ExitRejected, "window"},
		{"a refused seed folder", []string{"-seed", badSeed, root("docs", "examples", "manual-instance.json")}, ExitRejected, "seed folder refused"},
		{"no such file", []string{filepath.Join(dir, "none.json")}, ExitUsage, "no such file"},
		{"no argument", nil, ExitUsage, "usage"},
	}
	for _, e := range examples {
		cases = append(cases, tc{"example " + filepath.Base(e), []string{e}, ExitOK, "input "})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := Validate(c.args, time.Now, &stdout, &stderr)
			if code != c.code || !strings.Contains(stdout.String()+stderr.String(), c.out) {
				t.Errorf("code %d, want %d containing %q:\n%s%s", code, c.code, c.out, stdout.String(), stderr.String())
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s, want under a second", d)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	emuConfig := func(ctx context.Context) (aws.Config, error) { return emu.Config(ctx) }
	var stdout, stderr bytes.Buffer
	if code := Preflight(context.Background(), nil, emuConfig, &stdout, &stderr); code != ExitOK {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "account  123456789012") || !strings.Contains(stdout.String(), "region   us-east-1") {
		t.Errorf("preflight names no account and region:\n%s", stdout.String())
	}

	// No credentials anywhere: the SDK's chain finds none.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"), "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_REGION": "us-east-1"} {
		t.Setenv(k, v)
	}
	noCreds := func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }
	stdout.Reset()
	stderr.Reset()
	if code := Preflight(context.Background(), nil, noCreds, &stdout, &stderr); code != ExitSetup || !strings.Contains(stderr.String(), "no credentials") {
		t.Errorf("without credentials: code %d, %q; want %d naming the missing credentials", code, stderr.String(), ExitSetup)
	}
}

// TestReadinessCommand: an empty emulator account fails (no trail, no
// detector), the JSON parses, and the exit status says a check fails.
func TestReadinessCommand(t *testing.T) {
	cfg := emu.Fresh(t)
	load := func(context.Context) (aws.Config, error) { return cfg, nil }
	var stdout, stderr bytes.Buffer
	code := Readiness(context.Background(), []string{"-json", "-tables", "orders"}, load, readiness.NewClients, &stdout, &stderr)
	if code != ExitFailing {
		t.Fatalf("code %d, want %d: %s", code, ExitFailing, stderr.String())
	}
	var r readiness.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	got := map[string]readiness.Status{}
	for _, x := range r.Results {
		got[x.ID] = x.Status
	}
	for id, want := range map[string]readiness.Status{"cloudtrail.trail": readiness.Fail, "guardduty.enabled": readiness.Fail, "dynamodb.streams": readiness.Fail, "vpc.flowLogs": readiness.Fail} {
		if got[id] != want {
			t.Errorf("%s = %q, want %q", id, got[id], want)
		}
	}
	if code := Readiness(context.Background(), []string{"-regions"}, load, readiness.NewClients, &stdout, &stderr); code != ExitUsage {
		t.Errorf("a bad flag: code %d, want %d", code, ExitUsage)
	}
}
