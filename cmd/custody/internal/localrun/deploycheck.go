package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

// DeployCheck deploys the real app into a fresh emulator with cdk bootstrap
// and cdk deploy, checks that what the stack promises exists and is wired
// (functions, state machine naming them, the finding rule and its target,
// the bucket policy alert rule and its target, key, topic, alarms), then
// runs cdk destroy. It returns one line per check passed.
func DeployCheck(ctx context.Context, root string, log io.Writer) error {
	step := func(format string, args ...any) { fmt.Fprintf(log, "==> "+format+"\n", args...) }
	work, err := os.MkdirTemp("", "custody-deploy-*")
	if err != nil {
		return exitErr(ExitSetup, "%v", err)
	}
	defer os.RemoveAll(work)
	emu, err := emulator.Start()
	if err != nil {
		return exitErr(ExitSetup, "%v", err)
	}
	defer emu.Stop()
	cfg, err := emu.Config(ctx)
	if err != nil {
		return exitErr(ExitSetup, "%v", err)
	}
	toolLog, err := os.Create(filepath.Join(work, "cdk.log"))
	if err != nil {
		return exitErr(ExitSetup, "%v", err)
	}
	defer toolLog.Close()
	outDir := filepath.Join(work, "cdk.out")
	dep, err := DeployStack(ctx, root, emu, cfg, outDir, toolLog, step, nil)
	if err != nil {
		return exitErr(ExitSetup, "%v\n%s", err, tail(toolLog.Name(), 40))
	}
	checks := []struct {
		name string
		fn   func(context.Context, aws.Config, *Deployment) (string, error)
	}{
		{"functions", checkFunctions},
		{"state machine", checkStateMachine},
		{"rule", checkRule},
		{"alert rule", checkAlertRule},
		{"key", checkKey},
		{"topic", checkTopic},
		{"seal key", checkSealKey},
		{"alarms", checkAlarms},
	}
	failed := 0
	for _, c := range checks {
		msg, err := c.fn(ctx, cfg, dep)
		if err != nil {
			failed++
			fmt.Fprintf(log, "FAIL %s: %v\n", c.name, err)
			continue
		}
		fmt.Fprintf(log, "ok   %s: %s\n", c.name, msg)
	}
	step("cdk destroy %s", StackName)
	cdk := CDK{Root: root, Env: emu.Env(), Log: toolLog, OutDir: outDir, FunctionsDir: filepath.Join(work, "assets")}
	if err := cdk.Destroy(ctx); err != nil {
		failed++
		fmt.Fprintf(log, "FAIL destroy: %v\n%s", err, tail(toolLog.Name(), 20))
	} else if err := stackGone(ctx, cfg); err != nil {
		failed++
		fmt.Fprintf(log, "FAIL destroy: %v\n", err)
	} else {
		fmt.Fprintf(log, "ok   destroy: the stack is gone\n")
	}
	if failed > 0 {
		return exitErr(ExitFailed, "deploy check: %d check(s) failed", failed)
	}
	return nil
}

// stackGone checks that the stack no longer stands.
func stackGone(ctx context.Context, cfg aws.Config) error {
	out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(StackName)})
	if err != nil {
		return nil // CloudFormation no longer knows the stack
	}
	for _, st := range out.Stacks {
		if st.StackStatus != cftypes.StackStatusDeleteComplete {
			return fmt.Errorf("stack %s is %s after cdk destroy", StackName, st.StackStatus)
		}
	}
	return nil
}

// evidenceKeys are the template's evidence keys (EvidenceKey*): the stack
// holds others (the seal key, the snapshot key).
func evidenceKeys(t *Template) []string {
	var ids []string
	for _, id := range t.OfType("AWS::KMS::Key") {
		if strings.HasPrefix(id, "EvidenceKey") {
			ids = append(ids, id)
		}
	}
	return ids
}

func firstOf(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// wantFunctions are the custody functions the stack deploys.
var wantFunctions = []string{"triage", "guardduty", "seal"}

// customFunctions maps each deployed custody function's ARN to its code's
// name (CUSTODY_FUNCTION): a name may have two functions (a fan-out
// collector's unreserved shard function).
func customFunctions(ctx context.Context, cfg aws.Config, dep *Deployment) (map[string]string, error) {
	lc := lambda.NewFromConfig(cfg)
	byARN := map[string]string{}
	for _, id := range dep.Template.OfType("AWS::Lambda::Function") {
		conf, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(dep.Template.Physical[id])})
		if err != nil {
			return nil, fmt.Errorf("function %s (%s): %w", id, dep.Template.Physical[id], err)
		}
		if conf.Environment != nil {
			if n := conf.Environment.Variables["CUSTODY_FUNCTION"]; n != "" {
				byARN[aws.ToString(conf.FunctionArn)] = n
			}
		}
	}
	return byARN, nil
}

