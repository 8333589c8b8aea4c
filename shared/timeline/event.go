// Package timeline turns the filtered extracts of a case (one JSON record per
// line, <source>/*.jsonl.gz) into one timeline sorted by time across every
// source: timeline.jsonl (Timesketch imports it as it is: message,
// datetime, timestamp, timestamp_desc, data_type), timeline.csv, and
// untimed.jsonl for the records that have no usable time, which are kept
// and counted, never dropped. docs/timeline.md describes the fields.
//
// Each source has a normalizer (cloudtrail.go, vpcflow.go, ...) that says at
// its top which record shapes it reads. Build sorts in bounded memory: each
// chunk of events is sorted and, but the last, spilled to a compressed run on
// local disk, and the runs are merged with a heap (an external merge sort).
package timeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Event is one normalised timeline event. The JSON names are the ones
// Timesketch imports (datetime, timestamp_desc, message) plus custody's own.
type Event struct {
	// Datetime is ISO 8601 UTC with DatetimePrecision fraction digits for
	// every event, whatever the source gave: one fixed width is what makes
	// a text sort of the lines (or of this column) a time sort.
	Datetime string `json:"datetime"`
	// Timestamp is Time in microseconds since the epoch, the unit
	// Timesketch's importer reads.
	Timestamp     int64  `json:"timestamp"`
	TimestampDesc string `json:"timestamp_desc"`
	Message       string `json:"message"`
	// DataType is the record's kind for Timesketch (see DataType).
	DataType string `json:"data_type"`
	Source   string `json:"source"`
	Action   string `json:"action"`
	Actor    string `json:"actor"`
	Target   string `json:"target"`
	SrcIP    string `json:"srcIp"`
	Outcome  string `json:"outcome"`
	// Artifact is the key of the extract the record is in; Record is the
	// record's 0-based line number in it.
	Artifact string `json:"artifact"`
	Record   int64  `json:"record"`
	// Origins is every copy of the record the timeline read (the first is
	// Artifact and Record): a CloudTrail event from two trails, a flow
	// record from an S3 and a CloudWatch Logs destination, written once.
	Origins []Origin `json:"origins"`

	// Time is Datetime as a time (UTC); not serialised.
	Time time.Time `json:"-"`
	// sub orders the events one record yields (a response line holding
	// several findings, a finding with several times).
	sub int
	// dedupe is the record's identity across extracts (a CloudTrail
	// eventID): the same record in two extracts — two trails delivering
	// one event, read by two shards — is one event on the timeline.
	dedupe string
}

// Origin is one copy of a record: the extract it is in and its 0-based
// line number there.
type Origin struct {
	Artifact string `json:"artifact"`
	Record   int64  `json:"record"`
}

// DatetimePrecision is the fraction digits of every Datetime: microseconds,
// Timesketch's unit (a source's nanoseconds still order the events).
const DatetimePrecision = 6

// DataType is the Timesketch data_type of a source's events:
// "aws:<source>:<record kind>", the source as custody names it (the
// extract's folder) and the kind of record one line of it is.
func DataType(source string) string {
	if t, ok := dataTypes[source]; ok {
		return t
	}
	return "aws:" + source + ":record"
}

// dataTypes is DataType of the sources in dataKinds, made once: every
// event is given one.
var dataTypes = func() map[string]string {
	m := map[string]string{}
	for s, k := range dataKinds {
		m[s] = "aws:" + s + ":" + k
	}
	return m
}()

var dataKinds = map[string]string{
	"cloudtrail": "event",
	"vpcflow":    "record",
	"guardduty":  "finding",
	"s3access":   "log_entry",
	"cloudwatch": "log_event",
	"dynamodb":   "stream_record",
	"iam":        "snapshot",
	"inspector":  "finding",
}

// CSVHeader is timeline.csv's header row. The time columns say their zone
// in their names (datetime_utc, timestamp_utc_us) since a spreadsheet
// shows a cell's text, not its zone; the other columns are timeline.jsonl's.
var CSVHeader = []string{"datetime_utc", "timestamp_utc_us", "timestamp_desc", "message", "data_type", "source", "action", "actor", "target", "srcIp", "outcome", "artifact", "record", "origins"}

