// Command cloudwatch is the CloudWatch Logs collector: it streams every
// event of the window from the log groups tied to the incident's resources
// (Lambda, EKS, RDS, configured instance groups, groups in scope) into one
// .jsonl.gz per group. main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET              the locked evidence bucket (required)
//	CUSTODY_INSTANCE_LOG_GROUPS  comma-separated log groups an instance's logs
//	                             are shipped to: names, or prefixes ending in *
//	                             (optional; without it an instance in scope is
//	                             a gap)
//	CUSTODY_SHARD_BYTES,         the budget of one invocation: past it the
//	CUSTODY_SHARD_OBJECTS        groups are read by shards (shared/collect)
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	instanceGroups, err := ParseInstanceGroups(os.Getenv("CUSTODY_INSTANCE_LOG_GROUPS"))
	if err != nil {
		log.Fatalf("cloudwatch: CUSTODY_INSTANCE_LOG_GROUPS: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("cloudwatch: aws config: %v", err)
	}
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, objects)
	if err != nil {
		log.Fatalf("cloudwatch: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("cloudwatch: %v", err)
	}
	h := &Handler{
		Driver: driver,
		// The log groups are the finding's account's, in its region.
		Collector: collect.Reached(reach, reach.Own(), func(a *accounts.Access) collect.Collector {
			logs := cloudwatchlogs.NewFromConfig(a.Config)
			return &LogsCollector{Events: logs, Groups: logs, InstanceGroups: instanceGroups}
		}),
	}
	lambda.Start(h.Handle)
}
