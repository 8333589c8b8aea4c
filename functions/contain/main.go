// Command contain is custody's opt-in containment, run only after a run is
// sealed: for each action class its mode (off, dry-run, approve, auto)
// decides whether it plans, and whether it applies. The plan, with every
// resource's before-state, is written into the case through the evidence
// writer before anything changes. main wires; shared/contain thinks (the
// operator's rollback command runs the same code).
//
// Environment:
//
//	EVIDENCE_BUCKET                 the locked evidence bucket (required)
//	CUSTODY_CONTAIN_EC2             mode of EC2 instance isolation
//	CUSTODY_CONTAIN_ACCESS_KEY      mode of access key deactivation
//	CUSTODY_CONTAIN_ROLE            mode of role session revocation
//	CUSTODY_CONTAIN_LAMBDA          mode of Lambda function throttling
//	CUSTODY_CONTAIN_S3_BUCKET       mode of S3 bucket blocking
//	CUSTODY_CONTAIN_EC2_SUBNET_NACL mode of the deny-all subnet ACL
//	CUSTODY_PARTITION               the stack's partition (bucket policy ARNs)
//	CUSTODY_ACCOUNT_ID              the account it acts in; a case of
//	                                another account is not contained
//	CUSTODY_MEMBER_CONTAIN_ROLE     the member stack's containment role's name;
//	                                set, a member account's case is contained
//	                                through it (assumed for the case)
//	CUSTODY_PROTECTED_TAG           key=value of the tag that exempts a
//	                                resource (default custody:protected=true)
//	CUSTODY_APPROVAL_TIMEOUT        how long an approval is waited for (24h)
//	CUSTODY_CONTAIN_SIGNING_KEY_ARN the containment key (required): each step's
//	                                statement over the run's containment
//	                                records is signed with it (never the seal key)
//	CASE_TOPIC_ARN                  where the approval notice goes
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/contain"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/version"
)

func main() {
	h, err := contain.FromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("contain: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("contain: aws config: %v", err)
	}
	// The hub's own clients; a member's case gets the member's (Member).
	h.Use(contain.NewClients(cfg))
	s3c := s3.NewFromConfig(cfg, awsconfig.S3Options)
	h.Writer = evidence.NewWriter(s3c, os.Getenv("EVIDENCE_BUCKET"))
	h.Reader, h.Lister, h.Bucket = s3c, s3c, os.Getenv("EVIDENCE_BUCKET")
	h.Signer = kms.NewFromConfig(cfg)
	h.Notifier = sns.NewFromConfig(cfg)
	if role := os.Getenv(contain.EnvMemberRole); role != "" {
		h.Member = contain.MemberVia(&accounts.Resolver{Hub: cfg, HubAccount: h.AccountID, Partition: h.Partition, MemberRole: role})
	}
	h.Version = version.String()
	h.Now = time.Now
	lambda.Start(h.Handle)
}
