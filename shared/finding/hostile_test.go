package finding

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/custody-ir/custody/shared/faults"
)

// hostileFields reads testdata/hostile/fields.txt: each hostile input file
// and the field its refusal names.
func hostileFields(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hostile", "fields.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(m) || len(m) < 20 {
		t.Fatalf("%d hostile files, %d expectations in fields.txt", len(files), len(m))
	}
	return m
}

// TestHostileFiles parses every testdata/hostile input as Triage does:
// each is refused with an InvalidInputError naming the field fields.txt
// gives, keeps the input as received, and (for the checks that come before
// the form) CheckJSON refuses it the same way.
func TestHostileFiles(t *testing.T) {
	for name, field := range hostileFields(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "hostile", name))
			if err != nil {
				t.Fatal(err)
			}
			in, err := Parse(raw)
			var inv *faults.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("Parse: err = %v (%T), want an InvalidInputError naming %q", err, err, field)
			}
			if inv.Field != field || inv.Reason == "" {
				t.Errorf("Parse: field %q, want %q (%v)", inv.Field, field, err)
			}
			if string(in.Raw) != string(raw) {
				t.Error("Input.Raw is not the input as received")
			}
			if in.Finding != nil || in.Manual != nil || in.Ref != nil {
				t.Errorf("a refused input carries a parsed form: %+v", in)
			}
			pre := CheckJSON(raw)
			if pre == nil {
				return // a valid JSON value: refused by the form's checks
			}
			if !errors.As(pre, &inv) || inv.Field != field || pre.Error() != err.Error() {
				t.Errorf("CheckJSON: %v, want Parse's refusal %v", pre, err)
			}
		})
	}
}

// TestCheckJSON pins the checks before the form: what passes and what is
// refused, with the field named.
func TestCheckJSON(t *testing.T) {
	deep := func(n int) string {
		b := make([]byte, 0, 2*n)
		for range n {
			b = append(b, '[')
		}
		for range n {
			b = append(b, ']')
		}
		return string(b)
	}
	cases := []struct {
		name, input string
		refused     bool
		field       string
	}{
		{"object", minimal, false, ""},
		{"byte order mark", "\xef\xbb\xbf" + minimal, false, ""},
		{"a list is JSON", "[1,2]", false, ""},
		{"nesting at the limit", deep(MaxDepth), false, ""},
		{"empty", "", true, ""},
		{"blank", " \r\n", true, ""},
		{"not JSON", "finding", true, ""},
		{"truncated", `{"id":"a","detail":{`, true, ""},
		{"two values", `{} {}`, true, ""},
		{"one past the limit", deep(MaxDepth + 1), true, "[0][0][0][0][0][0][0][0]…"},
		{"100 000 deep", deep(100000), true, "[0][0][0][0][0][0][0][0]…"},
		{"deep under a key", `{"detail":{"service":{"additionalInfo":` + deep(200) + `}}}`, true, "detail.service.additionalInfo[0][0][0][0][0]…"},
		{"path names the element", `{"a":[1,{"b":"x"},[` + deep(100) + `]]}`, true, "a[2][0][0][0][0][0][0]…"},
		{"keys after values", `{"x":{"y":1,"z":[{},{"w":` + deep(100) + `}]}}`, true, "x.z[1].w[0][0][0][0]…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckJSON([]byte(c.input))
			if !c.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var inv *faults.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want an InvalidInputError", err)
			}
			if inv.Field != c.field || inv.Reason == "" {
				t.Errorf("field %q, want %q (%v)", inv.Field, c.field, err)
			}
		})
	}
}
