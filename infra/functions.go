package main

import (
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// sizing is a function's memory, timeout and ephemeral storage.
type sizing struct {
	memoryMB  float64
	timeout   awscdk.Duration
	ephemeral float64 // MB of /tmp; 0 keeps Lambda's 512
	reserved  float64 // reserved concurrency; 0 leaves it unreserved
}

// Collectors stream and spool whole log objects (DESIGN.md: spool to
// ephemeral disk), so they get the memory, the 15 minutes and the disk.
var (
	triageSizing    = sizing{memoryMB: 256, timeout: awscdk.Duration_Minutes(jsii.Number(1))}
	collectorSizing = sizing{memoryMB: 1024, timeout: awscdk.Duration_Minutes(jsii.Number(15)), ephemeral: 2048}
	// Seal sorts every extract's records through runs on /tmp and spools
	// timeline.jsonl and .csv there before they are hashed and stored:
	// about 0.8 KB of disk an event (1.5 GB at 2M events, make bench), so
	// it gets Lambda's largest /tmp and its longest run.
	sealSizing = sizing{memoryMB: 1024, timeout: awscdk.Duration_Minutes(jsii.Number(15)), ephemeral: 10240}
)

// custodyFunction is one step's Lambda with its own role.
type custodyFunction struct {
	fn      awslambda.Function
	role    awsiam.Role
	timeout awscdk.Duration
	// reserved: the function has reserved concurrency, so a burst of
	// cases queues on it (Lambda.TooManyRequestsException) rather than
	// failing.
	reserved bool
}

// newCustodyFunction builds the Lambda for functions dir `name` with a role
// that holds only its log-group writes (plus X-Ray, added by CDK for active
// tracing); the caller adds what the step itself calls.
func (s *custodyStack) newCustodyFunction(id, name string, size sizing, env map[string]string) custodyFunction {
	logGroup := newLogGroup(s.stack, id+"Logs", s.cfg, s.key)
	role := awsiam.NewRole(s.stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("custody " + name + ": only the calls this step makes"),
	})
	// Written here instead of AWSLambdaBasicExecutionRole (AwsSolutions-IAM4):
	// streams of this function's own log group, nothing else.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{jsii.String(*logGroup.LogGroupArn() + ":*")},
	}))

	vars := map[string]*string{
		"EVIDENCE_BUCKET":  s.bucket.BucketName(),
		"CUSTODY_FUNCTION": jsii.String(name),
	}
	for k, v := range env {
		vars[k] = jsii.String(v)
	}
	props := &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(s.functionsDir, name)), nil),
		Role:         role,
		MemorySize:   jsii.Number(size.memoryMB),
		Timeout:      size.timeout,
		Tracing:      awslambda.Tracing_ACTIVE,
		LogGroup:     logGroup,
		Environment:  &vars,
		Description:  jsii.String("custody step: " + name),
	}
	if size.ephemeral > 0 {
		props.EphemeralStorageSize = awscdk.Size_Mebibytes(jsii.Number(size.ephemeral))
	}
	if size.reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(size.reserved)
	}
	fn := awslambda.NewFunction(s.stack, jsii.String(id), props)

	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("IAM allows logs:CreateLogStream and logs:PutLogEvents on the streams of this function's own log group only (<group>:*: streams are made at run time), and X-Ray PutTraceSegments/PutTelemetryRecords on * (they have no resource-level permissions)."),
		AppliesTo: &[]any{
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<` + id + `Logs[0-9A-F]{8}\.Arn>:\*$/g`)},
			jsii.String("Resource::*"),
		},
	}}, jsii.Bool(true))
	return custodyFunction{fn: fn, role: role, timeout: size.timeout, reserved: size.reserved > 0}
}

// Evidence key prefixes: everything custody writes is under cases/; a refused
// input is kept under rejected/.
const (
	casesPrefix    = "cases/"
	rejectedPrefix = "rejected/"
)

// allowObjects lets role run actions on the bucket's objects under prefixes.
func (s *custodyStack) allowObjects(f custodyFunction, actions []string, prefixes ...string) {
	var res []*string
	for _, p := range prefixes {
		res = append(res, s.bucket.ArnForObjects(jsii.String(p+"*")))
	}
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &res,
	}))
}

// allowList lets role list the bucket, only under prefix. A step that reads
// an object that may not exist needs it: without s3:ListBucket S3 answers a
// missing key with 403 instead of 404, and "not there yet" looks like "denied".
func (s *custodyStack) allowList(f custodyFunction, prefix string) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: &[]*string{s.bucket.BucketArn()},
		Conditions: &map[string]any{
			"StringLike": map[string]any{"s3:prefix": []any{prefix + "*"}},
		},
	}))
}

// allowKey lets role use the evidence key for data keys, only through the
// services named (S3 for evidence, SNS for the topic).
func (s *custodyStack) allowKey(f custodyFunction, services ...string) {
	var via []any
	for _, svc := range services {
		via = append(via, svc+"."+*s.stack.Region()+".amazonaws.com")
	}
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"),
		Resources: &[]*string{s.key.KeyArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": via},
		},
	}))
}

// allowGetFindings lets role read GuardDuty findings from any detector of
// this account and region (the detector ID comes with the finding).
func (s *custodyStack) allowGetFindings(f custodyFunction) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("guardduty:GetFindings"),
		Resources: &[]*string{jsii.String("arn:" + *s.stack.Partition() + ":guardduty:" + *s.stack.Region() + ":" +
			*s.stack.Account() + ":detector/*")},
	}))
	suppressWildcards(f, "IAM allows guardduty:GetFindings on every detector of this account and region (detector/*): the detector ID arrives with the finding, at run time.",
		detectorWildcard())
}

// suppressWildcards records why a step's role has wildcard resources; each
// appliesTo names the exact wildcard so a new one is still flagged.
func suppressWildcards(f custodyFunction, reason string, appliesTo ...any) {
	cdknag.NagSuppressions_AddResourceSuppressions(f.role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String(reason),
		AppliesTo: &appliesTo,
	}}, jsii.Bool(true))
}

// objectWildcard is the cdk-nag appliesTo pattern of bucket/<prefix>*.
func objectWildcard(prefix string) any {
	return &cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<EvidenceBucket[0-9A-F]{8}\.Arn>\/` + prefix + `\*$/g`)}
}

// detectorWildcard is the cdk-nag appliesTo pattern of detector/*.
func detectorWildcard() any {
	return &cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:guardduty:(<AWS::Region>|[a-z0-9-]+|\*):(<AWS::AccountId>|[0-9]+):detector\/\*$/g`)}
}
