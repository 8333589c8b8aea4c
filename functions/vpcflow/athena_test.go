package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
)

var update = flag.Bool("update", false, "rewrite shared/athena/testdata/extracts/vpcflow.jsonl")

// athenaGolden is the extract lines this collector writes for upstream
// flow logs, the input shared/athena's column and DuckDB tests read: the
// Athena table is checked against this package's Line, not a copy of it.
const athenaGolden = "../../shared/athena/testdata/extracts/vpcflow.jsonl"

// TestAthenaExtractGolden writes one extract line (the collector's Line,
// through newLine as the collector builds it) per record of the upstream
// flow logs under shared/logs/vpcflow/testdata, each file read with its
// header, as an S3 destination would be, and the first file's again as a
// CloudWatch Logs destination would be.
func TestAthenaExtractGolden(t *testing.T) {
	var buf bytes.Buffer
	for _, name := range []string{"vpc_flow_v2_multi.log", "vpc_flow_v2_nodata.log", "vpc_flow_v5_custom_ecs.log"} {
		f, err := os.Open(filepath.Join("../../shared/logs/vpcflow/testdata/otel-collector-contrib", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		p := vpcflow.NewParser(vpcflow.Default)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			rec, err := p.Parse(line)
			if errors.Is(err, vpcflow.ErrHeader) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			l := newLine(rec, "fl-0123456789abcdef0", evidence.Origin{Bucket: "flow-logs", Key: "AWSLogs/123456789012/vpcflowlogs/us-east-1/" + name}, p, line)
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(b, '\n'))
			if name != "vpc_flow_v2_multi.log" {
				continue
			}
			// The same record as a CloudWatch Logs destination delivers
			// it: no header (the default format), and the event's ID and
			// time, set as cwlogs.go sets them.
			cw := vpcflow.NewParser(vpcflow.Default)
			rec, err = cw.Parse(line)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			at := time.UnixMilli(1418530080000).UTC()
			l = newLine(rec, "fl-0123456789abcdef1", evidence.Origin{LogGroup: "flow-logs", LogStream: rec.String("interface-id")}, cw, line)
			l.EventID, l.EventTime = "3"+rec.String("srcport"), &at
			if b, err = json.Marshal(l); err != nil {
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
		t.Errorf("%s is stale: go test ./functions/vpcflow/ -run TestAthenaExtractGolden -update", athenaGolden)
	}
}
