package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ForwarderStackName is the forwarder stack of one region.
func ForwarderStackName(region string) string { return "CustodyForwarder-" + region }

// NewForwarderStack is the stack of one region other than the hub's, in
// the hub account: GuardDuty's findings are regional, and the delegated
// administrator receives every member's findings of a region on that
// region's default bus. One rule, with the hub's own pattern (threshold and
// type filters), sends them to the hub region's default bus (an
// EventBridge cross-region target, with its role and a dead-letter queue
// here). The hub reads the finding's account and region from detail, not
// from the envelope a forward rewrites; a finding that also reaches the
// hub another way is one case (Triage's run marker).
func NewForwarderStack(scope constructs.Construct, region, hubAccount, hubRegion string, cfg Config, props *awscdk.StackProps) awscdk.Stack {
	sp := awscdk.StackProps{}
	if props != nil {
		sp = *props
	}
	sp.Env = &awscdk.Environment{Account: jsii.String(hubAccount), Region: jsii.String(region)}
	if sp.Description == nil {
		sp.Description = jsii.String("custody forwarder: this region's GuardDuty findings to the custody hub in " + hubRegion)
	}
	stack := awscdk.NewStack(scope, jsii.String(ForwarderStackName(region)), &sp)
	hubBus := awsevents.EventBus_FromEventBusArn(stack, jsii.String("HubBus"),
		jsii.String("arn:"+*stack.Partition()+":events:"+hubRegion+":"+hubAccount+":event-bus/default"))
	dlq := newDeliveryDLQ(stack, "ForwardDLQ",
		"This queue is itself the dead-letter queue of the forward rule's target; a DLQ of a DLQ would only move the same undeliverable events.")
	rule := awsevents.NewRule(stack, jsii.String("ForwardRule"), &awsevents.RuleProps{
		Description:  jsii.String("GuardDuty findings of this region at or above the custody threshold, to the custody hub's event bus in " + hubRegion),
		EventPattern: findingPattern(cfg),
	})
	rule.AddTarget(awseventstargets.NewEventBus(hubBus, &awseventstargets.EventBusProps{DeadLetterQueue: dlq}))
	return stack
}