// CSVRow is e as a timeline.csv row, in CSVHeader's order, each cell
// neutralised against formula injection (CSVSafe). Origins is one cell:
// "artifact:record" per origin, separated by " | ".
func (e *Event) CSVRow() []string {
	var o []string
	for _, x := range e.Origins {
		o = append(o, x.Artifact+":"+strconv.FormatInt(x.Record, 10))
	}
	row := []string{e.Datetime, strconv.FormatInt(e.Timestamp, 10), e.TimestampDesc, e.Message, e.DataType, e.Source, e.Action, e.Actor, e.Target, e.SrcIP, e.Outcome, e.Artifact, strconv.FormatInt(e.Record, 10), strings.Join(o, " | ")}
	for i := range row {
		row[i] = CSVSafe(row[i])
	}
	return row
}

// CSVSafe neutralises a cell a spreadsheet would run as a formula: one
// that begins with '=', '+', '-', '@', a tab or a carriage return (OWASP's
// CSV injection list) gets a leading single quote, so it is shown as text.
// A record's fields are the attacker's to choose (a user agent, a log line).
func CSVSafe(s string) string {
	if s != "" && formulaStart(s[0]) {
		return "'" + s
	}
	return s
}

func formulaStart(c byte) bool {
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r'
}

// Untimed is a record with no usable time, as untimed.jsonl keeps it.
type Untimed struct {
	Source   string `json:"source"`
	Artifact string `json:"artifact"`
	Record   int64  `json:"record"`
	// Reason is one of the Reason* constants; Detail says more.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	// Raw is the record as it was (the line, or the element of a response
	// line that held several), or the line as a string when it is not JSON.
	Raw any `json:"raw,omitempty"`
}

// Reasons a record is untimed.
const (
	ReasonMissingTime       = "missing time"
	ReasonUnparseableTime   = "unparseable time"
	ReasonOutOfRange        = "time out of range"
	ReasonMalformed         = "malformed record"
	ReasonUnsupportedSource = "unsupported source"
	// ReasonUnreadable: the extract could not be read past this line
	// (truncated or corrupt gzip); Raw is empty.
	ReasonUnreadable = "unreadable extract"
	// ReasonOversize: the record is longer than MaxRecordBytes; it was not
	// read into memory (it is in its artifact); Raw is empty.
	ReasonOversize = "record too long"
)

// Earliest is the earliest time a record may carry: before it a time is
// out of range (AWS services, and these logs, did not exist).
var Earliest = time.Date(2004, 1, 1, 0, 0, 0, 0, time.UTC)

// FutureSlack is how far after "now" a time may be before it is out of range.
const FutureSlack = 24 * time.Hour

// FormatTime writes t as ISO 8601 UTC with prec fraction digits (0..9).
func FormatTime(t time.Time, prec int) string {
	var buf [48]byte
	return string(appendTime(buf[:0], t, prec))
}

// appendTime is FormatTime appending to b; it writes once per event, so it
// builds the text in place rather than with Format, Sprintf and concatenation.
func appendTime(b []byte, t time.Time, prec int) []byte {
	sec := t.Unix()
	if sec < minFastUnix || sec >= maxFastUnix {
		return appendTimeFormat(b, t, prec)
	}
	// By hand, from the Unix seconds: AppendFormat's layout walk was most
	// of the cost of a time, then Date and Clock, each working out the
	// calendar from the start. Unsigned 32-bit from here: the seconds
	// since 0000-01-01 of a day fit, and their divisions are the cheap ones.
	since := uint64(sec - minFastUnix)
	days, s := uint32(since/86400), uint32(since%86400)
	year, month, day := civil(days)
	var out [32]byte // "yyyy-mm-ddThh:mm:ss.nnnnnnnnnZ"
	put2(out[0:2], year/100)
	put2(out[2:4], year%100)
	out[4] = '-'
	put2(out[5:7], month)
	out[7] = '-'
	put2(out[8:10], day)
	out[10] = 'T'
	put2(out[11:13], s/3600)
	out[13] = ':'
	put2(out[14:16], s/60%60)
	out[16] = ':'
	put2(out[17:19], s%60)
	n := 19
	if prec > 0 {
		prec = min(prec, 9)
		out[19] = '.'
		// The first prec digits of the nanoseconds, two at a time from
		// the tenth (out[30]) back: out[20:20+prec] is what is kept.
		ns := uint64(t.Nanosecond()) * 10 // past 32 bits
		for i := 28; i >= 20; i -= 2 {
			put2(out[i:i+2], uint32(ns%100))
			ns /= 100
		}
		n = 20 + prec
	}
	out[n] = 'Z'
	return append(b, out[:n+1]...)
}

