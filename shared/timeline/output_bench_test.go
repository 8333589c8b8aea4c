package timeline

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// benchEvents is the benchmark's mix of records (BenchmarkBuild's shares)
// normalised, with their inputs' names: what the output encodes.
func benchEvents(b *testing.B) ([]Event, []inputName, []int32) {
	tpl := loadTemplates(b)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var inputs []Input
	var d jdoc
	var evs []Event
	var un []Untimed
	var rank []int32
	i := 0
	for n, s := range benchShare {
		inputs = append(inputs, Input{Source: s.source, ArtifactKey: s.source + "/" + s.file + ".gz"})
		ts := tpl[s.file]
		for k := range s.share * 20 {
			i++
			l := benchRecord(ts, k, i)
			m := len(evs)
			normalizeInto(&d, s.source, inputs[n].ArtifactKey, int64(k), bytes.Clone(l), now, &evs, &un)
			for range len(evs) - m {
				rank = append(rank, int32(n))
			}
		}
	}
	ranks, names := rankInputs(inputs)
	for k := range rank {
		rank[k] = ranks[rank[k]]
	}
	return evs, names, rank
}

// BenchmarkEncode is the output's per-event work on the benchmark's mix:
// an event's payload split, and its timeline.csv row and timeline.jsonl line
// encoded, each measured alone.
func BenchmarkEncode(b *testing.B) {
	evs, names, ranks := benchEvents(b)
	var c chunk
	for k := range evs {
		c.add(&evs[k], ranks[k])
	}
	origins := []origin{{}}
	var out []byte
	for _, enc := range []struct {
		name string
		f    func([]byte, *entry, *[payloadFields][]byte) []byte
	}{
		{"split", func(o []byte, _ *entry, _ *[payloadFields][]byte) []byte { return o }},
		{"csv", func(o []byte, e *entry, f *[payloadFields][]byte) []byte {
			return appendCSVRow(o, names, e, f, origins)
		}},
		{"json", func(o []byte, e *entry, f *[payloadFields][]byte) []byte {
			return appendJSONLine(o, names, e, f, origins)
		}},
	} {
		b.Run(enc.name, func(b *testing.B) {
			var f [payloadFields][]byte
			cpu0, _ := processCPU()
			for range b.N {
				for k := range c.entries {
					e := &c.entries[k]
					splitPayload(c.payload(e), &f)
					origins[0] = origin{e.rank, e.record}
					out = enc.f(out[:0], e, &f)
				}
			}
			cpu1, _ := processCPU()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.entries)), "ns/event")
			// CPU time, which other work on a shared machine moves less.
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*len(c.entries)), "cpu-ns/event")
		})
	}
}

// BenchmarkWriteOutputs is the output of a sorted chunk of the benchmark's
// mix (the group of each instant, both files encoded), written to nowhere.
func BenchmarkWriteOutputs(b *testing.B) {
	evs, names, ranks := benchEvents(b)
	var c chunk
	for k := range evs {
		c.add(&evs[k], ranks[k])
	}
	c.sort()
	b.ResetTimer()
	for range b.N {
		st := newStats()
		err := writeOutputs(io.Discard, io.Discard, names, &st, func(write func(*entry, []byte) error) error {
			for i := range c.entries {
				if err := write(&c.entries[i], c.payload(&c.entries[i])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.entries)), "ns/event")
}
