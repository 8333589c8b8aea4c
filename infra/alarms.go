package main

import (
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// lockChangeEvents are the CloudTrail management events that change what
// protects the evidence bucket: its policy (the denies on delete, bypass
// and retention live there) and its Object Lock default. Versioning is not
// among them: S3 refuses to suspend versioning on a bucket with Object Lock.
var lockChangeEvents = []string{"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketObjectLockConfiguration"}

// newBucketPolicyChangeRule tells the topic when anyone (the deployment
// role included: a reviewed deploy should be expected, anything else is an
// incident) changes the evidence bucket's policy or lock. EventBridge sees
// these calls only through CloudTrail: the account needs a trail that
// records management events (write) in this region. Delivery is retried and
// what EventBridge gives up on is kept in a dead-letter queue, like the
// finding rule's.
func newBucketPolicyChangeRule(stack awscdk.Stack, bucket awss3.Bucket, topic awssns.Topic) (awsevents.Rule, awssqs.Queue) {
	dlq := newDeliveryDLQ(stack, "BucketPolicyAlertDLQ",
		"This queue is itself the dead-letter queue of the bucket policy alert rule's target; a DLQ of a DLQ would only move the same undeliverable events.")
	rule := awsevents.NewRule(stack, jsii.String("BucketPolicyChangeRule"), &awsevents.RuleProps{
		Description: jsii.String("A change of the custody evidence bucket's policy or Object Lock configuration (CloudTrail management event) alerts the case topic."),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.s3"),
			DetailType: jsii.Strings("AWS API Call via CloudTrail"),
			Detail: &map[string]any{
				"eventSource":       []any{"s3.amazonaws.com"},
				"eventName":         toAny(lockChangeEvents),
				"requestParameters": map[string]any{"bucketName": []any{bucket.BucketName()}},
			},
		},
	})
	// EventBridge publishes with a role of its own: the topic is encrypted
	// with the evidence key, and the role may use the key only through SNS
	// (no grant to the events.amazonaws.com service principal on the key
	// that protects the evidence).
	publisher := awsiam.NewRole(stack, jsii.String("BucketPolicyAlertRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Description: jsii.String("custody: EventBridge publishes bucket policy alerts to the case topic"),
	})
	publisher.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sns:Publish"),
		Resources: &[]*string{topic.TopicArn()},
	}))
	publisher.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
		Resources: &[]*string{topic.MasterKey().KeyArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "sns." + *stack.Region() + ".amazonaws.com"},
		},
	}))
	rule.AddTarget(awseventstargets.NewSnsTopic(topic, &awseventstargets.SnsTopicProps{
		// The whole CloudTrail event is the message: who, from where, which
		// call, the new policy.
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(10),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
		// WithoutPolicyUpdates: the target's own grant would add Decrypt
		// and GenerateDataKey* on the key without the SNS condition above.
		Role: publisher.WithoutPolicyUpdates(nil),
	}))
	return rule, dlq
}

// newDeliveryDLQ is a dead-letter queue for an EventBridge target:
// SQS-managed encryption (EventBridge writes without a key grant; it holds
// events, not evidence), TLS only, kept 14 days (the SQS maximum: time to
// notice and replay), retained.
func newDeliveryDLQ(stack awscdk.Stack, id, nagReason string) awssqs.Queue {
	dlq := awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String(nagReason),
	}}, jsii.Bool(false))
	return dlq
}

// alarmPeriod is the window each alarm sums over; one datapoint at or over
// the threshold alarms.
var alarmPeriod = awscdk.Duration_Minutes(jsii.Number(5))

// newFailureAlarms alarm the topic when an execution of the workflow
// fails (a refused input is one: InputRejected is a Fail state, and the
// input is kept under rejected/), times out or is aborted, and when a
// delivery dead-letter queue holds a message (a finding or an alert that
// EventBridge could not deliver). No data is no failure (NOT_BREACHING):
// the metrics are only written when something happens.
func newFailureAlarms(stack awscdk.Stack, sm awsstepfunctions.StateMachine, topic awssns.Topic, dlqs map[string]awssqs.Queue) []awscloudwatch.Alarm {
	opts := &awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String("Sum")}
	var alarms []awscloudwatch.Alarm
	add := func(id, description string, metric awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			DatapointsToAlarm:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		alarms = append(alarms, a)
	}
	add("ExecutionsFailedAlarm", "custody: a workflow execution failed (refused input, Triage or Seal failure): see the execution history; a refused input is kept under rejected/.",
		sm.MetricFailed(opts))
	add("ExecutionsTimedOutAlarm", "custody: a workflow execution timed out (24 h): its run is in the bucket without a manifest.",
		sm.MetricTimedOut(opts))
	add("ExecutionsAbortedAlarm", "custody: a workflow execution was aborted (stopped by hand): its run is in the bucket without a manifest.",
		sm.MetricAborted(opts))
	for _, id := range slices.Sorted(maps.Keys(dlqs)) { // a stable template
		add(id+"Alarm", "custody: "+id+" holds an event EventBridge could not deliver: read it and replay it.",
			dlqs[id].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: alarmPeriod, Statistic: jsii.String("Maximum")}))
	}

	// CloudWatch publishes to the topic as its service principal; the
	// conditions hold it to this account's alarms in this region.
	source := &map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": *stack.Account()},
		"ArnLike":      map[string]any{"aws:SourceArn": "arn:" + *stack.Partition() + ":cloudwatch:" + *stack.Region() + ":" + *stack.Account() + ":alarm:*"},
	}
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: source,
	}))
	return alarms
}

// toAny is a string list as a JSON list value.
func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
