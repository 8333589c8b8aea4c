package timeline

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// timeSeeds are texts at and around the edges of the time fast paths: the
// forms they read, and the near misses they must leave to time.Parse.
var timeSeeds = []string{
	"2024-08-01T12:34:56Z", "2024-08-01T12:34:56.123456Z", "2024-08-01t12:34:56z", "2024-08-01 12:34:56Z",
	"2024-08-01T12:34:56.1234567891234Z", "2024-08-01T12:34:56.Z", "2024-08-01T12:34:56,5Z", "2024-08-01T12:34:5.Z",
	"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T23:59:59Z", "1900-02-29T00:00:00Z", "0000-02-29T00:00:00Z",
	"2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z", "2024-08-01T24:00:00Z", "2024-08-01T23:60:00Z",
	"2024-08-01T23:59:60Z", "2024-08-01T12:34:56+00:00", "2024-08-01T12:34:56+0000", " 2024-08-01T12:34:56Z ",
	"[2024-08-01T12:34:56Z]", "2024-08-01T12:34:56Zz", "2024-08-01T12:34:56", "+024-08-01T12:34:56Z", "2024-08-01T1:34:56Z",
	"06/Feb/2019:00:00:38 +0000", "[06/Feb/2019:00:00:38 +0000]", "06/Feb/2019:01:00:38 +0100", "06/Feb/2019:00:00:38 -2359",
	"01/Jan/2004:00:00:00 +2400", "06/feb/2019:00:00:38 +0000", "06/FEB/2019:00:00:38 +0000", "29/Feb/2023:00:00:38 +0000",
	"00/Feb/2019:00:00:38 +0000", "06/Feb/2019:24:00:38 +0000", "06/Feb/2019:00:00:38.5 +0000", "06/Feb/2019:00:00:38 0000",
	"6/Feb/2019:00:00:38 +0000", "06/Feb/2019:00:00:38 +000a", "[06/Feb/2019:00:00:38 +0000", "06/Xyz/2019:00:00:38 +0000",
	"1722515696", "1722515696123", "1722515696123456", "1722515696123456789", "0", "00000000001722515696",
	"99999999999", "8589934593", "8589934592", "999999999999999999", "1.5", "-1", "1e9", "", "-", " ", "yesterday",
}

// checkTimeText holds parseTimeString, with its fast paths, to the
// time.Parse path alone, and parseEpoch to its general path: the same time
// (the same value, location included), precision and error.
func checkTimeText(t *testing.T, s string) {
	t.Helper()
	gt, gp, ge := parseTimeString(s)
	wt, wp, we := parseTimeStringSlow(s)
	if gt != wt || gp != wp || (ge == nil) != (we == nil) || (ge != nil && *ge != *we) {
		t.Errorf("parseTimeString(%q) = %v, %d, %v; time.Parse's path %v, %d, %v", s, gt, gp, ge, wt, wp, we)
	}
	gt, gp, ge = parseEpoch(s)
	wt, wp, we = parseEpochSlow(s)
	if gt != wt || gp != wp || (ge == nil) != (we == nil) || (ge != nil && *ge != *we) {
		t.Errorf("parseEpoch(%q) = %v, %d, %v; general path %v, %d, %v", s, gt, gp, ge, wt, wp, we)
	}
}

func TestTimeFastPaths(t *testing.T) {
	for _, s := range timeSeeds {
		checkTimeText(t, s)
	}
	// Every day of a leap and a common year, in both forms, at both ends
	// of the day.
	for _, y := range []int{2023, 2024} {
		for d := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == y; d = d.AddDate(0, 0, 1) {
			checkTimeText(t, d.Format("2006-01-02T15:04:05Z"))
			checkTimeText(t, d.Add(24*time.Hour-time.Second).Format("2006-01-02T15:04:05.000Z"))
			checkTimeText(t, d.Format("02/Jan/2006:15:04:05 -0700"))
			checkTimeText(t, d.In(time.FixedZone("", -(13*3600+59*60))).Format("02/Jan/2006:15:04:05 -0700"))
		}
	}
}

// FuzzTimeText holds the time fast paths to the general ones for any text.
func FuzzTimeText(f *testing.F) {
	for _, s := range timeSeeds {
		f.Add(s)
	}
	f.Fuzz(checkTimeText)
}

// BenchmarkParseTimeString is the time forms the sources write most, one
// parse each: what the fast paths are measured by.
func BenchmarkParseTimeString(b *testing.B) {
	for _, in := range []string{"2024-08-01T12:34:56Z", "2024-08-01T12:34:56.123456Z", "[06/Feb/2019:00:00:38 +0000]", "1722515696", "1722515696123", "2024-08-01 12:34:56+00:00"} {
		b.Run(in, func(b *testing.B) {
			for range b.N {
				parseTimeString(in)
			}
		})
	}
}

// BenchmarkFormatTime is an event's Datetime, written once per event.
func BenchmarkFormatTime(b *testing.B) {
	tm := time.Date(2024, 8, 1, 12, 34, 56, 123456789, time.UTC)
	for range b.N {
		FormatTime(tm, DatetimePrecision)
	}
}

// appendTime's calendar by hand writes what Format writes, over the years
// it covers and past them, at every precision.
func TestAppendTimeCalendar(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 8, 2, 8, 23, 10, 5, time.FixedZone("x", -7*3600)),
	}
	for range 20000 {
		times = append(times, time.Unix(r.Int64N(maxFastUnix-minFastUnix+2000)+minFastUnix-1000, r.Int64N(1e9)))
	}
	for _, tm := range times {
		for prec := -1; prec <= 10; prec++ {
			layout := "2006-01-02T15:04:05"
			if prec > 0 {
				layout += "." + strings.Repeat("0", min(prec, 9))
			}
			if got, want := FormatTime(tm, prec), tm.UTC().Format(layout+"Z"); got != want {
				t.Fatalf("%v at %d: %s, want %s", tm, prec, got, want)
			}
		}
	}
}
