package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"
)

// newFindingRule sends every GuardDuty finding at or above the threshold (and
// through the type filters) to the state machine, the whole event as input,
// with a dead-letter queue so a delivery EventBridge gives up on is kept.
func newFindingRule(stack awscdk.Stack, cfg Config, sm awsstepfunctions.StateMachine) (awsevents.Rule, awssqs.Queue) {
	dlq := newDeliveryDLQ(stack, "FindingDeliveryDLQ",
		"This queue is itself the dead-letter queue of the finding rule's target; a DLQ of a DLQ would only move the same undeliverable events.")

	rule := awsevents.NewRule(stack, jsii.String("FindingRule"), &awsevents.RuleProps{
		Description:  jsii.String("GuardDuty findings at or above the custody severity threshold start an evidence collection."),
		EventPattern: findingPattern(cfg),
	})
	rule.AddTarget(awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
		// No Input: the whole event is the execution input; Triage accepts
		// the EventBridge envelope as one of its forms.
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(10),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
	}))
	return rule, dlq
}

// findingPattern matches the GuardDuty findings custody answers: at or
// above the threshold, through the type filters. The hub's rule and every
// forwarder's use it, so a forwarded finding is one the hub answers.
func findingPattern(cfg Config) *awsevents.EventPattern {
	detail := map[string]any{
		"severity": []any{map[string]any{"numeric": []any{">=", cfg.SeverityThreshold}}},
	}
	types, err := typePattern(cfg.FindingTypeInclude, cfg.FindingTypeExclude)
	if err != nil {
		panic(err) // Config.Validate already refused this; kept for direct callers
	}
	if types != nil {
		detail["type"] = types
	}
	return &awsevents.EventPattern{
		Source:     jsii.Strings("aws.guardduty"),
		DetailType: jsii.Strings("GuardDuty Finding"),
		Detail:     &detail,
	}
}

// typePattern builds the detail.type matcher list from include and exclude
// prefixes, or nil when there is no filter.
//
// EventBridge ORs the matchers listed for one field and has no AND within a
// field, so "starts with A but not with A:B" cannot be written. What can be
// written is built: includes alone as prefix matchers; excludes alone as one
// anything-but (a single prefix, or a wildcard list for several, since
// anything-but takes a list of wildcards); both together by dropping the
// includes that an exclude covers. An exclude narrower than an include is
// refused with an error rather than silently ignored.
func typePattern(include, exclude []string) ([]any, error) {
	switch {
	case len(include) == 0 && len(exclude) == 0:
		return nil, nil
	case len(include) == 0:
		if len(exclude) == 1 {
			return []any{map[string]any{"anything-but": map[string]any{"prefix": exclude[0]}}}, nil
		}
		wild := make([]any, 0, len(exclude))
		for _, e := range exclude {
			wild = append(wild, wildcardEscape(e)+"*")
		}
		return []any{map[string]any{"anything-but": map[string]any{"wildcard": wild}}}, nil
	}
	var kept []any
	for _, p := range include {
		covered := false
		for _, e := range exclude {
			if strings.HasPrefix(p, e) {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, map[string]any{"prefix": p})
		}
	}
	for _, e := range exclude {
		for _, p := range include {
			if strings.HasPrefix(e, p) && !strings.HasPrefix(p, e) {
				return nil, fmt.Errorf("context %s: %q narrows include prefix %q (from %s): EventBridge cannot AND two matchers on detail.type; "+
					"list the included types more precisely instead", CtxFindingTypeExclude, e, p, CtxFindingTypeInclude)
			}
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("context %s excludes every prefix in %s: the rule would never fire", CtxFindingTypeExclude, CtxFindingTypeInclude)
	}
	return kept, nil
}

// wildcardEscape escapes the characters EventBridge's wildcard matcher treats
// specially, so a finding-type prefix is matched literally.
func wildcardEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(s)
}
