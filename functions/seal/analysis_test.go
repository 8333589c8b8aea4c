package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/report"
)

// The report keeps maxReportEvents events, but its chart counts every
// event of the timeline.
func TestReportEventsCountsEveryEventIntoTheChart(t *testing.T) {
	start := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
	n := maxReportEvents + 100
	var b strings.Builder
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000Z")
		fmt.Fprintf(&b, `{"datetime":%q,"timestamp_desc":"Event Time","message":"m","source":"cloudtrail","action":"s3:ListBuckets","outcome":"Success"}`+"\n", at)
	}
	d := report.Data{Activity: report.NewActivity(start, start.Add(time.Duration(n-1)*time.Second), 0)}
	evs, err := reportEvents(strings.NewReader(b.String()), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != maxReportEvents {
		t.Errorf("kept %d events, want maxReportEvents (%d)", len(evs), maxReportEvents)
	}
	var counted int64
	for _, c := range d.Activity.BySource["cloudtrail"] {
		counted += c
	}
	if counted != int64(n) || d.Activity.Outside != 0 {
		t.Errorf("the chart counted %d events (%d outside), want all %d", counted, d.Activity.Outside, n)
	}
}
