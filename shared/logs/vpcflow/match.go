package vpcflow

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/incident"
)

// ENIFields are the fields that name a network interface.
var ENIFields = []string{"interface-id", "tgw-src-eni", "tgw-dst-eni"}

// AddrFields are the fields that hold an IP address: the interface's
// addresses and, for traffic through a NAT or an interface of another
// service, the packet's original ones.
var AddrFields = []string{"srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"}

// Matcher picks the records a case touches: an interface of the Scope
// (ENIs) in interface-id (or a Transit Gateway record's tgw-src-eni and
// tgw-dst-eni), or an address of the Scope (PrivateIPs, PublicIPs,
// RemoteIPs) in srcaddr, dstaddr, pkt-srcaddr or pkt-dstaddr; and whose
// capture window [start, end] overlaps the case's Window.
type Matcher struct {
	enis   map[string]struct{}
	addrs  map[string]struct{}
	window incident.Window
	// For MayMatch: the interfaces and addresses as bytes; anyLine when
	// an IPv6 address makes every line a candidate.
	tokens  [][]byte
	anyLine bool
	// For Candidate: the same tokens, each with its first eight bytes as
	// a word, to rule most fields out with one comparison.
	fields []fieldToken
}

// fieldToken is a scope token for Candidate.
type fieldToken struct {
	b           []byte
	first, mask uint64 // the first min(8, len(b)) bytes, little-endian, and their mask
}

// NewMatcher returns the Matcher of a Scope and Window.
func NewMatcher(sc incident.Scope, w incident.Window) *Matcher {
	m := &Matcher{enis: map[string]struct{}{}, addrs: map[string]struct{}{}, window: w}
	for _, e := range sc.ENIs {
		if e = strings.TrimSpace(e); e != "" {
			m.enis[e] = struct{}{}
		}
	}
	for _, list := range [][]string{sc.PrivateIPs, sc.PublicIPs, sc.RemoteIPs} {
		for _, a := range list {
			if a = canonicalAddr(strings.TrimSpace(a)); a != "" {
				m.addrs[a] = struct{}{}
			}
		}
	}
	for e := range m.enis {
		m.tokens = append(m.tokens, []byte(e))
	}
	for a := range m.addrs {
		m.anyLine = m.anyLine || strings.IndexByte(a, ':') >= 0
		m.tokens = append(m.tokens, []byte(a))
	}
	for _, t := range m.tokens {
		first, mask := word(t)
		m.fields = append(m.fields, fieldToken{b: t, first: first, mask: mask})
	}
	return m
}

// word is the first eight bytes of b (fewer when b is shorter) as a
// little-endian word, and the mask of the bytes it holds.
func word(b []byte) (w, mask uint64) {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b), ^uint64(0)
	}
	var buf [8]byte
	copy(buf[:], b)
	return binary.LittleEndian.Uint64(buf[:]), 1<<(8*uint(len(b))) - 1
}

// Empty reports whether the Scope names no interface and no address: the
// matcher then matches nothing.
func (m *Matcher) Empty() bool { return len(m.enis) == 0 && len(m.addrs) == 0 }

// Match reports whether r is in scope and in the window.
func (m *Matcher) Match(r Record) bool { return m.InScope(r) && m.InWindow(r) }

// InScope reports whether r names an interface or an address of the Scope.
func (m *Matcher) InScope(r Record) bool {
	for _, f := range ENIFields {
		if s, ok := r.Fields[f].(string); ok {
			if _, hit := m.enis[s]; hit {
				return true
			}
		}
	}
	if len(m.addrs) == 0 {
		return false
	}
	for _, f := range AddrFields {
		s, ok := r.Fields[f].(string)
		if !ok {
			continue
		}
		if _, hit := m.addrs[s]; hit {
			return true
		}
		if strings.IndexByte(s, ':') >= 0 { // IPv6: compare canonical forms
			if _, hit := m.addrs[canonicalAddr(s)]; hit {
				return true
			}
		}
	}
	return false
}

