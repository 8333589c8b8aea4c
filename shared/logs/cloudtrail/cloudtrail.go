// Package cloudtrail reads CloudTrail log records and decides which of them
// an incident's scope touches. The decoder streams a log file one record at
// a time (a CloudTrail object holds up to thousands of records: it is never
// held whole); the Matcher answers from the few fields it parses. The
// collector uses both for its extract, and the timeline can reuse them.
package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/s3logs"
)

// SessionIssuer is the role (or user) a temporary session was issued from.
type SessionIssuer struct {
	Type        string `json:"type,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// SessionContext is the part of userIdentity.sessionContext matching uses.
type SessionContext struct {
	SessionIssuer SessionIssuer `json:"sessionIssuer"`
}

// UserIdentity is who made the call.
type UserIdentity struct {
	Type           string          `json:"type,omitempty"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// Resource is one entry of a record's resources list (data events and
// some management events).
type Resource struct {
	ARN       string `json:"ARN,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"`
}

// Event is the light view of one CloudTrail record: the fields scoping and
// the timeline need, and the record itself, byte for byte, in Raw.
type Event struct {
	// Time is eventTime, parsed (UTC).
	Time               time.Time       `json:"-"`
	EventTime          string          `json:"eventTime"`
	EventName          string          `json:"eventName"`
	EventSource        string          `json:"eventSource"`
	EventID            string          `json:"eventID"`
	EventType          string          `json:"eventType"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	UserIdentity       UserIdentity    `json:"userIdentity"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	Resources          []Resource      `json:"resources"`
	RecipientAccountID string          `json:"recipientAccountId"`
	AWSRegion          string          `json:"awsRegion"`
	ErrorCode          string          `json:"errorCode"`
	ErrorMessage       string          `json:"errorMessage"`
	ReadOnly           *bool           `json:"readOnly"`

	// Raw is the whole record as it was in the log file.
	Raw json.RawMessage `json:"-"`
}

// MarshalJSON writes the record as it was (compacted by the encoder), so
// an extract holds the original records, not this view of them.
func (e *Event) MarshalJSON() ([]byte, error) {
	if len(e.Raw) == 0 {
		return nil, errors.New("cloudtrail: event has no raw record")
	}
	return e.Raw, nil
}

// Parse reads one record. A record that is not a JSON object, or whose
// eventTime is missing or not an RFC 3339 time, is an error.
func Parse(raw []byte) (*Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("record is not a JSON object (starts with %q)", snippet(raw))
	}
	if n, err := validValue(raw, 0, 1); err != nil || n != len(raw) {
		return parseSlow(raw) // json.Unmarshal names the syntax error
	}
	return parseValid(raw)
}

// parseValid is Parse for a record known to be valid JSON (trimmed).
func parseValid(raw []byte) (*Event, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("record is not a JSON object (starts with %q)", snippet(raw))
	}
	e := &Event{Raw: append(json.RawMessage(nil), raw...)}
	if !fastEvent(e.Raw, e) {
		return parseSlow(raw)
	}
	return e.timed()
}

// parseSlow is Parse by json.Unmarshal.
func parseSlow(raw []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	e.Raw = append(json.RawMessage(nil), raw...)
	return e.timed()
}

// timed checks and parses eventTime.
func (e *Event) timed() (*Event, error) {
	if e.EventTime == "" {
		return nil, fmt.Errorf("record %s: no eventTime", e.EventID)
	}
	t, err := time.Parse(time.RFC3339Nano, e.EventTime)
	if err != nil {
		return nil, fmt.Errorf("record %s: eventTime %q is not an RFC 3339 time", e.EventID, e.EventTime)
	}
	e.Time = t.UTC()
	return e, nil
}

func snippet(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "…"
	}
	return string(b)
}

// Read streams the records of one CloudTrail log file: the S3 delivery
// shape {"Records":[...]} (other top-level members are skipped) or a bare
// JSON array of records (as exported by some tools). It calls fn for each
// record and bad for each one that will not parse (not an object, no
// usable eventTime), and goes on after it. A file that ends early (a
// truncated object) or is not JSON past some point returns an error after
// the records before it were given to fn. An error from fn stops the read
// and is returned.
//
// A record longer than MaxRecord is not read into memory: its bytes are
// skipped as they stream by and bad gets an *s3logs.OversizeError naming
// it (the record is in the log file, which the collector copies as is).
func Read(r io.Reader, fn func(*Event) error, bad func(error)) error {
	return readRaw(r, func(n int, raw []byte) error {
		e, err := parseValid(raw)
		if err != nil {
			bad(fmt.Errorf("record %d: %w", n, err))
			return nil
		}
		return fn(e)
	}, oversizeTo(bad))
}

// oversizeTo reports oversize records to bad.
func oversizeTo(bad func(error)) func(n int, size int64) {
	return func(n int, size int64) {
		bad(&s3logs.OversizeError{What: fmt.Sprintf("record %d", n), Bytes: size, Limit: MaxRecord})
	}
}

