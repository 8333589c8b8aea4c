// Command s3access is the S3 object-level collector: for each bucket in
// scope, a snapshot of its configuration (policy, ACL, public access block,
// ownership controls, versioning, encryption, logging), its server access
// log objects for the window copied unchanged, and an extract of its lines.
// Past its budget (CUSTODY_SHARD_BYTES, CUSTODY_SHARD_OBJECTS) the copies
// and extracts fan out to shards. main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("s3access: %v", err)
	}
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("s3access: aws config: %v", err)
	}
	client := s3.NewFromConfig(awsCfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, client)
	if err != nil {
		log.Fatalf("s3access: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, awsCfg)
	if err != nil {
		log.Fatalf("s3access: %v", err)
	}
	build := func(pass *PivotPass) collect.Build {
		return func(a *accounts.Access) collect.Collector {
			return &Collector{S3: s3.NewFromConfig(a.Config, awsconfig.S3Options), Config: cfg, Pass: pass}
		}
	}
	h := &Handler{
		Driver: driver,
		// The buckets and their logging settings are the finding's
		// account's; the copies into the evidence bucket are the hub's
		// (the log bucket's policy must let the hub read it).
		Collector: collect.Reached(reach, reach.Own(), build(nil)),
		// A pivot pass: the buckets of the account its follow list names.
		Pivot: func(p *PivotPass) collect.Collector { return collect.Reached(reach, reach.Own(), build(p)) },
	}
	lambda.Start(h.Handle)
}
