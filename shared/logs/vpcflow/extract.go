package vpcflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/s3logs"
)

// Line is one record of a flow log extract (one JSON object a line), as
// the flow log collector writes it.
type Line struct {
	// Start and End are the record's capture window (its start and end
	// fields); absent when the format has none.
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
	// FlowLogID is the flow log that wrote the record.
	FlowLogID string `json:"flowLogId"`
	// Origin is where the line is: the S3 object (bucket, key) or the
	// CloudWatch Logs group and stream; EventID and EventTime name the
	// CloudWatch Logs event.
	Origin    evidence.Origin `json:"origin"`
	EventID   string          `json:"eventId,omitempty"`
	EventTime *time.Time      `json:"eventTime,omitempty"`
	// Format is the format the line was read with, as a LogFormat string;
	// FormatFrom says where it came from: "header" (the S3 file's first
	// line) or "logFormat" (the flow log's definition).
	Format     string `json:"format"`
	FormatFrom string `json:"formatFrom"`
	// Message is the line exactly as the flow log wrote it.
	Message string `json:"message"`
	// Record maps each field of the format to its value: numbers for
	// ports, counts and times, text otherwise, null for "-" (NODATA and
	// SKIPDATA records keep their log-status).
	Record map[string]any `json:"record"`

	rec Record
	// origin, when its Origin is the line's, is that Origin encoded.
	origin *originJSON
	// format is the format the line was read with, encoded: its
	// sorted keys are Record's unless Record was changed after NewLine,
	// its JSON string is Format's while Format is still its string.
	format *formatJSON
}

// NewLine is the extract line of rec, read by p from message, a line of
// flow log flowLogID found at origin.
func NewLine(rec Record, flowLogID string, origin evidence.Origin, p *Parser, message []byte) *Line {
	l := &Line{FlowLogID: flowLogID, Origin: origin, Format: p.format.str, FormatFrom: "logFormat",
		Record: rec.Fields, rec: rec,
		format: p.format.json}
	// The message is nearly always the line p parsed last, whose text
	// the record's fields are pieces of: that string, not another copy.
	if string(message) == p.text {
		l.Message = p.text
	} else {
		l.Message = string(message)
	}
	if p.header {
		l.FormatFrom = "header"
	}
	// Start and End point into the line's own copy of the record: no
	// allocation of their own for each line kept.
	if !rec.Start.IsZero() {
		l.Start = &l.rec.Start
	}
	if !rec.End.IsZero() {
		l.End = &l.rec.End
	}
	return l
}

// Parsed is the record the line was read as (for Matcher.Match and
// Record.Time).
func (l *Line) Parsed() Record { return l.rec }

// Keep is the extract's filter for the records ObjectDecoder emits: the
// record touches the scope and its capture window overlaps the case's.
func (m *Matcher) Keep(rec s3logs.Record) bool {
	l, ok := rec.Value.(*Line)
	return ok && m.Match(l.rec)
}

