package main

import (
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/custody-ir/custody/shared/pivot"
)

// collector is one evidence source: a plan item whose "collector" is Name is
// routed to the Task state State, which runs the function built from
// functions/<Name>. Grant adds the source reads that collector makes, on top
// of the write-under-cases/ every collector has.
type collector struct {
	Name  string
	State string
	Grant func(s *custodyStack, f custodyFunction)
	// Env is the collector's configuration from context, if any.
	Env func(cfg Config) map[string]string
	// Reserved is the collector's reserved concurrency (0: none): a source
	// with an account-wide rate limit runs one case at a time.
	Reserved float64
	// FanOut: a source that can outgrow one invocation. The collector's
	// first answer may hand its work to shards (shared/collect, fanout.go):
	// a Map runs them, then a merge step makes the one result. Shards of a
	// Reserved collector run in a second, unreserved function of the same
	// code, so the reservation paces first invocations, not the pieces.
	FanOut bool
	// Member: the source is the finding's account's, read through the
	// member stack's collector role when that is not the hub (GuardDuty's
	// findings are the hub's own, as the delegated administrator).
	Member bool
}

// collectors is the table of evidence sources. Adding one is one line here
// plus its functions/<name> directory.
var collectors = []collector{
	{Name: "guardduty", State: "CollectGuardDuty", Grant: (*custodyStack).allowRelatedFindings},
	{Name: "inspector", Member: true, State: "CollectInspector", Grant: (*custodyStack).allowInspector},
	{Name: "ec2", Member: true, State: "CollectEC2", Grant: (*custodyStack).allowEC2,
		Env: func(cfg Config) map[string]string {
			return map[string]string{"CUSTODY_SNAPSHOT_LOCK": cfg.SnapshotLock}
		}}, // CUSTODY_SNAPSHOT_KEY_ARN: stack.go, with the key
	// LookupEvents allows 2 requests/s per account and region, shared by
	// every case: one CloudTrail collector at a time, paced in-process.
	{Name: "cloudtrail", Member: true, State: "CollectCloudTrail", Grant: (*custodyStack).allowCloudTrail, Reserved: 1, FanOut: true,
		Env: func(cfg Config) map[string]string {
			env := cfg.PivotEnv()
			env["CUSTODY_ORG_TRAIL_BUCKET"] = cfg.OrganizationTrailBucket
			return env
		}},
	{Name: "vpcflow", Member: true, State: "CollectVPCFlow", Grant: (*custodyStack).allowVPCFlow, FanOut: true},
	{Name: "s3access", Member: true, State: "CollectS3Access", Grant: (*custodyStack).allowS3Access, FanOut: true},
	{Name: "iam", Member: true, State: "CollectIAM", Grant: (*custodyStack).allowIAM},
	{Name: "dynamodb", Member: true, State: "CollectDynamoDB", Grant: (*custodyStack).allowDynamoDBStreams,
		Env: func(cfg Config) map[string]string {
			return map[string]string{"CUSTODY_DYNAMODB_TABLES": strings.Join(cfg.DynamoDBTables, ",")}
		}},
	{Name: "cloudwatch", Member: true, State: "CollectCloudWatch", Grant: (*custodyStack).allowReadLogGroups, FanOut: true,
		Env: func(cfg Config) map[string]string {
			return map[string]string{"CUSTODY_INSTANCE_LOG_GROUPS": strings.Join(cfg.InstanceLogGroups, ",")}
		}},
}

// retryErrors are the errors worth retrying: the handlers' named throttling
// and transient errors (shared/faults) and Lambda's own service failures.
var retryErrors = []string{
	"ThrottledError", "TransientError",
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
}

// withRetry gives a task the one retry policy every step uses: exponential
// backoff with full jitter (concurrent cases share API rate limits, so they
// must not retry in lockstep), capped delay, bounded attempts.
func withRetry(t awsstepfunctionstasks.LambdaInvoke) awsstepfunctionstasks.LambdaInvoke {
	t.AddRetry(&awsstepfunctions.RetryProps{
		Errors:         jsii.Strings(retryErrors...),
		Interval:       awscdk.Duration_Seconds(jsii.Number(2)),
		BackoffRate:    jsii.Number(2),
		MaxAttempts:    jsii.Number(5),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
		MaxDelay:       awscdk.Duration_Seconds(jsii.Number(60)),
	})
	return t
}

