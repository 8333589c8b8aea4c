package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/hostile"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// TestPeakRSSOnHostileFiles runs the CloudTrail collector, through the
// shared driver against the emulator, in a child process (this test
// binary, as TestRSSChild, emulator.RunChild) on a generated hostile trail log file, and reads
// the child's peak RSS from the kernel. The files are generated here, never
// committed: a 300 MB file holding one real record and one of 300 MB (about
// 5 MB of gzip), and a gzip bomb of 1 GiB of JSON space from about 1 MB.
// The real record is extracted, the hostile one is named in a warning, the
// file is copied unchanged, and the child stays under hostile.MaxRSS. (Issue 13
// measured 2.9 GiB on a file like the first, before records were bounded.)
func TestPeakRSSOnHostileFiles(t *testing.T) {
	steal := stratus(t, "aws.credential-access.ec2-steal-instance-credentials")
	var inScope json.RawMessage
	for _, r := range steal {
		if strings.Contains(string(r), "AKIAAM80VXLJF8NPK4VC") && timeIn(decoded(r)) {
			inScope = r
			break
		}
	}
	if inScope == nil {
		t.Fatal("no record of the key in the window")
	}
	tests := []struct {
		name    string
		file    func(t *testing.T) []byte
		warning string
	}{
		{name: "one record of 300 MB", file: func(t *testing.T) []byte {
			head := `{"Records":[` + string(inScope) + `,{"eventVersion":"1.08","eventTime":"2024-08-02T08:15:00Z","eventName":"PutObject","requestParameters":{"x":"`
			return hostile.Gzip(t, gzip.BestSpeed, io.MultiReader(strings.NewReader(head), hostile.LowEntropy(300<<20, 1), strings.NewReader(`"}}]}`)))
		}, warning: "1 records too long to decode are not in the extract"},
		{name: "a gzip bomb of 1 GiB", file: func(t *testing.T) []byte {
			return hostile.Bomb(t, `{"Records":[`+string(inScope)+`,`, `{}]}`)
		}, warning: "(a gzip bomb?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, true)
			file := tc.file(t)
			key := logKey(account, "20240802T0815Z", "hostile")
			e.seed(t, key, file, nil)
			inc := testIncident(incident.Scope{AccessKeys: []string{"AKIAAM80VXLJF8NPK4VC"}})
			hostile.PeakRSS(t, "TestRSSChild", fmt.Sprintf("%s (%d bytes of gzip)", tc.name, len(file)), hostile.Job{Endpoint: emu.Endpoint, Incident: inc})

			key0, _ := evidence.ResultKey(inc.CaseID, inc.RunID, CollectorName)
			r := e.result(t, key0)
			if r.Status != incident.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			if !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one saying %q", r.Warnings, tc.warning)
			}
			arts := byKey(r)
			copied, ok := arts[artifactKey(inc, "logs/"+key)]
			if !ok {
				t.Fatalf("the hostile file was not copied: %q", keys(arts))
			}
			if copied.SHA256 != sha(file) || copied.Size != int64(len(file)) {
				t.Errorf("the copy is not the file: %+v", copied)
			}
			got := e.extract(t, artifactKey(inc, ExtractName))
			if len(got) != 1 || got[0]["eventID"] != decoded(inScope)["eventID"] {
				t.Errorf("extract holds %d records, want the one real record", len(got))
			}
		})
	}
}

func decoded(r json.RawMessage) map[string]any {
	var m map[string]any
	json.Unmarshal(r, &m)
	return m
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
	e := &env{s3: objects, trails: cloudtrail.NewFromConfig(cfg)}
	d := &collect.Driver{Writer: evidence.NewWriter(objects, evidenceBucket, evidence.WithTempDir(t.TempDir())), Version: "test", Now: time.Now}
	if _, err := d.Run(ctx, e.collector(), collect.Input{Incident: job.Incident, Item: incident.PlanItem{Collector: CollectorName}}); err != nil {
		t.Fatal(err)
	}
}
