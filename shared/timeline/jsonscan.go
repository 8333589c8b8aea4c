package timeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"
	"unsafe"
)

// A normalizer reads a handful of fields from records that can hold hundreds
// (a CloudTrail record's responseElements, a finding's service block).
// Decoding each line into map[string]any with encoding/json was most of
// Build's time: every key and string of the record allocated, the line was
// scanned twice (validate, then decode), and nearly all of it was thrown away.
// jdoc instead scans the line once into a flat list of nodes over the line's
// bytes and unquotes a string only when a normalizer reads it.
//
// It reads exactly what encoding/json's Decoder reads (the first JSON value
// of the line, keys compared after unquoting, the last of duplicate keys
// winning, as in the map it decoded into), and it never accepts what
// encoding/json refuses: when it does not take a line, the line goes through
// encoding/json, which gives the error the untimed record carries (or, for
// what only this scanner refuses, the value to read).

// jkind is a JSON value's kind; 0 is "absent".
type jkind uint8

const (
	jNull jkind = iota + 1
	jFalse
	jTrue
	jNumber
	jString
	jArray
	jObject
)

// jnode is one value of a jdoc.
type jnode struct {
	kind jkind
	// kesc and sesc: the key / the string needs unquoting by encoding/json
	// (it has an escape or a non-ASCII byte that may not be valid UTF-8).
	kesc, sesc bool
	// ks, ke: the key's bytes, quotes excluded, when the node is an
	// object's member. Offsets and indexes are int32 (parse takes no
	// document of 2 GiB): a node of 40 bytes rather than 72, and appending
	// the nodes was a fifth of scanning a line.
	ks, ke int32
	// s, e: the value's bytes (a string with its quotes, a container with
	// its brackets).
	s, e int32
	// end is the index of the node after this one's subtree: its next
	// sibling, if it has one.
	end int32
	// fold is a member's key folded (foldKey), and tab, mask an object's
	// hash table of its members in jdoc.tab: made on the object's first
	// lookup (see index).
	fold      uint64
	tab, mask int32
}

// jdoc is a scanned JSON value: its nodes in document order (a container
// before its children).
type jdoc struct {
	buf   []byte
	nodes []jnode
	// tab holds the hash tables of the objects looked up in, back to
	// back: member node index + 1, 0 for an empty slot.
	tab []int
	// tf holds the times of the items made of the value (times), and
	// items the items of a line (normalizeInto), so that neither is an
	// allocation a record.
	tf    []timeField
	items []item
	// shapes are the hash tables of objects indexed before, by their
	// keys (see index); members is index's scratch. Made on a jdoc's
	// second value: one that scans a single value (Normalize's, a
	// LookupEvents event's inner record) would only pay for them.
	shapes  *[shapeSlots]objShape
	members []int32
	reused  bool
}

// shapeSlots is how many object shapes a jdoc keeps (a power of two).
const shapeSlots = 64

// minShapeMembers, maxShapeMembers and maxShapeKeyBytes bound the objects
// whose shape is kept: a smaller one's table costs no more to make than to
// copy, a larger one (a response's list of hundreds, keys an attacker
// made long in a request) is not worth the memory. A jdoc's shapes hold
// at most shapeSlots times maxShapeKeyBytes of keys.
const minShapeMembers, maxShapeMembers, maxShapeKeyBytes = 4, 64, 1024

// objShape is an object's member keys, in order and back to back, with
// each key's end in keys, its fold, and the object's hash table as member
// ordinals + 1: the table of every object with those keys in that order,
// whatever its values.
type objShape struct {
	sig   uint64
	keys  []byte
	ends  []int32
	folds []uint64
	tab   []int32
}

// times is tf as an item's times, held in the jdoc of rec: valid until the
// jdoc scans another value (an item lives no longer). Appending to it
// copies it.
func (rec jv) times(tf ...timeField) []timeField {
	d := rec.d
	if d == nil {
		return append([]timeField(nil), tf...)
	}
	n := len(d.tf)
	d.tf = append(d.tf, tf...)
	return d.tf[n:len(d.tf):len(d.tf)]
}