// The Unix seconds of 0000-01-01 and 10000-01-01 UTC: appendTime writes
// the years between by hand (four digits, no sign).
const (
	minFastUnix = -62167219200
	maxFastUnix = 253402300800
)

// digitPairs is "00" to "99" back to back.
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// put2 writes v (0..99) as two digits.
func put2(b []byte, v uint32) {
	b[0], b[1] = digitPairs[2*v], digitPairs[2*v+1]
}

// civil is the proleptic Gregorian date of a day counted from 0000-01-01
// (Howard Hinnant's civil_from_days, on years that start in March).
func civil(days uint32) (year, month, day uint32) {
	// 0000-01-01 is 60 days before 0000-03-01, the start of an era of
	// 400 years: counted from the era before, z is never negative.
	z := days + 146097 - 60
	era := z / 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400 - 400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendTimeFormat is appendTime by AppendFormat, for the years outside
// 0..9999 (none a range check lets through).
func appendTimeFormat(b []byte, t time.Time, prec int) []byte {
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05")
	if prec > 0 {
		prec = min(prec, 9)
		var frac [9]byte
		ns := t.Nanosecond()
		for i := len(frac) - 1; i >= 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		b = append(b, '.')
		b = append(b, frac[:prec]...)
	}
	return append(b, 'Z')
}

// timeErr is why a value is not a usable time.
type timeErr struct{ reason, detail string }

// stringLayouts are the text forms of a time the sources write, tried in
// order after normalising a space between date and time to "T".
var stringLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"02/Jan/2006:15:04:05.999999999 -0700", // S3 server access log, brackets removed
}

// ParseTime reads a time value as the sources write it: an RFC 3339 /
// ISO 8601 string with a zone (Z, ±hh:mm, ±hhmm; "T" or a space between date
// and time), an S3 access log time ("[06/Feb/2019:00:00:38 +0000]"), or an
// epoch number (a JSON number or a string of digits). An epoch's unit is
// taken from its size: below 1e11 seconds, below 1e14 milliseconds, below
// 1e17 microseconds, else nanoseconds. It returns the time in UTC and its
// precision: the fraction digits the source gave. A string without a zone
// is refused (its zone would be a guess).
func ParseTime(v any) (time.Time, int, error) {
	t, p, te := parseTime(v)
	if te != nil {
		return t, p, fmt.Errorf("%s: %s", te.reason, te.detail)
	}
	return t, p, nil
}

func parseTime(v any) (time.Time, int, *timeErr) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, 0, &timeErr{ReasonMissingTime, "no time field"}
	case string:
		return parseTimeString(x)
	case jsonNumber:
		return parseEpoch(string(x))
	case float64:
		return parseEpoch(strconv.FormatFloat(x, 'f', -1, 64))
	case int64:
		return parseEpoch(strconv.FormatInt(x, 10))
	case int:
		return parseEpoch(strconv.Itoa(x))
	}
	return time.Time{}, 0, &timeErr{ReasonUnparseableTime, fmt.Sprintf("a %T is not a time", v)}
}

// parseTimeValue is parseTime for a value of a scanned record.
func parseTimeValue(v jv) (time.Time, int, *timeErr) {
	switch v.kind() {
	case 0, jNull:
		return parseTime(nil)
	case jString:
		return parseTimeString(str(v))
	case jNumber:
		return parseEpoch(string(v.text()))
	case jTrue, jFalse:
		return parseTime(true) // the detail names the type decoding gave
	case jArray:
		return parseTime([]any(nil))
	}
	return parseTime(map[string]any(nil))
}

// parseTimeString reads a time in text (see ParseTime). The forms the
// sources write most (RFC 3339 in UTC, S3's access log time) are read by
// hand first: time.Parse, with its layout walk for the S3 form, its
// rewrites of the text and its second pass for the precision, was most of
// a time's cost, read once or twice per event. Anything else, and every
// error, is parseTimeStringSlow's, which the fast paths are tested against.
func parseTimeString(orig string) (time.Time, int, *timeErr) {
	s := strings.TrimSpace(orig)
	if len(s) >= 20 && s[4] == '-' {
		if t, prec, ok := fastRFC3339(s); ok {
			return t, prec, nil
		}
	} else if len(s) >= 26 {
		if t, ok := fastS3Time(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); ok {
			return t, 0, nil
		}
	}
	return parseTimeStringSlow(orig)
}

