package timeline

import (
	"encoding/json"
	"strings"
	"testing"
)

// The scanner takes a string exactly when encoding/json does, and reads
// the value it decodes, wherever in eight bytes (scanString's step) its
// escape, control character, non-ASCII byte or closing quote falls, and
// however near the end of the line.
func TestScanStringAsEncodingJSON(t *testing.T) {
	specials := []string{`\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude00`, "\x01", "\x1f", "é", "\xff", `\x`, `\u12`, "\x7f", "/", " "}
	for pad := 0; pad <= 17; pad++ {
		for _, sp := range specials {
			for tail := 0; tail <= 9; tail++ {
				content := strings.Repeat("a", pad) + sp + strings.Repeat("b", tail)
				for _, line := range []string{`"` + content + `"`, `{"k":"` + content + `","z":1}`, `["` + content + `"]`, `"` + content} {
					var d jdoc
					ok := d.parse([]byte(line), fastMaxDepth)
					if want := json.Valid([]byte(line)); ok != want {
						t.Fatalf("%q: scanner takes it %v, encoding/json %v", line, ok, want)
					}
					if !ok || d.root().kind() != jString {
						continue
					}
					var s string
					if err := json.Unmarshal([]byte(line), &s); err != nil {
						t.Fatal(err)
					}
					if got := str(d.root()); got != s {
						t.Fatalf("%q: read %q, encoding/json %q", line, got, s)
					}
				}
			}
		}
	}
}