// maxKeptNodes bounds the nodes a jdoc keeps from one line to the next.
const maxKeptNodes = 1 << 16

// fastMaxDepth bounds the nesting the scanner follows; deeper lines (none
// in real logs) are left to encoding/json, which allows 10000.
const fastMaxDepth = 1000

// jv is a value in a jdoc; the zero jv is an absent value.
type jv struct {
	d *jdoc
	i int // node index + 1; 0: absent
}

// parse scans the first JSON value of buf (what follows it is not read, as
// json.Decoder does not read past a value). It reports false when buf does
// not start with a JSON value, or nests deeper than maxDepth.
func (d *jdoc) parse(buf []byte, maxDepth int) bool {
	if cap(d.nodes) > maxKeptNodes {
		// A huge line (a whole API response) once: its nodes are not kept
		// for the rest of the build.
		d.nodes, d.tab = nil, nil
	}
	if cap(d.tf) > maxKeptItems {
		d.tf = nil
	}
	if len(buf) > math.MaxInt32 {
		return false // not reached: lines are at most MaxRecordBytes
	}
	d.reused = d.reused || d.buf != nil
	d.buf = buf
	d.nodes = d.nodes[:0]
	d.tab = d.tab[:0]
	clear(d.tf)
	d.tf = d.tf[:0]
	_, ok := d.value(skipSpace(buf, 0), maxDepth)
	return ok
}

// root is the scanned value.
func (d *jdoc) root() jv {
	if len(d.nodes) == 0 {
		return jv{}
	}
	return jv{d, 1}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, p int) int {
	for p < len(b) && isSpace(b[p]) {
		p++
	}
	return p
}

// value scans the value at p and returns the position after it.
func (d *jdoc) value(p, depth int) (int, bool) {
	b := d.buf
	if p >= len(b) {
		return p, false
	}
	idx := len(d.nodes)
	d.nodes = append(d.nodes, jnode{s: int32(p)})
	switch c := b[p]; {
	case c == '{':
		if depth--; depth < 0 {
			return p, false
		}
		d.nodes[idx].kind = jObject
		p = skipSpace(b, p+1)
		if p < len(b) && b[p] == '}' {
			p++
			break
		}
		for {
			if p >= len(b) || b[p] != '"' {
				return p, false
			}
			ks := p
			var esc, ok bool
			if p, esc, ok = scanString(b, p); !ok {
				return p, false
			}
			ke := p
			if p = skipSpace(b, p); p >= len(b) || b[p] != ':' {
				return p, false
			}
			if p = skipSpace(b, p+1); p < len(b) && b[p] != '{' && b[p] != '[' {
				// A scalar member, most of a record's nodes, is appended
				// whole, key and all: writing a node's fields one by one
				// after appending it zeroed was a third of value's time.
				k, sesc, e, ok := scalar(b, p)
				if !ok {
					return e, false
				}
				d.nodes = append(d.nodes, jnode{kind: k, kesc: esc, sesc: sesc, ks: int32(ks + 1), ke: int32(ke - 1),
					s: int32(p), e: int32(e), end: int32(len(d.nodes) + 1)})
				p = e
			} else {
				vi := len(d.nodes)
				if p, ok = d.value(p, depth); !ok {
					return p, false
				}
				n := &d.nodes[vi]
				n.ks, n.ke, n.kesc = int32(ks+1), int32(ke-1), esc
			}
			if p = skipSpace(b, p); p >= len(b) {
				return p, false
			}
			if b[p] == ',' {
				p = skipSpace(b, p+1)
				continue
			}
			if b[p] != '}' {
				return p, false
			}
			p++
			break
		}
	case c == '[':
		if depth--; depth < 0 {
			return p, false
		}
		d.nodes[idx].kind = jArray
		p = skipSpace(b, p+1)
		if p < len(b) && b[p] == ']' {
			p++
			break
		}
		for {
			var ok bool
			if p, ok = d.value(p, depth); !ok {
				return p, false
			}
			if p = skipSpace(b, p); p >= len(b) {
				return p, false
			}
			if b[p] == ',' {
				p = skipSpace(b, p+1)
				continue
			}
			if b[p] != ']' {
				return p, false
			}
			p++
			break
		}
	default:
		k, sesc, e, ok := scalar(b, p)
		if !ok {
			return e, false
		}
		d.nodes[idx].kind, d.nodes[idx].sesc, p = k, sesc, e
	}
	d.nodes[idx].e = int32(p)
	d.nodes[idx].end = int32(len(d.nodes))
	return p, true
}

