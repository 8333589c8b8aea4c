package timeline

import (
	"testing"
	"time"
)

// BenchmarkNormalize normalises the benchmark's mix of records (the shares
// of BenchmarkBuild) one line at a time, as a worker does: the part of a
// build that is most of its CPU, measured without the rest's noise.
func BenchmarkNormalize(b *testing.B) {
	tpl := loadTemplates(b)
	var lines []benchLine
	i := 0
	for _, s := range benchShare {
		for k := range s.share * 20 {
			i++
			lines = append(lines, benchLine{s.source, benchRecord(tpl[s.file], k, i)})
		}
	}
	normalizeLines(b, lines)
}

// BenchmarkNormalizeSource is BenchmarkNormalize for each file of the mix
// alone: which source's records cost what, and where a change pays.
func BenchmarkNormalizeSource(b *testing.B) {
	tpl := loadTemplates(b)
	for _, s := range benchShare {
		b.Run(s.file, func(b *testing.B) {
			var lines []benchLine
			for k := range 200 {
				lines = append(lines, benchLine{s.source, benchRecord(tpl[s.file], k, k)})
			}
			normalizeLines(b, lines)
		})
	}
}

// benchLine is one line of a benchmark's mix and its source.
type benchLine struct {
	source string
	b      []byte
}

// benchRecord is the k-th line made of templates ts, the i-th of the mix:
// its marks replaced by its time (i ms after the base) and ID.
func benchRecord(ts []benchTemplate, k, i int) []byte {
	return fillMarks(ts[k%len(ts)].line, benchBase.Add(time.Duration(i)*time.Millisecond), i)
}

// normalizeLines normalises lines b.N times, one at a time as a worker
// does, and reports the time and CPU time a record.
func normalizeLines(b *testing.B, lines []benchLine) {
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
