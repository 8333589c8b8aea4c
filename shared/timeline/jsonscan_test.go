package timeline

import (
	"encoding/json"
	"math/rand/v2"
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

// Keys equal by keyEq fold alike (what lookup's filter relies on), as a
// string and as bytes, wherever the separators and capitals fall among
// foldKey's eight-byte words.
func TestFoldKeyKeyEq(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"", "-_"},
		{"accountId", "account-id"},
		{"accountId", "ACCOUNT_ID"},
		{"account-id", "account_id"},
		{"log-status", "logStatus"},
		{"tgw-attachment-id", "tgwAttachmentId"},
		{"dBSnapshotIdentifier", "db_snapshot_identifier"},
		{"pkt-srcaddr", "pktSrcaddr"},
		{"eventName", "EventName"},
		{"abcdefgh", "abcd-efgh"},
		{"abcdefghijklmnop", "ABCDEFGH_IJKLMNOP"},
		{"abcdefghi", "-abcdefghi"},
		{"a-b-c-d-e-f-g-h-i-j", "abcdefghij"},
		{"k", "__K__"},
	} {
		if !keyEq(c.a, c.b) {
			t.Fatalf("%q, %q: not keyEq", c.a, c.b)
		}
		if ha, hb := foldKey(c.a), foldKey([]byte(c.b)); ha != hb || ha != foldKey([]byte(c.a)) || hb != foldKey(c.b) {
			t.Errorf("%q, %q: fold %#x, %#x", c.a, c.b, ha, hb)
		}
	}
	// Every key made of a word's letters with separators put in and
	// letters made capitals at random folds as the word does.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := r.IntN(30)
		var a, b []byte
		for range n {
			c := byte('a' + r.IntN(26))
			if r.IntN(8) == 0 {
				c = byte('0' + r.IntN(10))
			}
			a = append(a, c)
			for r.IntN(5) == 0 {
				b = append(b, "-_"[r.IntN(2)])
			}
			if r.IntN(3) == 0 && c >= 'a' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		if foldKey(a) != foldKey(b) || foldKey(string(b)) != foldKey(a) {
			t.Fatalf("%q, %q: fold %#x, %#x", a, b, foldKey(a), foldKey(b))
		}
	}
	// Distinct short keys do not collide (the filter filters).
	if foldKey("srcaddr") == foldKey("dstaddr") || foldKey("start") == foldKey("end") || foldKey("eventName") == foldKey("eventTime") {
		t.Error("distinct keys fold alike")
	}
}
