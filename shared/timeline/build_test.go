package timeline

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// countKeyInMap is how Stats counted a key before keyCounts: in the map
// itself, under Other once it had max keys.
func countKeyInMap(m map[string]int64, k string, max int) {
	if k == "" {
		return
	}
	if _, ok := m[k]; ok {
		m[k]++
		return
	}
	if len(m) >= max {
		m[Other]++
		return
	}
	m[k]++
}

// keyCounts counts as the map did: the keys counted one by one, the rest
// under Other, a key named "(other)" before and after the map is full.
func TestKeyCountsMatchMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name      string
		max, keys int
	}{{"below max", 50, 10}, {"at max", 10, 10}, {"past max", 5, 40}, {"max 1", 1, 6}} {
		for round := range 50 {
			want := map[string]int64{}
			c := keyCounts{index: map[string]int32{}}
			for range 300 {
				var k string
				switch x := r.IntN(tc.keys + 2); x {
				case tc.keys:
					k = ""
				case tc.keys + 1:
					k = Other
				default:
					k = "k" + strconv.Itoa(x)
				}
				countKeyInMap(want, k, tc.max)
				c.count(k, tc.max)
			}
			got := map[string]int64{}
			c.into(got)
			if !maps.Equal(got, want) {
				t.Fatalf("%s, round %d: %v, the map counted %v", tc.name, round, got, want)
			}
		}
	}
}

// BenchmarkKeyCounts is Stats' counting of an event's action and actor,
// on the benchmark's mix of records.
func BenchmarkKeyCounts(b *testing.B) {
	evs, _, _ := benchEvents(b)
	keys := newCountedKeys()
	for range b.N {
		for k := range evs {
			keys.actions.count(evs[k].Action, DefaultMaxKeys)
			keys.actors.count(evs[k].Actor, DefaultMaxKeys)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// BenchmarkRunRead reads back a run of the benchmark's mix of events, as
// the merge does, record by record.
func BenchmarkRunRead(b *testing.B) {
	evs, _, ranks := benchEvents(b)
	bd := &builder{tmpDir: b.TempDir()}
	defer bd.cleanup()
	for range 10 {
		for k := range evs {
			bd.chunk.add(&evs[k], ranks[k])
		}
	}
	events := len(bd.chunk.entries)
	if err := bd.spill(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		r, err := openRun(bd.runs[0])
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			ok, err := r.next()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
			n++
		}
		r.close()
		if n != events {
			b.Fatalf("%d events read of %d", n, events)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

// BenchmarkChunkSort sorts a chunk of the benchmark's mix of events, in
// the order the build's generator gives them (out of order, as extracts
// are).
func BenchmarkChunkSort(b *testing.B) {
	evs, _, ranks := benchEvents(b)
	r := rand.New(rand.NewPCG(7, 8))
	var c chunk
	for range 20 {
		for _, k := range r.Perm(len(evs)) {
			e := evs[k]
			e.Time = e.Time.Add(time.Duration(r.IntN(1000)) * time.Second)
			c.add(&e, ranks[k])
		}
	}
	orig := slices.Clone(c.entries)
	b.ResetTimer()
	for range b.N {
		copy(c.entries, orig)
		c.sort()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(orig)), "ns/event")
}