// ObjectDecoder reads one flow log object delivered to S3, of flow log
// flowLogID, found at origin, whose lines without a header are in format:
// its header line, if any, sets the format; each other line is a record,
// emitted as a *Line. Records carry no time for s3logs.Extract: Keep
// judges their window as an overlap of [start, end].
//
// A line whose interface and address fields name none of m's cannot
// match (Matcher.Candidate): it is only checked for its number of fields
// (a malformed line is counted either way) and skipped unparsed. lines, when not nil, counts every line
// but headers.
func ObjectDecoder(m *Matcher, flowLogID string, format Format, origin evidence.Origin, lines *atomic.Int64) s3logs.Decoder {
	return func(rd io.Reader, emit func(s3logs.Record) error, bad func(error)) error {
		p := NewParser(format)
		ob, err := json.Marshal(origin)
		if err != nil {
			return err
		}
		enc := &originJSON{of: origin, json: ob}
		var n int64
		var at []int       // m.scopeFields of the format atFormat names
		atFormat := "\x00" // no format's String
		if lines != nil {
			// Counted here and added once: a counter every reader of
			// the run shares would bounce between cores on each line.
			defer func() { lines.Add(n) }()
		}
		return s3logs.Lines(func(line []byte) (s3logs.Record, error) {
			if _, header := HeaderFormat(line); !header {
				n++
				// p.format, not a copy of it from p.Format(), on every
				// line; its scope fields found again only when a header
				// changed it.
				if p.format.str != atFormat {
					atFormat, at = p.format.str, m.scopeFields(&p.format)
				}
				if got, may := m.candidate(line, &p.format, at); !may {
					if want := len(p.format.fields); got != want {
						// Parse's own words (too few, too many): a line
						// so malformed is no candidate, but is reported
						// as if it had been parsed.
						if _, err := p.Format().Parse(line); err != nil {
							return s3logs.Record{}, err
						}
						return s3logs.Record{}, fmt.Errorf("%w: %d fields, the format has %d", ErrMalformed, got, want)
					}
					return s3logs.Record{}, s3logs.ErrSkip
				}
			}
			rec, err := p.Parse(line)
			if errors.Is(err, ErrHeader) {
				return s3logs.Record{}, s3logs.ErrSkip
			}
			if err != nil {
				return s3logs.Record{}, err
			}
			l := NewLine(rec, flowLogID, origin, p, line)
			l.origin = enc
			return s3logs.Record{Value: l}, nil
		})(rd, emit, bad)
	}
}

