// Command seal is the Seal step: it writes the run's manifest and announces
// it. main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	bucket, topic, signingKey := os.Getenv("EVIDENCE_BUCKET"), os.Getenv("CASE_TOPIC_ARN"), os.Getenv("CUSTODY_SIGNING_KEY_ARN")
	if bucket == "" || topic == "" || signingKey == "" {
		log.Fatal("seal: EVIDENCE_BUCKET, CASE_TOPIC_ARN and CUSTODY_SIGNING_KEY_ARN must be set")
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("seal: aws config: %v", err)
	}
	// awsconfig.Load's clients record into the log Handle binds.
	actions := awsconfig.NewActionLog()
	actions.Account = os.Getenv(accounts.EnvAccountID)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	h := &Handler{
		Objects:       client,
		Writer:        evidence.NewWriter(client, bucket),
		Notifier:      sns.NewFromConfig(cfg),
		Trail:         cloudtrail.NewFromConfig(cfg),
		Actions:       actions,
		Signer:        kms.NewFromConfig(cfg),
		SigningKeyARN: signingKey,
		Bucket:        bucket,
		TopicARN:      topic,
		Version:       version.String(),
		Now:           time.Now,
		TempDir:       os.TempDir(),
	}
	lambda.Start(h.Handle)
}