// arnOf returns the ARN of a function whose code is name.
func arnOf(fns map[string]string, name string) string {
	for arn, n := range fns {
		if n == name {
			return arn
		}
	}
	return ""
}

func checkFunctions(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	fns, err := customFunctions(ctx, cfg, dep)
	if err != nil {
		return "", err
	}
	names := map[string]bool{}
	for _, n := range fns {
		names[n] = true
	}
	for _, n := range wantFunctions {
		if !names[n] {
			return "", fmt.Errorf("function %s is not deployed (have %v)", n, fns)
		}
	}
	return fmt.Sprintf("%d custody functions deployed (%d steps)", len(fns), len(names)), nil
}

func checkStateMachine(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	arn, err := dep.Output("StateMachineArn")
	if err != nil {
		return "", err
	}
	def, err := deployedDefinition(ctx, cfg, arn)
	if err != nil {
		return "", err
	}
	fns, err := customFunctions(ctx, cfg, dep)
	if err != nil {
		return "", err
	}
	deployed := map[string]bool{}
	for a := range fns {
		deployed[a] = true
	}
	var parsed struct {
		States map[string]json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal(def, &parsed); err != nil {
		return "", err
	}
	resources := taskResources(def)
	if len(resources) == 0 {
		return "", fmt.Errorf("the definition has no Task state")
	}
	for state, res := range resources {
		if !deployed[res] {
			return "", fmt.Errorf("task state %s runs %s, which is not a deployed custody function", state, res)
		}
	}
	for _, s := range []string{"Triage", "Collect", "Seal"} {
		if _, ok := parsed.States[s]; !ok {
			return "", fmt.Errorf("state %s is missing", s)
		}
	}
	return fmt.Sprintf("%d Task states, each naming a deployed function", len(resources)), nil
}

// taskResources maps every Task state, at any depth, to its Resource.
func taskResources(def []byte) map[string]string {
	out := map[string]string{}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for name, v := range states {
			st, _ := v.(map[string]any)
			if st["Type"] == "Task" {
				r, _ := st["Resource"].(string)
				out[name] = r
			}
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if p, ok := st[k].(map[string]any); ok {
					sub, _ := p["States"].(map[string]any)
					walk(sub)
				}
			}
			if br, ok := st["Branches"].([]any); ok {
				for _, b := range br {
					bm, _ := b.(map[string]any)
					sub, _ := bm["States"].(map[string]any)
					walk(sub)
				}
			}
		}
	}
	var top map[string]any
	if json.Unmarshal(def, &top) == nil {
		states, _ := top["States"].(map[string]any)
		walk(states)
	}
	return out
}

// logicalID returns the one resource of typ whose logical ID starts with
// prefix (CDK appends a hash to the construct's ID).
func logicalID(t *Template, typ, prefix string) (string, error) {
	var found []string
	for _, id := range t.OfType(typ) {
		if strings.HasPrefix(id, prefix) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("want one %s %s* in the template, have %v", typ, prefix, found)
	}
	return found[0], nil
}

// deployedRule describes the deployed rule whose logical ID starts with
// prefix.
func deployedRule(ctx context.Context, cfg aws.Config, dep *Deployment, prefix string) (string, *eventbridge.DescribeRuleOutput, *eventbridge.Client, error) {
	id, err := logicalID(dep.Template, "AWS::Events::Rule", prefix)
	if err != nil {
		return "", nil, nil, err
	}
	name := dep.Template.Physical[id]
	eb := eventbridge.NewFromConfig(cfg)
	r, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
	if err != nil {
		return "", nil, nil, fmt.Errorf("rule %s: %w", name, err)
	}
	return name, r, eb, nil
}

