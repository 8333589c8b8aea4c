package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/hostile"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// TestPeakRSSOnHostileFiles runs the flow log collector, through the
// shared driver against the emulator, in a child process (TestRSSChild,
// emulator.RunChild) on a generated hostile flow log file delivered to
// S3, and reads its peak RSS: a file holding one line of 300 MB between
// real lines (about 5 MB of gzip), and a gzip bomb of 1 GiB from about
// 1 MB. The real lines are extracted, the hostile part is named in a
// warning, the file is copied unchanged, and the child stays under hostile.MaxRSS.
func TestPeakRSSOnHostileFiles(t *testing.T) {
	header := fileLines(t, "otel-collector-contrib/vpc_flow_v2_multi.log")[0]
	tests := []struct {
		name    string
		file    func(t *testing.T, mine []string) []byte
		warning string
	}{
		{name: "one line of 300 MB", file: func(t *testing.T, mine []string) []byte {
			return hostile.Gzip(t, gzip.BestSpeed, io.MultiReader(strings.NewReader(header+"\n"+mine[0]+"\n"),
				hostile.LowEntropy(300<<20, 1), strings.NewReader("\n"+mine[1]+"\n")))
		}, warning: "1 records too long to decode are not in the extract"},
		{name: "a gzip bomb of 1 GiB", file: func(t *testing.T, mine []string) []byte {
			return hostile.Bomb(t, header+"\n"+mine[0]+"\n", "\n")
		}, warning: "(a gzip bomb?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			fl := e.flowLogToS3(t, ec2types.FlowLogsResourceTypeVpc, e.vpc, "")
			var mine []string
			for _, l := range scenarioLines(t) {
				mine = append(mine, withENI(l, scenarioENI, e.eni))
			}
			file := tc.file(t, mine)
			key := flowKey(fl, time.Date(2020, 11, 1, 21, 40, 0, 0, time.UTC), "a1b2c3d4", ".log.gz")
			e.put(t, flowBucket, key, file)
			inc := newIncident(incident.Scope{Instances: []string{e.instance}},
				incident.Window{Start: time.Date(2020, 11, 1, 21, 30, 0, 0, time.UTC), End: time.Date(2020, 11, 1, 22, 30, 0, 0, time.UTC)})

			hostile.PeakRSS(t, "TestRSSChild", fmt.Sprintf("%s (%d bytes of gzip)", tc.name, len(file)), hostile.Job{Endpoint: emu.Endpoint, Incident: *inc})

			resultKey, _ := evidence.ResultKey(inc.CaseID, inc.RunID, Name)
			r := e.stored(t, resultKey) // checks each artifact against the stored object
			if r.Status != incident.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			if !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one saying %q", r.Warnings, tc.warning)
			}
			copied := artifact(t, inc, r, "s3/"+flowBucket+"/"+key)
			if copied.SHA256 != sha256Hex(file) || copied.Size != int64(len(file)) {
				t.Errorf("the copy is not the file: %+v", copied)
			}
			lines := jsonLines[Line](t, e, artifact(t, inc, r, "extract.jsonl.gz").Key)
			if len(lines) == 0 || lines[0].Message != mine[0] {
				t.Errorf("extract holds %d lines, want the real line first", len(lines))
			}
		})
	}
}

// TestRSSChild is the measured child of TestPeakRSSOnHostileFiles, and
// does nothing in any other run: it runs the collector as main wires it, on
// the job it was given.
func TestRSSChild(t *testing.T) {
	var job hostile.Job
	if !emulator.ChildJob(t, &job) {
		return // not the child: TestPeakRSSOnHostileFiles runs this
	}
	ctx := context.Background()
	cfg, err := (&emulator.Server{Endpoint: job.Endpoint}).Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	d := &collect.Driver{Writer: evidence.NewWriter(objects, testBucket, evidence.WithTempDir(t.TempDir())), Version: "test", Now: time.Now}
	c := &FlowLogCollector{EC2: ec2.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg), Objects: objects, Region: region, Pad: DefaultPad}
	if _, err := d.Run(ctx, c, collect.Input{Incident: job.Incident, Item: job.Incident.Plan[0]}); err != nil {
		t.Fatal(err)
	}
}
