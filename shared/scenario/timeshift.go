package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultShiftWithinDays is how far from the anchor (in days, either way) a
// time must lie to be shifted when timeShift gives no "withinDays".
const DefaultShiftWithinDays = 60

const day = 24 * time.Hour

// TimeShift is scenario.json's optional "timeShift": move every time in the
// seed folder by a whole number of days so that the anchor day lands DaysAgo
// days before today (UTC), at the same time of day.
//
//	"timeShift": {"anchor": "2024-08-02", "daysAgo": 1, "withinDays": 60}
type TimeShift struct {
	// Anchor is the incident's day: "YYYY-MM-DD" or an RFC 3339 time (only
	// its UTC date counts).
	Anchor string `json:"anchor"`
	// DaysAgo puts the anchor day this many days before today (0 = today).
	DaysAgo int `json:"daysAgo"`
	// WithinDays: only times within this many days of the anchor day are
	// shifted (default DefaultShiftWithinDays); anything further away is not
	// a time of the incident (policy versions like 2012-10-17, old files).
	WithinDays int `json:"withinDays"`
}

// anchorDay parses Anchor to the UTC midnight of its day.
func (ts *TimeShift) anchorDay() (time.Time, error) {
	a := strings.TrimSpace(ts.Anchor)
	if t, err := time.Parse("2006-01-02", a); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, a)
	if err != nil {
		return time.Time{}, fmt.Errorf("anchor %q: want YYYY-MM-DD or an RFC 3339 time", ts.Anchor)
	}
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}

func (ts *TimeShift) validate() error {
	if _, err := ts.anchorDay(); err != nil {
		return err
	}
	if ts.DaysAgo < 0 {
		return fmt.Errorf("daysAgo %d: want 0 or more", ts.DaysAgo)
	}
	if ts.WithinDays < 0 {
		return fmt.Errorf("withinDays %d: want 0 (default %d) or more", ts.WithinDays, DefaultShiftWithinDays)
	}
	return nil
}

// Shifter returns the shift that puts the anchor day DaysAgo days before
// now's UTC date: Days = (midnight UTC of now − DaysAgo days) − anchor day.
func (ts *TimeShift) Shifter(now time.Time) (Shifter, error) {
	if err := ts.validate(); err != nil {
		return Shifter{}, fmt.Errorf("scenario: timeShift: %w", err)
	}
	a, _ := ts.anchorDay()
	n := now.UTC()
	target := time.Date(n.Year(), n.Month(), n.Day()-ts.DaysAgo, 0, 0, 0, 0, time.UTC)
	within := ts.WithinDays
	if within == 0 {
		within = DefaultShiftWithinDays
	}
	return Shifter{Days: int(target.Sub(a) / day), Anchor: a, WithinDays: within}, nil
}

// Shifter moves the times written in text by a whole number of days. A
// whole-day shift keeps the time of day, so only the date part of a written
// time changes (key names such as "..._20240802T0825Z_..." and date folders
// "2024/08/02/" stay consistent with their contents); epoch numbers move by
// Days × 86,400 s. The zero Shifter changes nothing.
//
// Recognised forms (the date part is shifted, the rest kept byte for byte):
//
//	2024-08-02T08:23:10Z, 2024-08-02T08:23:10.123+00:00  ISO 8601 / RFC 3339
//	2024-08-02 08:23:10                                  SIEM / SQL
//	2024-08-02-08-35-41-7D4E3A1F9C2B6E50                 S3 access log keys (any YYYY-MM-DD)
//	20240802T0825Z, 20240802T082510Z                     compact (CloudTrail, flow log, digest keys)
//	2024/08/02                                           date folders
//	year=2024/month=08/day=02                            Hive-style partitions
//	[02/Aug/2024:08:23:10 +0000]                         S3 access log (Apache CLF)
//	Aug 2, 2024, 10:23:24 AM                             CloudTrail responseElements (SSM, STS)
//	Fri, 02 Aug 2024 08:23:10 GMT, 2 Aug 2024            RFC 1123 (the weekday is recomputed)
//	1722586950, 1722586950.5, 1722586950000              epoch seconds (10 digits), milliseconds (13)
//
// Only valid dates within WithinDays days of the anchor day are shifted;
// epoch numbers likewise (a number is a time only if its value is in that
// range, so ports, byte and packet counts, account IDs are left alone). A
// match must not be glued to letters or digits (a date inside a hex ID or a
// longer digit run is not a time).
type Shifter struct {
	Days       int       // whole days added; 0: no shift
	Anchor     time.Time // UTC midnight of the anchor day
	WithinDays int       // only times within this many days of Anchor move
}

// Active reports whether the shifter moves anything.
func (sh Shifter) Active() bool { return sh.Days != 0 }

// Time returns t moved by the shift (Days × 24 h), whatever its distance
// from the anchor: for computing where a seeded time lands.
func (sh Shifter) Time(t time.Time) time.Time { return t.Add(time.Duration(sh.Days) * day) }

const monthAlt = `Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec`

// shiftRe finds candidate times; the alternatives are tried left to right at
// each position, the bare digit run last.
var shiftRe = regexp.MustCompile(`` +
	`(?P<iso>\d{4}-\d{2}-\d{2})` +
	`|(?P<slash>\d{4}/\d{2}/\d{2})` +
	`|(?P<compact>\d{8})T\d{4}(?:\d{2})?` +
	`|year=(?P<hive>\d{4}/month=\d{2}/day=\d{2})` +
	`|(?P<clf>\d{2}/(?:` + monthAlt + `)/\d{4}):\d{2}:\d{2}:\d{2}` +
	`|(?P<eng>(?:` + monthAlt + `) \d{1,2}, \d{4})` +
	`|(?P<rfc>(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:` + monthAlt + `) \d{4})` +
	`|(?P<num>\d+)`)