// queueRetry is the first Retry of a task on a function with reserved
// concurrency: in a burst of cases (200 findings at once) the invocations
// past the reservation are refused with TooManyRequestsException and must
// wait their turn, for longer than the common policy's five attempts
// (about 30 s): up to an hour, so a case queues rather than seals
// without the source.
func queueRetry(t awsstepfunctionstasks.LambdaInvoke) {
	t.AddRetry(&awsstepfunctions.RetryProps{
		Errors:         jsii.Strings("Lambda.TooManyRequestsException"),
		Interval:       awscdk.Duration_Seconds(jsii.Number(5)),
		BackoffRate:    jsii.Number(1.5),
		MaxAttempts:    jsii.Number(queueAttempts),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
		MaxDelay:       awscdk.Duration_Minutes(jsii.Number(5)),
	})
}

// queueAttempts bounds queueRetry: 5 s growing by 1.5 to 5 min, 16 attempts
// wait up to about an hour.
const queueAttempts = 16

// invoke is a LambdaInvoke whose Resource is the function ARN itself
// (PayloadResponseOnly), so the handler's return value is the state output
// and a local runner can resolve the Task by its state name.
func (s *custodyStack) invoke(state string, f custodyFunction, payload awsstepfunctions.TaskInput) awsstepfunctionstasks.LambdaInvoke {
	return s.invokeInto(state, f, payload, "")
}

// invokeInto is invoke with the result put at resultPath in the state
// ("" replaces the state with it).
func (s *custodyStack) invokeInto(state string, f custodyFunction, payload awsstepfunctions.TaskInput, resultPath string) awsstepfunctionstasks.LambdaInvoke {
	props := &awsstepfunctionstasks.LambdaInvokeProps{
		StateName:           jsii.String(state),
		LambdaFunction:      f.fn,
		PayloadResponseOnly: jsii.Bool(true),
		Payload:             payload,
		// Our own Retry (above) names these errors with jitter; CDK's default
		// would add a second, jitterless one.
		RetryOnServiceExceptions: jsii.Bool(false),
		// The task waits as long as the function may run, no less: a Task
		// without TimeoutSeconds is timed out by some interpreters at 60 s.
		TaskTimeout: awsstepfunctions.Timeout_Duration(f.timeout),
	}
	if resultPath != "" {
		props.ResultPath = jsii.String(resultPath)
	}
	t := awsstepfunctionstasks.NewLambdaInvoke(s.stack, jsii.String(state), props)
	if f.reserved {
		queueRetry(t) // evaluated first: Step Functions takes the first Retry that matches
	}
	return withRetry(t)
}

// shardConcurrency bounds one collector's shards running at once (inside
// the Collect Map's four collectors).
const shardConcurrency = 8

