package timeline

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// BenchmarkNormalize normalises the benchmark's mix of records (the shares
// of BenchmarkBuild) one line at a time, as a worker does: the part of a
// build that is most of its CPU, measured without the rest's noise.
func BenchmarkNormalize(b *testing.B) {
	tpl := loadTemplates(b)
	base := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
	type line struct {
		source string
		b      []byte
	}
	var lines []line
	i := 0
	for _, s := range benchShare {
		ts := tpl[s.file]
		for k := range s.share * 20 {
			i++
			t := base.Add(time.Duration(i) * time.Millisecond)
			l := ts[k%len(ts)].line
			l = bytes.ReplaceAll(l, []byte(markRFC3339), []byte(t.Format("2006-01-02T15:04:05Z")))
			l = bytes.ReplaceAll(l, []byte(markS3), []byte(t.Format("02/Jan/2006:15:04:05 -0700")))
			l = bytes.ReplaceAll(l, []byte(markEpochS), []byte(strconv.FormatInt(t.Unix(), 10)))
			l = bytes.ReplaceAll(l, []byte(markEpochMS), []byte(strconv.FormatInt(t.UnixMilli(), 10)))
			l = bytes.ReplaceAll(l, []byte(markID), []byte("bench-"+strconv.Itoa(i)))
			lines = append(lines, line{s.source, l})
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var d jdoc
	var evs []Event
	var un []Untimed
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, _ := processCPU()
	for range b.N {
		for k, l := range lines {
			evs, un = evs[:0], un[:0]
			normalizeInto(&d, l.source, "bench", int64(k), l.b, now, &evs, &un)
		}
	}
	cpu1, _ := processCPU()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/record")
	// CPU time, which other work on a shared machine moves less.
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*len(lines)), "cpu-ns/record")
}