// parseTimeStringSlow is parseTimeString by time.Parse, for every form.
func parseTimeStringSlow(orig string) (time.Time, int, *timeErr) {
	s := strings.TrimSpace(orig)
	if s == "" || s == "-" {
		return time.Time{}, 0, &timeErr{ReasonMissingTime, "empty time"}
	}
	if isEpochText(s) {
		return parseEpoch(s)
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if len(s) > 10 && s[10] == ' ' && s[4] == '-' {
		s = s[:10] + "T" + s[11:]
	}
	// Lower-case z and t are valid RFC 3339.
	if len(s) > 10 && s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	layouts := stringLayouts
	if len(s) > 2 && s[2] == '/' {
		// Only the S3 form reads "dd/Mon/...": the others need a
		// four-digit year first, and failing them costs three parses.
		layouts = layouts[3:]
	}
	for _, l := range layouts {
		t, err := time.Parse(l, s)
		if err == nil {
			return t.UTC(), fractionDigits(s), nil
		}
	}
	for _, l := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if _, err := time.Parse(l, s); err == nil {
			return time.Time{}, 0, &timeErr{ReasonUnparseableTime, fmt.Sprintf("%q has no time zone", orig)}
		}
	}
	return time.Time{}, 0, &timeErr{ReasonUnparseableTime, fmt.Sprintf("%q is not a time", orig)}
}

// fastRFC3339 reads s when it is "yyyy-mm-ddThh:mm:ss[.f...]Z" ('T' also
// 't' or a space, 'Z' also 'z'): false for anything else. It accepts only
// what time.Parse's own RFC 3339 path does, with its ranges, so the time is
// the one parseTimeStringSlow gives, and the precision too (the fraction's
// digits, at most 9).
func fastRFC3339(s string) (time.Time, int, bool) {
	if s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, false
	}
	if z := s[len(s)-1]; z != 'Z' && z != 'z' {
		return time.Time{}, 0, false
	}
	year, ok1 := digits4(s[0:4])
	month, ok2 := digits2(s[5:7])
	day, ok3 := digits2(s[8:10])
	hour, ok4 := digits2(s[11:13])
	minute, ok5 := digits2(s[14:16])
	sec, ok6 := digits2(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, 0, false
	}
	frac := s[19 : len(s)-1]
	nsec, prec := 0, 0
	if frac != "" {
		if len(frac) < 2 || frac[0] != '.' {
			return time.Time{}, 0, false
		}
		for i := 1; i < len(frac); i++ {
			c := frac[i]
			if c < '0' || c > '9' {
				return time.Time{}, 0, false
			}
			if prec < 9 { // time.Parse truncates past nanoseconds
				nsec = nsec*10 + int(c-'0')
				prec++
			}
		}
		for i := prec; i < 9; i++ {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), prec, true
}

// s3Months is the month names of the S3 form, as time.Parse writes them
// (it reads them in any case: another case is left to it).
const s3Months = "JanFebMarAprMayJunJulAugSepOctNovDec"

// fastS3Time reads s when it is S3's "dd/Mon/yyyy:hh:mm:ss ±hhmm" (no
// fraction: S3 writes none, and the precision is then 0): false for
// anything else, including what time.Parse would read but this does not
// (a one-digit hour, a month's name in another case, an offset past 23:59).
func fastS3Time(s string) (time.Time, bool) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
		(s[21] != '+' && s[21] != '-') {
		return time.Time{}, false
	}
	month := 0
	for m := 0; m < 12; m++ {
		if s[3:6] == s3Months[3*m:3*m+3] {
			month = m + 1
			break
		}
	}
	day, ok1 := digits2(s[0:2])
	year, ok2 := digits4(s[7:11])
	hour, ok3 := digits2(s[12:14])
	minute, ok4 := digits2(s[15:17])
	sec, ok5 := digits2(s[18:20])
	offH, ok6 := digits2(s[22:24])
	offM, ok7 := digits2(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || month == 0 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 || offH > 23 || offM > 59 {
		return time.Time{}, false
	}
	off := offH*60 + offM
	if s[21] == '-' {
		off = -off
	}
	// Date normalises the minutes taken back past the hour or the day.
	return time.Date(year, time.Month(month), day, hour, minute-off, sec, 0, time.UTC), true
}

