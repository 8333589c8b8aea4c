// Command guardduty is the GuardDuty collector: it stores the finding the
// run answers. main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	bucket := os.Getenv("EVIDENCE_BUCKET")
	if bucket == "" {
		log.Fatal("guardduty: EVIDENCE_BUCKET must be set")
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("guardduty: aws config: %v", err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	h := &Handler{
		Driver: &collect.Driver{Writer: evidence.NewWriter(client, bucket), Version: version.String(), Now: time.Now,
			Results: client, Bucket: bucket},
		Collector: &FindingCollector{Objects: client, Findings: guardduty.NewFromConfig(cfg), Bucket: bucket},
	}
	lambda.Start(h.Handle)
}
