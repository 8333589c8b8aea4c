// Package vpcflow parses VPC and Transit Gateway flow log records in every
// text format AWS writes: the default version 2 format, custom formats named
// by a flow log's LogFormat ("${field} ${field} ..."), with any field up to
// version 8 (ECS fields included), Transit Gateway flow logs (version 6
// fields), and the header line S3 delivery writes as each file's first line.
// A record is a map of field name to value; the Matcher picks the records a
// case's Scope and Window touch. It reads lines only: Parquet flow logs are
// not parsed here.
package vpcflow

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultFormat is the format of a flow log created without a LogFormat
// (version 2).
const DefaultFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// Log statuses (the log-status field).
const (
	StatusOK = "OK"
	// StatusNoData: no traffic to or from the interface in the capture
	// window; the record's other fields are "-". It shows the log was on.
	StatusNoData = "NODATA"
	// StatusSkipData: records were skipped in the capture window (an
	// internal capacity constraint or error): evidence may be missing.
	StatusSkipData = "SKIPDATA"
)

// Field describes one flow log field AWS documents.
type Field struct {
	Name string
	// Version is the flow log version that introduced the field (Transit
	// Gateway fields carry their own versions).
	Version int
	// Int is set for fields stored as integers (ports, counts, times).
	Int bool
	// TransitGateway is set for fields only Transit Gateway flow logs have.
	TransitGateway bool
}

// Fields lists every field AWS documents for VPC flow logs (versions 2 to 8)
// and Transit Gateway flow logs (versions 2 to 6), each once.
var Fields = []Field{
	// Version 2: the default format.
	{Name: "version", Version: 2, Int: true},
	{Name: "account-id", Version: 2},
	{Name: "interface-id", Version: 2},
	{Name: "srcaddr", Version: 2},
	{Name: "dstaddr", Version: 2},
	{Name: "srcport", Version: 2, Int: true},
	{Name: "dstport", Version: 2, Int: true},
	{Name: "protocol", Version: 2, Int: true},
	{Name: "packets", Version: 2, Int: true},
	{Name: "bytes", Version: 2, Int: true},
	{Name: "start", Version: 2, Int: true},
	{Name: "end", Version: 2, Int: true},
	{Name: "action", Version: 2},
	{Name: "log-status", Version: 2},
	// Version 3.
	{Name: "vpc-id", Version: 3},
	{Name: "subnet-id", Version: 3},
	{Name: "instance-id", Version: 3},
	{Name: "tcp-flags", Version: 3, Int: true},
	{Name: "type", Version: 3},
	{Name: "pkt-srcaddr", Version: 3},
	{Name: "pkt-dstaddr", Version: 3},
	// Version 4.
	{Name: "region", Version: 4},
	{Name: "az-id", Version: 4},
	{Name: "sublocation-type", Version: 4},
	{Name: "sublocation-id", Version: 4},
	// Version 5.
	{Name: "pkt-src-aws-service", Version: 5},
	{Name: "pkt-dst-aws-service", Version: 5},
	{Name: "flow-direction", Version: 5},
	{Name: "traffic-path", Version: 5, Int: true},
	// Version 7: ECS.
	{Name: "ecs-cluster-arn", Version: 7},
	{Name: "ecs-cluster-name", Version: 7},
	{Name: "ecs-container-instance-arn", Version: 7},
	{Name: "ecs-container-instance-id", Version: 7},
	{Name: "ecs-container-id", Version: 7},
	{Name: "ecs-second-container-id", Version: 7},
	{Name: "ecs-service-name", Version: 7},
	{Name: "ecs-task-definition-arn", Version: 7},
	{Name: "ecs-task-arn", Version: 7},
	{Name: "ecs-task-id", Version: 7},
	// Version 8.
	{Name: "reject-reason", Version: 8},
	// Transit Gateway flow logs.
	{Name: "resource-type", Version: 2, TransitGateway: true},
	{Name: "tgw-id", Version: 2, TransitGateway: true},
	{Name: "tgw-attachment-id", Version: 2, TransitGateway: true},
	{Name: "tgw-src-vpc-account-id", Version: 2, TransitGateway: true},
	{Name: "tgw-dst-vpc-account-id", Version: 2, TransitGateway: true},
	{Name: "tgw-src-vpc-id", Version: 2, TransitGateway: true},
	{Name: "tgw-dst-vpc-id", Version: 2, TransitGateway: true},
	{Name: "tgw-src-subnet-id", Version: 2, TransitGateway: true},
	{Name: "tgw-dst-subnet-id", Version: 2, TransitGateway: true},
	{Name: "tgw-src-eni", Version: 2, TransitGateway: true},
	{Name: "tgw-dst-eni", Version: 2, TransitGateway: true},
	{Name: "tgw-src-az-id", Version: 2, TransitGateway: true},
	{Name: "tgw-dst-az-id", Version: 2, TransitGateway: true},
	{Name: "tgw-pair-attachment-id", Version: 2, TransitGateway: true},
	{Name: "packets-lost-no-route", Version: 2, Int: true, TransitGateway: true},
	{Name: "packets-lost-blackhole", Version: 2, Int: true, TransitGateway: true},
	{Name: "packets-lost-mtu-exceeded", Version: 2, Int: true, TransitGateway: true},
	{Name: "packets-lost-ttl-expired", Version: 2, Int: true, TransitGateway: true},
}