func checkRule(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	name, r, eb, err := deployedRule(ctx, cfg, dep, "FindingRule")
	if err != nil {
		return "", err
	}
	var pattern struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Detail     struct {
			Severity []any `json:"severity"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(r.EventPattern)), &pattern); err != nil {
		return "", fmt.Errorf("rule pattern: %w", err)
	}
	if len(pattern.Source) != 1 || pattern.Source[0] != "aws.guardduty" || len(pattern.DetailType) != 1 || pattern.DetailType[0] != "GuardDuty Finding" || len(pattern.Detail.Severity) == 0 {
		return "", fmt.Errorf("rule pattern is not the GuardDuty finding pattern: %s", aws.ToString(r.EventPattern))
	}
	t, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
	if err != nil {
		return "", err
	}
	sm, _ := dep.Output("StateMachineArn")
	for _, tg := range t.Targets {
		if aws.ToString(tg.Arn) == sm {
			dlq := "no dead-letter queue"
			if tg.DeadLetterConfig != nil && tg.DeadLetterConfig.Arn != nil {
				dlq = "dead-letter queue " + aws.ToString(tg.DeadLetterConfig.Arn)
			}
			return fmt.Sprintf("%s matches GuardDuty findings and targets the state machine (%s)", name, dlq), nil
		}
	}
	return "", fmt.Errorf("rule %s does not target the state machine %s", name, sm)
}

// checkAlertRule checks the rule that alerts the topic when the evidence
// bucket's policy or lock changes: its pattern names the deployed bucket
// and the three calls, and its target is the topic, with a dead-letter
// queue and the publishing role. (EventBridge in the emulator receives no
// CloudTrail events, so the alert itself is not fired here.)
func checkAlertRule(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	name, r, eb, err := deployedRule(ctx, cfg, dep, "BucketPolicyChangeRule")
	if err != nil {
		return "", err
	}
	var pattern struct {
		Source []string `json:"source"`
		Detail struct {
			EventName         []string `json:"eventName"`
			RequestParameters struct {
				BucketName []string `json:"bucketName"`
			} `json:"requestParameters"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(r.EventPattern)), &pattern); err != nil {
		return "", fmt.Errorf("rule pattern: %w", err)
	}
	bucket, err := dep.Output("EvidenceBucketName")
	if err != nil {
		return "", err
	}
	want := []string{"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketObjectLockConfiguration"}
	if len(pattern.Source) != 1 || pattern.Source[0] != "aws.s3" || !slices.Equal(pattern.Detail.EventName, want) ||
		!slices.Equal(pattern.Detail.RequestParameters.BucketName, []string{bucket}) {
		return "", fmt.Errorf("rule %s pattern is not the evidence bucket's %v: %s", name, want, aws.ToString(r.EventPattern))
	}
	t, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
	if err != nil {
		return "", err
	}
	topic, err := dep.Output("CaseTopicArn")
	if err != nil {
		return "", err
	}
	for _, tg := range t.Targets {
		if aws.ToString(tg.Arn) != topic {
			continue
		}
		if tg.DeadLetterConfig == nil || aws.ToString(tg.DeadLetterConfig.Arn) == "" || aws.ToString(tg.RoleArn) == "" {
			return "", fmt.Errorf("rule %s targets the topic without a dead-letter queue or a role: %+v", name, tg)
		}
		return fmt.Sprintf("%s matches %s of bucket %s and targets the topic (dead-letter queue %s)",
			name, strings.Join(want, "/"), bucket, aws.ToString(tg.DeadLetterConfig.Arn)), nil
	}
	return "", fmt.Errorf("rule %s does not target the topic %s", name, topic)
}

// checkAlarms checks the failure alarms against the deployment. moto's
// CloudFormation has no AWS::CloudWatch::Alarm (it drops them, as it drops
// the bucket policy), so each alarm of the template is resolved against
// the deployed resources instead: its metric must name the deployed state
// machine or a deployed queue, and its action the deployed topic. That
// proves the wiring; the alarms themselves are asserted on the template
// (infra tests), and that CloudWatch fires them is AWS's part.
func checkAlarms(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	ids := dep.Template.OfType("AWS::CloudWatch::Alarm")
	if len(ids) == 0 {
		return "", fmt.Errorf("the template has no alarm")
	}
	topic, err := dep.Output("CaseTopicArn")
	if err != nil {
		return "", err
	}
	sm, err := dep.Output("StateMachineArn")
	if err != nil {
		return "", err
	}
	queues := map[string]bool{}
	for _, q := range dep.Template.OfType("AWS::SQS::Queue") {
		if u := dep.Template.Physical[q]; u != "" {
			queues[u[strings.LastIndexByte(u, '/')+1:]] = true
		}
	}
	functions := map[string]bool{}
	for _, f := range dep.Template.OfType("AWS::Lambda::Function") {
		if n := dep.Template.Physical[f]; n != "" {
			functions[n] = true
		}
	}
	on := map[string]int{}
	created := 0
	for _, id := range ids {
		if _, ok := dep.Types[id]; ok {
			created++
		}
		p := dep.Template.Resources[id].Properties
		var actions []string
		for _, a := range asList(p["AlarmActions"]) {
			s, err := dep.Template.ResolveString(a)
			if err != nil {
				return "", fmt.Errorf("alarm %s action: %w", id, err)
			}
			actions = append(actions, s)
		}
		if !slices.Equal(actions, []string{topic}) {
			return "", fmt.Errorf("alarm %s actions %v, want the topic %s", id, actions, topic)
		}
		dims := asList(p["Dimensions"])
		if len(dims) != 1 {
			return "", fmt.Errorf("alarm %s dimensions %v", id, dims)
		}
		d, _ := dims[0].(map[string]any)
		value, err := dimensionValue(dep.Template, d["Value"])
		if err != nil {
			return "", fmt.Errorf("alarm %s dimension: %w", id, err)
		}
		ns, dim, metric := fmt.Sprint(p["Namespace"]), fmt.Sprint(d["Name"]), fmt.Sprint(p["MetricName"])
		switch {
		case ns == "AWS/States" && dim == "StateMachineArn" && value == sm,
			ns == "AWS/SQS" && dim == "QueueName" && queues[value],
			// the readiness audit's own failures
			ns == "AWS/Lambda" && dim == "FunctionName" && functions[value]:
			on[metric]++
		default:
			return "", fmt.Errorf("alarm %s watches %s %s=%s, not a deployed custody resource", id, ns, dim, value)
		}
	}
	for _, m := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ApproximateNumberOfMessagesVisible"} {
		if on[m] == 0 {
			return "", fmt.Errorf("no alarm on %s (have %v)", m, on)
		}
	}
	how := "none created: moto's CloudFormation does not implement AWS::CloudWatch::Alarm"
	if created == len(ids) {
		how = "created by CloudFormation"
	}
	return fmt.Sprintf("%d alarms (%s) resolve to the deployed state machine's failed, timed-out and aborted executions, %d dead-letter queues and %d function errors, each alarming the topic",
		len(ids), how, on["ApproximateNumberOfMessagesVisible"], on["Errors"]), nil
}

