package cloudtrail

// A matcher-aware decoder. In an extract only a few records in a hundred
// are in scope, and decoding an Event for each of the others is most of the
// cost of reading a log file. Every rule of the Matcher compares a value of
// the record, or searches one, for a value of the scope, so a record in
// scope holds some value of the scope in its bytes: literally, or written
// with a JSON escape (\u0041, \/). DecodeFor decodes only the records that
// do (or that hold such an escape) and lets the Matcher decide on them as
// it would have; the others are counted, never decoded.

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/custody-ir/custody/shared/s3logs"
)

// Tokens returns byte strings of which every record m matches holds at
// least one, literally, unless the record holds a \u or \/ escape (a value
// can be written with either and still decode to the scope's): a record
// with neither a token nor such an escape does not match. Tokens are the
// scope's values (a role ARN gives its role name too, which its sessions
// carry; a value that contains another is left out). ok is false when no
// such tokens can be given, when a value of the scope is empty or holds a
// character JSON must escape (a quote, a backslash, a control character)
// or U+FFFD (what a decoder puts for a byte that is not UTF-8): every
// record must then be decoded. A scope that names nothing gives no tokens
// and ok: no record matches.
func (m *Matcher) Tokens() (tokens [][]byte, ok bool) {
	var vals []string
	for _, set := range []map[string]bool{m.keys, m.principals, m.principalIDs, m.roles, m.users, m.instances, m.ips} {
		for v := range set {
			vals = append(vals, v)
		}
	}
	for k := range m.roleKeys {
		// "ACCOUNT/ROLE": a session of the role names ROLE (which holds no
		// slash) in its ARN, the issuer's ARN ends with it.
		vals = append(vals, k[strings.LastIndex(k, "/")+1:])
	}
	for _, v := range m.ids {
		vals = append(vals, string(v))
	}
	for _, v := range vals {
		if v == "" || strings.ContainsRune(v, utf8.RuneError) {
			return nil, false
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c == '"' || c == '\\' {
				return nil, false
			}
		}
	}
	// Shortest first, so a value holding an earlier one is dropped.
	sort.Slice(vals, func(i, j int) bool {
		if len(vals[i]) != len(vals[j]) {
			return len(vals[i]) < len(vals[j])
		}
		return vals[i] < vals[j]
	})
next:
	for _, v := range vals {
		for _, t := range tokens {
			if strings.Contains(v, string(t)) {
				continue next
			}
		}
		tokens = append(tokens, []byte(v))
	}
	return tokens, true
}

// byteRank is how often each byte occurs in CloudTrail logs (log2 of its
// share per million, 0 to f, from the testdata records): a token is
// searched for by its rarest byte.
const byteRank = "" +
	"00000000000000000000000000000000c0f03000001bffdceeffeeededf00900" +
	"0fdedddccebcbcdccbdedbddbbca1a080fefffeedfbdfeffecffffeecdcd0d00" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// token is a value searched for in records: at, its rarest byte, is
// found first.
type token struct {
	b  []byte
	at int
}

func newToken(b []byte) token {
	t := token{b: b}
	for i, c := range b {
		if byteRank[c] < byteRank[b[t.at]] {
			t.at = i
		}
	}
	return t
}

// in reports whether raw holds t.
func (t token) in(raw []byte) bool {
	c, n := t.b[t.at], len(t.b)
	for i := t.at; i < len(raw); {
		j := bytes.IndexByte(raw[i:], c)
		if j < 0 {
			return false
		}
		i += j
		if s := i - t.at; s+n <= len(raw) && bytes.Equal(raw[s:s+n], t.b) {
			return true
		}
		i++
	}
	return false
}

// candidate reports whether raw holds one of tokens or a \u or \/ escape.
func candidate(raw []byte, tokens []token) bool {
	for _, t := range tokens {
		if t.in(raw) {
			return true
		}
	}
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 || i+1 >= len(raw) {
			return false
		}
		if c := raw[i+1]; c == 'u' || c == '/' {
			return true
		}
		// An escaped backslash is skipped whole, so \\u (a backslash and
		// a u) is not taken for an escape.
		raw = raw[i+2:]
	}
}

var eventTimeKey = []byte(`"eventTime"`)

// plainlyTimed reports whether raw, a valid JSON value, is an object that
// holds "eventTime": followed by an RFC 3339 time (at whatever depth: a
// record that does not may be malformed, and is decoded to find out).
func plainlyTimed(raw []byte) bool {
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	i := bytes.Index(raw, eventTimeKey)
	if i < 0 {
		return false
	}
	i = skipSpace(raw, i+len(eventTimeKey))
	if i >= len(raw) || raw[i] != ':' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i >= len(raw) || raw[i] != '"' {
		return false
	}
	v := raw[i+1:]
	end := bytes.IndexByte(v, '"')
	if end <= 0 || bytes.IndexByte(v[:end], '\\') >= 0 {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, string(v[:end]))
	return err == nil
}

// DecodeFor is Decode for an extract filtered by m. A record that holds
// none of m's Tokens (nor a \u or \/ escape) cannot match: if it is also
// plainly well formed (an object with an "eventTime" holding an RFC 3339
// time) it is not decoded but still emitted, with a nil Value and no Time,
// so that it is counted as read (s3logs.Stats.Records); the keep function
// given with it must reject a nil Value (a keep that tests
// r.Value.(*Event) before m.Match does). Every other record is decoded as
// Decode does, so m keeps exactly the records it keeps with Decode, and a
// record that is not an object or has no usable eventTime is reported to
// bad as with Decode. One kind of malformed record goes unreported: one
// without a token whose eventTime is plain but another field has the
// wrong type (a number for eventName, say), which Decode reports; it is
// counted as read. A file that is not JSON or ends early is an error as
// with Decode, and so is a record longer than MaxRecord (skipped unread).
// When m gives no tokens (Tokens' ok is false) DecodeFor is Decode.
func DecodeFor(m *Matcher) s3logs.Decoder {
	tokens, ok := m.Tokens()
	if !ok {
		return Decode
	}
	ts := make([]token, len(tokens))
	for i, t := range tokens {
		ts[i] = newToken(t)
	}
	return func(r io.Reader, emit func(s3logs.Record) error, bad func(error)) error {
		return readRaw(r, func(n int, raw []byte) error {
			if !candidate(raw, ts) && plainlyTimed(raw) {
				return emit(s3logs.Record{})
			}
			e, err := parseValid(raw)
			if err != nil {
				bad(fmt.Errorf("record %d: %w", n, err))
				return nil
			}
			return emit(s3logs.Record{Time: e.Time, Value: e})
		}, oversizeTo(bad))
	}
}
