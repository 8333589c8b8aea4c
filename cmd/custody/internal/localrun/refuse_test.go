package localrun

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileInputs reads shared/finding/testdata/hostile: each hostile input
// file and the field its refusal names ("" for the body as a whole).
func hostileInputs(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "shared", "finding", "testdata", "hostile", "fields.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 20 {
		t.Fatalf("%d hostile inputs, want the whole set", len(m))
	}
	return m
}

// checkRefusal fails t unless err is an exit 3 whose message names the
// InvalidInputError and field.
func checkRefusal(t *testing.T, err error, field string) {
	t.Helper()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitRejected {
		t.Fatalf("err = %v, want exit %d (refused)", err, ExitRejected)
	}
	want := "invalid input: "
	if field != "" {
		want += field + ": "
	}
	if msg := err.Error(); !strings.Contains(msg, "InvalidInputError") || !strings.Contains(msg, want) {
		t.Fatalf("%q does not name the error and %q", msg, want)
	}
}

// TestRefuseUnrunnable: the hostile inputs the ASL interpreter cannot run
// (empty, not JSON, truncated, 100 000 deep) are refused before it, exit 3
// naming the field; every other one is left for Triage to refuse.
func TestRefuseUnrunnable(t *testing.T) {
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	beforeTriage := map[string]bool{"empty.json": true, "whitespace.json": true, "not-json.json": true, "truncated.json": true, "deep-nesting.json": true}
	for name, field := range hostileInputs(t, root) {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(root, "shared", "finding", "testdata", "hostile", name))
			if err != nil {
				t.Fatal(err)
			}
			err = refuseUnrunnable(raw)
			if !beforeTriage[name] {
				if err != nil {
					t.Fatalf("refused before Triage: %v", err)
				}
				return
			}
			checkRefusal(t, err, field)
		})
	}
}
