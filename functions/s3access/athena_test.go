package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/custody-ir/custody/shared/logs/s3access"
)

var update = flag.Bool("update", false, "rewrite shared/athena/testdata/extracts/s3access.jsonl")

// athenaGolden is the extract lines this collector writes for upstream
// access logs, the input shared/athena's column and DuckDB tests read: the
// Athena table is checked against this package's extractRecord.
const athenaGolden = "../../shared/athena/testdata/extracts/s3access.jsonl"

// TestAthenaExtractGolden writes one extractRecord per line of the upstream
// access logs under shared/logs/s3access/testdata, parsed as the collector
// parses them (s3access.Parse).
func TestAthenaExtractGolden(t *testing.T) {
	var buf bytes.Buffer
	for _, name := range []string{
		"../../shared/logs/s3access/testdata/otel-collector-contrib/s3_access_log_multi.log",
		// The demo's log: object reads and writes (key, object size).
		"../../cmd/custody/scenarios/demo/s3/custody-demo-access-logs/custody-demo-data/2024-08-02-08-35-41-7D4E3A1F9C2B6E50",
	} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			rec, err := s3access.Parse(sc.Bytes())
			if err != nil {
				t.Fatalf("%s line %d: %v", name, n, err)
			}
			b, err := json.Marshal(extractRecord{Object: "s3://access-logs/logs/" + rec.Bucket + "/" + filepath.Base(name), Line: n, Record: rec})
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(b, '\n'))
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if *update {
		if err := os.WriteFile(athenaGolden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(athenaGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s is stale: go test ./functions/s3access/ -run TestAthenaExtractGolden -update", athenaGolden)
	}
}
