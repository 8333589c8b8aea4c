package cloudtrail

// The fast path of Parse: an Event's fields picked from a record already
// known to be valid JSON, as json.Unmarshal would set them. It answers
// false for anything it does not take byte for byte as json.Unmarshal
// would, and Parse then calls json.Unmarshal.

import (
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// quoteOrBackslash reports whether one of the eight bytes of x is a quote
// or a backslash.
func quoteOrBackslash(x uint64) bool {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((q-lsb)&^q|(s-lsb)&^s)&msb != 0
}

// fields walks one valid record.
type fields struct {
	b []byte
	i int
}

func (f *fields) space() { f.i = skipSpace(f.b, f.i) }

// stringEnd returns the index after the string at f.i and whether it
// holds a backslash or a byte above 0x7f.
func (f *fields) stringEnd() (end int, escaped, high bool) {
	b, i := f.b, f.i+1
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if quoteOrBackslash(x) {
				break
			}
			high = high || x&msb != 0
			i += 8
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, high
		case c == '\\':
			escaped = true
			i += 2
		default:
			high = high || c >= 0x80
			i++
		}
	}
}

// skip steps over the value at f.i.
func (f *fields) skip() {
	switch f.b[f.i] {
	case '"':
		f.i, _, _ = f.stringEnd()
	case '{', '[':
		depth := 0
		for {
			switch f.b[f.i] {
			case '"':
				f.i, _, _ = f.stringEnd()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					f.i++
					return
				}
			}
			f.i++
		}
	default: // a number or a literal
		for f.i < len(f.b) && isLiteralByte(f.b[f.i]) {
			f.i++
		}
	}
}

func isLiteralByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'
}

// str reads a string or null field: ok is false for another type.
func (f *fields) str(dst *string) bool {
	switch f.b[f.i] {
	case 'n':
		f.i += 4
		return true
	case '"':
	default:
		return false
	}
	end, escaped, high := f.stringEnd()
	raw := f.b[f.i:end]
	f.i = end
	if escaped || (high && !utf8.Valid(raw)) {
		return json.Unmarshal(raw, dst) == nil
	}
	*dst = string(raw[1 : len(raw)-1])
	return true
}

// object calls field for each key of the object at f.i, with f.i at the
// key's value; field consumes the value and answers false to give up. A
// key that is escaped, not ASCII or given twice (as encoding/json folds
// case) gives up too. null is an object without keys.
func (f *fields) object(field func(key []byte, seen *uint32) bool) bool {
	switch f.b[f.i] {
	case 'n':
		f.i += 4
		return true
	case '{':
	default:
		return false
	}
	f.i++
	var seen uint32
	var lower [24]byte
	for {
		f.space()
		if f.b[f.i] == '}' {
			f.i++
			return true
		}
		end, escaped, high := f.stringEnd()
		if escaped || high {
			return false
		}
		key := f.b[f.i+1 : end-1]
		f.i = end
		f.space()
		f.i++ // :
		f.space()
		if len(key) <= len(lower) {
			for k, c := range key {
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				lower[k] = c
			}
			if !field(lower[:len(key)], &seen) {
				return false
			}
		} else {
			f.skip()
		}
		f.space()
		if f.b[f.i] == ',' {
			f.i++
		}
	}
}

