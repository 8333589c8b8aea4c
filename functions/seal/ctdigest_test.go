package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/ctdigest"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// fakePublicKeys stands in for cloudtrail:ListPublicKeys, which the
// emulator does not implement: it answers in the API's shape (Value: the
// DER, Fingerprint, validity) with the keys of ctdigest.Signer, per region.
type fakePublicKeys struct{ keys []ctdigest.PublicKey }

func (f *fakePublicKeys) ListPublicKeys(ctx context.Context, in *cloudtrail.ListPublicKeysInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.ListPublicKeysOutput, error) {
	var o cloudtrail.Options
	for _, fn := range optFns {
		fn(&o)
	}
	out := &cloudtrail.ListPublicKeysOutput{}
	for _, k := range f.keys {
		if k.Region == o.Region {
			out.PublicKeyList = append(out.PublicKeyList, cttypes.PublicKey{Value: k.Value, Fingerprint: aws.String(k.Fingerprint),
				ValidityStartTime: aws.Time(k.ValidityStartTime), ValidityEndTime: aws.Time(k.ValidityEndTime)})
		}
	}
	return out, nil
}

// TestSealValidatesCloudTrailDigests: a run holding CloudTrail log files
// and their digests, copied by the evidence writer as the collector copies
// them (signature metadata kept), is sealed with the validation and the
// public keys in the manifest; a changed copy is named.
func TestSealValidatesCloudTrailDigests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper bool
		want   string
	}{{"as delivered", false, ctdigest.LogValid}, {"a changed log", true, ctdigest.LogChanged}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := emu.FreshLockedBucket(t, testBucket)
			n := newNotifications(t)
			inc := openRun(t, client, false)

			// The trail bucket, with a real log file and its digest.
			const trailBucket = "trail-logs"
			if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(trailBucket)}); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile("../../shared/ctdigest/testdata/aws.persistence.iam-create-admin-user.json")
			if err != nil {
				t.Fatal(err)
			}
			logKey := "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/123456789012_CloudTrail_us-east-1_20240802T0825Z_abcdef.json.gz"
			s, err := ctdigest.NewSigner("us-east-1", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			hour := time.Date(2024, 8, 2, 8, 0, 0, 0, time.UTC)
			w, err := s.Digest(trailBucket, "AWSLogs/", "123456789012", "main", hour, hour.Add(time.Hour), []ctdigest.Delivered{{Bucket: trailBucket, Key: logKey, Raw: raw}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper {
				raw = bytes.Replace(raw, []byte("CreateUser"), []byte("CreateUsex"), 1)
			}
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(raw)
			zw.Close()
			put := func(key string, body []byte, meta map[string]string) {
				if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(trailBucket), Key: aws.String(key), Body: bytes.NewReader(body),
					Metadata: meta, ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
					t.Fatal(err)
				}
			}
			put(logKey, gz.Bytes(), nil)
			put(w.Key, w.Stored, map[string]string{"signature": w.Signature})

			// The collector's copies and result.
			wr := newWriter(t, client)
			runPrefix, _ := evidence.RunPrefix(inc.CaseID, inc.RunID)
			meta := evidence.PutMeta{Source: evidence.SourceCloudTrail, API: "s3:CopyObject", Collector: "cloudtrail", CollectorVersion: "test"}
			a1, err := wr.Copy(ctx, trailBucket, logKey, "", runPrefix+"cloudtrail/logs/"+logKey, meta)
			if err != nil {
				t.Fatal(err)
			}
			a2, err := wr.Copy(ctx, trailBucket, w.Key, "", runPrefix+"cloudtrail/digest/"+w.Key, meta)
			if err != nil {
				t.Fatal(err)
			}
			resKey, _ := evidence.ResultKey(inc.CaseID, inc.RunID, "cloudtrail")
			if _, err := wr.PutJSON(ctx, resKey, evidence.CollectorResult{
				Collector: "cloudtrail", CollectorVersion: "test", Status: incident.StatusOK,
				Artifacts: []evidence.Artifact{a1, a2}, Gaps: []evidence.Gap{}, Warnings: []string{}, Snapshots: []evidence.Snapshot{},
				StartedAt: fixedNow, FinishedAt: fixedNow,
			}, meta); err != nil {
				t.Fatal(err)
			}

			h := newHandler(t, client, n)
			h.Trail = &fakePublicKeys{keys: []ctdigest.PublicKey{s.PublicKey()}}
			out, err := h.Handle(ctx, Input{Incident: *inc, Results: []incident.Result{{Collector: "cloudtrail", Status: incident.StatusOK}}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := evidence.ParseManifest(s3test.Body(t, client, testBucket, out.ManifestKey))
			if err != nil {
				t.Fatal(err)
			}
			listed := map[string]bool{}
			for _, a := range m.Artifacts {
				listed[a.Key] = true
			}
			for _, f := range []string{ctValidationFile, ctKeysFile} {
				if !listed[runPrefix+f] {
					t.Errorf("the manifest does not list %s", f)
				}
			}
			var v struct {
				Logs []ctdigest.LogResult `json:"logs"`
			}
			if err := json.Unmarshal(s3test.Body(t, client, testBucket, runPrefix+ctValidationFile), &v); err != nil {
				t.Fatal(err)
			}
			if len(v.Logs) != 1 || v.Logs[0].Status != tc.want || v.Logs[0].CopyKey != a1.Key {
				t.Errorf("logs %+v, want one %s", v.Logs, tc.want)
			}
			// The stored keys re-run the check offline, with the same answer.
			var keys []ctdigest.PublicKey
			if err := json.Unmarshal(s3test.Body(t, client, testBucket, runPrefix+ctKeysFile), &keys); err != nil {
				t.Fatal(err)
			}
			again := ctdigest.Validate(ctdigest.Input{Keys: keys,
				Digests: []ctdigest.DigestFile{{Bucket: trailBucket, Key: w.Key, Stored: s3test.Body(t, client, testBucket, a2.Key), Signature: w.Signature}},
				Logs:    []ctdigest.LogCopy{{Bucket: trailBucket, Key: logKey, SHA256: sha256Hex(raw)}}})
			if again.Logs[0].Status != tc.want {
				t.Errorf("offline re-run: %s, want %s", again.Logs[0].Status, tc.want)
			}
		})
	}
}
