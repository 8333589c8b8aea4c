package vpcflow

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/incident"
)

// fieldsRef is CountFields as Format.Parse splits, the slow way.
func fieldsRef(line []byte) int {
	return len(bytes.FieldsFunc(line, func(r rune) bool { return r < 0x80 && asciiSpace[r] }))
}

// TestCountFields checks the word-at-a-time count against Parse's split:
// fields that cross an eight-byte word, white space of every kind on a
// word's edge, and bytes whose low seven bits are a space's (0xa0, 0x89,
// 0x8d, in UTF-8 text) that are not one.
func TestCountFields(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{
		{"", 0},
		{" ", 0},
		{"a", 1},
		{"  a  b\tc ", 3},
		{"2 123 eni-1 - - - - - - - 1 2 - NODATA", 14},
		{"1234567 89", 2},             // a space ends the first word
		{"12345678 9", 2},             // a space starts the second
		{"1234567890123456", 1},       // one field over two words
		{"\t\n\v\f\r 1234567\r\n", 1}, // every space, then a field ending at a word's edge
		{"ab\u00a0cd\u0085ef", 1},     // U+00A0 and U+0085 are inside a value
		{"\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0 \x89\x8d", 2},
		{"2 123456789012 eni-0be4c4cafe0b1e2f3 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", 14},
	} {
		if got := CountFields([]byte(c.line)); got != c.want || got != fieldsRef([]byte(c.line)) {
			t.Errorf("CountFields(%q) = %d, want %d (Parse splits %d)", c.line, got, c.want, fieldsRef([]byte(c.line)))
		}
	}
	// Every byte value at every offset of a line three words long, alone
	// and beside a space: the count is Parse's.
	for b := 0; b < 256; b++ {
		for at := 0; at < 24; at++ {
			for _, fill := range []byte{'x', ' '} {
				line := bytes.Repeat([]byte{fill}, 24)
				line[at] = byte(b)
				if got, want := CountFields(line), fieldsRef(line); got != want {
					t.Fatalf("CountFields(%q) = %d, Parse splits %d", line, got, want)
				}
			}
		}
	}
	if got := CountFields([]byte(strings.Repeat("ab ", 1000))); got != 1000 {
		t.Errorf("1000 fields counted %d", got)
	}
}

// TestCandidate checks Candidate's one pass: its count is CountFields',
// and it rules out a line only when no field where the format writes an
// interface or an address is one of the scope's, at a word's edge or
// inside one, at the line's end or before a tab.
func TestCandidate(t *testing.T) {
	eni := "eni-0be4c4cafe0b1e2f3"
	tgw := MustFormat("${version} ${resource-type} ${tgw-id} ${tgw-src-eni} ${tgw-dst-eni} ${srcaddr} ${dstaddr} ${start} ${end} ${log-status}")
	short := MustFormat("${srcaddr} ${interface-id}")
	for _, c := range []struct {
		name   string
		scope  incident.Scope
		format Format
		line   string
		want   bool
	}{
		{"the interface", incident.Scope{ENIs: []string{eni}}, Default, "2 1 " + eni + " 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", true},
		{"another interface", incident.Scope{ENIs: []string{eni}}, Default, "2 1 eni-0be4c4cafe0b1e2f4 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
		{"the interface as a prefix", incident.Scope{ENIs: []string{eni}}, Default, "2 1 " + eni + "0 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
		{"the interface's text in another field", incident.Scope{ENIs: []string{eni}}, Default, "2 " + eni + " eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
		{"the interface in an address field", incident.Scope{ENIs: []string{eni}}, Default, "2 1 eni-1 " + eni + " 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
		{"an address in the interface field", incident.Scope{PrivateIPs: []string{"10.0.0.9"}}, Default, "2 1 10.0.0.9 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
		{"both, an address in the interface field", incident.Scope{ENIs: []string{eni}, PrivateIPs: []string{"10.0.0.9"}}, Default, "2 1 10.0.0.9 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", true},
		{"malformed, the interface in it", incident.Scope{ENIs: []string{eni}}, Default, "2 1 " + eni + " 10.0.0.1", false},
		{"an address, field at a word's edge", incident.Scope{PrivateIPs: []string{"10.0.0.2"}}, Default, "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", true},
		{"a short address", incident.Scope{RemoteIPs: []string{"1.2.3.4"}}, Default, "2 1 eni-12 1.2.3.4 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", true},
		{"a short address's prefix", incident.Scope{RemoteIPs: []string{"1.2.3.4"}}, Default, "2 1 eni-12 1.2.3.45 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
		{"the last field, no newline", incident.Scope{ENIs: []string{"eni-9"}}, short, "10.0.0.1 eni-9", true},
		{"the last field, a tab before it", incident.Scope{ENIs: []string{"eni-9"}}, short, "10.0.0.1\teni-9\r", true},
		{"the first field in the tail", incident.Scope{PrivateIPs: []string{"10.0.0.1"}}, short, "10.0.0.1 e", true},
		{"a line shorter than a word", incident.Scope{ENIs: []string{"eni-9"}}, MustFormat("${version} ${interface-id}"), "2 eni-9", true},
		{"white space after the last field", incident.Scope{ENIs: []string{"eni-9"}}, short, "10.0.0.1 eni-9 \t ", true},
		{"the line ends inside the interface", incident.Scope{ENIs: []string{"eni-9"}}, short, "10.0.0.1 eni-", false},
		{"leading white space", incident.Scope{PrivateIPs: []string{"10.0.0.1"}}, short, " \t 10.0.0.1 e", true},
		{"a Transit Gateway interface", incident.Scope{ENIs: []string{eni}}, tgw, "6 TransitGateway tgw-1 eni-1 " + eni + " 10.0.0.1 10.0.0.2 1 2 OK", true},
		{"an IPv4-mapped address", incident.Scope{PrivateIPs: []string{"10.0.0.1"}}, Default, "2 1 eni-1 ::ffff:10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", true},
		{"an IPv6 scope", incident.Scope{RemoteIPs: []string{"2001:db8::1"}}, Default, "2 1 eni-1 2001:0db8::1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", true},
		{"an empty scope", incident.Scope{}, Default, "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewMatcher(c.scope, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)})
			n, may := m.Candidate([]byte(c.line), &c.format)
			if n != CountFields([]byte(c.line)) || may != c.want {
				t.Errorf("Candidate = %d, %v; want %d, %v", n, may, CountFields([]byte(c.line)), c.want)
			}
			if r, err := c.format.Parse([]byte(c.line)); err == nil && m.InScope(r) && !may {
				t.Errorf("ruled out a record in scope")
			}
		})
	}
}