var shiftGroups = func() map[string]int {
	m := map[string]int{}
	for i, n := range shiftRe.SubexpNames() {
		if n != "" {
			m[n] = i
		}
	}
	return m
}()

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// String returns s with its times shifted.
func (sh Shifter) String(s string) string { return string(sh.Bytes([]byte(s))) }

// Bytes returns b with its times shifted (b itself when nothing moved).
func (sh Shifter) Bytes(b []byte) []byte {
	out, _ := sh.shift(b)
	return out
}

// shift returns b with its times shifted and how many were.
func (sh Shifter) shift(b []byte) ([]byte, int) {
	if sh.Days == 0 {
		return b, 0
	}
	var out []byte
	last, n := 0, 0
	for _, m := range shiftRe.FindAllSubmatchIndex(b, -1) {
		for name, g := range shiftGroups {
			s, e := m[2*g], m[2*g+1]
			if s < 0 {
				continue
			}
			ms, me := m[0], m[1]
			if ms > 0 && (isAlnum(b[ms-1]) || name == "num" && b[ms-1] == '.') {
				break
			}
			if me < len(b) && (isDigit(b[me]) || name == "num" && isAlnum(b[me])) {
				break
			}
			repl, ok := sh.replace(name, b[s:e])
			if !ok {
				break
			}
			out = append(out, b[last:s]...)
			out = append(out, repl...)
			last = e
			n++
			break
		}
	}
	if n == 0 {
		return b, 0
	}
	return append(out, b[last:]...), n
}

// inRange reports whether the day is within WithinDays of the anchor day.
func (sh Shifter) inRange(d time.Time) bool {
	diff := d.Sub(sh.Anchor)
	if diff < 0 {
		diff = -diff
	}
	return diff <= time.Duration(sh.WithinDays)*day
}

// date builds a valid UTC date or reports false (2024-02-30 is no date).
func date(y int, m time.Month, d int) (time.Time, bool) {
	if y < 1970 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return t, t.Day() == d && t.Month() == m
}

func atoi(b []byte) int { n, _ := strconv.Atoi(string(b)); return n }

// pad2 formats a day as the original was written: two digits if padded.
func pad2(d int, padded bool) string {
	if padded {
		return fmt.Sprintf("%02d", d)
	}
	return strconv.Itoa(d)
}

// replace shifts one matched date (or number) of the given form.
func (sh Shifter) replace(form string, v []byte) ([]byte, bool) {
	shiftDate := func(y int, m time.Month, d int) (time.Time, bool) {
		t, ok := date(y, m, d)
		if !ok || !sh.inRange(t) {
			return time.Time{}, false
		}
		return t.AddDate(0, 0, sh.Days), true
	}
	switch form {
	case "iso", "slash":
		sep := v[4]
		t, ok := shiftDate(atoi(v[0:4]), time.Month(atoi(v[5:7])), atoi(v[8:10]))
		if !ok {
			return nil, false
		}
		return fmt.Appendf(nil, "%04d%c%02d%c%02d", t.Year(), sep, t.Month(), sep, t.Day()), true
	case "compact":
		t, ok := shiftDate(atoi(v[0:4]), time.Month(atoi(v[4:6])), atoi(v[6:8]))
		if !ok {
			return nil, false
		}
		return []byte(t.Format("20060102")), true
	case "hive": // 2024/month=08/day=02
		s := string(v)
		t, ok := shiftDate(atoi(v[0:4]), time.Month(atoi([]byte(s[11:13]))), atoi([]byte(s[18:20])))
		if !ok {
			return nil, false
		}
		return fmt.Appendf(nil, "%04d/month=%02d/day=%02d", t.Year(), t.Month(), t.Day()), true
	case "clf": // 02/Aug/2024
		t, ok := shiftDate(atoi(v[7:11]), months[string(v[3:6])], atoi(v[0:2]))
		if !ok {
			return nil, false
		}
		return []byte(t.Format("02/Jan/2006")), true
	case "eng": // Aug 2, 2024
		s := string(v)
		dayStr, year, _ := strings.Cut(s[4:], ", ")
		t, ok := shiftDate(atoi([]byte(year)), months[s[:3]], atoi([]byte(dayStr)))
		if !ok {
			return nil, false
		}
		return fmt.Appendf(nil, "%s %s, %04d", t.Month().String()[:3], pad2(t.Day(), dayStr[0] == '0'), t.Year()), true
	case "rfc": // [Fri, ]02 Aug 2024
		s := string(v)
		weekday := ""
		if s[0] < '0' || s[0] > '9' {
			weekday, s = s[:3], s[5:]
		}
		f := strings.Fields(s)
		t, ok := shiftDate(atoi([]byte(f[2])), months[f[1]], atoi([]byte(f[0])))
		if !ok {
			return nil, false
		}
		out := fmt.Sprintf("%s %s %04d", pad2(t.Day(), len(f[0]) == 2), t.Month().String()[:3], t.Year())
		if weekday != "" {
			out = t.Weekday().String()[:3] + ", " + out
		}
		return []byte(out), true
	case "num":
		var unit int64
		switch len(v) {
		case 10:
			unit = 1
		case 13:
			unit = 1000
		default:
			return nil, false
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, false
		}
		t := time.Unix(n/unit, 0).UTC()
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		if !sh.inRange(d) {
			return nil, false
		}
		shifted := n + int64(sh.Days)*86400*unit
		out := strconv.FormatInt(shifted, 10)
		if len(out) != len(v) {
			return nil, false
		}
		return []byte(out), true
	}
	return nil, false
}
