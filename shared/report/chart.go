package report

import (
	"fmt"
	"sort"
	"time"
)

// DefaultBuckets is the activity chart's number of time buckets.
const DefaultBuckets = 48

// Activity is the events per source over a time range, in equal buckets:
// the chart's data. A caller that passes the report only a selection of
// the events (functions/seal) counts every event into one while streaming
// the timeline, so the chart is of the whole timeline.
type Activity struct {
	Start, End time.Time
	// BySource is the count per bucket of each source.
	BySource map[string][]int64
	// Outside counts events before Start or after End (not drawn).
	Outside int64
	buckets int
}

// NewActivity is an empty chart of n buckets over [start, end]; n <= 0
// means DefaultBuckets. An empty range is widened to a minute.
func NewActivity(start, end time.Time, n int) *Activity {
	if n <= 0 {
		n = DefaultBuckets
	}
	if !end.After(start) {
		end = start.Add(time.Minute)
	}
	return &Activity{Start: start.UTC(), End: end.UTC(), BySource: map[string][]int64{}, buckets: n}
}

// Add counts one event of source at t.
func (a *Activity) Add(source string, t time.Time) {
	if t.Before(a.Start) || t.After(a.End) {
		a.Outside++
		return
	}
	if source == "" {
		source = "(none)"
	}
	b := a.BySource[source]
	if b == nil {
		b = make([]int64, a.buckets)
		a.BySource[source] = b
	}
	i := int(int64(a.buckets) * int64(t.Sub(a.Start)) / int64(a.End.Sub(a.Start)))
	if i >= a.buckets {
		i = a.buckets - 1 // t == End
	}
	b[i]++
}

// activityOf is the chart of evs over their own first to last time (the
// window when there is none): the window often starts hours before the
// first event, which would squeeze every bar into its last few.
func activityOf(evs []Event, windowStart, windowEnd time.Time) *Activity {
	var start, end time.Time
	for _, e := range evs {
		if t, ok := eventTime(e.Datetime); ok {
			if start.IsZero() || t.Before(start) {
				start = t
			}
			if end.IsZero() || t.After(end) {
				end = t
			}
		}
	}
	if start.IsZero() {
		start, end = windowStart, windowEnd
	}
	a := NewActivity(start, end, 0)
	for _, e := range evs {
		if t, ok := eventTime(e.Datetime); ok {
			a.Add(e.Source, t)
		}
	}
	return a
}

// Chart geometry: each source's lane is an SVG of laneW × laneH user
// units, stretched to the page's width; the labels are HTML beside it, so
// they stay readable at any width and in print.
const (
	laneW = 960
	laneH = 40
)

// chartView is what the template draws.
type chartView struct {
	Lanes []lane
	// Start, Mid, End label the time axis.
	Start, Mid, End string
	Bucket          string
	// MarkX is the finding's first seen time on the lanes (user units);
	// HasMark false when it is outside the chart or unknown.
	MarkX   string
	HasMark bool
	Outside int64
	Total   int64
}

type lane struct {
	Source string
	Total  int64
	Peak   int64
	Bars   []bar
	// Pattern is the lane's fill (a hatching that prints without colour).
	Pattern string
}

type bar struct {
	X, Y, W, H string
	// Title is the bucket's tooltip: its time and count.
	Title string
}

// patterns name the SVG hatchings of templates/report.html.tmpl, one per
// lane in turn: they tell lanes apart in black and white, the lane's label
// names its source.
var patterns = []string{"solid", "diag", "dots", "cross", "vert", "horiz"}

// chart lays a out. Each lane is scaled to its own peak (printed): a quiet
// source next to a loud one stays visible.
func chart(a *Activity, mark time.Time) *chartView {
	if a == nil || len(a.BySource) == 0 {
		return nil
	}
	n := 0
	for _, b := range a.BySource {
		n = len(b)
		break
	}
	span := a.End.Sub(a.Start)
	cv := &chartView{
		Start:   a.Start.Format(time.RFC3339),
		Mid:     a.Start.Add(span / 2).Format(time.RFC3339),
		End:     a.End.Format(time.RFC3339),
		Bucket:  roundDur(span / time.Duration(n)),
		Outside: a.Outside,
	}
	if !mark.IsZero() && !mark.Before(a.Start) && !mark.After(a.End) {
		cv.HasMark = true
		cv.MarkX = fmt.Sprintf("%.1f", float64(laneW)*float64(mark.Sub(a.Start))/float64(span))
	}
	order := map[string]int{}
	for i, s := range sourceOrder {
		order[s] = i
	}
	var sources []string
	for s := range a.BySource {
		sources = append(sources, s)
	}
	sort.Slice(sources, func(i, j int) bool {
		oi, iok := order[sources[i]]
		oj, jok := order[sources[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return sources[i] < sources[j]
	})
	w := float64(laneW) / float64(n)
	for li, s := range sources {
		counts := a.BySource[s]
		l := lane{Source: s, Pattern: patterns[li%len(patterns)]}
		for _, c := range counts {
			l.Total += c
			if c > l.Peak {
				l.Peak = c
			}
		}
		cv.Total += l.Total
		for i, c := range counts {
			if c == 0 {
				continue
			}
			// A bucket with any event is at least 2 units tall: one event
			// among thousands still shows.
			h := float64(laneH-2) * float64(c) / float64(l.Peak)
			if h < 2 {
				h = 2
			}
			from := a.Start.Add(time.Duration(i) * span / time.Duration(n))
			l.Bars = append(l.Bars, bar{
				X: fmt.Sprintf("%.1f", float64(i)*w), W: fmt.Sprintf("%.1f", w*0.9),
				Y: fmt.Sprintf("%.1f", float64(laneH)-h), H: fmt.Sprintf("%.1f", h),
				Title: fmt.Sprintf("%s %s: %s events", s, from.Format(time.RFC3339), groupDigits(c)),
			})
		}
		cv.Lanes = append(cv.Lanes, l)
	}
	return cv
}

// sourceOrder is the lanes' order: the finding first, then the manifest's
// sources.
var sourceOrder = []string{"guardduty", "cloudtrail", "vpcflow", "s3access", "cloudwatch", "dynamodb", "iam", "inspector", "ec2"}

// roundDur prints a bucket's width in its largest whole unit.
func roundDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.String()
	}
}
