// Command readiness is the scheduled readiness audit: an EventBridge
// schedule runs it; it audits the hub's account and region
// (shared/readiness), keeps the report in the evidence bucket under
// readiness/ and notifies the case topic when a check turns from pass to
// fail. main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET          the evidence bucket (required)
//	CASE_TOPIC_ARN           the topic notified (required)
//	CUSTODY_ACCOUNT_ID       the hub account
//	CUSTODY_LOOKBACK         custody:lookback (default 6h)
//	CUSTODY_DYNAMODB_TABLES  custody:dynamodbTables, comma-separated
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/readiness"
)

func main() {
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("readiness: aws config: %v", err)
	}
	h, err := FromEnv(os.Getenv, cfg.Region, readiness.NewClients(cfg), &readiness.Scheduled{
		Store: s3.NewFromConfig(cfg, awsconfig.S3Options), Notifier: sns.NewFromConfig(cfg),
	})
	if err != nil {
		log.Fatalf("readiness: %v", err)
	}
	lambda.Start(h.Handle)
}
