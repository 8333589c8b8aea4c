package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/pivot"
)

// TestPivotPass: iam-pivot-<account> reads the run's chain and describes
// the principals it derived in that account — a key the attacker created
// (alice's, in this world) and a session of a role (web-role) — under
// iam/pivot-<account>/, and not the case's own starting key or a
// principal of another account.
func TestPivotPass(t *testing.T) {
	w := newWorld(t)
	keyID := w.alice(t)
	w.webRole(t)
	inc := incidentFor(incident.Scope{AccessKeys: []string{"AKIASTARTINGKEY00001"}})
	via := &pivot.Provenance{EventID: "00000001-0000-4000-8000-000000000001", EventName: "CreateAccessKey"}
	chain := pivot.Chain{Bounds: pivot.DefaultBounds(), Identities: []pivot.Identity{
		{ID: "accessKey:AKIASTARTINGKEY00001", Kind: pivot.KindAccessKey, AccessKeyID: "AKIASTARTINGKEY00001", AccountID: "123456789012"},
		{ID: "accessKey:" + keyID, Kind: pivot.KindAccessKey, AccessKeyID: keyID, UserName: "alice", AccountID: "123456789012", Depth: 1,
			Parent: "accessKey:AKIASTARTINGKEY00001", Via: via},
		{ID: "accessKey:ASIAWEBSESSION000001", Kind: pivot.KindAccessKey, AccessKeyID: "ASIAWEBSESSION000001", ARN: webSessionArn,
			AccountID: "123456789012", Depth: 1, Parent: "accessKey:AKIASTARTINGKEY00001", Via: via},
		{ID: "user:mallory", Kind: pivot.KindUser, UserName: "mallory", AccountID: "210987654321", Depth: 2, Parent: "accessKey:" + keyID, Via: via},
	}}
	d := &collect.Driver{Writer: evidence.NewWriter(w.s3, testBucket), Version: "test", Now: func() time.Time { return fixedNow }}
	key, err := evidence.ArtifactKey(inc.CaseID, inc.RunID, evidence.SourceCloudTrail, pivot.ChainArtifact)
	must(t, "ArtifactKey", err)
	if _, err := d.Writer.PutJSON(context.Background(), key, chain, evidence.PutMeta{Source: evidence.SourceCloudTrail, API: "custody:PivotChain", Collector: "cloudtrail-pivot"}); err != nil {
		t.Fatal(err)
	}
	h := w.handler(t, nil)
	h.Pivot = func(p *PivotPass) collect.Collector {
		return &PrincipalCollector{IAM: w.iam, Advisor: w.iam, Now: newClock().Now, AccountID: "123456789012", Pass: p}
	}
	res, err := h.Handle(context.Background(), collect.Input{Incident: inc, Item: incident.PlanItem{Collector: "iam-pivot-123456789012"}})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Collector != "iam-pivot-123456789012" || res.Status != incident.StatusOK {
		t.Fatalf("result %+v", res)
	}
	runDir := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/iam/"
	var got []string
	out, err := w.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(runDir)})
	must(t, "ListObjectsV2", err)
	for _, o := range out.Contents {
		got = append(got, strings.TrimPrefix(aws.ToString(o.Key), runDir))
	}
	want := []string{"pivot-123456789012/access-key-" + keyID + "-last-used.json", "pivot-123456789012/alice/identity.json", "pivot-123456789012/web-role/identity.json"}
	if !slices.Equal(got, want) {
		t.Errorf("artifacts %v\nwant %v", got, want)
	}

	for _, tc := range []struct{ item, want string }{
		{"iam-pivot-12345", "12-digit account"},
		{"iam-pivot-999999999999", "no pivot chain"}, // another case: no chain
	} {
		other := inc
		if tc.item == "iam-pivot-999999999999" {
			other.CaseID = incident.CaseIDForFinding("0123456789abcdef0123456789abcdef")
		}
		if _, err := h.Handle(context.Background(), collect.Input{Incident: other, Item: incident.PlanItem{Collector: tc.item}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.item, err, tc.want)
		}
	}
}
