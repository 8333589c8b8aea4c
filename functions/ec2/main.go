// Command ec2 is the EC2 and EBS collector: for every instance in scope it
// stores the instance's description, security groups and their rules,
// network interfaces, volumes, instance profile, user data and console
// output, and takes an EBS snapshot of every attached volume, tagged with
// the case (and locked, when configured). Nothing on the instance is
// changed. main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET        the locked evidence bucket (required)
//	CUSTODY_SNAPSHOT_LOCK  EBS Snapshot Lock for the snapshots taken, in
//	                       governance mode, as a Go duration in whole days
//	                       ("720h" = 30 days); empty or unset: no lock
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	lock, err := ParseSnapshotLock(os.Getenv(EnvSnapshotLock))
	if err != nil {
		log.Fatalf("ec2: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("ec2: aws config: %v", err)
	}
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, objects)
	if err != nil {
		log.Fatalf("ec2: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("ec2: %v", err)
	}
	snapshotKey := os.Getenv(EnvSnapshotKey)
	h := &Handler{
		Driver: driver,
		// The instance and its snapshots are the finding's account's.
		Collector: collect.Reached(reach, reach.Own(), func(a *accounts.Access) collect.Collector {
			compute := ec2.NewFromConfig(a.Config)
			c := &InstanceCollector{
				EC2: compute, Snapshots: compute, IAM: iam.NewFromConfig(a.Config),
				SnapshotLock: lock, Region: a.Config.Region, AccountID: a.ReadWith.AccountID,
			}
			if snapshotKey != "" && a.Member {
				// The hub's own EC2, in the snapshots' region.
				hub := cfg.Copy()
				hub.Region = a.Config.Region
				c.HubCopy = &HubCopy{Member: compute, Hub: ec2.NewFromConfig(hub), HubAccount: reach.HubAccount,
					KeyARN: snapshotKey, Region: a.Config.Region, Lock: lock}
			}
			return c
		}),
	}
	lambda.Start(h.Handle)
}
