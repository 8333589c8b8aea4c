package operator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

// TestPendingOf: approve and reject find the one run of a case whose
// containment awaits a decision (the newest pending record of it), and
// say why when none or several do.
func TestPendingOf(t *testing.T) {
	const caseID = "gd-0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name    string
		files   map[string]string // run/containment/<name> -> body
		run     string
		token   string
		wantErr string
	}{
		{"one pending", map[string]string{"r1/plan.json": "{}", "r1/pending-aa.json": `{"taskToken":"t1","runId":"r1"}`}, "", "t1", ""},
		{"decided", map[string]string{"r1/pending-aa.json": `{"taskToken":"t1"}`, "r1/approved.json": "{}"}, "", "", "already decided"},
		{"nothing asked", map[string]string{"r1/plan.json": "{}"}, "", "", "is a class in approve mode"},
		{"two runs wait", map[string]string{"r1/pending-aa.json": `{"taskToken":"t1"}`, "r2/pending-bb.json": `{"taskToken":"t2"}`}, "", "", "-run (r1, r2)"},
		{"two runs wait, one named", map[string]string{"r1/pending-aa.json": `{"taskToken":"t1"}`, "r2/pending-bb.json": `{"taskToken":"t2"}`}, "r2", "t2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := emu.Fresh(t)
			client := s3.NewFromConfig(cfg, awsconfig.S3Options)
			if err := emulator.LockedBucket(ctx, client, testBucket); err != nil {
				t.Fatal(err)
			}
			for k, body := range tc.files {
				run, name, _ := strings.Cut(k, "/")
				if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("cases/" + caseID + "/runs/" + run + "/containment/" + name),
					Body: strings.NewReader(body), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
					t.Fatal(err)
				}
			}
			p, err := pendingOf(ctx, client, testBucket, caseID, tc.run)
			if tc.wantErr != "" {
				var np *NoPendingError
				if !errors.As(err, &np) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want a NoPendingError naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || p.TaskToken != tc.token {
				t.Fatalf("pending %+v err %v, want token %s", p, err, tc.token)
			}
		})
	}
}
