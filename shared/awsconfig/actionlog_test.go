package awsconfig_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

// TestActionLog: every call through a configuration with the log's
// middleware is recorded with its service, operation, status, request ID,
// attempts and times, and without the bodies and messages it carried.
func TestActionLog(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	log := awsconfig.NewActionLog()
	log.Account = "123456789012"
	// Load has added RecordActions already; a second is a no-op, not a
	// second record of each call.
	cfg.APIOptions = append(cfg.APIOptions, []func(*middleware.Stack) error{awsconfig.RecordActions}...)
	unlogged := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if _, err := unlogged.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	ctx = awsconfig.WithActionLog(ctx, log)
	s3c := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("action-log")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("action-log"), Key: aws.String("k"),
		Body: strings.NewReader("the evidence itself"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("action-log"), Key: aws.String("missing")}); err == nil {
		t.Fatal("GetObject of a missing key succeeded")
	}
	kc := kms.NewFromConfig(cfg)
	k, err := kc.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Sign(ctx, &kms.SignInput{KeyId: k.KeyMetadata.KeyId, Message: []byte("a seal statement"),
		MessageType: kmstypes.MessageTypeRaw, SigningAlgorithm: kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256}); err != nil {
		t.Fatal(err)
	}
	got := log.Actions()
	want := []struct {
		service, op string
		status      int
		err         bool
	}{
		{"S3", "CreateBucket", 200, false}, {"S3", "PutObject", 200, false}, {"S3", "GetObject", 404, true},
		{"KMS", "CreateKey", 200, false}, {"KMS", "Sign", 200, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d actions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		a := got[i]
		if a.Service != w.service || a.Operation != w.op || a.HTTPStatus != w.status || (a.Error != "") != w.err ||
			a.Attempts != 1 || a.Region != cfg.Region || a.Account != "123456789012" || a.End.Before(a.Start) || a.ClockSkewMillis == nil {
			t.Errorf("action %d = %+v, want %s %s %d", i, a, w.service, w.op, w.status)
		}
	}
	if got[1].Params["Body"] != "[removed]" || got[1].Params["Key"] != "k" {
		t.Errorf("PutObject params %v: want the key, not the body", got[1].Params)
	}
	if got[4].Params["Message"] != "[removed]" || got[4].Params["SigningAlgorithm"] != "RSASSA_PKCS1_V1_5_SHA_256" {
		t.Errorf("Sign params %v: want the algorithm, not the message", got[4].Params)
	}
	if len(log.Since(3)) != 2 {
		t.Errorf("Since(3) = %d actions, want 2", len(log.Since(3)))
	}
}

// TestInAccount: a configuration made InAccount records its calls as the
// member's, whichever order the middlewares were added in, and the
// configuration it was copied from stays the hub's.
func TestInAccount(t *testing.T) {
	cfg := emu.Fresh(t)
	log := awsconfig.NewActionLog()
	log.Account = "123456789012"
	ctx := awsconfig.WithActionLog(context.Background(), log)
	member := awsconfig.InAccount(cfg.Copy(), "210987654321")
	late := awsconfig.InAccount(aws.Config{Region: cfg.Region, Credentials: cfg.Credentials, BaseEndpoint: cfg.BaseEndpoint,
		Retryer: cfg.Retryer}, "333333333333")
	late.APIOptions = append(late.APIOptions, awsconfig.RecordActions)
	for _, c := range []aws.Config{member, cfg, late} {
		if _, err := s3.NewFromConfig(c, awsconfig.S3Options).ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, a := range log.Actions() {
		got = append(got, a.Account)
	}
	if strings.Join(got, ",") != "210987654321,123456789012,333333333333" {
		t.Errorf("accounts %v, want member, hub, late", got)
	}
}

// TestRedacted: the deny-list removes secrets at any depth, and a
// presigned URL keeps its path but not its signing query.
func TestRedacted(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		keep map[string]any
		gone []string
	}{
		{"credentials", map[string]any{"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "s3cr3t", "SessionToken": "tok"},
			map[string]any{"AccessKeyId": "AKIAEXAMPLE"}, []string{"s3cr3t", "tok"}},
		{"nested password", map[string]any{"UserName": "alice", "LoginProfile": map[string]any{"Password": "hunter2"}},
			map[string]any{"UserName": "alice"}, []string{"hunter2"}},
		{"sse-c key and kms plaintext", map[string]any{"Bucket": "b", "SSECustomerKey": "k3y", "Plaintext": "cGxhaW4="},
			map[string]any{"Bucket": "b"}, []string{"k3y", "cGxhaW4="}},
		{"presigned url", map[string]any{"Url": "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Signature=abc123"},
			map[string]any{"Url": "https://b.s3.amazonaws.com/k?[signature removed]"}, []string{"abc123"}},
		{"list of tags", map[string]any{"Tags": []any{map[string]any{"Key": "custody-case", "Value": "c1"}}, "TokenCode": "123456"},
			nil, []string{"123456"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := awsconfig.Redacted(tc.in)
			b, _ := json.Marshal(got)
			for k, v := range tc.keep {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, s := range tc.gone {
				if strings.Contains(string(b), s) {
					t.Errorf("%s in %s", s, b)
				}
			}
		})
	}
}