// fanOut is a FanOut collector's states: its first invocation (result at
// $.result); when that answer names shards, a Map of them and the merge
// step, whose result is the collector's; otherwise the answer itself.
// A failed first invocation or merge is CollectorFailed; a failed shard is
// an entry the merge reads (the collector fails, naming it, and the run
// seals as partial with what the other shards wrote).
func (s *custodyStack) fanOut(c collector, fn, shardFn custodyFunction, failed awsstepfunctions.IChainable) awsstepfunctions.IChainable {
	st := s.stack
	sp := func(id string) *string { return jsii.String(id) }
	catch := &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.error")}

	first := s.invokeInto(c.State, fn, nil, "$.result")
	first.AddCatch(failed, catch)

	shard := s.invoke(c.State+"Shard", shardFn, nil)
	shard.AddCatch(awsstepfunctions.NewPass(st, sp(c.State+"ShardFailed"), &awsstepfunctions.PassProps{
		StateName: sp(c.State + "ShardFailed"),
		Parameters: &map[string]any{
			"collector.$": "$.item.collector",
			"shard.$":     "$.shard",
			"status":      "failed",
			"error.$":     "$.error",
		},
	}), catch)
	shards := awsstepfunctions.NewMap(st, sp(c.State+"Shards"), &awsstepfunctions.MapProps{
		StateName: sp(c.State + "Shards"),
		ItemsPath: sp("$.result.shards"),
		ItemSelector: &map[string]any{
			"incident.$": "$.incident",
			"item.$":     "$.item",
			"shard.$":    "$$.Map.Item.Value",
		},
		MaxConcurrency: jsii.Number(shardConcurrency),
		ResultPath:     sp("$.shardResults"),
	})
	shards.ItemProcessor(shard, nil)

	merge := s.invoke(c.State+"Merge", fn, awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"incident.$": "$.incident",
		"item.$":     "$.item",
		"merge":      map[string]any{"shards.$": "$.shardResults"},
	}))
	merge.AddCatch(failed, catch)

	done := awsstepfunctions.NewPass(st, sp(c.State+"Collected"), &awsstepfunctions.PassProps{
		StateName: sp(c.State + "Collected"), OutputPath: sp("$.result"),
	})
	fannedOut := awsstepfunctions.NewChoice(st, sp(c.State+"FannedOut"), &awsstepfunctions.ChoiceProps{StateName: sp(c.State + "FannedOut?")})
	fannedOut.When(awsstepfunctions.Condition_IsPresent(sp("$.result.shards[0]")), shards.Next(merge), nil)
	fannedOut.Otherwise(done)
	return first.Next(fannedOut)
}

