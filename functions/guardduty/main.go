// Command guardduty is the GuardDuty collector: it stores the finding the
// run answers and the detector's related findings (same instance, access
// key, user or role, bucket) updated in the window. main wires; handler.go
// and related.go think.
//
// Environment:
//
//	EVIDENCE_BUCKET                  the evidence bucket (required)
//	CUSTODY_GUARDDUTY_MAX_RELATED    most related findings fetched per run (default 1000)
package main

import (
	"context"
	"log"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	maxRelated := 0
	if v := os.Getenv("CUSTODY_GUARDDUTY_MAX_RELATED"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			log.Fatalf("guardduty: CUSTODY_GUARDDUTY_MAX_RELATED=%q: want a positive integer", v)
		}
		maxRelated = n
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("guardduty: aws config: %v", err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, client)
	if err != nil {
		log.Fatalf("guardduty: %v", err)
	}
	h := &Handler{
		Driver:    driver,
		Collector: &FindingCollector{Objects: client, Findings: guardduty.NewFromConfig(cfg), Bucket: driver.Bucket, MaxRelated: maxRelated},
	}
	lambda.Start(h.Handle)
}
