package timeline

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
)

// addExtractLines seeds f with every line of the testdata extracts whose
// name starts with prefix ("" for all), each with the index of its source
// in SupportedSources.
func addExtractLines(f *testing.F, prefix string) {
	files, err := filepath.Glob(filepath.Join("testdata", "extracts", prefix+"*.jsonl"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no extracts %s*: %v", prefix, err)
	}
	sources := SupportedSources()
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		src := strings.SplitN(filepath.Base(p), "_", 2)[0]
		src = strings.SplitN(src, ".", 2)[0]
		pick := -1
		for i, s := range sources {
			if s == src {
				pick = i
			}
		}
		if pick < 0 {
			f.Fatalf("%s: no source %q", p, src)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line, uint8(pick))
		}
	}
}

// checkNormalize normalizes line as a record of source and checks what
// comes out: a line that is not blank is never dropped (an event or an
// untimed record), every event is importable (datetime in RFC 3339 UTC
// and its Time, within the accepted range, a timestamp_desc and a
// message) and points at its record, and every untimed record says why.
func checkNormalize(t *testing.T, source string, line []byte) {
	t.Helper()
	const artifact = "cases/c/runs/r/x/extract.jsonl.gz"
	evs, un := Normalize(source, artifact, 7, line, testNow)
	if len(bytes.TrimSpace(line)) > 0 && len(evs)+len(un) == 0 && !emptyPage(source, line) {
		t.Fatalf("%s record dropped: %q", source, line)
	}
	for _, e := range evs {
		at, err := time.Parse(time.RFC3339Nano, e.Datetime)
		if err != nil || !at.Equal(e.Time) || !strings.HasSuffix(e.Datetime, "Z") {
			t.Fatalf("datetime %q (%v), Time %v", e.Datetime, err, e.Time)
		}
		if e.Time.Before(Earliest) || e.Time.After(testNow.Add(FutureSlack)) {
			t.Fatalf("time %v out of range", e.Time)
		}
		if e.TimestampDesc == "" || e.Message == "" || e.Source != source || e.Artifact != artifact || e.Record != 7 {
			t.Fatalf("event %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range un {
		if u.Reason == "" || u.Source != source || u.Artifact != artifact || u.Record != 7 {
			t.Fatalf("untimed %+v", u)
		}
		if _, err := json.Marshal(u); err != nil {
			t.Fatalf("untimed record cannot be written: %v", err)
		}
	}
}

// emptyPage reports whether line is a response page of source holding no
// records ({"Events": []}): no record to keep.
func emptyPage(source string, line []byte) bool {
	rec, detail := new(jdoc).parseLine(bytes.TrimSpace(line))
	if detail != "" {
		return false
	}
	l, ok := container(source, rec)
	return ok && l.count() == 0
}

// FuzzNormalizeCloudWatch reads any line as a CloudWatch Logs extract line
// (an event, a FilterLogEvents or GetLogEvents page, an export line).
func FuzzNormalizeCloudWatch(f *testing.F) {
	addExtractLines(f, "cloudwatch")
	f.Fuzz(func(t *testing.T, line []byte, _ uint8) { checkNormalize(t, evidence.SourceCloudWatch, line) })
}

// FuzzNormalizeDynamoDB reads any line as a DynamoDB Streams record (a
// GetRecords record, a page, a Lambda event wrapping records).
func FuzzNormalizeDynamoDB(f *testing.F) {
	addExtractLines(f, "dynamodb")
	f.Fuzz(func(t *testing.T, line []byte, _ uint8) { checkNormalize(t, evidence.SourceDynamoDB, line) })
}

// FuzzNormalize reads any line as a record of any source the timeline
// normalizes, seeded with every testdata extract.
func FuzzNormalize(f *testing.F) {
	addExtractLines(f, "")
	sources := SupportedSources()
	f.Fuzz(func(t *testing.T, line []byte, pick uint8) {
		checkNormalize(t, sources[int(pick)%len(sources)], line)
	})
}
