package awsconfig_test

import (
	"context"
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
	cfg.APIOptions = append(cfg.APIOptions, []func(*middleware.Stack) error{log.Record}...)
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
			a.Attempts != 1 || a.Region != cfg.Region || a.End.Before(a.Start) || a.ClockSkewMillis == nil {
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
