// Command vpcflow is the VPC Flow Logs collector: the flow log definitions
// for the scope's interfaces, subnets and VPCs, their S3 objects of the
// window copied unchanged, their CloudWatch Logs streams of the window, and
// an extract of the records that touch the scope. When the S3 objects are
// more than one invocation's budget (CUSTODY_SHARD_BYTES,
// CUSTODY_SHARD_OBJECTS), shards copy and read them in pieces, each into
// its own extract (shard.go). main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	pad, err := PadFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("vpcflow: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("vpcflow: aws config: %v", err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, client)
	if err != nil {
		log.Fatalf("vpcflow: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("vpcflow: %v", err)
	}
	own := reach.Own().ReadWith
	h := &Handler{
		Driver: driver,
		// Flow log definitions and CloudWatch destinations are the
		// finding's account's; S3 destinations (a central log bucket) are
		// read and copied with the hub's own role.
		Collector: collect.Reached(reach, reach.Own(), func(a *accounts.Access) collect.Collector {
			return &FlowLogCollector{
				EC2: ec2.NewFromConfig(a.Config), Logs: cloudwatchlogs.NewFromConfig(a.Config), Objects: client,
				Region: a.Config.Region, Pad: pad, ObjectsReadWith: &own,
			}
		}),
	}
	lambda.Start(h.Handle)
}
