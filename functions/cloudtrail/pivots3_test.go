package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/pivot"
)

// TestBucketTouches: the buckets the derived identities' S3 calls name,
// per account, become S3 access-log follow lists with the requesters an
// access log names them by; another principal's buckets, the case's own
// buckets and failed calls do not.
func TestBucketTouches(t *testing.T) {
	const acctA, acctB = "111111111111", "222222222222"
	session := "arn:aws:sts::" + acctB + ":assumed-role/deploy-role/x1"
	ids := []pivot.Identity{
		{ID: "accessKey:AKIASEED", Kind: pivot.KindAccessKey, AccessKeyID: "AKIASEED"},
		{ID: "accessKey:ASIAX1", Kind: pivot.KindAccessKey, AccessKeyID: "ASIAX1", ARN: session, AccountID: acctB, Depth: 1},
		{ID: "user:arn:aws:iam::" + acctA + ":user/backdoor", Kind: pivot.KindUser, UserName: "backdoor", ARN: "arn:aws:iam::" + acctA + ":user/backdoor", AccountID: acctA, Depth: 2},
		{ID: "accessKey:AKIABOBS", Kind: pivot.KindAccessKey, AccessKeyID: "AKIABOBS", UserName: "bob", AccountID: acctA, Depth: 2},
	}
	rec := func(key, arn, user, bucket, account, errCode string) *ctlog.Event {
		raw := fmt.Sprintf(`{"eventTime":"2024-08-02T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","recipientAccountId":%q,`+
			`"userIdentity":{"type":"AssumedRole","accessKeyId":%q,"arn":%q,"userName":%q},"requestParameters":{"bucketName":%q,"key":"k"},"errorCode":%q}`,
			account, key, arn, user, bucket, errCode)
		e, err := ctlog.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	b := newBucketTouches()
	for _, e := range []*ctlog.Event{
		rec("ASIAX1", session, "", "loot", acctB, ""),
		rec("ASIAX1", session, "", "loot", acctB, ""), // twice: one touch
		rec("ASIAX1", session, "", "denied-bucket", acctB, "AccessDenied"),
		rec("ASIAX1", session, "", "case-bucket", acctB, ""),
		rec("AKIABACKDOOR", "arn:aws:iam::"+acctA+":user/backdoor", "backdoor", "stash", acctA, ""),
		rec("AKIAOTHER", "arn:aws:iam::"+acctA+":user/carol", "carol", "payroll", acctA, ""),
	} {
		b.observe(e)
	}
	got := b.follows(ids, incident.Scope{Buckets: []string{"case-bucket"}})
	if len(got) != 2 || got[0].Account != acctA || got[1].Account != acctB {
		t.Fatalf("follows %+v", got)
	}
	if !slices.Equal(got[0].Buckets, []string{"stash"}) || !slices.Equal(got[1].Buckets, []string{"loot"}) {
		t.Errorf("buckets %v, %v", got[0].Buckets, got[1].Buckets)
	}
	wantReq := []string{"arn:aws:iam::" + acctA + ":user/backdoor", session}
	if !slices.Equal(got[0].Requesters, wantReq) {
		t.Errorf("requesters %v, want %v", got[0].Requesters, wantReq)
	}
	// bob's new key is bob's ARN in an access log, as bob's own keys are.
	if len(got[0].Unmatched) != 1 {
		t.Errorf("unmatched %v", got[0].Unmatched)
	}
}