// scalar scans the string, number, true, false or null at p: its kind,
// whether it is a string that needs unquoting, and the position after it
// (where it went wrong when not ok).
func scalar(b []byte, p int) (k jkind, esc bool, e int, ok bool) {
	switch c := b[p]; {
	case c == '"':
		e, esc, ok = scanString(b, p)
		return jString, esc, e, ok
	case c == 't':
		if !bytes.HasPrefix(b[p:], []byte("true")) {
			return 0, false, p, false
		}
		return jTrue, false, p + 4, true
	case c == 'f':
		if !bytes.HasPrefix(b[p:], []byte("false")) {
			return 0, false, p, false
		}
		return jFalse, false, p + 5, true
	case c == 'n':
		if !bytes.HasPrefix(b[p:], []byte("null")) {
			return 0, false, p, false
		}
		return jNull, false, p + 4, true
	case c == '-' || ('0' <= c && c <= '9'):
		e, ok = scanNumber(b, p)
		return jNumber, false, e, ok
	}
	return 0, false, p, false
}

// scanString scans the string whose opening quote is at p, as encoding/json's
// scanner does (no control characters, only JSON's escapes), and returns the
// position after its closing quote and whether it needs unquoting.
func scanString(b []byte, p int) (int, bool, bool) {
	// Most strings are plain to their closing quote: their bytes are
	// looked at eight at a time, once (special8 finds the first that is
	// not plain), and a string whose first such byte is its closing quote
	// is done. One with an escape, a control character or a non-ASCII byte
	// is read on from there by the loop below, which alone knows an
	// escaped quote. Finding the quote with IndexByte first and checking
	// the bytes before it after was two passes over every string, and the
	// call's set-up cost more than it saved on the short strings most are.
	q := p + 1
	for q+8 <= len(b) {
		if m := special8(binary.LittleEndian.Uint64(b[q:])); m != 0 {
			q += bits.TrailingZeros64(m) / 8
			if b[q] == '"' {
				return q + 1, false, true
			}
			break
		}
		q += 8
	}
	p = q - 1 // the loop below starts at the byte after p
	esc := false
	for p++; p < len(b); p++ {
		// Eight plain bytes at a time (none a quote, backslash, control
		// character or non-ASCII): most of a record is such text.
		for p+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[p:])) {
			p += 8
		}
		if p >= len(b) {
			break
		}
		switch c := b[p]; {
		case c == '"':
			return p + 1, esc, true
		case c < 0x20:
			return p, esc, false
		case c >= utf8.RuneSelf:
			esc = true // maybe not UTF-8: encoding/json replaces those bytes
		case c == '\\':
			esc = true
			if p++; p >= len(b) {
				return p, esc, false
			}
			switch b[p] {
			case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			case 'u':
				if p+4 >= len(b) {
					return p, esc, false
				}
				for _, h := range b[p+1 : p+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return p, esc, false
					}
				}
				p += 4
			default:
				return p, esc, false
			}
		}
	}
	return p, esc, false
}

// special8 is a mask with the high bit of the first byte in x (in memory
// order) that is a quote, a backslash, a control character or non-ASCII
// set, and maybe bits above it; 0 when there is none (plain8).
func special8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x & highs) | hasZero(x^(ones*'"')) | hasZero(x^(ones*'\\')) | ((x - ones*0x20) &^ x & highs)
}

