package main

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/hostile"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// TestPeakRSSOnHostileFiles runs the access log collector, through the
// shared driver against the emulator, in a child process (TestRSSChild,
// emulator.RunChild) on a generated hostile access log object, and reads
// its peak RSS: one line of 300 MB between real lines (gzip'd: about 5 MB),
// and a gzip bomb of 1 GiB from about 1 MB. The real lines are extracted
// (a scanner once stopped at the long line and lost the rest),
// the hostile part is named in a warning, the object is copied unchanged,
// and the child stays under hostile.MaxRSS.
func TestPeakRSSOnHostileFiles(t *testing.T) {
	tests := []struct {
		name    string
		file    func(t *testing.T, real []string) []byte
		warning string
		records int64 // real lines in the extract
	}{
		{name: "one line of 300 MB", file: func(t *testing.T, real []string) []byte {
			return hostile.Gzip(t, gzip.BestSpeed, io.MultiReader(strings.NewReader(real[0]+"\n"),
				hostile.LowEntropy(300<<20, 1), strings.NewReader("\n"+real[1]+"\n")))
		}, warning: "1 records too long to decode are not in the extract", records: 2},
		{name: "a gzip bomb of 1 GiB", file: func(t *testing.T, real []string) []byte {
			return hostile.Bomb(t, real[0]+"\n", "\n")
		}, warning: "(a gzip bomb?)", records: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := emu.FreshLockedBucket(t, testBucket)
			createBucket(t, client, dataBucket)
			createBucket(t, client, logBucket)
			if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(logBucket), Policy: aws.String(loggingPolicy(logBucket))}); err != nil {
				t.Fatal(err)
			}
			if _, err := client.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(dataBucket), BucketLoggingStatus: &types.BucketLoggingStatus{
				LoggingEnabled: &types.LoggingEnabled{TargetBucket: aws.String(logBucket), TargetPrefix: aws.String(logPrefix)},
			}}); err != nil {
				t.Fatal(err)
			}
			os1 := corpusLines(t, "opensearch-catalog/s3_server_access_raw.log")
			real := []string{derive(t, os1[0], dataBucket, time.Time{}), derive(t, os1[1], dataBucket, time.Time{})}
			file := tc.file(t, real)
			key := logPrefix + "2023-01-31-09-30-12-0A1B2C3D4E5F6A7B"
			putObject(t, client, logBucket, key, file)
			inc := newIncident(dataBucket)

			hostile.PeakRSS(t, "TestRSSChild", fmt.Sprintf("%s (%d bytes of gzip)", tc.name, len(file)), hostile.Job{Endpoint: emu.Endpoint, Incident: *inc})

			resultKey, _ := evidence.ResultKey(inc.CaseID, inc.RunID, CollectorName)
			var r evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, resultKey, &r)
			if r.Status != incident.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			if !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one saying %q", r.Warnings, tc.warning)
			}
			var copied, extract *evidence.Artifact
			for i, a := range r.Artifacts {
				switch {
				case strings.HasSuffix(a.Key, "/"+key):
					copied = &r.Artifacts[i]
				case strings.HasSuffix(a.Key, ".jsonl.gz"):
					extract = &r.Artifacts[i]
				}
			}
			if copied == nil || copied.Size != int64(len(file)) || copied.SHA256 != sha256Hex(file) {
				t.Errorf("the object was not copied unchanged: %+v", copied)
			}
			if extract == nil || extract.Records != tc.records {
				t.Errorf("the extract %+v, want %d real lines (those after the long line too)", extract, tc.records)
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
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())), Version: "test", Now: time.Now}
	if _, err := d.Run(ctx, &Collector{S3: client, Config: Config{Pad: DefaultPad}}, collect.Input{Incident: job.Incident, Item: job.Incident.Plan[0]}); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
