package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/custody-ir/custody/shared/evidence"
)

type jsonNumber = json.Number

// timeField is one time a record carries and what it means.
type timeField struct {
	desc  string
	value jv
}

// item is what a normalizer makes of one record: the event's fields but its
// time, and the record's times in order of preference.
type item struct {
	ev    Event
	times []timeField
	// all makes one event per distinct usable time (findings: created,
	// updated, first and last seen); otherwise the first usable time wins.
	all bool
	// raw is the record, for untimed.jsonl, when it is not the whole line.
	raw jv
	// untimed, when set, is why the record has no time though it was read
	// (an IAM service never accessed, say).
	untimed *timeErr
}

// normalizer turns one record (wrappers already removed) into items,
// appended to out; most records make one.
type normalizer func(rec jv, out []item) []item

// normalizers by evidence source.
var normalizers = map[string]normalizer{
	evidence.SourceCloudTrail: normCloudTrail,
	evidence.SourceVPCFlow:    normVPCFlow,
	evidence.SourceS3Access:   normS3Access,
	evidence.SourceCloudWatch: normCloudWatch,
	evidence.SourceDynamoDB:   normDynamoDB,
	evidence.SourceGuardDuty:  normGuardDuty,
	evidence.SourceInspector:  normInspector,
	evidence.SourceIAM:        normIAM,
}

// containers are the keys of API responses that hold a list of the
// source's records, when a whole response is stored as one line.
var containers = map[string][]jkey{
	evidence.SourceCloudTrail: mkKeys("Records", "Events"),
	evidence.SourceDynamoDB:   mkKeys("Records"),
	evidence.SourceCloudWatch: mkKeys("events", "logEvents"),
	evidence.SourceGuardDuty:  mkKeys("Findings", "findings"),
	evidence.SourceInspector:  mkKeys("findings", "Findings"),
}

// Supported reports whether source has a normalizer.
func Supported(source string) bool { _, ok := normalizers[source]; return ok }