// readRaw is Read up to the records: it calls rec with each record's
// number (from 1) and its bytes, valid JSON and valid only until rec
// returns, and oversize (when not nil) with the number and size of each
// record longer than MaxRecord, which is skipped unread. An error from
// rec stops the read and is returned.
func readRaw(r io.Reader, rec func(n int, raw []byte) error, oversize func(n int, size int64)) error {
	s := newStream(r)
	first, err := s.peek()
	if err != nil {
		return fmt.Errorf("cloudtrail: %w", eofIsUnexpected(err))
	}
	n := 0
	after := func(err error) error {
		return fmt.Errorf("cloudtrail: after %d records: %w", n, eofIsUnexpected(err))
	}
	// records reads an array's records, its [ consumed, to its ].
	records := func() error {
		c, err := s.peek()
		if err != nil {
			return after(err)
		}
		if c == ']' {
			s.pos++
			return nil
		}
		for {
			raw, err := s.value()
			if err == errOversize {
				size, err := s.skipValue()
				if err != nil {
					return after(err)
				}
				n++
				if oversize != nil {
					oversize(n, size)
				}
			} else if err != nil {
				return after(err)
			} else {
				n++
				if err := rec(n, raw); err != nil {
					return err
				}
			}
			c, err := s.peek()
			if err != nil {
				return after(err)
			}
			switch c {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return after(badChar(c, "after array element"))
			}
		}
	}
	switch first {
	case '[':
		s.pos++
		return records()
	case '{':
		s.pos++
		found := false
		for {
			c, err := s.peek()
			if err != nil {
				return after(err)
			}
			if c == '}' {
				break
			}
			if c != '"' {
				return fmt.Errorf("cloudtrail: %w", badChar(c, "looking for beginning of object key string"))
			}
			raw, err := s.value()
			if err == errOversize {
				return errors.New("cloudtrail: a top-level key longer than MaxRecord: not a CloudTrail log file")
			}
			if err != nil {
				return fmt.Errorf("cloudtrail: %w", eofIsUnexpected(err))
			}
			var key string
			if err := json.Unmarshal(raw, &key); err != nil {
				return fmt.Errorf("cloudtrail: %w", err)
			}
			if err := s.next(':', "after object key"); err != nil {
				return fmt.Errorf("cloudtrail: %w", eofIsUnexpected(err))
			}
			if key == "Records" && !found {
				c, err := s.peek()
				if err != nil {
					return fmt.Errorf("cloudtrail: %w", eofIsUnexpected(err))
				}
				if c != '[' {
					return fmt.Errorf("cloudtrail: Records is not an array")
				}
				s.pos++
				found = true
				if err := records(); err != nil {
					return err
				}
			} else if _, err := s.skipValue(); err != nil {
				// Another member: skipped as it streams by, whatever its size.
				return fmt.Errorf("cloudtrail: %w", eofIsUnexpected(err))
			}
			c, err = s.peek()
			if err != nil {
				return after(err)
			}
			if c == ',' {
				s.pos++
				continue
			}
			if c != '}' {
				return after(badChar(c, "after object key:value pair"))
			}
		}
		s.pos++
		if !found {
			return errors.New("cloudtrail: no Records array: not a CloudTrail log file")
		}
		return nil
	default:
		raw, err := s.valueWithin(64)
		if err == errOversize {
			return errors.New("cloudtrail: not a CloudTrail log file (its first value is not an object or an array)")
		}
		if err != nil {
			return fmt.Errorf("cloudtrail: %w", eofIsUnexpected(err))
		}
		var tok any
		json.Unmarshal(raw, &tok)
		return fmt.Errorf("cloudtrail: not a CloudTrail log file (starts with %v)", tok)
	}
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("file ends early (truncated): %w", io.ErrUnexpectedEOF)
	}
	return err
}

// Decode is Read as an s3logs.Decoder: each record is emitted with its
// eventTime and an *Event as its value (which encodes as the original
// record).
func Decode(r io.Reader, emit func(s3logs.Record) error, bad func(error)) error {
	return Read(r, func(e *Event) error { return emit(s3logs.Record{Time: e.Time, Value: e}) }, bad)
}

var _ s3logs.Decoder = Decode

// SessionName returns the role session name of an assumed-role ARN
// (arn:aws:sts::123456789012:assumed-role/ROLE/SESSION), or "".
func SessionName(arn string) string {
	_, _, session := assumedRole(arn)
	return session
}

// assumedRole splits an assumed-role session ARN into account, role name
// and session name.
func assumedRole(arn string) (account, role, session string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" {
		return "", "", ""
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return "", "", ""
	}
	role, session, ok = strings.Cut(rest, "/")
	if !ok {
		return "", "", ""
	}
	return parts[4], role, session
}