func dimensionValue(t *Template, v any) (string, error) {
	if m, ok := v.(map[string]any); ok {
		if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 && ga[1] == "QueueName" {
			u := t.Physical[fmt.Sprint(ga[0])]
			if u == "" {
				return "", fmt.Errorf("queue %v is not deployed", ga[0])
			}
			return u[strings.LastIndexByte(u, '/')+1:], nil
		}
	}
	return t.ResolveString(v)
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// checkKey finds the stack's key in the emulator and checks the bucket and
// the topic encrypt with it. (moto's CloudFormation stores a key policy as
// an object, and its DescribeKey then fails with a 500 while it evaluates
// the policy, so existence is read from ListKeys; rotation and the policy
// are asserted on the synthesized template by the infra tests.)
func checkKey(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	ids := evidenceKeys(dep.Template)
	if len(ids) != 1 {
		return "", fmt.Errorf("want one evidence key in the template, have %d", len(ids))
	}
	keyID := dep.Template.Physical[ids[0]]
	found := false
	p := kms.NewListKeysPaginator(kms.NewFromConfig(cfg), &kms.ListKeysInput{})
	for p.HasMorePages() && !found {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list keys: %w", err)
		}
		for _, k := range page.Keys {
			found = found || aws.ToString(k.KeyId) == keyID
		}
	}
	if !found {
		return "", fmt.Errorf("key %s (%s) is not in the emulator", ids[0], keyID)
	}
	bucket, err := dep.Output("EvidenceBucketName")
	if err != nil {
		return "", err
	}
	enc, err := s3.NewFromConfig(cfg, awsconfig.S3Options).GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", fmt.Errorf("bucket %s encryption: %w", bucket, err)
	}
	rules := enc.ServerSideEncryptionConfiguration.Rules
	if len(rules) == 0 || rules[0].ApplyServerSideEncryptionByDefault == nil ||
		!strings.HasSuffix(aws.ToString(rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID), keyID) {
		return "", fmt.Errorf("bucket %s does not encrypt with key %s", bucket, keyID)
	}
	return fmt.Sprintf("key %s exists; the evidence bucket encrypts with it", keyID), nil
}

func checkTopic(ctx context.Context, cfg aws.Config, dep *Deployment) (string, error) {
	arn, err := dep.Output("CaseTopicArn")
	if err != nil {
		return "", err
	}
	a, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("topic %s: %w", arn, err)
	}
	keyID := dep.Template.Physical[firstOf(evidenceKeys(dep.Template))]
	if k := a.Attributes["KmsMasterKeyId"]; k == "" || !strings.HasSuffix(k, keyID) {
		return "", fmt.Errorf("topic %s is not encrypted with the stack's key (KmsMasterKeyId %q)", arn, k)
	}
	fns, err := customFunctions(ctx, cfg, dep)
	if err != nil {
		return "", err
	}
	lc := lambda.NewFromConfig(cfg)
	conf, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(arnOf(fns, "seal"))})
	if err != nil {
		return "", err
	}
	if conf.Environment == nil || conf.Environment.Variables["CASE_TOPIC_ARN"] != arn {
		return "", fmt.Errorf("seal does not publish to the topic %s", arn)
	}
	return "encrypted with the key; Seal publishes to it", nil
}