// InWindow reports whether r's capture window [start, end] overlaps the
// case's Window. A record with a start and no end is taken as the instant
// start; a record with no start (a format without one) cannot be judged and
// is kept.
func (m *Matcher) InWindow(r Record) bool { return Overlaps(r, m.window) }

// Overlaps reports whether r's capture window overlaps w (see
// Matcher.InWindow).
func Overlaps(r Record, w incident.Window) bool {
	if r.Start.IsZero() {
		return true
	}
	end := r.End
	if end.IsZero() || end.Before(r.Start) {
		end = r.Start
	}
	return !r.Start.After(w.End) && !end.Before(w.Start)
}

// Time is the record's time for a timeline: its start, else its end.
func (r Record) Time() time.Time {
	if !r.Start.IsZero() {
		return r.Start
	}
	return r.End
}

func canonicalAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

// MayMatch reports whether line can hold a record in the Matcher's scope:
// whether it names one of the scope's interfaces or addresses as text. A
// false answer is certain, so a reader may skip parsing the line (most
// lines of a busy VPC's flow log); a true one still needs Match. With an
// IPv6 address in the scope, which a line may write in another form, every
// line may match.
func (m *Matcher) MayMatch(line []byte) bool {
	if m.anyLine {
		return true
	}
	for _, t := range m.tokens {
		if bytes.Contains(line, t) {
			return true
		}
	}
	return false
}

// Candidate is CountFields and MayMatch in one pass over a line of format
// f, for a reader that parses only the lines that may match: the number of
// fields in line, and whether it may hold a record in the scope. Where
// MayMatch looks for the scope's interfaces and addresses anywhere in the
// line, Candidate compares them with the fields Match compares: the
// ENIFields of f when the scope names interfaces, its AddrFields when it
// names addresses. A line with
// another number of fields than f is malformed and never a candidate. A
// false answer is certain: such a line holds no record Match keeps.
//
// An address field may write an address of the scope in another form
// (IPv6, or IPv4 mapped into IPv6: both have a ':'); when the scope names
// addresses, a line with a ':' is judged by MayMatch.
func (m *Matcher) Candidate(line []byte, f *Format) (fields int, may bool) {
	return m.candidate(line, f, m.scopeFields(f))
}

// scopeFields are the indexes, in order, of the fields of f that Match
// compares with the scope: the interface fields when it names interfaces,
// the address fields when it names addresses. A reader of many lines in
// one format finds them once.
func (m *Matcher) scopeFields(f *Format) []int {
	if len(m.enis) > 0 && len(m.addrs) > 0 {
		return f.scopeAt
	}
	var at []int
	for _, i := range f.scopeAt {
		if slices.Contains(ENIFields, f.fields[i]) == (len(m.enis) > 0) {
			at = append(at, i)
		}
	}
	return at
}

// candidate is Candidate with f's scopeFields.
func (m *Matcher) candidate(line []byte, f *Format, at []int) (fields int, may bool) {
	if m.anyLine || len(m.fields) == 0 || (len(m.addrs) > 0 && bytes.IndexByte(line, ':') >= 0) {
		n := CountFields(line)
		return n, n == f.Len() && m.MayMatch(line)
	}
	n, next := 0, 0
	// As in CountFields: the top byte of prev flags the byte before the
	// word as white space; starts flags the first byte of each field.
	prev := uint64(1) << 63
	i := 0
	// The words up to the last field of interest: each field of at
	// that starts in a word is found as the k-th flag of its starts.
	for ; i+8 <= len(line) && next < len(at); i += 8 {
		sp := spaceBytes(binary.LittleEndian.Uint64(line[i:]))
		starts := ^sp & (sp<<8 | prev>>56) & hiBits
		prev = sp
		c := bits.OnesCount64(starts)
		for next < len(at) && n+c > at[next] {
			if m.tokenAt(line, i+kthStart(starts, at[next]-n)) {
				may, next = true, len(at)
				break
			}
			next++
		}
		n += c
	}
	// The rest of the words: fields counted, nothing else.
	for ; i+8 <= len(line); i += 8 {
		sp := spaceBytes(binary.LittleEndian.Uint64(line[i:]))
		n += bits.OnesCount64(^sp & (sp<<8 | prev>>56) & hiBits)
		prev = sp
	}
	// The last 1 to 7 bytes as one more word, not byte by byte: the
	// line's last eight bytes shifted down past those already read (or
	// the short line itself), the bytes beyond the line taken as space,
	// which starts no field.
	if r := len(line) - i; r > 0 {
		var w uint64
		if len(line) >= 8 {
			w = binary.LittleEndian.Uint64(line[len(line)-8:]) >> (8 * uint(8-r))
		} else {
			w, _ = word(line)
		}
		sp := spaceBytes(w) | hiBits<<(8*uint(r))
		starts := ^sp & (sp<<8 | prev>>56) & hiBits
		c := bits.OnesCount64(starts)
		for next < len(at) && n+c > at[next] {
			if m.tokenAt(line, i+kthStart(starts, at[next]-n)) {
				may = true
				break
			}
			next++
		}
		n += c
	}
	return n, may && n == f.Len()
}