// plain8 reports whether none of the eight bytes in x is a quote, a
// backslash, a control character or non-ASCII.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x&highs)|hasZero(x^(ones*'"'))|hasZero(x^(ones*'\\'))|((x-ones*0x20)&^x&highs) == 0
}

// scanNumber scans a JSON number at p: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, p int) (int, bool) {
	digits := func() bool {
		s := p
		for p < len(b) && '0' <= b[p] && b[p] <= '9' {
			p++
		}
		return p > s
	}
	if b[p] == '-' {
		p++
	}
	if p < len(b) && b[p] == '0' {
		p++
	} else if !digits() {
		return p, false
	}
	if p < len(b) && b[p] == '.' {
		p++
		if !digits() {
			return p, false
		}
	}
	if p < len(b) && (b[p] == 'e' || b[p] == 'E') {
		p++
		if p < len(b) && (b[p] == '+' || b[p] == '-') {
			p++
		}
		if !digits() {
			return p, false
		}
	}
	return p, true
}

// --- reading values ---------------------------------------------------------

func (v jv) node() *jnode { return &v.d.nodes[v.i-1] }

// kind is v's kind, 0 when v is absent.
func (v jv) kind() jkind {
	if v.i == 0 {
		return 0
	}
	return v.node().kind
}

// present reports whether v is a value (JSON null included).
func (v jv) present() bool { return v.i != 0 }

// isNil reports whether v is absent or JSON null: what was nil in the
// map[string]any the normalizers used to read.
func (v jv) isNil() bool { return v.i == 0 || v.node().kind == jNull }

// raw is v's JSON text.
func (v jv) raw() []byte { n := v.node(); return v.d.buf[n.s:n.e] }

// text is a number's literal or a string's content as written (escapes
// not undone).
func (v jv) text() []byte {
	n := v.node()
	if n.kind == jString {
		return v.d.buf[n.s+1 : n.e-1]
	}
	return v.d.buf[n.s:n.e]
}

// unquote is a string's value, exactly as encoding/json decodes it.
//
// A string with nothing to undo is the line's own bytes, not a copy
// (borrow): copying every field a normalizer reads was two fifths of the
// allocations of normalising a record. What it returns is valid as long as
// the line's bytes are left as they are: Build's read holds a batch's bytes
// until its events are in the chunk (their payloads are copies) and its
// untimed records written, and the counts that outlive it copy their keys
// (countKey); Normalize copies the strings of the events it returns.
func unquote(quoted []byte, content []byte, esc bool) string {
	if !esc || (bytes.IndexByte(content, '\\') < 0 && utf8.Valid(content)) {
		return borrow(content)
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return "" // not reached: the scanner took the string
	}
	return s
}

