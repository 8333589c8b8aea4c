package finding

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Time is a timestamp from a finding or an input form. It accepts, as a JSON
// string:
//
//   - RFC 3339 with or without fractional seconds ("2017-12-08T15:32:49Z",
//     "2017-12-08T15:32:49.865Z", "2023-05-05T06:12:49+02:00");
//   - "YYYY-MM-DD HH:MM:SS" with an optional fraction of up to nine digits, read
//     as UTC, as SIEM exports write them ("2025-02-25 20:40:06.721");
//   - the same with a numeric offset ("2017-12-18 21:28:11.551000+05:30").
//
// JSON null and a missing value give the zero Time. Decoding never fails on a
// bad value: the value is kept and reported by Parse's validation with the
// name of the field, which a json.Unmarshaler cannot know. The time is always
// held in UTC.
type Time struct {
	time.Time
	bad string // the JSON text received when it was not a time
}

// timeLayouts are tried in order. The fractional second is optional in all
// of them (time.Parse accepts a fraction after the seconds field even when
// the layout has none).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 Z07:00",
}

// ParseTime parses s in any of the forms Time accepts and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			// An offset can move year 0000 or 9999 out of what RFC 3339
			// writes in UTC: run IDs, the incident and the manifest could
			// not hold it.
			if y := t.UTC().Year(); y < 1 || y > 9999 {
				return time.Time{}, fmt.Errorf("%q is out of range: in UTC it is not in years 0001 to 9999", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time in an accepted form (RFC 3339, or YYYY-MM-DD HH:MM:SS[.fff] in UTC)", s)
}

// NewTime returns t as a Time in UTC.
func NewTime(t time.Time) Time { return Time{Time: t.UTC()} }

// UnmarshalJSON implements json.Unmarshaler; see Time.
func (t *Time) UnmarshalJSON(data []byte) error {
	*t = Time{}
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		t.bad = string(data)
		return nil
	}
	parsed, err := ParseTime(strings.TrimSpace(s))
	if err != nil {
		t.bad = string(data)
		return nil
	}
	t.Time = parsed
	return nil
}

// MarshalJSON writes the time as RFC 3339 in UTC, with the fraction it has.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.Time.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(time.RFC3339Nano) + `"`), nil
}

// Valid reports whether the value received was a time in an accepted form
// (or absent).
func (t Time) Valid() bool { return t.bad == "" }

// check returns an InvalidInputError for field when the value received was
// not a time.
func (t Time) check(field string) error {
	if t.bad == "" {
		return nil
	}
	return invalid(field, "%s is not a time in an accepted form (RFC 3339, or YYYY-MM-DD HH:MM:SS[.fff] in UTC)", shorten(t.bad))
}

// shorten cuts a received value for an error message.
func shorten(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
