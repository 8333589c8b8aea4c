// Command triage is the Triage step: it validates the input, builds the
// incident and opens the run. main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	bucket := os.Getenv("EVIDENCE_BUCKET")
	if bucket == "" {
		log.Fatal("triage: EVIDENCE_BUCKET must be set")
	}
	conf, err := incident.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("triage: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("triage: aws config: %v", err)
	}
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	h := &Handler{
		Writer:   evidence.NewWriter(client, bucket),
		Objects:  client,
		Findings: guardduty.NewFromConfig(cfg),
		Bucket:   bucket,
		Region:   cfg.Region,
		Tables:   splitList(os.Getenv("CUSTODY_DYNAMODB_TABLES")),
		Config:   conf,
		Version:  version.String(),
		Now:      time.Now,
		// awsconfig.Load's clients record every call into the run's log.
		ActionLogs: true,
		Account:    os.Getenv(accounts.EnvAccountID),
	}
	lambda.Start(h) // Invoke: the payload decoded by the handler (payload.go)
}

// splitList reads a comma-separated setting.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