// originJSON is an Origin as encoding/json writes it, made once for the
// lines of one object (ObjectDecoder): they all share it.
type originJSON struct {
	of   evidence.Origin
	json []byte
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (l *Line) MarshalJSON() ([]byte, error) { return l.AppendJSON(nil) }

// AppendJSON appends the line as encoding/json writes the Line struct
// (the same bytes: fields in order, omitempty, map keys sorted, strings
// escaped for HTML), without reflection: an extract writes one a record,
// on the goroutine every reader's records go through. A string that needs
// escaping, or a record value of a type Parse does not make, is handed to
// encoding/json itself, so the bytes stay its own.
func (l *Line) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, '{')
	if l.Start != nil {
		b = append(b, `"start":`...)
		if b, err = appendTime(b, *l.Start); err != nil {
			return nil, err
		}
		b = append(b, ',')
	}
	if l.End != nil {
		b = append(b, `"end":`...)
		if b, err = appendTime(b, *l.End); err != nil {
			return nil, err
		}
		b = append(b, ',')
	}
	b = append(b, `"flowLogId":`...)
	b = appendString(b, l.FlowLogID)
	b = append(b, `,"origin":`...)
	if o := l.origin; o != nil && o.of == l.Origin {
		b = append(b, o.json...)
	} else {
		ob, err := json.Marshal(l.Origin)
		if err != nil {
			return nil, err
		}
		b = append(b, ob...)
	}
	if l.EventID != "" {
		b = append(b, `,"eventId":`...)
		b = appendString(b, l.EventID)
	}
	if l.EventTime != nil {
		b = append(b, `,"eventTime":`...)
		if b, err = appendTime(b, *l.EventTime); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"format":`...)
	if l.format != nil && l.Format == l.format.str {
		b = append(b, l.format.strJSON...)
	} else {
		b = appendString(b, l.Format)
	}
	b = append(b, `,"formatFrom":`...)
	b = appendString(b, l.FormatFrom)
	b = append(b, `,"message":`...)
	b = appendString(b, l.Message)
	b = append(b, `,"record":`...)
	if l.Record == nil {
		b = append(b, "null"...)
		return append(b, '}'), nil
	}
	// The format's keys, already sorted and encoded, while they are
	// exactly Record's: as many, each of them there (the keys are
	// distinct). Each is looked up once, for its value; a key missing
	// undoes what was written of the record and sorts Record's own.
	if fj := l.format; fj != nil && len(l.Record) == len(fj.sorted) {
		mark := len(b)
		b = append(b, '{')
		for i, k := range fj.sorted {
			v, ok := l.Record[k]
			if !ok {
				b = b[:mark]
				goto sorted
			}
			b = append(b, fj.sortedJSON[i]...)
			if b, err = appendValue(b, v); err != nil {
				return nil, err
			}
		}
		return append(b, '}', '}'), nil
	}
sorted:
	keys := make([]string, 0, len(l.Record))
	for k := range l.Record {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if b, err = appendValue(b, l.Record[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}', '}'), nil
}

// appendValue appends a record's value as encoding/json writes it: the
// types Parse makes without reflection, any other through encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case string:
		return appendString(b, v), nil
	}
	vb, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, vb...), nil
}

// appendTime appends t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, quoted (no byte of it needs escaping); an error for a time
// RFC 3339 cannot write.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	// A record's times are whole seconds in UTC (Parse makes them so):
	// written from the seconds, without time's general formatter.
	if t.Nanosecond() == 0 && t.Location() == time.UTC {
		if s := t.Unix(); s >= 0 && s <= maxUnix {
			return appendUnixUTC(b, s), nil
		}
	}
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return append(b, '"'), nil
}

// appendUnixUTC appends, quoted, the RFC 3339 time of s seconds since the
// epoch (0 to maxUnix) in UTC, as time.Time's MarshalJSON writes a time of
// whole seconds: "2006-01-02T15:04:05Z".
func appendUnixUTC(b []byte, s int64) []byte {
	days, sec := s/86400, s%86400
	// The civil date of a day number (Howard Hinnant's days_from_civil
	// inverse), with 400-year eras that start on March 1st; days >= 0.
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	hh, mm, ss := sec/3600, sec/60%60, sec%60
	return append(b, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), 'Z', '"')
}

// appendString appends s as a JSON string the way encoding/json does: a
// string of printable ASCII without '"', '\\' or the HTML characters it
// escapes (every flow log field, nearly always) as it is, any other through
// encoding/json.
func appendString(b []byte, s string) []byte {
	i := 0
	// Eight bytes at a time: the message is most of what is checked.
	for ; i+8 <= len(s); i += 8 {
		if escapeBytes(load64(s[i:i+8])) != 0 {
			return appendEscaped(b, s)
		}
	}
	for ; i < len(s); i++ {
		if needsEscape[s[i]] {
			return appendEscaped(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// load64 is the first eight bytes of s as a little-endian word (one load:
// the compiler combines the bytes' loads).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendEscaped appends s as encoding/json writes it, through
// encoding/json: a string needing escapes is rare in a flow log.
func appendEscaped(b []byte, s string) []byte {
	sb, _ := json.Marshal(s) // a string always encodes
	return append(b, sb...)
}

// needsEscape marks the bytes appendString leaves to encoding/json: the
// control characters, DEL and every byte of a multi-byte rune (encoding/json
// replaces invalid UTF-8 and escapes U+2028 and U+2029), '"', '\\', and the
// HTML characters '<', '>' and '&'.
var needsEscape = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// escapeBytes sets the high bit of each byte of x (eight bytes of a
// string, little-endian) that needsEscape marks, and clears every other
// bit. As in spaceBytes, each byte is tested exactly on its low seven bits,
// with sums that carry into the byte's high bit and never past it; a byte
// whose own high bit is set needs escaping.
func escapeBytes(x uint64) uint64 {
	l := x & low7
	// Below 0x20: l+0x60 stays below 0x80.
	ctl := ^(l + (0x80-0x20)*loBits)
	// 0x7f: l+1 reaches 0x80.
	del := l + loBits
	// One of the characters: l^c is zero, and zero+0x7f stays below 0x80.
	eq := ^((l ^ '"'*loBits) + low7) | ^((l ^ '\\'*loBits) + low7) |
		^((l ^ '<'*loBits) + low7) | ^((l ^ '>'*loBits) + low7) | ^((l ^ '&'*loBits) + low7)
	return (ctl | del | eq | x) & hiBits
}
