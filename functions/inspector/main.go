// Command inspector is the Amazon Inspector collector: it stores the
// inspector2 findings for each instance, AMI, Lambda function and ECR
// container image in scope. main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET  the evidence bucket (required)
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("inspector: aws config: %v", err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, client)
	if err != nil {
		log.Fatalf("inspector: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("inspector: %v", err)
	}
	h := &Handler{
		Driver: driver,
		Collector: collect.Reached(reach, reach.Own(), func(a *accounts.Access) collect.Collector {
			return &FindingCollector{Inspector: inspector2.NewFromConfig(a.Config)}
		}),
	}
	lambda.Start(h.Handle)
}
