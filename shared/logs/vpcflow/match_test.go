package vpcflow

import (
	"bytes"
	"strings"
	"testing"
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