// newStateMachine is Triage -> AlreadyCollected? -> Collect (Map over the
// plan) -> Seal. State names are part of the contract with the local runner.
//
// contain, when containment is on, runs after a successful Seal only
// (containStates); nil leaves the definition as it is without it.
func (s *custodyStack) newStateMachine(triage, seal custodyFunction, collectorFns, shardFns map[string]custodyFunction, contain *custodyFunction) awsstepfunctions.StateMachine {
	st := s.stack
	sp := func(id string) *string { return jsii.String(id) }

	// Triage gets the execution's ID beside its input: a retry of this
	// execution must not be mistaken for a second delivery of the finding.
	triageTask := s.invoke("Triage", triage, awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"input.$":     "$",
		"execution.$": "$$.Execution.Id",
	}))
	inputRejected := awsstepfunctions.NewFail(st, sp("InputRejected"), &awsstepfunctions.FailProps{
		StateName: sp("InputRejected"),
		Error:     sp("InvalidInputError"),
		CausePath: sp("$.Cause"),
	})
	triageFailed := awsstepfunctions.NewFail(st, sp("TriageFailed"), &awsstepfunctions.FailProps{
		StateName: sp("TriageFailed"),
		Comment:   sp("Triage failed for a reason other than the input; the error is in the execution history."),
	})
	triageTask.AddCatch(inputRejected, &awsstepfunctions.CatchProps{Errors: jsii.Strings("InvalidInputError")})
	triageTask.AddCatch(triageFailed, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL")})

	// One failure state for every collector: the run still seals, as partial,
	// with the error in the collector's result.
	collectorFailed := awsstepfunctions.NewPass(st, sp("CollectorFailed"), &awsstepfunctions.PassProps{
		StateName: sp("CollectorFailed"),
		Parameters: &map[string]any{
			"collector.$": "$.item.collector",
			"status":      "failed",
			"error.$":     "$.error",
		},
	})
	unknown := awsstepfunctions.NewPass(st, sp("UnknownCollector"), &awsstepfunctions.PassProps{
		StateName: sp("UnknownCollector"),
		Parameters: &map[string]any{
			"collector.$": "$.item.collector",
			"status":      "skipped",
		},
	})
	route := awsstepfunctions.NewChoice(st, sp("Route"), &awsstepfunctions.ChoiceProps{StateName: sp("Route")})
	for _, c := range collectors {
		var task awsstepfunctions.IChainable
		if c.FanOut {
			task = s.fanOut(c, collectorFns[c.Name], shardFns[c.Name], collectorFailed)
		} else {
			t := s.invoke(c.State, collectorFns[c.Name], nil)
			t.AddCatch(collectorFailed, &awsstepfunctions.CatchProps{
				Errors:     jsii.Strings("States.ALL"),
				ResultPath: sp("$.error"),
			})
			task = t
		}
		route.When(awsstepfunctions.Condition_StringEquals(sp("$.item.collector"), sp(c.Name)), task, nil)
	}
	route.Otherwise(unknown)

	collect := awsstepfunctions.NewMap(st, sp("Collect"), &awsstepfunctions.MapProps{
		StateName: sp("Collect"),
		ItemsPath: sp("$.incident.plan"),
		ItemSelector: &map[string]any{
			"incident.$": "$.incident",
			"item.$":     "$$.Map.Item.Value",
		},
		// Collectors share per-account API limits (LookupEvents: 2/s), so a
		// case runs a few at a time rather than all at once.
		MaxConcurrency: jsii.Number(4),
		ResultPath:     sp("$.results"),
	})
	collect.ItemProcessor(route, nil)

	// The second pass: after the Map, the DynamoDB streams of the tables
	// the CloudTrail extract names (Triage lists it when CloudTrail runs).
	secondTask := s.invokeInto("CollectDynamoDBFromCloudTrail", collectorFns["dynamodb"], awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"incident.$": "$.incident",
		"item.$":     "$.incident.secondPass[0]",
	}), "$.secondPass")
	// A failed second pass is a failed collector like any other: the run
	// goes on to Seal and seals partial (a Pass with no Next would end the
	// execution SUCCEEDED with no manifest).
	secondFailed := awsstepfunctions.NewPass(st, sp("SecondPassFailed"), &awsstepfunctions.PassProps{
		StateName:  sp("SecondPassFailed"),
		Parameters: &map[string]any{"collector.$": "$.incident.secondPass[0].collector", "status": "failed", "error.$": "$.secondPass"},
		ResultPath: sp("$.secondPass"),
	})
	secondTask.AddCatch(secondFailed, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.secondPass")})
	noSecond := awsstepfunctions.NewPass(st, sp("NoSecondPass"), &awsstepfunctions.PassProps{
		StateName: sp("NoSecondPass"), Result: awsstepfunctions.Result_FromObject(&map[string]any{}),
		ResultPath: sp("$.secondPass"),
	})
	secondPass := awsstepfunctions.NewChoice(st, sp("SecondPass"), &awsstepfunctions.ChoiceProps{StateName: sp("SecondPass?")})

	sealInput := awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"incident.$":   "$.incident",
		"results.$":    "$.results",
		"secondPass.$": "$.secondPass",
		"pivot.$":      "$.pivot.state",
	})
	// With containment on, Seal's answer goes beside the incident, which
	// Contain reads; off, it replaces the state as it always has.
	sealResult := ""
	if contain != nil {
		sealResult = "$.sealed"
	}
	sealTask := s.invokeInto("Seal", seal, sealInput, sealResult)
	sealTask.AddCatch(awsstepfunctions.NewFail(st, sp("SealFailed"), &awsstepfunctions.FailProps{
		StateName: sp("SealFailed"),
		Comment:   sp("The run could not be sealed; its evidence is in the bucket without a manifest."),
	}), &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL")})

	already := awsstepfunctions.NewChoice(st, sp("AlreadyCollected"), &awsstepfunctions.ChoiceProps{StateName: sp("AlreadyCollected?")})
	already.When(awsstepfunctions.Condition_BooleanEquals(sp("$.duplicate"), jsii.Bool(true)),
		awsstepfunctions.NewSucceed(st, sp("Duplicate"), &awsstepfunctions.SucceedProps{StateName: sp("Duplicate")}), nil)
	sealed := awsstepfunctions.NewSucceed(st, sp("Sealed"), &awsstepfunctions.SucceedProps{StateName: sp("Sealed")})
	if contain != nil {
		sealTask.Next(s.containStates(s.cfg, *contain, sealed))
	} else {
		sealTask.Next(sealed)
	}
	secondTask.Next(sealTask)
	secondFailed.Next(sealTask)
	noSecond.Next(sealTask)
	secondPass.When(awsstepfunctions.Condition_IsPresent(sp("$.incident.secondPass[0]")), secondTask, nil)
	secondPass.Otherwise(noSecond)
	already.Otherwise(collect.Next(s.pivotLoop(collectorFns["cloudtrail"], shardFns["cloudtrail"], collectorFns["iam"], collectorFns["s3access"], secondPass)))

	definition := awsstepfunctions.Chain_Start(triageTask).Next(already)

	logGroup := newLogGroup(st, "WorkflowLogs", s.cfg, s.key)
	sm := awsstepfunctions.NewStateMachine(st, sp("Workflow"), &awsstepfunctions.StateMachineProps{
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromChainable(definition),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		TracingEnabled:   jsii.Bool(true),
		// Bounds a stuck run: collectors are 15 min each with retries, four
		// at a time over a plan of about ten; a fanned-out source runs its
		// shards 8 at a time, 15 min each (collect.MaxShards 200: ~6 h at
		// worst). The history's 25,000 events bound the shards too:
		// history_test.go computes the worst case from this definition.
		Timeout: s.executionTimeout(),
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logGroup,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(true),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(sm, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("IAM allows the workflow role (CDK's grants) lambda:InvokeFunction on custody's own functions and their versions (<function>:*), " +
			"and the CloudWatch Logs delivery and X-Ray actions on * (they have no resource-level permissions)."),
		AppliesTo: &[]any{
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<[A-Za-z0-9]+\.Arn>:\*$/g`)},
			jsii.String("Resource::*"),
		},
	}}, jsii.Bool(true))
	return sm
}

// executionTimeout is a day of collection, plus the approval wait when a
// containment class waits for approval: a plan still waiting must time
// out (and be recorded as rejected) before the execution does.
func (s *custodyStack) executionTimeout() awscdk.Duration {
	d := 24 * time.Hour
	if s.cfg.ApprovalOn() {
		wait, _ := s.cfg.ApprovalWait()
		d += wait + time.Hour
	}
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// pivotLoop is the pivot pass (functions/cloudtrail/pivot.go): after the
// Collect Map, PivotDerive reads the run's CloudTrail extracts and derives
// the identities the case's identities made; while some are not followed
// yet, PivotCollect runs the CloudTrail collector once more as the next
// pass (its first invocation, shards and merge, as in Collect), scoped to
// them, and PivotDerive derives again. The function bounds the loop
// (custody:pivotDepth passes at most). A failed pass is a failed
// collector that PivotDerive records; a failed PivotDerive is one too
// (PivotFailed): either way the run goes on to next and seals partial.
//
// When the loop is done, PivotPrincipals runs, for each item PivotDerive
// lists in $.pivot.state.then, the IAM collector (iamFn) over the
// principals the chain derived in one account (functions/iam/pivot.go) or
// the S3 access-log collector (s3Fn) over the buckets the derived
// identities used there (functions/s3access/pivot.go), into
// $.pivot.state.principals, which Seal lists; a failed one is a failed
// collector there.
func (s *custodyStack) pivotLoop(fn, shardFn, iamFn, s3Fn custodyFunction, next awsstepfunctions.IChainable) awsstepfunctions.IChainable {
	st := s.stack
	sp := func(id string) *string { return jsii.String(id) }
	start := awsstepfunctions.NewPass(st, sp("PivotStart"), &awsstepfunctions.PassProps{
		StateName: sp("PivotStart"),
		Result: awsstepfunctions.Result_FromObject(&map[string]any{
			"state": map[string]any{"pass": 0, "items": []any{}, "results": []any{}},
			"last":  []any{},
		}),
		ResultPath: sp("$.pivot"),
	})
	derive := s.invokeInto("PivotDerive", fn, awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"incident.$": "$.incident",
		"pivot.$":    "$.pivot.state",
		"last.$":     "$.pivot.last",
	}), "$.pivot")
	failed := awsstepfunctions.NewPass(st, sp("PivotFailed"), &awsstepfunctions.PassProps{
		StateName: sp("PivotFailed"),
		Parameters: &map[string]any{"state": map[string]any{
			"done":   true,
			"failed": map[string]any{"collector": "cloudtrail-pivot", "status": "failed", "error.$": "$.pivotError"},
		}},
		ResultPath: sp("$.pivot"),
	})
	derive.AddCatch(failed, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.pivotError")})
	failed.Next(next)

	// One pass: a Map over the one plan item PivotDerive asked for, so the
	// collector's fan-out states see the state shape they do in Collect.
	passFailed := awsstepfunctions.NewPass(st, sp("PivotCollectorFailed"), &awsstepfunctions.PassProps{
		StateName: sp("PivotCollectorFailed"),
		Parameters: &map[string]any{
			"collector.$": "$.item.collector",
			"status":      "failed",
			"error.$":     "$.error",
		},
	})
	pass := awsstepfunctions.NewMap(st, sp("PivotCollect"), &awsstepfunctions.MapProps{
		StateName: sp("PivotCollect"),
		ItemsPath: sp("$.pivot.state.items"),
		ItemSelector: &map[string]any{
			"incident.$": "$.incident",
			"item.$":     "$$.Map.Item.Value",
		},
		MaxConcurrency: jsii.Number(1),
		ResultPath:     sp("$.pivot.last"),
	})
	pass.ItemProcessor(s.fanOut(collector{Name: "cloudtrail", State: "CollectCloudTrailPivot"}, fn, shardFn, passFailed), nil)
	pass.Next(derive)

	principalFailed := awsstepfunctions.NewPass(st, sp("PivotPrincipalsFailed"), &awsstepfunctions.PassProps{
		StateName: sp("PivotPrincipalsFailed"),
		Parameters: &map[string]any{
			"collector.$": "$.item.collector",
			"status":      "failed",
			"error.$":     "$.error",
		},
	})
	principal := s.invoke("CollectIAMPivot", iamFn, nil)
	principal.AddCatch(principalFailed, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.error")})
	access := s.invoke("CollectS3AccessPivot", s3Fn, nil)
	access.AddCatch(principalFailed, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.error")})
	route := awsstepfunctions.NewChoice(st, sp("PivotRoute"), &awsstepfunctions.ChoiceProps{StateName: sp("PivotRoute")})
	route.When(awsstepfunctions.Condition_StringMatches(sp("$.item.collector"), sp(pivot.PrincipalsCollectorPrefix+"*")), principal, nil)
	route.When(awsstepfunctions.Condition_StringMatches(sp("$.item.collector"), sp(pivot.S3AccessCollectorPrefix+"*")), access, nil)
	route.Otherwise(awsstepfunctions.NewPass(st, sp("PivotUnknownCollector"), &awsstepfunctions.PassProps{
		StateName:  sp("PivotUnknownCollector"),
		Parameters: &map[string]any{"collector.$": "$.item.collector", "status": "skipped"},
	}))
	principals := awsstepfunctions.NewMap(st, sp("PivotPrincipals"), &awsstepfunctions.MapProps{
		StateName: sp("PivotPrincipals"),
		ItemsPath: sp("$.pivot.state.then"),
		ItemSelector: &map[string]any{
			"incident.$": "$.incident",
			"item.$":     "$$.Map.Item.Value",
		},
		MaxConcurrency: jsii.Number(4),
		ResultPath:     sp("$.pivot.state.principals"),
	})
	principals.ItemProcessor(route, nil)
	principals.Next(next)
	then := awsstepfunctions.NewChoice(st, sp("PivotThen"), &awsstepfunctions.ChoiceProps{StateName: sp("PivotThen?")})
	then.When(awsstepfunctions.Condition_IsPresent(sp("$.pivot.state.then[0]")), principals, nil)
	then.Otherwise(next)

	more := awsstepfunctions.NewChoice(st, sp("PivotMore"), &awsstepfunctions.ChoiceProps{StateName: sp("PivotMore?")})
	more.When(awsstepfunctions.Condition_IsPresent(sp("$.pivot.state.items[0]")), pass, nil)
	more.Otherwise(then)
	return start.Next(derive).Next(more)
}
