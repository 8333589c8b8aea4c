package cloudtrail

// A byte-level reader for CloudTrail log files. Read used to take each
// record through encoding/json's Decoder and then json.Unmarshal: two
// passes of the generic state machine over every byte, several times
// slower than decompression. Here one validating pass finds each record's
// end (strings skipped eight bytes at a time), and the fields an Event
// holds are picked from the record directly. Whatever that fast path does
// not handle byte for byte as encoding/json would (an escaped or non-ASCII
// key, a key given twice, a value of another type than the field's) goes
// to json.Unmarshal, so an Event and every error are what they were.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errShort: the value goes on past the bytes at hand.
var errShort = errors.New("short")

// syntaxError is a record or file that is not JSON.
type syntaxError struct {
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func badChar(c byte, context string) error {
	return &syntaxError{fmt.Sprintf("invalid character %q %s", c, context)}
}

const maxDepth = 10000

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special reports whether one of the eight bytes of x is a quote, a
// backslash or a control character (below 0x20).
func special(x uint64) bool {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((q-lsb)&^q|(s-lsb)&^s|(x-lsb*0x20)&^x)&msb != 0
}

// validString checks the string that starts at b[i] (a quote) and returns
// the index after it.
func validString(b []byte, i int) (int, error) {
	i++
	for {
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return 0, errShort
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, errShort
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return 0, errShort
					}
					if !isHex(b[i+k]) {
						return 0, badChar(b[i+k], "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return 0, badChar(b[i+1], "in string escape code")
			}
		case c < 0x20:
			return 0, badChar(c, "in string literal")
		default:
			i++
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validNumber checks the number that starts at b[i]. A number that
// reaches the end of b may go on: errShort.
func validNumber(b []byte, i int) (int, error) {
	digits := func(i int) (int, error) {
		if i >= len(b) {
			return 0, errShort
		}
		if !isDigit(b[i]) {
			return 0, badChar(b[i], "in numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i, nil
	}
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0, errShort
	}
	var err error
	if b[i] == '0' {
		i++
	} else if i, err = digits(i); err != nil {
		return 0, err
	}
	if i < len(b) && b[i] == '.' {
		if i, err = digits(i + 1); err != nil {
			return 0, err
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, err = digits(i); err != nil {
			return 0, err
		}
	}
	if i >= len(b) {
		return 0, errShort
	}
	return i, nil
}

// validValue checks the JSON value that starts at b[i] (no space before
// it) and returns the index after it.
func validValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errShort
	}
	switch c := b[i]; c {
	case '"':
		return validString(b, i)
	case '{', '[':
		if depth >= maxDepth {
			return 0, &syntaxError{"exceeded max depth"}
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] == end {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if b[i] != '"' {
					return 0, badChar(b[i], "looking for beginning of object key string")
				}
				if i, err = validString(b, i); err != nil {
					return 0, err
				}
				if i = skipSpace(b, i); i >= len(b) {
					return 0, errShort
				}
				if b[i] != ':' {
					return 0, badChar(b[i], "after object key")
				}
				i = skipSpace(b, i+1)
			}
			if i, err = validValue(b, i, depth+1); err != nil {
				return 0, err
			}
			if i = skipSpace(b, i); i >= len(b) {
				return 0, errShort
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
				if i >= len(b) {
					return 0, errShort
				}
			case end:
				return i + 1, nil
			default:
				if c == '{' {
					return 0, badChar(b[i], "after object key:value pair")
				}
				return 0, badChar(b[i], "after array element")
			}
		}
	case 't', 'f', 'n':
		lit := "true"
		if c == 'f' {
			lit = "false"
		} else if c == 'n' {
			lit = "null"
		}
		for k := 1; k < len(lit); k++ {
			if i+k >= len(b) {
				return 0, errShort
			}
			if b[i+k] != lit[k] {
				return 0, badChar(b[i+k], "in literal "+lit+" (expecting "+fmt.Sprintf("%q", lit[k])+")")
			}
		}
		return i + len(lit), nil
	default:
		if c == '-' || isDigit(c) {
			return validNumber(b, i)
		}
		return 0, badChar(c, "looking for beginning of value")
	}
}

// stream is a buffered view of a file: the bytes not yet consumed are
// buf[pos:end].
type stream struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // io.EOF once the reader is done
}

func newStream(r io.Reader) *stream { return &stream{r: r, buf: make([]byte, 256<<10)} }

// more reads more bytes, keeping buf[pos:end] (moved to the start, the
// buffer grown when it is full), until the buffer is full: a value that
// spans many reads is validated again once per buffer size, not once per
// read. It reports false when nothing more came: at the end of the file or
// on a read error (in s.err).
func (s *stream) more() bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
	got := false
	for s.end < len(s.buf) {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		got = got || n > 0
		if err != nil {
			s.err = err
			return got
		}
	}
	return got
}

