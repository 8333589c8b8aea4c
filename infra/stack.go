package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/collect"
)

// DefaultFunctionsDir is where `make build` puts dist/functions/<name>/bootstrap,
// relative to the repository root (where cdk runs `go run ./infra`).
const DefaultFunctionsDir = "dist/functions"

// CustodyStackProps configures NewCustodyStack.
type CustodyStackProps struct {
	awscdk.StackProps
	// Config is the operator's configuration. Nil reads it from the context
	// of scope (cdk.json / -c) with DefaultConfig as fallback.
	Config *Config
	// FunctionsDir holds one <name>/bootstrap per function; DefaultFunctionsDir
	// when empty.
	FunctionsDir string
}

// custodyStack carries what the constructs share while the stack is built.
type custodyStack struct {
	stack        awscdk.Stack
	cfg          Config
	functionsDir string
	key          awskms.Key
	bucket       awss3.Bucket
	topic        awssns.Topic
	// member is set while the member stack's role is granted the same
	// source reads (member.go).
	member bool
	// snapshotKey re-encrypts the members' snapshots copied into the hub
	// (custody:copySnapshotsToHub); nil when off.
	snapshotKey awskms.Key
}

// NewCustodyStack builds the whole responder: key, locked evidence bucket,
// topic, one Lambda per step, the workflow and the GuardDuty rule. An invalid
// configuration panics with the context key named, which stops synth before
// anything is deployed.
func NewCustodyStack(scope constructs.Construct, id string, props *CustodyStackProps) awscdk.Stack {
	if props == nil {
		props = &CustodyStackProps{}
	}
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	// Server access logs get a bucket policy for logging.s3.amazonaws.com, not
	// the legacy log-delivery ACL (which BucketOwnerEnforced forbids),
	// whatever the app's flags say.
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)

	var cfg Config
	if props.Config != nil {
		cfg = *props.Config
		if err := cfg.Validate(); err != nil {
			panic(fmt.Errorf("custody: %w", err))
		}
	} else {
		var err error
		if cfg, err = ConfigFromContext(stack.Node()); err != nil {
			panic(fmt.Errorf("custody: %w", err))
		}
	}
	s := &custodyStack{stack: stack, cfg: cfg, functionsDir: props.FunctionsDir}
	if s.functionsDir == "" {
		s.functionsDir = DefaultFunctionsDir
	}

	s.key = newEvidenceKey(stack, cfg)
	if cfg.CopySnapshotsToHub {
		s.snapshotKey = newSnapshotKey(stack, cfg)
	}
	accessLogs := newAccessLogBucket(stack)
	s.bucket = newEvidenceBucket(stack, cfg, s.key, accessLogs)
	s.topic = newCaseTopic(stack, s.key)

	// Triage: reads the case's run markers, writes the case and run marker
	// under cases/ and a refused input under rejected/, and fetches a finding
	// given only its ID.
	triage := s.newCustodyFunction("TriageFunction", "triage", triageSizing, map[string]string{
		"CUSTODY_LOOKBACK":  cfg.Lookback,
		"CUSTODY_LOOKAHEAD": cfg.Lookahead,
		"CUSTODY_MAX_SPAN":  cfg.MaxSpan,
		// Configured tables join every case's scope (and plan).
		"CUSTODY_DYNAMODB_TABLES": strings.Join(cfg.DynamoDBTables, ","),
	})
	s.allowObjects(triage, []string{"s3:PutObject", "s3:AbortMultipartUpload"}, casesPrefix, rejectedPrefix)
	s.allowObjects(triage, []string{"s3:GetObject"}, casesPrefix)
	s.allowList(triage, casesPrefix)
	s.allowKey(triage, "s3")
	s.allowGetFindings(triage)
	suppressWildcards(triage, "IAM allows Triage s3:PutObject and s3:AbortMultipartUpload on the evidence bucket's cases/* and rejected/*, s3:GetObject on cases/* and s3:ListBucket only with s3:prefix cases/*: every case's folder, because case IDs are made at run time; that Triage writes only its own case is enforced by shared/evidence's key functions (tested), not by IAM.",
		objectWildcard(casesPrefix), objectWildcard(rejectedPrefix))

	// Collectors: each reads its own source (Grant) and writes only under cases/.
	collectorFns, shardFns := map[string]custodyFunction{}, map[string]custodyFunction{}
	for _, c := range collectors {
		env := map[string]string{}
		if c.Env != nil {
			env = c.Env(cfg)
		}
		if c.FanOut {
			env[collect.EnvShardBytes] = strconv.FormatInt(cfg.ShardBytes, 10)
			env[collect.EnvShardObjects] = strconv.Itoa(cfg.ShardObjects)
		}
		size := collectorSizing
		size.reserved = c.Reserved
		collectorFns[c.Name] = s.newCollectorFunction(c, c.State+"Function", size, env)
		shardFns[c.Name] = collectorFns[c.Name]
		if c.FanOut && c.Reserved > 0 {
			size.reserved = 0
			shardFns[c.Name] = s.newCollectorFunction(c, c.State+"ShardFunction", size, env)
		}
	}

	// Seal: reads the run's results and artifacts (and their versions), writes
	// manifest, timeline and report under cases/, and publishes to the topic.
	seal := s.newCustodyFunction("SealFunction", "seal", sealSizing, map[string]string{
		"CASE_TOPIC_ARN": *s.topic.TopicArn(),
	})
	s.allowObjects(seal, []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"}, casesPrefix)
	s.allowList(seal, casesPrefix)
	s.allowKey(seal, "s3", "sns")
	seal.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sns:Publish"),
		Resources: &[]*string{s.topic.TopicArn()},
	}))
	// The seal key names Seal's role in its policy (the only signer); Seal
	// learns the key from its environment.
	signingKey := newSigningKey(stack, cfg, seal.role)
	seal.fn.AddEnvironment(jsii.String("CUSTODY_SIGNING_KEY_ARN"), signingKey.KeyArn(), nil)
	// Seal validates CloudTrail's digests on the run's copies with the
	// public keys CloudTrail signs them with (ListPublicKeys has no
	// resource-level permissions).
	seal.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudtrail:ListPublicKeys"),
		Resources: jsii.Strings("*"),
	}))
	suppressWildcards(seal, "IAM allows Seal s3:GetObject, s3:GetObjectVersion, s3:PutObject and s3:AbortMultipartUpload on the evidence bucket's cases/* and s3:ListBucket only with s3:prefix cases/*: every case's folder, because case IDs are made at run time; that Seal writes only the run it seals is enforced by shared/evidence's key functions (tested), not by IAM.",
		objectWildcard(casesPrefix))

	sm := s.newStateMachine(triage, seal, collectorFns, shardFns, s.newContainFunction(cfg))
	s.newApproverRole(cfg)
	s.newReadinessSchedule()
	_, findingDLQ := newFindingRule(stack, cfg, sm)
	_, alertDLQ := newBucketPolicyChangeRule(stack, s.bucket, s.topic)
	newFailureAlarms(stack, sm, s.topic, map[string]awssqs.Queue{
		"FindingDeliveryDLQ":   findingDLQ,
		"BucketPolicyAlertDLQ": alertDLQ,
	})

	awscdk.NewCfnOutput(stack, jsii.String("EvidenceBucketName"), &awscdk.CfnOutputProps{
		Value: s.bucket.BucketName(), Description: jsii.String("The locked evidence bucket"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{
		Value: sm.StateMachineArn(), Description: jsii.String("The custody workflow: start it by hand with a documented input form"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("CaseTopicArn"), &awscdk.CfnOutputProps{
		Value: s.topic.TopicArn(), Description: jsii.String("One message per sealed run"),
	})
	athenaPolicy := s.newAthena(accessLogs)
	awscdk.NewCfnOutput(stack, jsii.String("AthenaWorkGroupName"), &awscdk.CfnOutputProps{
		Value: jsii.String(AthenaWorkGroupName), Description: jsii.String("The Athena workgroup of the case queries (README: Querying a case with Athena)"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("AthenaQueryPolicyArn"), &awscdk.CfnOutputProps{
		Value: athenaPolicy.ManagedPolicyArn(), Description: jsii.String("Attach to a responder to query cases with Athena: workgroup, tables, cases/, results, the key through S3"),
	})
	signingKeyOutputs(stack, signingKey)
	return stack
}

// newCollectorFunction is collector c's function: its source reads (Grant),
// its writes and reads under cases/ (evidence, results, a fan-out's plan).
func (s *custodyStack) newCollectorFunction(c collector, id string, size sizing, env map[string]string) custodyFunction {
	env[accounts.EnvAccountID] = *s.stack.Account()
	env[accounts.EnvPartition] = *s.stack.Partition()
	env[accounts.EnvMemberRole] = s.cfg.MemberRoleName
	if c.Name == "ec2" && s.snapshotKey != nil {
		env["CUSTODY_SNAPSHOT_KEY_ARN"] = *s.snapshotKey.KeyArn()
	}
	f := s.newCustodyFunction(id, c.Name, size, env)
	if c.Member {
		s.allowAssumeMember(f)
	}
	s.allowObjects(f, []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}, casesPrefix)
	s.allowList(f, casesPrefix)
	s.allowKey(f, "s3")
	if c.Grant != nil {
		c.Grant(s, f)
	}
	if c.Name == "ec2" && s.snapshotKey != nil {
		s.allowHubSnapshotCopy(f)
	}
	suppressWildcards(f, "IAM allows collector "+c.Name+" s3:PutObject, s3:GetObject and s3:AbortMultipartUpload on the evidence bucket's cases/* and s3:ListBucket only with s3:prefix cases/*: every case's folder, because case IDs are made at run time; that it writes only under its own case and run is enforced by shared/evidence's key functions (tested), not by IAM. No delete: the bucket policy denies it to everyone.",
		objectWildcard(casesPrefix))
	return f
}