// kthStart is the byte offset of the k-th (from 0) flagged byte of
// starts.
func kthStart(starts uint64, k int) int {
	for ; k > 0; k-- {
		starts &= starts - 1
	}
	return bits.TrailingZeros64(starts) / 8
}

// tokenAt reports whether the field that starts at line[at] is one of the
// scope's tokens. The field's first eight bytes, one load on most lines,
// rule out nearly every token that is not it.
func (m *Matcher) tokenAt(line []byte, at int) bool {
	rest := line[at:]
	var w uint64
	if len(rest) >= 8 {
		w = binary.LittleEndian.Uint64(rest)
	} else {
		w, _ = word(rest)
	}
	for _, t := range m.fields {
		if w&t.mask != t.first || len(rest) < len(t.b) || !bytes.Equal(rest[:len(t.b)], t.b) {
			continue
		}
		if len(rest) == len(t.b) || asciiSpace[rest[len(t.b)]] {
			return true
		}
	}
	return false
}

// CountFields is the number of fields in line (as Format.Parse splits it),
// counted without allocating: a reader that skips a line can still tell a
// malformed one.
//
// It reads the line eight bytes at a time (SWAR): every line of an object
// is counted, so this loop is most of what a skipped line costs.
func CountFields(line []byte) int {
	n := 0
	// prev has the high bit of its top byte set when the byte before the
	// word is white space (or the line's start): a field starts at each
	// byte that is not space and follows one that is.
	prev := uint64(1) << 63
	i := 0
	for ; i+8 <= len(line); i += 8 {
		sp := spaceBytes(binary.LittleEndian.Uint64(line[i:]))
		// The flag of each byte's predecessor: the word's flags one byte
		// up, the previous word's top byte coming in at the bottom.
		before := sp<<8 | prev>>56
		n += bits.OnesCount64(^sp & before & hiBits)
		prev = sp
	}
	in := prev>>63 == 0
	for _, c := range line[i:] {
		space := asciiSpace[c]
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}

const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
	low7   = 0x7f7f7f7f7f7f7f7f
)

// spaceBytes sets the high bit of each byte of x (eight bytes of a line)
// that asciiSpace marks, ' ' or '\t' to '\r', and clears every other bit.
// Each byte is tested exactly: its low seven bits are added to constants
// that carry into the byte's own high bit and never past it.
func spaceBytes(x uint64) uint64 {
	l := x & low7
	// ' ': the low bits are 0x20 exactly.
	eq := ^((l ^ 0x20*loBits) + low7)
	// '\t' to '\r': at least 0x09 and not at least 0x0e.
	rng := (l + (0x80-0x09)*loBits) &^ (l + (0x80-0x0e)*loBits)
	// A byte with its high bit set (UTF-8) is no ASCII space.
	return (eq | rng) &^ x & hiBits
}

// asciiSpace marks the bytes bytes.Fields splits ASCII text at.
var asciiSpace = [256]bool{' ': true, '\t': true, '\r': true, '\n': true, '\v': true, '\f': true}