var fieldByName = func() map[string]Field {
	m := make(map[string]Field, len(Fields))
	for _, f := range Fields {
		m[f.Name] = f
	}
	return m
}()

// Known reports whether name is a documented field.
func Known(name string) bool { _, ok := fieldByName[name]; return ok }

// Format is the ordered list of fields a flow log writes on each line.
type Format struct {
	fields []string
	ints   []bool
	// str is String's answer, made once: every extract line names its
	// format.
	str string
	// scopeAt are the indexes, in order, of the fields a Matcher
	// compares with its scope (ENIFields, AddrFields), for Candidate.
	scopeAt []int
	// json is what Line.AppendJSON writes of the format, made once and
	// shared by every Line read with it (one pointer in each, not four
	// strings and slices).
	json *formatJSON
	// startAt and endAt are the indexes of the start and end fields, -1
	// when the format has none: Parse sets the record's times from the
	// numbers it parsed, not from map lookups.
	startAt, endAt int
}

// Errors of this package.
var (
	// ErrFormat is a format string or header that names no fields, names
	// one twice, or is not made of ${field} tokens.
	ErrFormat = errors.New("vpcflow: bad format")
	// ErrMalformed is a line that does not fit its format: too few or too
	// many fields, or a number field that is not a number.
	ErrMalformed = errors.New("vpcflow: malformed record")
	// ErrHeader is returned by Parser.Parse for a header line: not a
	// record.
	ErrHeader = errors.New("vpcflow: header line")
)

func newFormat(names []string) (Format, error) {
	if len(names) == 0 {
		return Format{}, fmt.Errorf("%w: no fields", ErrFormat)
	}
	f := Format{fields: names, ints: make([]bool, len(names)), startAt: -1, endAt: -1}
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return Format{}, fmt.Errorf("%w: empty field name", ErrFormat)
		}
		// A record maps each field to its value: a field named twice would
		// lose one of them (a header line "version 0 0 0 …" is a record).
		if seen[n] {
			return Format{}, fmt.Errorf("%w: field %q twice", ErrFormat, n)
		}
		seen[n] = true
		f.ints[i] = fieldByName[n].Int
		switch n {
		case "start":
			f.startAt = i
		case "end":
			f.endAt = i
		}
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "${" + n + "}"
	}
	f.str = strings.Join(parts, " ")
	fj := &formatJSON{str: f.str, strJSON: string(appendString(nil, f.str)), sorted: slices.Sorted(slices.Values(names))}
	fj.sortedJSON = make([]string, len(fj.sorted))
	for i, n := range fj.sorted {
		var b []byte
		if i > 0 {
			b = append(b, ',')
		}
		fj.sortedJSON[i] = string(append(appendString(b, n), ':'))
	}
	f.json = fj
	for i, n := range names {
		if slices.Contains(ENIFields, n) || slices.Contains(AddrFields, n) {
			f.scopeAt = append(f.scopeAt, i)
		}
	}
	return f, nil
}

// formatJSON is a Format as Line.AppendJSON writes it.
type formatJSON struct {
	// str is Format.String, and strJSON it as a JSON string.
	str, strJSON string
	// sorted are the field names in the order encoding/json writes a
	// record's keys; sortedJSON[i] is sorted[i] as a JSON object key,
	// `"name":`, after a ',' for every key but the first, so a record's
	// keys are written without being escaped again.
	sorted, sortedJSON []string
}

// ParseFormat reads a flow log's LogFormat ("${version} ${srcaddr} ...").
// An empty string is the default format. A field AWS does not document (a
// newer one) is accepted and kept as text.
func ParseFormat(s string) (Format, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultFormat
	}
	var names []string
	for _, tok := range strings.Fields(s) {
		if !strings.HasPrefix(tok, "${") || !strings.HasSuffix(tok, "}") || len(tok) < 4 {
			return Format{}, fmt.Errorf("%w: %q is not a ${field} token", ErrFormat, tok)
		}
		names = append(names, tok[2:len(tok)-1])
	}
	return newFormat(names)
}

