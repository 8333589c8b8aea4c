// Command contain is custody's opt-in containment, run only after a run is
// sealed: for each action class its mode (off, dry-run, approve, auto)
// decides whether it plans, and whether it applies. The plan, with every
// resource's before-state, is written into the case through the evidence
// writer before anything changes. main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET                 the locked evidence bucket (required)
//	CUSTODY_CONTAIN_EC2             mode of EC2 instance isolation
//	CUSTODY_CONTAIN_ACCESS_KEY      mode of access key deactivation
//	CUSTODY_CONTAIN_ROLE            mode of role session revocation
//	CUSTODY_ACCOUNT_ID              the account it acts in; a case of
//	                                another account is not contained
//	CUSTODY_PROTECTED_TAG           key=value of the tag that exempts a
//	                                resource (default custody:protected=true)
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	h, err := FromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("contain: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("contain: aws config: %v", err)
	}
	h.EC2 = ec2.NewFromConfig(cfg)
	h.IAM = iam.NewFromConfig(cfg)
	h.Writer = evidence.NewWriter(s3.NewFromConfig(cfg, awsconfig.S3Options), os.Getenv("EVIDENCE_BUCKET"))
	h.Version = version.String()
	h.Now = time.Now
	lambda.Start(h.Handle)
}
