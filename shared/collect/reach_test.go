package collect_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// fakeResolver answers For from a table (the real one is tested against
// the emulator in shared/accounts).
type fakeResolver struct {
	access map[string]*accounts.Access
	err    map[string]error
	asked  []string
}

func (f *fakeResolver) For(_ context.Context, caseID, account, region string) (*accounts.Access, error) {
	f.asked = append(f.asked, caseID+"/"+account+"/"+region)
	if err := f.err[account]; err != nil {
		return nil, err
	}
	return f.access[account], nil
}

func TestReachReadsTheFindingsAccountAndNamesWhatItCannot(t *testing.T) {
	member := &accounts.Access{Config: aws.Config{Region: "eu-west-2"}, Member: true, ReadWith: evidence.ReadWith{
		AccountID: "111111111111", Region: "eu-west-2", RoleARN: "arn:aws:iam::111111111111:role/CustodyMember", SessionName: "gd-test"}}
	resolver := &fakeResolver{
		access: map[string]*accounts.Access{"111111111111": member},
		err: map[string]error{"222222222222": &accounts.AssumeError{AccountID: "222222222222", Region: "eu-west-2",
			RoleARN: "arn:aws:iam::222222222222:role/CustodyMember", Denied: true, Err: errors.New("AccessDenied")},
			"333333333333": errors.New("connection reset")},
	}
	tests := []struct {
		account    string
		wantStatus string
		wantGap    string // in the gap's fix
		wantErr    bool
	}{
		{"111111111111", incident.StatusOK, "", false},
		{"222222222222", incident.StatusOK, "Accounts=222222222222", false},
		{"333333333333", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.account, func(t *testing.T) {
			client := lockedBucket(t)
			d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())), Version: "v", Now: func() time.Time { return fixedNow }}
			var built []string
			c := collect.Reached(resolver, &accounts.Access{}, func(a *accounts.Access) collect.Collector {
				built = append(built, a.ReadWith.AccountID)
				return &fakeCollector{name: "fake", source: evidence.SourceEC2, run: func(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
					_, err := out.Put(ctx, "described.json", strings.NewReader("{}"), out.Meta("ec2:DescribeInstances", nil, nil))
					return err
				}}
			})
			in := testInput()
			in.Incident.Scope.AccountID, in.Incident.Scope.Region = tc.account, "eu-west-2"
			res, err := d.Run(context.Background(), c, in)
			if tc.wantErr {
				if err == nil && res.Status != incident.StatusFailed {
					t.Fatalf("result %+v, err %v: want the collector failed (retried by the state machine)", res, err)
				}
				return
			}
			if err != nil || res.Status != tc.wantStatus {
				t.Fatalf("result %+v, err %v", res, err)
			}
			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
			if tc.wantGap != "" {
				if len(stored.Gaps) != 1 || !strings.Contains(stored.Gaps[0].Fix, tc.wantGap) || !strings.Contains(stored.Gaps[0].Reason, tc.account) || len(stored.Artifacts) != 0 {
					t.Fatalf("stored %+v: want one gap naming the account and the StackSet fix, no artifacts", stored)
				}
				return
			}
			if len(stored.Artifacts) != 1 || stored.Artifacts[0].ReadWith == nil || *stored.Artifacts[0].ReadWith != member.ReadWith {
				t.Fatalf("artifacts %+v: want one, read with the member role", stored.Artifacts)
			}
		})
	}
}

func TestReachedOrReadsWhatTheHubCanAfterARefusedAssume(t *testing.T) {
	hub := &accounts.Access{ReadWith: evidence.ReadWith{AccountID: "123456789012", Region: "eu-west-2"}}
	resolver := &fakeResolver{
		access: map[string]*accounts.Access{"": hub},
		err: map[string]error{"222222222222": &accounts.AssumeError{AccountID: "222222222222", Region: "eu-west-2",
			RoleARN: "arn:aws:iam::222222222222:role/CustodyMember", Denied: true, Err: errors.New("AccessDenied")}},
	}
	client := lockedBucket(t)
	d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())), Version: "v", Now: func() time.Time { return fixedNow }}
	write := func(name string) collect.Build {
		return func(a *accounts.Access) collect.Collector {
			return &fakeCollector{name: "fake", source: evidence.SourceCloudTrail, run: func(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
				_, err := out.Put(ctx, name, strings.NewReader("{}"), out.Meta("s3:GetObject", nil, nil))
				return err
			}}
		}
	}
	c := collect.ReachedOr(resolver, hub, write("member.json"), write("org-trail.json"))
	in := testInput()
	in.Incident.Scope.AccountID, in.Incident.Scope.Region = "222222222222", "eu-west-2"
	res, err := d.Run(context.Background(), c, in)
	if err != nil || res.Status != incident.StatusOK {
		t.Fatalf("result %+v, err %v", res, err)
	}
	var stored evidence.CollectorResult
	s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
	if len(stored.Gaps) != 1 || !strings.Contains(stored.Gaps[0].Reason, "222222222222") {
		t.Errorf("gaps %+v: want the refused account", stored.Gaps)
	}
	if len(stored.Artifacts) != 1 || !strings.HasSuffix(stored.Artifacts[0].Key, "org-trail.json") || *stored.Artifacts[0].ReadWith != hub.ReadWith {
		t.Errorf("artifacts %+v: want what the hub's own access read", stored.Artifacts)
	}
}
