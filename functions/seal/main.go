// Command seal is the Seal step: it writes the run's manifest and announces
// it. main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	bucket, topic := os.Getenv("EVIDENCE_BUCKET"), os.Getenv("CASE_TOPIC_ARN")
	if bucket == "" || topic == "" {
		log.Fatal("seal: EVIDENCE_BUCKET and CASE_TOPIC_ARN must be set")
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("seal: aws config: %v", err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	h := &Handler{
		Objects:  client,
		Writer:   evidence.NewWriter(client, bucket),
		Notifier: sns.NewFromConfig(cfg),
		Bucket:   bucket,
		TopicARN: topic,
		Version:  version.String(),
		Now:      time.Now,
		TempDir:  os.TempDir(),
	}
	lambda.Start(h.Handle)
}