// failure is the error of a value cut short by the end of the data.
func (s *stream) failure() error {
	if s.err == nil || s.err == io.EOF {
		return io.EOF
	}
	return s.err
}

// peek skips space and returns the next byte.
func (s *stream) peek() (byte, error) {
	for {
		s.pos = skipSpace(s.buf[:s.end], s.pos)
		if s.pos < s.end {
			return s.buf[s.pos], nil
		}
		if !s.more() {
			return 0, s.failure()
		}
	}
}

// MaxRecord bounds the bytes of one record (and of any other value of a
// log file's top level) that are read into memory. A longer one is not
// decoded: its bytes are skipped as they stream past and it is reported as
// an *s3logs.OversizeError; the record stays, byte for byte, in the log
// file the collector copies unchanged. CloudTrail's own records are far
// smaller (its events are at most a few hundred KiB).
const MaxRecord = 8 << 20

// errOversize: the value goes on past MaxRecord bytes.
var errOversize = errors.New("oversize")

// value checks the next value and returns it (valid until the next call).
// A value longer than limit bytes is errOversize, with s.pos still at its
// start (skipValue goes past it).
func (s *stream) value() ([]byte, error) { return s.valueWithin(MaxRecord) }

func (s *stream) valueWithin(limit int) ([]byte, error) {
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	for {
		n, err := validValue(s.buf[:s.end], s.pos, 1)
		if err == nil {
			v := s.buf[s.pos:n]
			s.pos = n
			return v, nil
		}
		if err != errShort {
			return nil, err
		}
		if s.end-s.pos >= limit {
			return nil, errOversize
		}
		if !s.more() {
			if s.err == io.EOF && s.end > s.pos && isNumberStart(s.buf[s.pos]) {
				// A number that ends the file is whole.
				if n, err := validNumber(append(s.buf[s.pos:s.end:s.end], ' '), 0); err == nil {
					v := s.buf[s.pos : s.pos+n]
					s.pos += n
					return v, nil
				}
			}
			return nil, s.failure()
		}
	}
}

func isNumberStart(c byte) bool { return c == '-' || isDigit(c) }

// next consumes c (after space) or fails naming what was expected.
func (s *stream) next(c byte, context string) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return badChar(got, context)
	}
	s.pos++
	return nil
}

// skipValue consumes the value at s.pos (after space) without holding it:
// it follows strings, escapes and nesting only, a buffer at a time, and
// returns how many bytes the value had. It does not validate: a value that
// is not JSON inside is found out by what follows it, or not at all (it is
// reported oversize either way).
func (s *stream) skipValue() (int64, error) {
	if _, err := s.peek(); err != nil {
		return 0, err
	}
	var n int64
	depth := 0
	inString, escaped, scalar := false, false, false
	switch s.buf[s.pos] {
	case '{', '[', '"':
	default:
		scalar = true // a number or literal: it ends at a delimiter
	}
	for {
		b := s.buf[s.pos:s.end]
		for i, c := range b {
			end := -1
			switch {
			case scalar:
				if isSpace(c) || c == ',' || c == ']' || c == '}' {
					end = i
				}
			case inString && escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case inString && c == '"':
				inString = false
				if depth == 0 {
					end = i + 1
				}
			case inString:
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					end = i + 1
				}
				if depth < 0 {
					return n, badChar(c, "looking for beginning of value")
				}
			}
			if end >= 0 {
				s.pos += end
				return n + int64(end), nil
			}
		}
		n += int64(len(b))
		s.pos = s.end
		if !s.more() {
			if scalar && s.err == io.EOF {
				return n, nil // a number that ends the file
			}
			return n, s.failure()
		}
	}
}