// SupportedSources lists the sources with a normalizer, sorted.
func SupportedSources() []string {
	var s []string
	for k := range normalizers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Normalize turns one extract line of source into events and, for what has
// no usable time, untimed records; artifact and record point at the line.
// now bounds the times accepted (FutureSlack after it); zero skips that check.
// A blank line yields nothing.
func Normalize(source, artifact string, record int64, line []byte, now time.Time) ([]Event, []Untimed) {
	var evs []Event
	var un []Untimed
	normalizeInto(new(jdoc), source, artifact, record, line, now, &evs, &un)
	for i := range evs {
		e := &evs[i]
		e.Origins = []Origin{{Artifact: artifact, Record: record}} // Build's come from its entries
		// The event's strings may be line's own bytes (unquote): the
		// caller's to reuse once this returns.
		for _, f := range []*string{&e.Message, &e.Action, &e.Actor, &e.Target, &e.SrcIP, &e.Outcome, &e.TimestampDesc, &e.dedupe} {
			*f = strings.Clone(*f)
		}
	}
	return evs, un
}

// parseLine scans line into d. The scanner refuses what encoding/json
// refuses, so a line it does not take is decoded by encoding/json: for the
// error the untimed record gives (detail), or, if encoding/json takes it
// (nesting deeper than the scanner follows), for the value, which is
// encoded again and scanned without the depth bound.
func (d *jdoc) parseLine(line []byte) (rec jv, detail string) {
	if d.parse(line, fastMaxDepth) {
		return d.root(), ""
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return jv{}, "not JSON: " + err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil || !d.parse(b, math.MaxInt) {
		return jv{}, "not JSON: cannot be read back" // not reached
	}
	return d.root(), ""
}

// maxKeptItems bounds the items a jdoc keeps from one line to the next.
const maxKeptItems = 1 << 10

// normalizeInto is Normalize appending to evs and un, scanning with d.
func normalizeInto(d *jdoc, source, artifact string, record int64, line []byte, now time.Time, evs *[]Event, un *[]Untimed) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	untimed := func(reason, detail string, raw any) {
		*un = append(*un, Untimed{Source: source, Artifact: artifact, Record: record, Reason: reason, Detail: detail, Raw: raw})
	}
	rawLine := func() any {
		if json.Valid(line) {
			return json.RawMessage(append([]byte(nil), line...))
		}
		return string(line)
	}
	norm, ok := normalizers[source]
	if !ok {
		untimed(ReasonUnsupportedSource, fmt.Sprintf("no normalizer for source %q", source), rawLine())
		return
	}
	rec, detail := d.parseLine(line)
	if detail != "" {
		untimed(ReasonMalformed, detail, rawLine())
		return
	}
	if rec.kind() != jObject {
		untimed(ReasonMalformed, fmt.Sprintf("a JSON %s, not an object", rec.kindName()), rawLine())
		return
	}
	rec = unwrap(rec)
	// The items are made in d's, reused from one line to the next: an
	// item (an event and its times) a record was an allocation of a few
	// hundred bytes for the collector to scan.
	items := d.items[:0]
	defer func() {
		clear(items)
		if cap(items) > maxKeptItems {
			items = nil // a response line of many records once: not kept
		}
		d.items = items[:0]
	}()
	if list, ok := container(source, rec); ok {
		for _, el := range list.elems() {
			if el.kind() != jObject {
				untimed(ReasonMalformed, fmt.Sprintf("a JSON %s in the response's list, not an object", el.kindName()), el.generic())
				continue
			}
			m := unwrap(el)
			n := len(items)
			items = norm(m, items)
			for i := range items[n:] {
				if it := &items[n+i]; !it.raw.present() {
					it.raw = m
				}
			}
		}
	} else {
		items = norm(rec, items)
	}
	sub := 0
	for k := range items {
		it := &items[k]
		raw := func() any { // only for an untimed record
			if it.raw.present() {
				return it.raw.generic()
			}
			return rawLine()
		}
		if it.untimed != nil {
			untimed(it.untimed.reason, it.untimed.detail, raw())
			continue
		}
		var seen []time.Time
		var firstErr *timeErr
		for _, tf := range it.times {
			t, _, te := parseTimeValue(tf.value)
			if te == nil {
				te = checkRange(t, now)
			}
			if te != nil {
				if firstErr == nil || (firstErr.reason == ReasonMissingTime && te.reason != ReasonMissingTime) {
					firstErr = &timeErr{te.reason, tf.desc + ": " + te.detail}
				}
				continue
			}
			dup := false
			for _, s := range seen {
				dup = dup || s.Equal(t)
			}
			if dup {
				continue
			}
			seen = append(seen, t)
			e := it.ev
			e.Source, e.Artifact, e.Record = source, artifact, record
			e.Time, e.Datetime, e.TimestampDesc = t, FormatTime(t, DatetimePrecision), tf.desc
			e.Timestamp, e.DataType = t.UnixMicro(), DataType(source)
			e.sub = sub
			sub++
			*evs = append(*evs, e)
			if !it.all {
				break
			}
		}
		if len(seen) == 0 {
			if firstErr == nil {
				firstErr = &timeErr{ReasonMissingTime, "no time field"}
			}
			untimed(firstErr.reason, firstErr.detail, raw())
		}
	}
}

// unwrap removes the wrappers an extract may put around a record:
// {"record": {...}} and an EventBridge envelope's {"detail": {...}}.
func unwrap(m jv) jv {
	for range 4 {
		if r := m.keyK(kRecord); r.kind() == jObject {
			m = r
			continue
		}
		if d := m.keyK(kDetail); d.kind() == jObject && !m.keyK(kDetailType).isNil() {
			m = d
			continue
		}
		break
	}
	return m
}

// The wrappers' keys, folded once: every record is looked in for them.
var kRecord, kDetail, kDetailType = mkKey("record"), mkKey("detail"), mkKey("detail-type")

// container returns the list a response line holds, if rec is such a line.
func container(source string, rec jv) (jv, bool) {
	for _, k := range containers[source] {
		if l := rec.keyK(k); l.kind() == jArray {
			return l, true
		}
	}
	return jv{}, false
}

// --- lookups that do not care about the case or separators of a key -------

// keyEq compares keys ignoring case, '-' and '_': "account-id",
// "account_id", "accountId" and "AccountId" are one key.
func keyEq(a, b string) bool {
	i, j := 0, 0
	for {
		for i < len(a) && (a[i] == '-' || a[i] == '_') {
			i++
		}
		for j < len(b) && (b[j] == '-' || b[j] == '_') {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		ca, cb := a[i], b[j]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
		i++
		j++
	}
}

// first returns the first non-empty string.
func first(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// dash turns the "-" logs write for "no value" into "".
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// maxMessage bounds a message's length.
const maxMessage = 1024

// oneLine makes s one readable line: control characters become spaces and
// a long text is cut (with "…").
func oneLine(s string) string {
	clean := true
	i := 0
	// Eight bytes at a time: every event's message is looked through.
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if control8(x) {
			clean = false
			break
		}
	}
	for ; clean && i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, s)
		s = strings.Join(strings.Fields(s), " ")
	}
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// control8 reports whether one of the eight bytes in x is a control
// character (below 0x20, or 0x7f).
func control8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return ((x-ones*0x20)&^x&highs)|hasZero(x^(ones*0x7f)) != 0
}

// join joins the non-empty parts with sep.
func join(sep string, parts ...string) string {
	var b strings.Builder
	n := 0
	for _, p := range parts {
		n += len(p) + len(sep)
	}
	b.Grow(n) // one allocation, not one a doubling
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p)
	}
	return b.String()
}
