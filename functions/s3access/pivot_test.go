package main

import (
	"context"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/pivot"
)

// TestPivotPass: s3access-pivot-<account> reads the follow list PivotDerive
// stored and keeps, of the listed bucket's lines in the window, only the
// derived requesters', under s3access/pivot-<account>/.
func TestPivotPass(t *testing.T) {
	const session = "arn:aws:sts::347283850106:assumed-role/CentralizedLogging-CustomCDKBucketDeployment8693BB-1X4DVR38SF7ZY/CentralizedLogging-CustomCDKBucketDeployment8693BB-kU6BAxSswmfp"
	client := emu.FreshLockedBucket(t, testBucket)
	setup(t, client)
	name := pivot.S3AccessCollectorPrefix + emulator.AccountID
	for _, tc := range []struct {
		test       string
		requesters []string
		lines      int
	}{
		// The OpenSearch sample's lines (9 and 3 in the window) are all
		// one role session's.
		{"a role session", []string{session}, 12},
		// The Panther sample's two lines in the window are a user's.
		{"a user the attacker created", []string{"arn:aws:iam::493859302102:user/tracy_stone"}, 2},
		{"a requester with no line", []string{"arn:aws:iam::493859302102:user/nobody"}, 0},
	} {
		t.Run(tc.test, func(t *testing.T) {
			inc := newIncident(otherBucket) // the case's own bucket: not the pass's
			inc.CaseID += "-" + strings.ReplaceAll(tc.test, " ", "-")
			h := newHandler(t, client, DefaultPad)
			h.Driver.Results, h.Driver.Bucket = client, testBucket
			h.Pivot = func(p *PivotPass) collect.Collector {
				return &Collector{S3: client, Config: Config{Pad: DefaultPad}, Pass: p}
			}
			key, err := evidence.ShardFileKey(inc.CaseID, inc.RunID, name, pivot.S3FollowFile)
			if err != nil {
				t.Fatal(err)
			}
			f := pivot.S3Follow{Account: emulator.AccountID, Buckets: []string{dataBucket}, Requesters: tc.requesters}
			if _, err := h.Driver.Writer.PutJSON(context.Background(), key, f, evidence.PutMeta{Source: evidence.SourceCase, API: "custody:PivotFollow", Collector: "cloudtrail-pivot"}); err != nil {
				t.Fatal(err)
			}
			res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: incident.PlanItem{Collector: name}})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Collector != name || res.Status != incident.StatusOK {
				t.Fatalf("result %+v", res)
			}
			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
			run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/s3access/"
			var extract *evidence.Artifact
			for i, a := range stored.Artifacts {
				if !strings.HasPrefix(a.Key, run+"pivot-"+emulator.AccountID+"/") {
					t.Errorf("%s: not under the pass's folder", a.Key)
				}
				if strings.HasSuffix(a.Key, "/extract-"+dataBucket+".jsonl.gz") {
					extract = &stored.Artifacts[i]
				}
			}
			if extract == nil {
				t.Fatalf("no extract of %s: %+v", dataBucket, stored.Artifacts)
			}
			lines := gunzipLines(t, s3test.Body(t, client, testBucket, extract.Key))
			if len(lines) != tc.lines || extract.Records != int64(tc.lines) {
				t.Errorf("extract holds %d lines (manifest %d), want %d", len(lines), extract.Records, tc.lines)
			}
			for _, l := range lines {
				if l["requester"] != tc.requesters[0] || l["bucket"] != dataBucket {
					t.Errorf("line of %v in %v", l["requester"], l["bucket"])
				}
			}
		})
	}
}
