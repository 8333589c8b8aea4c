package incident

import (
	"fmt"
	"time"
)

// WindowFor returns the collection window for activity seen from first to
// last: [first − Lookback, last + Lookahead], in UTC. When last is before
// first the two are swapped; a zero first or last takes the other's value.
// When the window is longer than cfg.MaxSpan (and MaxSpan is positive) it
// keeps its end, the most recent activity, and its start moves to
// end − MaxSpan; the warning says what was cut.
func WindowFor(first, last time.Time, cfg Config) (Window, []string) {
	switch {
	case first.IsZero():
		first = last
	case last.IsZero():
		last = first
	}
	if last.Before(first) {
		first, last = last, first
	}
	w := Window{Start: first.Add(-cfg.Lookback).UTC(), End: last.Add(cfg.Lookahead).UTC()}
	return capWindow(w, cfg)
}

// capWindow keeps w's end and cuts its start to fit cfg.MaxSpan.
func capWindow(w Window, cfg Config) (Window, []string) {
	w.Start, w.End = w.Start.UTC(), w.End.UTC()
	if cfg.MaxSpan <= 0 || w.End.Sub(w.Start) <= cfg.MaxSpan {
		return w, nil
	}
	capped := Window{Start: w.End.Add(-cfg.MaxSpan), End: w.End}
	warn := fmt.Sprintf("window capped to the maximum span %s: %s to %s was asked, %s to %s is collected (%s before %s cut)",
		cfg.MaxSpan, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339),
		capped.Start.Format(time.RFC3339), capped.End.Format(time.RFC3339),
		capped.Start.Sub(w.Start), capped.Start.Format(time.RFC3339))
	return capped, []string{warn}
}

// ManualWindow returns a manual start's window [start, end] in UTC, capped
// to cfg.MaxSpan as WindowFor caps (end kept, start cut, with a warning).
func ManualWindow(start, end time.Time, cfg Config) (Window, []string) {
	return capWindow(Window{Start: start, End: end}, cfg)
}
