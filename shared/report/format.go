package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// when formats a time as RFC 3339 UTC, or "unknown" when zero.
func when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// severity names GuardDuty's bands: low below 4, medium below 7, high
// below 9, critical from 9.
func severity(s float64) string {
	if s <= 0 {
		return "unknown"
	}
	band := "Low"
	switch {
	case s >= 9:
		band = "Critical"
	case s >= 7:
		band = "High"
	case s >= 4:
		band = "Medium"
	}
	return strconv.FormatFloat(s, 'f', -1, 64) + " (" + band + ")"
}

// humanBytes is "1,234 B" below 1 KiB, else one decimal of the unit with
// the exact count: "2.1 KiB (2,181 B)".
func humanBytes(n int64) string {
	if n < 1024 {
		return groupDigits(n) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	u := -1
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %s (%s B)", f, units[u], groupDigits(n))
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// mdEscaper makes text safe in a Markdown table cell or paragraph: no
// line breaks, no inline HTML, no entity, no emphasis, link, code or table
// syntax. Every ASCII punctuation mark that means something is
// backslash-escaped (CommonMark: a backslash before any ASCII punctuation
// is that character literally), never turned into an HTML entity: the
// file reads the same as plain text as it renders.
var mdEscaper = strings.NewReplacer(
	"\\", "\\\\", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_",
	"[", "\\[", "]", "\\]", "<", "\\<", ">", "\\>", "&", "\\&", "#", "\\#",
	"!", "\\!", "~", "\\~",
	"\r\n", " ", "\n", " ", "\r", " ",
)

func mdEscape(v any) string {
	return mdEscaper.Replace(fmt.Sprint(v))
}

// mdCode is a code span for identifiers (keys, hashes, IDs); text that a
// code span cannot hold (a backtick, a line break) is escaped instead. A
// "|" inside a code span in a table still needs its backslash (GFM).
func mdCode(v any) string {
	s := fmt.Sprint(v)
	if s == "" {
		return ""
	}
	if strings.ContainsAny(s, "`\r\n") {
		return mdEscape(s)
	}
	return "`" + strings.ReplaceAll(s, "|", "\\|") + "`"
}