// borrow is b as a string without a copy: b must not change while the
// string is in use (see unquote).
func borrow(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// str is a scalar as text, as the normalizers want it: a string's value, a
// number's literal, "true" or "false"; "" for null, objects, arrays and an
// absent value.
func str(v jv) string {
	switch v.kind() {
	case jString:
		n := v.node()
		return unquote(v.d.buf[n.s:n.e], v.d.buf[n.s+1:n.e-1], n.sesc)
	case jNumber:
		return borrow(v.text())
	case jTrue:
		return "true"
	case jFalse:
		return "false"
	}
	return ""
}

// generic is v decoded by encoding/json (numbers as json.Number): what
// untimed.jsonl shows as a record's raw form when it is not the whole line.
func (v jv) generic() any {
	if !v.present() {
		return nil
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(v.raw()))
	dec.UseNumber()
	if dec.Decode(&x) != nil {
		return nil // not reached: the scanner took the value
	}
	return x
}

// kindName names v's kind as the untimed records' details do.
func (v jv) kindName() string {
	switch v.kind() {
	case jNull, 0:
		return "null"
	case jString:
		return "string"
	case jNumber:
		return "number"
	case jTrue, jFalse:
		return "boolean"
	case jArray:
		return "array"
	}
	return "object"
}

// children calls f with each element of an array, or each member of an
// object, in document order, until f returns false.
func (v jv) children(f func(c jv) bool) {
	k := v.kind()
	if k != jObject && k != jArray {
		return
	}
	end := int(v.node().end)
	for c := v.i; c < end; c = int(v.d.nodes[c].end) {
		if !f(jv{v.d, c + 1}) {
			return
		}
	}
}

// elems is an array's elements (nil for what is not an array).
func (v jv) elems() []jv {
	if v.kind() != jArray {
		return nil
	}
	var out []jv
	v.children(func(c jv) bool { out = append(out, c); return true })
	return out
}

// count is the number of an array's elements or an object's members.
func (v jv) count() int {
	n := 0
	v.children(func(jv) bool { n++; return true })
	return n
}

// firstElem is an array's first element (absent when there is none).
func (v jv) firstElem() jv {
	if v.kind() != jArray || int(v.node().end) == v.i {
		return jv{}
	}
	return jv{v.d, v.i + 1}
}

// keyName is member c's key, unquoted.
func (c jv) keyName() string {
	n := c.node()
	return unquote(c.d.buf[n.ks-1:n.ke+1], c.d.buf[n.ks:n.ke], n.kesc)
}

// index makes m's hash table of its members by folded key, once per
// object, on its first lookup: a normalizer looks up dozens of keys a
// record, most of them absent, and comparing each with every member was
// the largest cost left after scanning. Members are put in in document
// order with linear probing, so a lookup meets the members of one folded
// key in document order.
//
// Records of a log repeat a few shapes (a CloudTrail record's keys, in
// its order, are those of its event's records), and folding every key of
// every object and hashing it into a table was, after the scan, the
// largest cost of a record. So a table made is kept by the object's keys
// (objShape), and an object with the same keys in the same order takes
// a copy: its keys compared byte for byte with the kept ones, which costs
// less than folding them. A table is the same function of the keys either
// way, so a lookup finds what it would have.
func (m jv) index() {
	d := m.d
	nodes := d.nodes
	obj := &nodes[m.i-1]
	if obj.tab != 0 {
		return
	}
	n, keyBytes, esc := 0, 0, false
	sig := uint64(0)
	for c, end := m.i, int(obj.end); c < end; c = int(nodes[c].end) {
		mb := &nodes[c]
		sig = (sig ^ uint64(mb.ke-mb.ks)) * 0x100000001B3
		keyBytes += int(mb.ke - mb.ks)
		esc = esc || mb.kesc
		n++
	}
	var sh *objShape
	if !esc && minShapeMembers <= n && n <= maxShapeMembers && keyBytes <= maxShapeKeyBytes && d.reused {
		if d.shapes == nil {
			d.shapes = new([shapeSlots]objShape)
		}
		sig ^= uint64(n) << 56
		sh = &d.shapes[(sig*0x9E3779B97F4A7C15)>>32&(shapeSlots-1)]
		if sh.sig == sig && len(sh.ends) == n && m.indexAs(sh) {
			return
		}
	}
	for c, end := m.i, int(obj.end); c < end; c = int(nodes[c].end) {
		mb := &nodes[c]
		if mb.kesc {
			mb.fold = foldKey((jv{d, c + 1}).keyName())
		} else {
			mb.fold = foldKey(d.buf[mb.ks:mb.ke])
		}
	}
	size := 4
	for size < 2*n {
		size *= 2
	}
	off := len(d.tab)
	d.tab = slices.Grow(d.tab, size)[:off+size]
	tab := d.tab[off:]
	clear(tab)
	mask := size - 1
	// A shape to keep gets the same table in member ordinals + 1.
	var shTab []int32
	if sh != nil {
		sh.tab = slices.Grow(sh.tab[:0], size)[:size]
		shTab = sh.tab
		clear(shTab)
	}
	k := int32(0)
	for c, end := m.i, int(obj.end); c < end; c = int(nodes[c].end) {
		s := slot(nodes[c].fold, mask)
		for tab[s] != 0 {
			s = (s + 1) & mask
		}
		tab[s] = c + 1
		if shTab != nil {
			k++
			shTab[s] = k
		}
	}
	obj.tab, obj.mask = int32(off+1), int32(mask)
	if sh != nil {
		m.keepShape(sh, sig)
	}
}

// indexAs makes m's table a copy of shape sh's, when m's keys are sh's
// (m has as many members, none with an escaped key); false, with m not
// indexed, when they are not.
func (m jv) indexAs(sh *objShape) bool {
	d := m.d
	nodes := d.nodes
	obj := &nodes[m.i-1]
	// members[o] is the node index of the member of ordinal o-1: the
	// shape's table entry o, with members[0] = -1 for an empty slot's 0.
	members := append(d.members[:0], -1)
	from := int32(0)
	for c, end := m.i, int(obj.end); c < end; c = int(nodes[c].end) {
		mb := &nodes[c]
		k := len(members) - 1
		to := sh.ends[k]
		if string(d.buf[mb.ks:mb.ke]) != string(sh.keys[from:to]) {
			d.members = members
			return false
		}
		mb.fold = sh.folds[k]
		members = append(members, int32(c))
		from = to
	}
	d.members = members
	size := len(sh.tab)
	off := len(d.tab)
	d.tab = slices.Grow(d.tab, size)[:off+size]
	tab := d.tab[off:]
	for s, o := range sh.tab {
		tab[s] = int(members[o]) + 1
	}
	obj.tab, obj.mask = int32(off+1), int32(size-1)
	return true
}

// keepShape keeps m's keys, their folds and signature sig in sh, whose
// table index has just made (whatever shape sh held before).
func (m jv) keepShape(sh *objShape, sig uint64) {
	d := m.d
	nodes := d.nodes
	obj := &nodes[m.i-1]
	sh.sig = sig
	sh.keys, sh.ends, sh.folds = sh.keys[:0], sh.ends[:0], sh.folds[:0]
	for c, end := m.i, int(obj.end); c < end; c = int(nodes[c].end) {
		mb := &nodes[c]
		sh.keys = append(sh.keys, d.buf[mb.ks:mb.ke]...)
		sh.ends = append(sh.ends, int32(len(sh.keys)))
		sh.folds = append(sh.folds, mb.fold)
	}
}

// slot is a folded key's home slot in a table of mask+1 slots.
func slot(h uint64, mask int) int { return int((h*0x9E3779B97F4A7C15)>>32) & mask }

// keyIsName reports whether member c's key, unquoted, is k.
func (m jv) keyIsName(c int, k string) bool {
	n := &m.d.nodes[c]
	if n.kesc {
		return (jv{m.d, c + 1}).keyName() == k
	}
	return string(m.d.buf[n.ks:n.ke]) == k
}

// jkey is a key to look up with its fold (foldKey) made once, by mkKey: a
// normalizer's keys are constants, and folding each again on every lookup
// was a twentieth of normalising a record. The functions that take a jkey
// (keyK, fieldK, getK, getsK, getObjK) are those that take the key's name.
type jkey struct {
	name string
	fold uint64
}

// mkKey is name as a jkey.
func mkKey(name string) jkey { return jkey{name, foldKey(name)} }

// mkKeys is names as jkeys.
func mkKeys(names ...string) []jkey {
	ks := make([]jkey, len(names))
	for i, n := range names {
		ks[i] = mkKey(n)
	}
	return ks
}

// key is m[k] as a map would have it: the last member named k exactly.
func (m jv) key(k string) jv { return m.keyK(mkKey(k)) }

// keyK is key with k folded.
func (m jv) keyK(k jkey) jv {
	if m.kind() != jObject {
		return jv{}
	}
	return m.lookup(k.name, k.fold, false)
}

// lookup is field (byEq) or key, given k's folded key h.
func (m jv) lookup(k string, h uint64, byEq bool) jv {
	m.index()
	nodes := m.d.nodes
	obj := &nodes[m.i-1]
	tab := m.d.tab[obj.tab-1 : obj.tab+obj.mask]
	mask := int(obj.mask)
	exact, eq := 0, 0
	for s := slot(h, mask); tab[s] != 0; s = (s + 1) & mask {
		c := tab[s] - 1
		if nodes[c].fold != h { // a key equal to k, even by keyEq, folds as k does
			continue
		}
		if m.keyIsName(c, k) {
			exact = c + 1 // the last one, as in a map
		} else if byEq && eq == 0 && keyEq((jv{m.d, c + 1}).keyName(), k) {
			eq = c + 1
		}
	}
	switch {
	case exact != 0:
		return jv{m.d, exact}
	case eq != 0:
		return m.key(jv{m.d, eq}.keyName()) // the last member of that name
	}
	return jv{}
}

// foldSet is the set of m's members' folded keys, a bit of 64 each
// (foldBit): a key whose bit is not in it is no member's, exactly or by
// keyEq (both fold as the key does), so it need not be looked up.
func (m jv) foldSet() uint64 {
	if m.kind() != jObject {
		return 0
	}
	m.index()
	nodes := m.d.nodes
	var set uint64
	for c, end := m.i, int(nodes[m.i-1].end); c < end; c = int(nodes[c].end) {
		set |= foldBit(nodes[c].fold)
	}
	return set
}

// foldBit is folded key h's bit in a foldSet.
func foldBit(h uint64) uint64 { return 1 << ((h * 0x9E3779B97F4A7C15) >> 58) }

// keys is an object's distinct keys, sorted: a map's keys.
func (m jv) keys() []string {
	var ks []string
	m.children(func(c jv) bool { ks = append(ks, c.keyName()); return true })
	slices.Sort(ks)
	return slices.Compact(ks)
}

// foldKey hashes a key as keyEq compares it (case and '-', '_' ignored).
// A rotation and an exclusive or a byte, not FNV's multiply: every member
// key of every object looked in and every key looked up is folded, and the
// multiply's latency chained through the bytes was most of that. The hash
// only picks slots and filters candidates (slot mixes it; lookup compares
// the names); distinct ASCII keys of up to nine folded bytes still get
// distinct hashes.
func foldKey[S string | []byte](s S) uint64 {
	var h uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' {
			continue
		}
		u := uint64(c)
		if c-'A' < 26 { // upper case, without a branch mispredicted on camelCase
			u |= 0x20
		}
		h = bits.RotateLeft64(h, 7) ^ u
	}
	return h
}

