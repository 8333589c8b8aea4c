package timeline

import (
	"encoding/json"
	"fmt"
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

// An object indexed as a shape kept from an earlier object (index's
// objShape) finds, for every key, exactly what an object indexed afresh
// finds: lines parsed in turn into one jdoc, whose shapes carry over, are
// looked in as each line parsed into a new jdoc, object by object and key
// by key (each member's, their keyEq variants, absent ones). The lines
// repeat shapes with other values and nesting, change one key of a shape,
// keep its key lengths with other keys (a signature's collision), reorder
// it, repeat keys, escape one, and cross the kept sizes' bounds; then
// random objects over a few keys, and keys too long to keep, which no
// shape holds after.
func TestIndexShapes(t *testing.T) {
	keysOf := func(n int, name func(int) string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q:%d", name(i), i)
		}
		b.WriteString("}")
		return b.String()
	}
	lines := []string{
		`{"eventName":"A","userIdentity":{"type":"IAMUser","arn":"x","accountId":"1","userName":"u"},"eventTime":"t","awsRegion":"r"}`,
		`{"eventName":"B","userIdentity":{"type":"Root","arn":{"deep":[1,2,{"a":3}]},"accountId":"2","userName":"v"},"eventTime":"t2","awsRegion":"r2"}`,
		`{"eventName":"C","userIdentity":{"type":"Root","arn":"y","accountId":"3","userNamf":"w"},"eventTime":"t3","awsRegion":"r3"}`,
		`{"eventName":"D","userIdentity":{"tipe":"Root","nra":"y","accountIe":"3","userNamf":"w"},"eventTime":"t3","awsRegion":"r3"}`,
		`{"awsRegion":"r","eventTime":"t","userIdentity":{"userName":"u","accountId":"1","arn":"x","type":"IAMUser"},"eventName":"E"}`,
		`{"eventName":"F","userIdentity":{"type":"a","type":"b","arn":"x","arn":"z"},"eventTime":"t","awsRegion":"r"}`,
		`{"eventName":"G","userIdentity":{"type":"a","account_id":"b","accountId":"c","Account-Id":"d"},"eventTime":"t","awsRegion":"r"}`,
		`{"eventName":"H","userIdentity":{"type":"a","account_id":"b","accountId":"c","Account-Id":"d"},"eventTime":"t","awsRegion":"r"}`,
		`{"eventName":"I","userIdentity":{"ty\u0070e":"a","arn":"x","accountId":"1","userName":"u"},"eventTime":"t","awsRegion":"r"}`,
		`{"eventName":"J","userIdentity":{"type":"a","arn":"x","accountId":"1"},"eventTime":"t","awsRegion":"r"}`,
		`{"l":[{"a":1,"bb":2,"ccc":3,"dddd":4},{"a":5,"bb":[6,7],"ccc":{"x":8},"dddd":9},{"z":1,"yy":2,"xxx":3,"wwww":4}]}`,
		keysOf(64, func(i int) string { return fmt.Sprintf("k%02d", i) }),
		keysOf(64, func(i int) string { return fmt.Sprintf("k%02d", 63-i) }),
		keysOf(65, func(i int) string { return fmt.Sprintf("k%02d", i) }),
		keysOf(65, func(i int) string { return fmt.Sprintf("k%02d", i) }),
	}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "b", "B", "c", "c_", "dd", "ee", "e-e", "ff", "gg"}
	for range 3000 {
		lines = append(lines, keysOf(1+r.IntN(8), func(int) string { return alphabet[r.IntN(len(alphabet))] }))
	}
	for range 2 { // last, so that no later shape takes its slot
		lines = append(lines, keysOf(4, func(i int) string { return strings.Repeat(string(rune('a'+i)), 300) }))
	}
	var kept jdoc
	for _, line := range lines {
		var fresh jdoc
		if !kept.parse([]byte(line), fastMaxDepth) || !fresh.parse([]byte(line), fastMaxDepth) {
			t.Fatalf("%s: not parsed", line)
		}
		for i := range kept.nodes {
			if kept.nodes[i].kind != jObject {
				continue
			}
			m, f := jv{&kept, i + 1}, jv{&fresh, i + 1}
			var probe []string
			m.children(func(c jv) bool {
				k := c.keyName()
				probe = append(probe, k, strings.ToUpper(k), "_"+k, k+"x")
				return true
			})
			probe = append(probe, alphabet...)
			probe = append(probe, "type", "arn", "accountId", "ACCOUNT_ID", "absent")
			for _, k := range probe {
				if got, want := m.key(k).i, f.key(k).i; got != want {
					t.Fatalf("%s: object %d, key %q: node %d, afresh %d", line, i, k, got, want)
				}
				if got, want := field(m, k).i, field(f, k).i; got != want {
					t.Fatalf("%s: object %d, field %q: node %d, afresh %d", line, i, k, got, want)
				}
			}
			if m.foldSet() != f.foldSet() {
				t.Fatalf("%s: object %d: fold sets differ", line, i)
			}
		}
		if fresh.shapes != nil {
			t.Fatalf("%s: a jdoc of one value made shapes", line)
		}
	}
	shapes := 0
	for _, sh := range kept.shapes {
		if len(sh.ends) > 0 {
			shapes++
		}
		if len(sh.ends) > maxShapeMembers || len(sh.ends) > 0 && int(sh.ends[len(sh.ends)-1]) > maxShapeKeyBytes {
			t.Errorf("a shape of %d keys, %d bytes kept", len(sh.ends), sh.ends[len(sh.ends)-1])
		}
	}
	if shapes == 0 {
		t.Error("no shape kept")
	}
}
