package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// TestActionLogOfAMemberRead: the IAM collector, run by the driver on a
// member account's assumed session (one with a session token), stores its
// action log as an artifact of its result: a line a call, naming the
// operation, the account it went to, its request ID, status and clock
// skew, and no secret of either session.
func TestActionLogOfAMemberRead(t *testing.T) {
	ctx := context.Background()
	const hubAccount, memberAccount = emulator.AccountID, "210987654321"
	const hubSecret, hubToken = "hub-secret-access-key-never-logged", "hub-session-token-never-logged"
	cfg := emu.Fresh(t)
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAHUBEXAMPLE", hubSecret, hubToken)
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if err := emulator.LockedBucket(ctx, objects, testBucket); err != nil {
		t.Fatal(err)
	}
	resolver := &accounts.Resolver{Hub: cfg, HubAccount: hubAccount, MemberRole: accounts.DefaultMemberRole}

	// The member's user, made with a session of its own (another case, so
	// the collector assumes the role itself).
	setup, err := resolver.For(ctx, "setup", memberAccount, emulator.Region)
	must(t, "For", err)
	member := iam.NewFromConfig(setup.Config)
	_, err = member.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mallory")})
	must(t, "CreateUser", err)
	_, err = member.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("mallory")})
	must(t, "CreateAccessKey", err)

	clock := newClock()
	c := collect.Reached(resolver, resolver.Own(), func(a *accounts.Access) collect.Collector {
		client := iam.NewFromConfig(a.Config)
		return &PrincipalCollector{IAM: client, Advisor: client, Now: clock.Now, Sleep: clock.Sleep, AccountID: a.ReadWith.AccountID}
	})
	d := &collect.Driver{
		Writer:  evidence.NewWriter(objects, testBucket, evidence.WithTempDir(t.TempDir())),
		Version: "test", Now: func() time.Time { return fixedNow }, Results: objects, Bucket: testBucket,
		ActionLogs: true, Account: hubAccount,
	}
	inc := incidentFor(incident.Scope{AccountID: memberAccount, UserNames: []string{"mallory"}})
	if _, err := d.Run(ctx, c, collect.Input{Incident: inc, Item: inc.Plan[0]}); err != nil {
		t.Fatalf("Run: %v", err)
	}

	var logArt *evidence.Artifact
	r := storedResult(t, &world{s3: objects}, inc)
	for i, a := range r.Artifacts {
		if a.Source == evidence.SourceActions {
			logArt = &r.Artifacts[i]
		}
	}
	wantKey := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/actions/iam.jsonl"
	if logArt == nil || logArt.Key != wantKey {
		t.Fatalf("result artifacts %+v: want the action log %s", r.Artifacts, wantKey)
	}
	body, version := s3test.Object(t, objects, testBucket, logArt.Key)
	sum := sha256.Sum256(body)
	if logArt.SHA256 != hex.EncodeToString(sum[:]) || logArt.VersionID != version || logArt.Origin == nil {
		t.Errorf("action log artifact %+v does not match the stored object", logArt)
	}

	// No secret of the hub's session nor of the member's assumed one.
	creds, err := setup.Config.Credentials.Retrieve(ctx)
	must(t, "Retrieve", err)
	if creds.SessionToken == "" {
		t.Fatal("the assumed session has no session token: the test proves nothing")
	}
	for _, secret := range []string{hubSecret, hubToken, creds.SecretAccessKey, creds.SessionToken} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("the action log holds a secret %q", secret)
		}
	}

	var lines []awsconfig.Action
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var a awsconfig.Action
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, a)
	}
	if int64(len(lines)) != logArt.Records {
		t.Errorf("%d lines, artifact says %d records", len(lines), logArt.Records)
	}
	seen := map[string]string{} // service operation -> account
	for _, a := range lines {
		seen[a.Service+" "+a.Operation] = a.Account
		// The emulator's answer for what it lacks (IAM's Access Advisor) is
		// a bare 500: no request ID there.
		if (a.RequestID == "" && a.HTTPStatus != 500) || a.ClockSkewMillis == nil || a.Attempts < 1 || a.End.Before(a.Start) || a.Region != emulator.Region {
			t.Errorf("action %+v: want a request ID, clock skew, attempts, times and region", a)
		}
	}
	for _, w := range []struct{ op, account string }{
		// The collector's own session, assumed with the hub's credentials.
		{"STS AssumeRole", hubAccount},
		{"IAM GetUser", memberAccount},
		{"IAM ListUserPolicies", memberAccount},
		// The evidence it wrote, to the hub's bucket.
		{"S3 PutObject", hubAccount},
	} {
		if got, ok := seen[w.op]; !ok || got != w.account {
			t.Errorf("%s: account %q (seen %v), want %s", w.op, got, ok, w.account)
		}
	}
	if t.Failed() {
		t.Logf("action log:\n%s", strings.TrimSpace(string(body)))
	}
}
