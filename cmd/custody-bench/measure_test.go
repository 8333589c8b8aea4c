package main

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestBestPair checks that the floor and the extract are run in turn and
// that each keeps its fastest run and its largest peak RSS.
func TestBestPair(t *testing.T) {
	var order []string
	walls := map[string][]time.Duration{"floor": {3, 1, 2}, "extract": {2, 3, 1}}
	run := func(name string) func() (measurement, error) {
		return func() (measurement, error) {
			i := len(slices.DeleteFunc(slices.Clone(order), func(s string) bool { return s != name }))
			order = append(order, name)
			return measurement{Wall: walls[name][i], MaxRSS: int64(10 * (i + 1))}, nil
		}
	}
	floor, ex, err := bestPair(3, run("floor"), run("extract"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"floor", "extract", "floor", "extract", "floor", "extract"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if floor.Wall != 1 || ex.Wall != 1 || floor.MaxRSS != 30 || ex.MaxRSS != 30 {
		t.Errorf("floor %+v, extract %+v: want the fastest wall (1) and the largest RSS (30) of each", floor, ex)
	}
	order = nil
	boom := errors.New("boom")
	if _, _, err := bestPair(2, run("floor"), func() (measurement, error) { return measurement{}, boom }); !errors.Is(err, boom) {
		t.Errorf("a failed run: %v, want %v", err, boom)
	}
}
