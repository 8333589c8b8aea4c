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
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	bucket := os.Getenv("EVIDENCE_BUCKET")
	if bucket == "" {
		log.Fatal("s3access: EVIDENCE_BUCKET must be set")
	}
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("s3access: %v", err)
	}
	budget, err := collect.BudgetFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("s3access: %v", err)
	}
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("s3access: aws config: %v", err)
	}
	client := s3.NewFromConfig(awsCfg, awsconfig.S3Options)
	h := &Handler{
		Driver: &collect.Driver{Writer: evidence.NewWriter(client, bucket), Version: version.String(), Now: time.Now,
			Results: client, Bucket: bucket, Budget: budget},
		Collector: &Collector{S3: client, Config: cfg},
	}
	lambda.Start(h.Handle)
}
