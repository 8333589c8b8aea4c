package timeline

import (
	"bytes"
	"encoding/binary"
	"unicode"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it with SetEscapeHTML(false): '"', '\\' and control characters
// escaped (\b \f \n \r \t short, others \u00XX), invalid UTF-8 as \ufffd,
// U+2028 and U+2029 escaped, the rest as it is. Writing the timeline's
// lines by hand rather than through json.Encoder's reflection is a good
// part of why output costs little; encode_test.go holds it to encoding/json.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Sixteen, then eight bytes at a time while none needs a look
		// (see special8): two words a test halves the loop's branches.
		for i+16 <= len(s) && special8(binary.LittleEndian.Uint64(s[i:]))|special8(binary.LittleEndian.Uint64(s[i+8:])) == 0 {
			i += 16
		}
		for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		if i+8 > len(s) && len(s) >= 8 && plain8(binary.LittleEndian.Uint64(s[len(s)-8:])) {
			break // the tail, read as the last word (overlapping)
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendCSVField appends f as encoding/csv's Writer writes a field (comma
// ',', UseCRLF false): quoted when it is `\.`, holds a comma, quote, CR or
// LF, or starts with a space (unicode.IsSpace); within quotes '"' doubled.
func appendCSVField(dst, f []byte) []byte {
	if !csvNeedsQuotes(f) {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(f, '"')
		if i < 0 {
			break
		}
		dst = append(dst, f[:i+1]...)
		dst = append(dst, '"')
		f = f[i+1:]
	}
	dst = append(dst, f...)
	return append(dst, '"')
}

// appendCSVCell is appendCSVField of CSVSafe(f): a cell a spreadsheet
// would run as a formula starts with a single quote.
func appendCSVCell(dst, f []byte) []byte {
	if len(f) > 0 && formulaStart(f[0]) {
		// Quoted or not as the cell with its quote is (a rare cell:
		// the copy costs nothing that matters).
		return appendCSVField(dst, append([]byte{'\''}, f...))
	}
	return appendCSVField(dst, f)
}

func csvNeedsQuotes(f []byte) bool {
	if len(f) == 0 {
		return false
	}
	if string(f) == `\.` || csvSpecial(f) {
		return true
	}
	if c := f[0]; c < utf8.RuneSelf {
		return c == ' ' || '\t' <= c && c <= '\r' // unicode.IsSpace's ASCII
	}
	r, _ := utf8.DecodeRune(f)
	return unicode.IsSpace(r)
}

// csvSpecial reports whether f holds a newline, a carriage return, a quote
// or a comma. It reads f eight bytes at a time, looking at the bytes of a
// word only when csvSpecial8 says one may be, and the last bytes as the
// last word, overlapping the one before: going byte by byte through each
// field's tail was a good part of a row's cost.
func csvSpecial(f []byte) bool {
	if len(f) < 8 {
		return csvSpecialBytes(f)
	}
	for i := 0; ; i += 8 {
		if i+8 > len(f) {
			i = len(f) - 8
		}
		if csvSpecial8(binary.LittleEndian.Uint64(f[i:])) && csvSpecialBytes(f[i:i+8]) {
			return true
		}
		if i+8 == len(f) {
			return false
		}
	}
}

// csvSpecialBytes is csvSpecial a byte at a time.
func csvSpecialBytes(f []byte) bool {
	for _, c := range f {
		if c == '\n' || c == '\r' || c == '"' || c == ',' {
			return true
		}
	}
	return false
}

// csvSpecial8 reports whether one of the eight bytes in x may be a newline,
// a carriage return, a quote or a comma: every byte below 0x20 is taken
// for one, which costs a rare tab a look at a byte and makes three tests
// of four, small enough to be inlined (a call for every eight bytes, with
// four tests, was most of a row's cost).
func csvSpecial8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, c := x^(ones*'"'), x^(ones*',')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(c-ones)&^c)&highs != 0
}
