package main

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

func TestAthenaKey(t *testing.T) {
	const run = "cases/c/runs/r/"
	for _, tc := range []struct{ source, key, want string }{
		{"cloudtrail", run + "cloudtrail/extract.jsonl.gz", run + "athena/cloudtrail/extract.jsonl.gz"},
		{"cloudtrail", run + "cloudtrail/pivot-0001/extract.jsonl.gz", run + "athena/cloudtrail/pivot-0001_extract.jsonl.gz"},
		{"s3access", run + "s3access/extract-my-bucket-shard0002.jsonl.gz", run + "athena/s3access/extract-my-bucket-shard0002.jsonl.gz"},
	} {
		if got := athenaKey(run, tc.source, tc.key); got != tc.want {
			t.Errorf("athenaKey(%s) = %s, want %s", tc.key, got, tc.want)
		}
	}
}

// TestSealAthenaCopies: Seal writes each table's folder with the extracts
// (byte for byte, a pivot pass's too) and the timeline, and nothing else
// there: not the raw copies or the baseline beside the extracts. The
// copies are in the manifest.
func TestSealAthenaCopies(t *testing.T) {
	ctx := context.Background()
	client := emu.FreshLockedBucket(t, testBucket)
	inc := openRun(t, client, false)
	rec := `{"eventTime":"2024-05-06T06:30:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e-1"}`
	c := &cloudtrailCollector{extracts: map[string][]string{
		"extract.jsonl.gz":            {rec},
		"pivot-0001/extract.jsonl.gz": {rec},
		// Not an extract: a raw copy's name, which must stay out of the table.
		"AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/06/x.json.gz": {`{"Records":[]}`},
	}}
	d := &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }}
	res, err := d.Run(ctx, c, collect.Input{Incident: *inc, Item: incident.PlanItem{Collector: incident.CollectorCloudTrail}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newHandler(t, client, newNotifications(t)).Handle(ctx, Input{Incident: *inc, Results: []incident.Result{res}}); err != nil {
		t.Fatal(err)
	}
	run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
	got := s3test.Keys(t, client, testBucket, run+"athena/")
	want := []string{
		run + "athena/cloudtrail/extract.jsonl.gz",
		run + "athena/cloudtrail/pivot-0001_extract.jsonl.gz",
		run + "athena/timeline/timeline.jsonl",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("athena/ holds %q, want %q", got, want)
	}
	m, err := evidence.ParseManifest(s3test.Body(t, client, testBucket, run+"manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ copy, of string }{
		{want[0], run + "cloudtrail/extract.jsonl.gz"},
		{want[1], run + "cloudtrail/pivot-0001/extract.jsonl.gz"},
		{want[2], run + "timeline.jsonl"},
	} {
		if !bytes.Equal(s3test.Body(t, client, testBucket, tc.copy), s3test.Body(t, client, testBucket, tc.of)) {
			t.Errorf("%s is not %s", tc.copy, tc.of)
		}
		if !slices.ContainsFunc(m.Artifacts, func(a evidence.Artifact) bool { return a.Key == tc.copy && a.API == "custody:AthenaCopy" }) {
			t.Errorf("%s is not in the manifest", tc.copy)
		}
	}
}