// field is m[key], matched exactly first, then by keyEq. Among several keys
// that match by keyEq only, the first in the record is taken (the map this
// replaced gave one of them at random).
func field(m jv, key string) jv { return fieldK(m, mkKey(key)) }

// fieldK is field with the key folded.
func fieldK(m jv, k jkey) jv {
	if m.kind() != jObject {
		return jv{}
	}
	return m.lookup(k.name, k.fold, true)
}

// get walks a path of keys through nested objects.
func get(m jv, path ...string) jv {
	v := m
	for _, k := range path {
		if v.kind() != jObject {
			return jv{}
		}
		v = field(v, k)
	}
	return v
}

// getK is get with the keys folded.
func getK(m jv, path ...jkey) jv {
	v := m
	for _, k := range path {
		if v.kind() != jObject {
			return jv{}
		}
		v = fieldK(v, k)
	}
	return v
}

// getObj is get for an object (absent otherwise).
func getObj(m jv, path ...string) jv {
	if v := get(m, path...); v.kind() == jObject {
		return v
	}
	return jv{}
}

// getObjK is getObj with the keys folded.
func getObjK(m jv, path ...jkey) jv {
	if v := getK(m, path...); v.kind() == jObject {
		return v
	}
	return jv{}
}

// gets is str(get(...)).
func gets(m jv, path ...string) string { return str(get(m, path...)) }

// getsK is gets with the keys folded.
func getsK(m jv, path ...jkey) string { return str(getK(m, path...)) }
