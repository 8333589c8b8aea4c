package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/evidence"
)

// FuzzVerifyCaseFolder verifies a downloaded case folder whose first run's
// manifest.json is any bytes, with one more file of any name and content
// in the folder. verify ends with one of its documented codes (never a
// crash, never "could not run" for a folder that is a case), its -json
// report says the same code, the seed's own manifest verifies (0, or 7
// for the added file), and a manifest the schema refuses is exit 8.
func FuzzVerifyCaseFolder(f *testing.F) {
	caseBody := []byte(`{"caseId":"` + testCase + `"}`)
	arts := []evidence.Artifact{artifact("cases/"+testCase+"/case.json", caseBody, "v-case")}
	for rel, body := range testFiles {
		if !strings.HasPrefix(rel, "results/") {
			arts = append(arts, artifact("cases/"+testCase+"/runs/"+run1+"/"+rel, []byte(body), "v-"+rel))
		}
	}
	seed := testManifest(f, run1, arts)
	f.Add(seed, "", []byte(nil))
	f.Add(seed, "runs/"+run1+"/cloudtrail/extra.json", []byte("{}"))
	f.Add(bytes.Replace(seed, []byte(run1+`/input.json"`), []byte(run1+`/../../../outside"`), 1), "", []byte(nil))
	f.Add(bytes.Replace(seed, []byte(testCase), []byte("gd-another"), 1), "", []byte(nil))
	f.Add([]byte("not JSON"), "results/x.json", []byte("x"))
	documented := map[int]bool{ExitOK: true, ExitChanged: true, ExitMissing: true, ExitUnlisted: true, ExitManifest: true, ExitSignature: true}
	f.Fuzz(func(t *testing.T, manifest []byte, extra string, body []byte) {
		dir := writeCase(t)
		if err := os.WriteFile(filepath.Join(dir, "runs", run1, "manifest.json"), manifest, 0o600); err != nil {
			t.Fatal(err)
		}
		// Signed as Seal would sign it: what is fuzzed is the manifest
		// (TestSignature covers the seal).
		key, _ := testKeys(t)
		signRun(t, dir, run1, key)
		added := false
		if p := filepath.Join(dir, filepath.FromSlash(extra)); extra != "" && strings.HasPrefix(p, dir+string(filepath.Separator)) &&
			!strings.Contains(extra, "\x00") && !strings.HasPrefix(filepath.Base(p), "manifest.json") {
			if os.MkdirAll(filepath.Dir(p), 0o755) == nil && os.WriteFile(p, body, 0o600) == nil {
				added = true
			}
		}
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), []string{"-json", dir}, &stdout, &stderr, nil)
		if !documented[code] {
			t.Fatalf("exit %d is not a documented outcome of a case folder: %s", code, stderr.String())
		}
		var got struct {
			Code int `json:"exitCode"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.Code != code {
			t.Fatalf("-json says %d (%v), exit %d:\n%s", got.Code, err, code, stdout.String())
		}
		if evidence.ValidateManifest(manifest) != nil && code != ExitManifest {
			t.Fatalf("a manifest the schema refuses: exit %d, want %d", code, ExitManifest)
		}
		if bytes.Equal(manifest, seed) && !added && code != ExitOK {
			t.Fatalf("the sealed case does not verify: exit %d: %s", code, stdout.String())
		}
	})
}
