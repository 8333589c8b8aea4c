// Command dynamodb is the DynamoDB Streams collector: for each table in
// scope with a stream, every record of the window from every shard, one
// .jsonl.gz per table, and an inventory of the tables it looked at. The
// tables the finding names and those configured are collected first
// (streams keep 24 hours), then those the run's CloudTrail extract names:
// in the same run when the extract is already there, else in a second
// step after the CloudTrail collector (plan item "dynamodb-cloudtrail",
// the same function). main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET          the locked evidence bucket (required)
//	CUSTODY_DYNAMODB_TABLES  comma-separated table names or ARNs collected
//	                         for every incident (optional)
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

// envTables is the environment variable of the configured tables (the
// bucket and budget are collect.DriverFromEnv's).
const envTables = "CUSTODY_DYNAMODB_TABLES"

func main() {
	tables, err := ParseTables(os.Getenv(envTables))
	if err != nil {
		log.Fatalf("dynamodb: %s: %v", envTables, err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("dynamodb: aws config: %v", err)
	}
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, objects)
	if err != nil {
		log.Fatalf("dynamodb: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("dynamodb: %v", err)
	}
	// The tables are the finding's account's; the CloudTrail extract the
	// second pass reads is in the evidence bucket.
	collector := func(p Pass) collect.Collector {
		return collect.Reached(reach, reach.Own(), func(a *accounts.Access) collect.Collector {
			return &StreamsCollector{Tables: dynamodb.NewFromConfig(a.Config), Streams: dynamodbstreams.NewFromConfig(a.Config),
				Objects: objects, Bucket: driver.Bucket, Configured: tables, Pass: p, Now: time.Now}
		})
	}
	h := &Handler{
		Driver:     driver,
		First:      collector(PassFirst),
		CloudTrail: collector(PassCloudTrail),
	}
	lambda.Start(h.Handle)
}
