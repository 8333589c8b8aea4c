// Command iam is the IAM Access Advisor and identity collector: for every
// principal in scope (the owner of each access key, the user or role of
// each principal ARN, the role of an assumed-role session or instance
// profile, and the user and role names) it stores the principal's Access
// Advisor report at action level, polled to completion within a bounded
// time, and its identity: the user or role, its attached and inline
// policies with their documents, its groups' policies, its permissions
// boundary and (for a role) its trust policy; and for each access key its
// last use. It only reads. main wires; handler.go thinks.
//
// Environment:
//
//	EVIDENCE_BUCKET              the locked evidence bucket (required)
//	CUSTODY_IAM_ADVISOR_TIMEOUT  how long to wait for one Access Advisor
//	                             job, as a Go duration from 1s to 10m
//	                             (default 2m)
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
)

func main() {
	timeout, err := ParseAdvisorTimeout(os.Getenv(EnvAdvisorTimeout))
	if err != nil {
		log.Fatalf("iam: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("iam: aws config: %v", err)
	}
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, objects)
	if err != nil {
		log.Fatalf("iam: %v", err)
	}
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("iam: %v", err)
	}
	build := func(pass *PivotPass) collect.Build {
		return func(a *accounts.Access) collect.Collector {
			client := iam.NewFromConfig(a.Config)
			return &PrincipalCollector{IAM: client, Advisor: client, AdvisorTimeout: timeout, Now: time.Now, AccountID: a.ReadWith.AccountID, Pass: pass}
		}
	}
	h := &Handler{
		Driver: driver,
		// The principal is the finding's account's; a pivot pass's, the
		// account its principals are in (the pass's scope).
		Collector: collect.Reached(reach, reach.Own(), build(nil)),
		Pivot:     func(p *PivotPass) collect.Collector { return collect.Reached(reach, reach.Own(), build(p)) },
	}
	lambda.Start(h.Handle)
}