// digits2 and digits4 read two and four decimal digits.
func digits2(s string) (int, bool) {
	a, b := s[0]-'0', s[1]-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func digits4(s string) (int, bool) {
	hi, ok1 := digits2(s[0:2])
	lo, ok2 := digits2(s[2:4])
	return hi*100 + lo, ok1 && ok2
}

// daysIn is the days of month m (1..12) of year y, as time.Parse checks a
// day against them.
func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// fractionDigits counts the digits after the seconds' decimal point.
func fractionDigits(s string) int {
	// The fraction follows "hh:mm:ss" (RFC 3339) or "yyyy:hh:mm:ss" (S3).
	i := strings.IndexAny(s, ".,")
	if i < 0 {
		return 0
	}
	n := 0
	for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
		n++
	}
	if n > 9 {
		n = 9
	}
	return n
}

func isEpochText(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		case c == '-' && i == 0:
		case c == 'e' || c == 'E' || c == '+':
		default:
			return false
		}
	}
	return true
}

// parseEpoch reads an epoch number in text, exactly (no float rounding for
// the plain decimal forms).
func parseEpoch(s string) (time.Time, int, *timeErr) {
	// Plain digits (the sources' epochs: flow records' seconds, CloudWatch's
	// milliseconds) are read by hand: the general path's cuts and
	// concatenations allocated twice for a millisecond time. Past 18
	// digits (an int64's overflow) or 1<<33 seconds, the general path
	// says what is wrong.
	if n := len(s); n > 0 && n <= 18 {
		v := int64(0)
		for i := 0; i < n; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				goto general
			}
			v = v*10 + int64(c-'0')
		}
		var unit int64 // per second
		shift := 0
		switch {
		case v < 1e11:
			unit = 1
		case v < 1e14:
			unit, shift = 1e3, 3
		case v < 1e17:
			unit, shift = 1e6, 6
		default:
			unit, shift = 1e9, 9
		}
		if sec := v / unit; sec <= 1<<33 {
			return time.Unix(sec, (v%unit)*(1e9/unit)).UTC(), shift, nil
		}
	}
general:
	return parseEpochSlow(s)
}

// parseEpochSlow is parseEpoch for every form.
func parseEpochSlow(s string) (time.Time, int, *timeErr) {
	orig := s
	// Built only when needed: this runs for every epoch time read.
	bad := func() *timeErr { return &timeErr{ReasonUnparseableTime, fmt.Sprintf("%q is not an epoch time", orig)} }
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, 0, bad()
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	intPart, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	neg := strings.HasPrefix(intPart, "-")
	if neg {
		return time.Time{}, 0, &timeErr{ReasonOutOfRange, fmt.Sprintf("negative epoch %s", s)}
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, 0, bad()
	}
	// Unit from magnitude: digits moved into the fraction.
	shift := 0
	switch {
	case n < 1e11:
	case n < 1e14:
		shift = 3
	case n < 1e17:
		shift = 6
	default:
		shift = 9
	}
	digits := intPart
	for len(digits) <= shift {
		digits = "0" + digits
	}
	secText := digits[:len(digits)-shift]
	fracText := digits[len(digits)-shift:] + frac
	sec, err := strconv.ParseInt(secText, 10, 64)
	if err != nil {
		return time.Time{}, 0, bad()
	}
	prec := len(fracText)
	if frac == "" {
		// The unit's own precision (ms 3, µs 6, ns 9), even when it ends in zeros.
		prec = shift
	}
	if prec > 9 {
		fracText, prec = fracText[:9], 9
	}
	ns := int64(0)
	if fracText != "" {
		ns, _ = strconv.ParseInt((fracText + "000000000")[:9], 10, 64)
	}
	if sec > 1<<33 { // far beyond any range check; keeps time.Unix sane
		return time.Time{}, 0, &timeErr{ReasonOutOfRange, fmt.Sprintf("epoch %s is too far in the future", s)}
	}
	return time.Unix(sec, ns).UTC(), prec, nil
}

// checkRange refuses a time before Earliest or more than FutureSlack after now.
func checkRange(t time.Time, now time.Time) *timeErr {
	if t.Before(Earliest) {
		return &timeErr{ReasonOutOfRange, fmt.Sprintf("%s is before %s", FormatTime(t, 0), FormatTime(Earliest, 0))}
	}
	if !now.IsZero() && t.After(now.Add(FutureSlack)) {
		return &timeErr{ReasonOutOfRange, fmt.Sprintf("%s is more than %s after now (%s)", FormatTime(t, 0), FutureSlack, FormatTime(now, 0))}
	}
	return nil
}