// once marks field bit as seen, reporting false when it already was.
func once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// fastEvent fills e from raw, a valid JSON object, answering false when
// json.Unmarshal must do it.
func fastEvent(raw []byte, e *Event) bool {
	f := &fields{b: raw}
	return f.object(func(key []byte, seen *uint32) bool {
		var dst *string
		var bit uint32
		switch string(key) {
		case "eventtime":
			dst, bit = &e.EventTime, 1<<0
		case "eventname":
			dst, bit = &e.EventName, 1<<1
		case "eventsource":
			dst, bit = &e.EventSource, 1<<2
		case "eventid":
			dst, bit = &e.EventID, 1<<3
		case "eventtype":
			dst, bit = &e.EventType, 1<<4
		case "sourceipaddress":
			dst, bit = &e.SourceIPAddress, 1<<5
		case "useragent":
			dst, bit = &e.UserAgent, 1<<6
		case "recipientaccountid":
			dst, bit = &e.RecipientAccountID, 1<<7
		case "awsregion":
			dst, bit = &e.AWSRegion, 1<<8
		case "errorcode":
			dst, bit = &e.ErrorCode, 1<<9
		case "errormessage":
			dst, bit = &e.ErrorMessage, 1<<10
		case "requestparameters", "responseelements":
			target, b := &e.RequestParameters, uint32(1<<11)
			if key[1] == 'e' && key[2] == 's' && key[3] == 'p' {
				target, b = &e.ResponseElements, 1<<12
			}
			if !once(seen, b) {
				return false
			}
			start := f.i
			f.skip()
			*target = json.RawMessage(raw[start:f.i:f.i])
			return true
		case "useridentity":
			return once(seen, 1<<13) && f.userIdentity(&e.UserIdentity)
		case "resources":
			return once(seen, 1<<14) && f.resources(&e.Resources)
		case "readonly":
			if !once(seen, 1<<15) {
				return false
			}
			switch f.b[f.i] {
			case 'n':
				e.ReadOnly = nil
				f.i += 4
			case 't', 'f':
				v := f.b[f.i] == 't'
				e.ReadOnly = &v
				f.i += 4
				if !v {
					f.i++
				}
			default:
				return false
			}
			return true
		default:
			f.skip()
			return true
		}
		return once(seen, bit) && f.str(dst)
	})
}

func (f *fields) userIdentity(u *UserIdentity) bool {
	return f.object(func(key []byte, seen *uint32) bool {
		var dst *string
		var bit uint32
		switch string(key) {
		case "type":
			dst, bit = &u.Type, 1<<0
		case "principalid":
			dst, bit = &u.PrincipalID, 1<<1
		case "arn":
			dst, bit = &u.ARN, 1<<2
		case "accountid":
			dst, bit = &u.AccountID, 1<<3
		case "accesskeyid":
			dst, bit = &u.AccessKeyID, 1<<4
		case "username":
			dst, bit = &u.UserName, 1<<5
		case "invokedby":
			dst, bit = &u.InvokedBy, 1<<6
		case "sessioncontext":
			if !once(seen, 1<<7) {
				return false
			}
			if f.b[f.i] == 'n' {
				u.SessionContext = nil
				f.i += 4
				return true
			}
			sc := &SessionContext{}
			u.SessionContext = sc
			return f.object(func(key []byte, seen *uint32) bool {
				if string(key) != "sessionissuer" {
					f.skip()
					return true
				}
				return once(seen, 1) && f.sessionIssuer(&sc.SessionIssuer)
			})
		default:
			f.skip()
			return true
		}
		return once(seen, bit) && f.str(dst)
	})
}

func (f *fields) sessionIssuer(is *SessionIssuer) bool {
	return f.object(func(key []byte, seen *uint32) bool {
		var dst *string
		var bit uint32
		switch string(key) {
		case "type":
			dst, bit = &is.Type, 1<<0
		case "principalid":
			dst, bit = &is.PrincipalID, 1<<1
		case "arn":
			dst, bit = &is.ARN, 1<<2
		case "accountid":
			dst, bit = &is.AccountID, 1<<3
		case "username":
			dst, bit = &is.UserName, 1<<4
		default:
			f.skip()
			return true
		}
		return once(seen, bit) && f.str(dst)
	})
}

func (f *fields) resources(dst *[]Resource) bool {
	switch f.b[f.i] {
	case 'n':
		*dst = nil
		f.i += 4
		return true
	case '[':
	default:
		return false
	}
	f.i++
	out := []Resource{}
	for {
		f.space()
		if f.b[f.i] == ']' {
			f.i++
			*dst = out
			return true
		}
		var r Resource
		ok := f.object(func(key []byte, seen *uint32) bool {
			var s *string
			var bit uint32
			switch string(key) {
			case "arn":
				s, bit = &r.ARN, 1<<0
			case "accountid":
				s, bit = &r.AccountID, 1<<1
			case "type":
				s, bit = &r.Type, 1<<2
			default:
				f.skip()
				return true
			}
			return once(seen, bit) && f.str(s)
		})
		if !ok {
			return false
		}
		out = append(out, r)
		f.space()
		if f.b[f.i] == ',' {
			f.i++
		}
	}
}
