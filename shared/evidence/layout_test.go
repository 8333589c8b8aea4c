package evidence

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLayout(t *testing.T) {
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	at := time.Date(2024, 3, 9, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 2024-03-10 in UTC
	digest := strings.Repeat("0f", 32)
	for got, want := range map[string]string{
		must(CasePrefix("c1")):                                            "cases/c1/",
		must(CaseKey("c1")):                                               "cases/c1/case.json",
		must(RunPrefix("c1", "r1")):                                       "cases/c1/runs/r1/",
		must(RunMarkerKey("c1", "r1")):                                    "cases/c1/runs/r1/run.json",
		must(InputKey("c1", "r1")):                                        "cases/c1/runs/r1/input.json",
		must(ResultKey("c1", "r1", "vpcflow")):                            "cases/c1/runs/r1/results/vpcflow.json",
		must(ManifestKey("c1", "r1")):                                     "cases/c1/runs/r1/manifest.json",
		must(RunFileKey("c1", "r1", "timeline.jsonl")):                    "cases/c1/runs/r1/timeline.jsonl",
		must(ArtifactKey("c1", "r1", SourceVPCFlow, "eni-1.jsonl.gz")):    "cases/c1/runs/r1/vpcflow/eni-1.jsonl.gz",
		must(ArtifactKey("c1", "r1", SourceCloudTrail, "AWSLogs/1/x.gz")): "cases/c1/runs/r1/cloudtrail/AWSLogs/1/x.gz",
		must(RejectedKey(at, digest)):                                     "rejected/2024/03/10/" + digest + ".json",
		must(RejectedReasonKey(at, digest)):                               "rejected/2024/03/10/" + digest + ".reason.json",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestLayoutRefusesBadParts(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"empty case", func() error { _, err := CaseKey(""); return err }()},
		{"slash in case", func() error { _, err := CasePrefix("a/b"); return err }()},
		{"dotdot case", func() error { _, err := RunPrefix("..", "r"); return err }()},
		{"dot run", func() error { _, err := RunPrefix("c", "."); return err }()},
		{"backslash run", func() error { _, err := InputKey("c", `a\b`); return err }()},
		{"control char", func() error { _, err := ManifestKey("c", "r\n1"); return err }()},
		{"long id", func() error { _, err := CaseKey(strings.Repeat("a", 256)); return err }()},
		{"empty collector", func() error { _, err := ResultKey("c", "r", ""); return err }()},
		{"slash in collector", func() error { _, err := ResultKey("c", "r", "a/b"); return err }()},
		{"bad source", func() error { _, err := ArtifactKey("c", "r", "syslog", "x"); return err }()},
		{"empty name", func() error { _, err := ArtifactKey("c", "r", SourceEC2, ""); return err }()},
		{"dotdot in name", func() error { _, err := ArtifactKey("c", "r", SourceEC2, "a/../../b"); return err }()},
		{"empty segment", func() error { _, err := ArtifactKey("c", "r", SourceEC2, "a//b"); return err }()},
		{"leading slash", func() error { _, err := ArtifactKey("c", "r", SourceEC2, "/a"); return err }()},
		{"trailing slash", func() error { _, err := ArtifactKey("c", "r", SourceEC2, "a/"); return err }()},
		{"slash in run file", func() error { _, err := RunFileKey("c", "r", "a/b"); return err }()},
		{"bad digest", func() error { _, err := RejectedKey(time.Now(), "../x"); return err }()},
		{"upper digest", func() error { _, err := RejectedReasonKey(time.Now(), strings.Repeat("AB", 32)); return err }()},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrBadKeyPart) {
			t.Errorf("%s: err = %v, want ErrBadKeyPart", c.name, c.err)
		}
	}
}

func TestLocalPath(t *testing.T) {
	got, err := LocalPath("out", "cases/c/runs/r/manifest.json")
	if err != nil || got != filepath.Join("out", "c", "runs", "r", "manifest.json") {
		t.Errorf("LocalPath = %q, %v", got, err)
	}
	for _, bad := range []string{"cases/../x", "cases//x", "/etc/passwd", "", "cases/"} {
		if _, err := LocalPath("out", bad); err == nil {
			t.Errorf("LocalPath(%q) accepted", bad)
		}
	}
}
