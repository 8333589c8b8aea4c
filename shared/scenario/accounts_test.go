package scenario

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
)

// writeTree writes files (relative path -> content) under a new folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestApplyAccountsSeedsEachAccountWithItsOwnCredentials runs against the
// emulator, which keeps accounts and regions apart (measured): the
// member's instance is the member's, in its region, and the log archive's
// trail file names it through a placeholder resolved in the member.
func TestApplyAccountsSeedsEachAccountWithItsOwnCredentials(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	dir := writeTree(t, map[string]string{
		"scenario.json": `{"accounts": [
			{"name": "member", "id": "111111111111", "region": "eu-west-2"},
			{"name": "archive", "id": "222222222222", "logArchive": true}]}`,
		"accounts/member/scenario.json": `{"vpcs": [{"name": "prod", "cidr": "10.0.0.0/16"}],
			"subnets": [{"name": "app", "vpc": "prod", "cidr": "10.0.1.0/24", "az": "eu-west-2a"}],
			"instances": [{"name": "web", "subnet": "app"}]}`,
		"accounts/archive/scenario.json": `{"buckets": [{"name": "org-trail-archive"}]}`,
		"accounts/archive/s3/org-trail-archive/AWSLogs/o-abcdef1234/{{account:member}}/CloudTrail/eu-west-2/trail.json": `{"Records": [{"resources": [{"ARN": "{{instance:web}}"}], "recipientAccountId": "{{account:member}}"}]}`,
	})
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Accounts) != 2 || !sc.Accounts[0].HasMemberStack() || sc.Accounts[1].HasMemberStack() {
		t.Fatalf("accounts = %+v", sc.Accounts)
	}
	seeded, err := Apply(ctx, cfg, "", sc, dir)
	if err != nil {
		t.Fatal(err)
	}
	web := seeded.Instances["web"]
	if web == "" || seeded.Accounts["member"] != "111111111111" {
		t.Fatalf("seeded %+v", seeded)
	}
	finding, err := seeded.Rewrite([]byte(`{"accountId": "{{account:member}}", "instanceId": "{{instance:web}}", "q": "{{instance:member/web}}"}`))
	if err != nil || string(finding) != `{"accountId": "111111111111", "instanceId": "`+web+`", "q": "`+web+`"}` {
		t.Fatalf("Rewrite = %s, %v", finding, err)
	}
	// The instance is the member's, in eu-west-2; the hub sees none.
	own := cfg.Copy()
	own.Region = "eu-west-2"
	out, err := ec2.NewFromConfig(own).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{web}})
	if err == nil && len(out.Reservations) > 0 {
		t.Errorf("the member's instance %s is visible to the default account", web)
	}
	// The archive's object key and content name the member.
	key := "AWSLogs/o-abcdef1234/111111111111/CloudTrail/eu-west-2/trail.json"
	obj, err := s3.NewFromConfig(cfg, awsconfig.S3Options, func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("org-trail-archive"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("the archive's trail file: %v", err)
	}
	defer obj.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := obj.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(b.String(), web) {
		t.Errorf("trail file = %s, want the member's instance %s", b.String(), web)
	}
}

func TestLoadAccountsRefusesWhatIsNotAnAccount(t *testing.T) {
	for _, tc := range []struct{ name, accounts, want string }{
		{"short id", `[{"name": "m", "id": "11111"}]`, "twelve-digit"},
		{"bad region", `[{"name": "m", "id": "111111111111", "region": "moon-1"}]`, "not an AWS region"},
		{"dir outside", `[{"name": "m", "id": "111111111111", "dir": "../x"}]`, "inside the seed folder"},
		{"same id twice", `[{"name": "m", "id": "111111111111"}, {"name": "n", "id": "111111111111"}]`, "another account's"},
		{"two archives", `[{"name": "m", "id": "111111111111", "logArchive": true}, {"name": "n", "id": "222222222222", "logArchive": true}]`, "second log archive"},
		{"no folder", `[{"name": "m", "id": "111111111111"}]`, "scenario.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"scenario.json": `{"accounts": ` + tc.accounts + `}`})
			_, err := Load(dir)
			var ee *EntryError
			if !errors.As(err, &ee) || ee.List != "accounts" || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an accounts entry error with %q", err, tc.want)
			}
		})
	}
}

// TestApplyAccountsWithTheSameNames: two members with a VPC of the same
// name; the qualified placeholder names each, the plain one neither.
func TestApplyAccountsWithTheSameNames(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	member := `{"vpcs": [{"name": "prod", "cidr": "10.0.0.0/16"}]}`
	dir := writeTree(t, map[string]string{
		"scenario.json":            `{"accounts": [{"name": "a", "id": "111111111111"}, {"name": "b", "id": "444444444444"}]}`,
		"accounts/a/scenario.json": member,
		"accounts/b/scenario.json": member,
	})
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := Apply(ctx, cfg, "", sc, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seeded.Rewrite([]byte(`{{vpc:a/prod}} {{vpc:b/prod}}`))
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(got))
	if len(ids) != 2 || ids[0] == ids[1] || !strings.HasPrefix(ids[0], "vpc-") {
		t.Errorf("qualified = %q: want two VPCs", got)
	}
	var unknown *UnknownPlaceholderError
	if _, err := seeded.Rewrite([]byte(`{{vpc:prod}}`)); !errors.As(err, &unknown) {
		t.Errorf("the ambiguous plain name resolved: %v", err)
	}
}