// MustFormat is ParseFormat for formats known to be valid.
func MustFormat(s string) Format {
	f, err := ParseFormat(s)
	if err != nil {
		panic(err)
	}
	return f
}

// Default is the default (version 2) format.
var Default = MustFormat(DefaultFormat)

// HeaderFormat reads the header line S3 delivery writes as the first line
// of each file ("version account-id interface-id ..."). It reports false
// when line is not a header: a header's first field is "version" or, for a
// format without it, every field is a documented field name.
func HeaderFormat(line []byte) (Format, bool) {
	// A record starts with a number or "-" in every format AWS writes
	// with a version field first: the common case costs one byte, before
	// any trimming.
	if len(line) > 0 && (line[0] == '-' || (line[0] >= '0' && line[0] <= '9')) {
		return Format{}, false
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '-' || (line[0] >= '0' && line[0] <= '9') {
		return Format{}, false
	}
	toks := strings.Fields(string(line))
	if len(toks) == 0 {
		return Format{}, false
	}
	if toks[0] != "version" {
		for _, t := range toks {
			if !Known(t) {
				return Format{}, false
			}
		}
	}
	f, err := newFormat(toks)
	return f, err == nil
}

// Fields returns the format's field names in order.
func (f Format) Fields() []string { return append([]string(nil), f.fields...) }

// Len is the number of fields on each line.
func (f Format) Len() int { return len(f.fields) }

// String returns the format as a LogFormat string.
func (f Format) String() string { return f.str }

// Has reports whether the format writes field name.
func (f Format) Has(name string) bool {
	for _, n := range f.fields {
		if n == name {
			return true
		}
	}
	return false
}

// Record is one flow log record.
type Record struct {
	// Fields maps each field of the format to its value: int64 for number
	// fields (ports, packets, bytes, start, end, ...), string otherwise, nil
	// for "-" (no value, as in NODATA and SKIPDATA records).
	Fields map[string]any
	// Start and End are the capture window (the start and end fields, in
	// UTC); zero when the format has no such field or its value is "-".
	Start, End time.Time
}

// String returns a text field's value, or "" when it is absent or "-".
func (r Record) String(name string) string {
	s, _ := r.Fields[name].(string)
	return s
}

// Int returns a number field's value and whether it has one.
func (r Record) Int(name string) (int64, bool) {
	n, ok := r.Fields[name].(int64)
	return n, ok
}

// LogStatus is the record's log-status (OK, NODATA, SKIPDATA), "" when the
// format has none.
func (r Record) LogStatus() string { return r.String("log-status") }

// Parse reads one line in format f. A line with another number of fields
// than the format, or a number field that is not a number, is
// ErrMalformed.
func (f Format) Parse(line []byte) (Record, error) { return f.parse(line, nil) }

// parse is Parse. p, when not nil, is the parser reading the line: it is
// given the line's text (NewLine's Message) and lends its boxes.
func (f *Format) parse(line []byte, p *Parser) (Record, error) {
	// One copy of the line: every text field is a piece of it, not a
	// copy of its own (a string is immutable: the pieces and the whole
	// may be shared freely).
	text := string(line)
	r := Record{Fields: make(map[string]any, len(f.fields))}
	var last []boxes
	if p != nil {
		if len(p.last) != len(f.fields) {
			p.last = make([]boxes, len(f.fields))
		}
		last = p.last
	}
	var start, end int64 // the start and end fields' numbers, when set
	startSet, endSet := false, false
	at := 0
	// AWS separates fields with ASCII spaces; split at ASCII white space
	// only (as CountFields counts), not at U+00A0 or U+0085 inside a value
	// (their bytes, like every byte of a multi-byte rune, are >= 0x80).
	for i, name := range f.fields {
		for at < len(text) && asciiSpace[text[at]] {
			at++
		}
		if at == len(text) {
			return Record{}, f.countError(line)
		}
		stop := at + 1
		for stop < len(text) && !asciiSpace[text[stop]] {
			stop++
		}
		tok := text[at:stop]
		at = stop
		var v any
		switch {
		case tok == "-":
		case !f.ints[i]:
			if last == nil {
				v = tok
			} else {
				v = shared(&last[i], tok)
			}
		default:
			var err error
			if v, err = f.number(line, i, tok, last, &start, &end); err != nil {
				return Record{}, err
			}
			startSet = startSet || i == f.startAt
			endSet = endSet || i == f.endAt
		}
		r.Fields[name] = v
	}
	for at < len(text) && asciiSpace[text[at]] {
		at++
	}
	if at != len(text) {
		return Record{}, f.countError(line)
	}
	var err error
	if startSet {
		r.Start, err = unixTime(f.fields[f.startAt], start)
	}
	if endSet && err == nil {
		r.End, err = unixTime(f.fields[f.endAt], end)
	}
	if err != nil {
		return Record{}, err
	}
	if p != nil {
		p.text = text
	}
	return r, nil
}

// number is the value of tok, field i of line, a number field: its box
// (from last when not nil) or ErrMalformed. The start and end fields' go
// to *start and *end too, for the record's times.
func (f *Format) number(line []byte, i int, tok string, last []boxes, start, end *int64) (any, error) {
	n, ok := parseDecimal(tok)
	if !ok {
		// The count is the first thing wrong with a line, as a reader
		// that counted first would say.
		if CountFields(line) != len(f.fields) {
			return nil, f.countError(line)
		}
		return nil, fmt.Errorf("%w: %s is %q, not a number", ErrMalformed, f.fields[i], tok)
	}
	switch i {
	case f.startAt:
		*start = n
	case f.endAt:
		*end = n
	}
	// Numbers below 256 are boxed without allocating.
	if last == nil || n < 256 {
		return n, nil
	}
	return shared(&last[i], n), nil
}

// boxes are the last two values of one field a Parser boxed, for the
// lines after to share. Boxing a string or a number past 255 in an any
// allocates; the same field of a line before often has the same value
// (the interface, the account, the action, the status, a port), or one of
// two (a conversation's two addresses, ACCEPT and REJECT): its box is
// shared, an any being immutable.
type boxes [2]any

// shared is x boxed: a box of b's that holds it, else a new one, kept.
func shared[T comparable](b *boxes, x T) any {
	for _, v := range b {
		if y, ok := v.(T); ok && y == x {
			return v
		}
	}
	v := any(x)
	b[0], b[1] = v, b[0]
	return v
}

// unixTime is the time of field name's n seconds since the epoch, in UTC.
func unixTime(name string, n int64) (time.Time, error) {
	// Seconds past year 9999 (or before year 0) are no time an extract
	// can write as RFC 3339.
	if n < minUnix || n > maxUnix {
		return time.Time{}, fmt.Errorf("%w: %s %d is not a time", ErrMalformed, name, n)
	}
	return time.Unix(n, 0).UTC(), nil
}

// countError is the ErrMalformed of a line with another number of fields
// than f.
func (f *Format) countError(line []byte) error {
	n := CountFields(line)
	what := "few"
	if n > len(f.fields) {
		what = "many"
	}
	return fmt.Errorf("%w: %d fields, the format has %d (too %s)", ErrMalformed, n, len(f.fields), what)
}

// parseDecimal is strconv.ParseInt(s, 10, 64) with a fast path for what
// flow logs write: up to 18 plain digits, which cannot overflow.
// Anything else (a sign, more digits, a stray byte) is strconv's to judge.
func parseDecimal(s string) (int64, bool) {
	if len(s) > 0 && len(s) <= 18 {
		var n int64
		for i := 0; i < len(s); i++ {
			c := s[i] - '0'
			if c > 9 {
				goto slow
			}
			n = n*10 + int64(c)
		}
		return n, true
	}
slow:
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// The epoch seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the
// times RFC 3339 writes.
const (
	minUnix = -62167219200
	maxUnix = 253402300799
)

// Parser reads the lines of one flow log file or stream: a header line
// (S3 delivery writes one first) sets the format for the lines after it;
// before one, the format it was made with is used. Make one per file: a
// Parser keeps state from line to line (the format, the last line read and
// the values its records share) and is not safe for concurrent use.
type Parser struct {
	format Format
	header bool
	// text is the last line parsed, as a string, for NewLine's Message;
	// last holds the boxed values of each field of the lines before, for
	// the next line to share (Format.parse).
	text string
	last []boxes
}

// NewParser returns a parser that reads lines in format f (the flow log's
// LogFormat) until a header line names another.
func NewParser(f Format) *Parser { return &Parser{format: f} }

// Format is the format the parser reads lines with now.
func (p *Parser) Format() Format { return p.format }

// FromHeader reports whether a header line set the format.
func (p *Parser) FromHeader() bool { return p.header }

// Parse reads one line: ErrHeader for a header line (the format is taken
// from it), ErrMalformed for a line that does not fit the format.
func (p *Parser) Parse(line []byte) (Record, error) {
	// A record's first byte (a number, or "-") rules out a header here,
	// without HeaderFormat's call and its empty Format.
	if len(line) == 0 || (line[0] != '-' && (line[0] < '0' || line[0] > '9')) {
		if f, ok := HeaderFormat(line); ok {
			p.format, p.header = f, true
			p.text, p.last = "", nil
			return Record{}, ErrHeader
		}
	}
	return p.format.parse(line, p)
}
