package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The emulator enforces none of what these tests assert (its
// CloudFormation drops the bucket policy, and neither a bucket-policy Deny
// nor a key policy is evaluated there), so they are proved on the
// synthesized template.

// evidencePolicyStatements returns the evidence bucket policy's statements.
func (s *synthed) evidencePolicyStatements(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range s.resources("AWS::S3::BucketPolicy") {
		if !strings.Contains(jsonString(path(props(r), "Bucket")), "EvidenceBucket") {
			continue
		}
		for _, st := range list(path(props(r), "PolicyDocument", "Statement")) {
			out = append(out, st.(map[string]any))
		}
	}
	if len(out) == 0 {
		t.Fatal("no evidence bucket policy")
	}
	return out
}

// keyStatements returns the evidence key policy's statements.
func (s *synthed) keyStatements(t *testing.T) []map[string]any {
	t.Helper()
	_, k := s.one(t, "AWS::KMS::Key", "EvidenceKey")
	var out []map[string]any
	for _, st := range list(path(props(k), "KeyPolicy", "Statement")) {
		out = append(out, st.(map[string]any))
	}
	return out
}

func TestBucketPolicyChangesOnlyByTheDeployRole(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		role string // what the exempted role ARN must contain
	}{
		{"default qualifier", nil, ":role/cdk-hnb659fds-cfn-exec-role-"},
		{"custom qualifier", map[string]any{"@aws-cdk/core:bootstrapQualifier": "custody1"}, ":role/cdk-custody1-cfn-exec-role-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultStack(t)
			if tc.ctx != nil {
				s = synth(t, tc.ctx)
			}
			// Each of these must be denied to every principal but the
			// deployment role, on the bucket itself.
			for _, action := range []string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketObjectLockConfiguration"} {
				var denies []map[string]any
				for _, st := range s.evidencePolicyStatements(t) {
					if st["Effect"] == "Deny" && slices.Contains(list(st["Action"]), any(action)) {
						denies = append(denies, st)
					}
				}
				if len(denies) != 1 {
					t.Fatalf("%s: %d denies, want 1: %s", action, len(denies), jsonString(denies))
				}
				d := denies[0]
				if path(d, "Principal", "AWS") != "*" {
					t.Errorf("%s: deny principal %s, want everyone", action, jsonString(d["Principal"]))
				}
				if res := jsonString(d["Resource"]); !strings.Contains(res, "EvidenceBucket") || strings.Contains(res, "/*") {
					t.Errorf("%s: deny resource %s, want the bucket itself", action, res)
				}
				cond, _ := d["Condition"].(map[string]any)
				exempt := list(path(cond, "ArnNotEquals", "aws:PrincipalArn"))
				if len(cond) != 1 || len(exempt) != 1 || !strings.Contains(jsonString(exempt[0]), tc.role) {
					t.Errorf("%s: deny condition %s, want the one exemption %s…", action, jsonString(cond), tc.role)
				}
			}
			// The same role as the key policy exempts (one definition).
			var keyExempt []any
			for _, st := range s.keyStatements(t) {
				if st["Sid"] == "OnlyBreakGlassMayDisableDeleteOrRepolicy" {
					keyExempt = list(path(st, "Condition", "ArnNotEquals", "aws:PrincipalArn"))
				}
			}
			if len(keyExempt) != 2 || !strings.Contains(jsonString(keyExempt[1]), tc.role) {
				t.Errorf("key policy exemptions %s do not name %s", jsonString(keyExempt), tc.role)
			}
		})
	}
}

func TestBucketPolicyChangeAlertsTheTopic(t *testing.T) {
	s := defaultStack(t)
	_, r := s.one(t, "AWS::Events::Rule", "BucketPolicyChangeRule")
	p := props(r)
	pat := p["EventPattern"].(map[string]any)
	if jsonString(pat["source"]) != `["aws.s3"]` || jsonString(pat["detail-type"]) != `["AWS API Call via CloudTrail"]` ||
		jsonString(path(pat, "detail", "eventSource")) != `["s3.amazonaws.com"]` {
		t.Errorf("pattern = %s", jsonString(pat))
	}
	names := list(path(pat, "detail", "eventName"))
	for _, n := range []string{"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketObjectLockConfiguration"} {
		if !slices.Contains(names, any(n)) {
			t.Errorf("eventName %v lacks %s", names, n)
		}
	}
	if got := jsonString(path(pat, "detail", "requestParameters", "bucketName")); !strings.Contains(got, `"Ref":"EvidenceBucket`) {
		t.Errorf("bucketName = %s, want the evidence bucket only", got)
	}
	targets := list(p["Targets"])
	if len(targets) != 1 {
		t.Fatalf("targets = %s", jsonString(targets))
	}
	tg := targets[0].(map[string]any)
	if !strings.Contains(jsonString(tg["Arn"]), "CaseTopic") ||
		!strings.Contains(jsonString(path(tg, "DeadLetterConfig", "Arn")), "BucketPolicyAlertDLQ") ||
		path(tg, "RetryPolicy", "MaximumRetryAttempts") != 10.0 ||
		!strings.Contains(jsonString(tg["RoleArn"]), "BucketPolicyAlertRole") {
		t.Errorf("target = %s, want the topic with its DLQ, retries and the alert role", jsonString(tg))
	}
	// The role publishes to the topic and uses the key only through SNS.
	sts := s.statements(t, "BucketPolicyAlertRole")
	if len(sts) != 2 {
		t.Fatalf("alert role statements = %s", jsonString(sts))
	}
	for _, st := range sts {
		acts := list(st["Action"])
		switch {
		case jsonString(acts) == `["sns:Publish"]`:
			if !strings.Contains(jsonString(st["Resource"]), "CaseTopic") {
				t.Errorf("publish on %s", jsonString(st["Resource"]))
			}
		case slices.Contains(acts, any("kms:GenerateDataKey")):
			if !strings.Contains(jsonString(st["Resource"]), "EvidenceKey") ||
				!strings.Contains(jsonString(st["Condition"]), `"kms:ViaService":{"Fn::Join":["",["sns.",`) {
				t.Errorf("key use %s, want the evidence key through SNS only", jsonString(st))
			}
		default:
			t.Errorf("alert role may %s", jsonString(st))
		}
	}
}

func TestKeyGrantsOnlyThroughS3(t *testing.T) {
	s := defaultStack(t)
	var viaS3, forAWS bool
	for _, st := range s.keyStatements(t) {
		if st["Effect"] != "Deny" || jsonString(st["Action"]) != `"kms:CreateGrant"` || path(st, "Principal", "AWS") != "*" {
			continue
		}
		cond := jsonString(st["Condition"])
		viaS3 = viaS3 || strings.Contains(cond, `{"StringNotEquals":{"kms:ViaService":{"Fn::Join":["",["s3.",`)
		forAWS = forAWS || cond == `{"BoolIfExists":{"kms:GrantIsForAWSResource":"false"}}`
	}
	if !viaS3 || !forAWS {
		t.Errorf("key policy: CreateGrant not denied outside S3 (%v) or for other than AWS resources (%v)", viaS3, forAWS)
	}
	// No role is allowed a grant (or every KMS action) in the first place.
	for id, p := range s.resources("AWS::IAM::Policy") {
		for _, st := range list(path(props(p), "PolicyDocument", "Statement")) {
			if path(st, "Effect") != "Allow" {
				continue
			}
			for _, a := range list(path(st, "Action")) {
				if a == "kms:CreateGrant" || a == "kms:*" || a == "kms:Create*" || a == "*" {
					t.Errorf("%s allows %s", id, a)
				}
			}
		}
	}
}

func TestFailureAlarms(t *testing.T) {
	s := defaultStack(t)
	alarms := s.resources("AWS::CloudWatch::Alarm")
	type want struct{ namespace, metric, statistic, dimension, target string }
	wants := map[string]want{
		"ExecutionsFailedAlarm":     {"AWS/States", "ExecutionsFailed", "Sum", "StateMachineArn", `"Ref":"Workflow`},
		"ExecutionsTimedOutAlarm":   {"AWS/States", "ExecutionsTimedOut", "Sum", "StateMachineArn", `"Ref":"Workflow`},
		"ExecutionsAbortedAlarm":    {"AWS/States", "ExecutionsAborted", "Sum", "StateMachineArn", `"Ref":"Workflow`},
		"FindingDeliveryDLQAlarm":   {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "QueueName", `"FindingDeliveryDLQ`},
		"BucketPolicyAlertDLQAlarm": {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "QueueName", `"BucketPolicyAlertDLQ`},
		"ReadinessFailedAlarm":      {"AWS/Lambda", "Errors", "Sum", "FunctionName", `"Ref":"ReadinessFunction`},
	}
	if len(alarms) != len(wants) {
		t.Errorf("%d alarms, want %d", len(alarms), len(wants))
	}
	for prefix, w := range wants {
		t.Run(prefix, func(t *testing.T) {
			_, a := s.one(t, "AWS::CloudWatch::Alarm", prefix)
			p := props(a)
			dims := list(p["Dimensions"])
			if p["Namespace"] != w.namespace || p["MetricName"] != w.metric || p["Statistic"] != w.statistic ||
				len(dims) != 1 || path(dims[0], "Name") != w.dimension || !strings.Contains(jsonString(path(dims[0], "Value")), w.target) {
				t.Errorf("metric = %s", jsonString(p))
			}
			// One datapoint of at least one: a failure, or a message in the queue (> 0).
			if p["Threshold"] != 1.0 || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" ||
				p["EvaluationPeriods"] != 1.0 || p["TreatMissingData"] != "notBreaching" {
				t.Errorf("threshold = %s", jsonString(p))
			}
			if acts := list(p["AlarmActions"]); len(acts) != 1 || !strings.Contains(jsonString(acts[0]), "CaseTopic") {
				t.Errorf("actions = %s, want the case topic", jsonString(p["AlarmActions"]))
			}
		})
	}
	// Every delivery DLQ in the stack is watched.
	for id := range s.resources("AWS::SQS::Queue") {
		found := false
		for _, a := range alarms {
			found = found || strings.Contains(jsonString(props(a)["Dimensions"]), `"`+id+`"`)
		}
		if !found {
			t.Errorf("queue %s has no alarm", id)
		}
	}
}

// TestAlarmsCanPublishToTheEncryptedTopic: CloudWatch publishes to the
// topic as its service principal, so both the topic policy and the key
// policy (the topic is encrypted with the evidence key) must let it, and
// only for this account's alarms.
func TestAlarmsCanPublishToTheEncryptedTopic(t *testing.T) {
	s := defaultStack(t)
	limited := func(cond any) bool {
		c := jsonString(cond)
		return strings.Contains(c, `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) && strings.Contains(c, `:alarm:*"`)
	}
	var topicOK, keyOK bool
	for _, r := range s.resources("AWS::SNS::TopicPolicy") {
		for _, st := range list(path(props(r), "PolicyDocument", "Statement")) {
			st := st.(map[string]any)
			if st["Effect"] == "Allow" && path(st, "Principal", "Service") == "cloudwatch.amazonaws.com" {
				topicOK = jsonString(st["Action"]) == `"sns:Publish"` && strings.Contains(jsonString(st["Resource"]), "CaseTopic") && limited(st["Condition"])
			}
		}
	}
	for _, st := range s.keyStatements(t) {
		if st["Effect"] != "Deny" && path(st, "Principal", "Service") == "cloudwatch.amazonaws.com" {
			acts := list(st["Action"])
			keyOK = len(acts) == 2 && slices.Contains(acts, any("kms:GenerateDataKey*")) && slices.Contains(acts, any("kms:Decrypt")) && limited(st["Condition"])
		}
	}
	if !topicOK || !keyOK {
		t.Errorf("CloudWatch may publish to the topic: topic policy %v, key policy %v", topicOK, keyOK)
	}
}

// TestLockModeDefault: COMPLIANCE is the default, in DefaultConfig and in
// cdk.json alike (cdk.json repeats every default), so `make deploy` of an
// unedited checkout locks evidence against the account root too.
func TestLockModeDefault(t *testing.T) {
	if DefaultConfig().LockMode != LockModeCompliance {
		t.Errorf("DefaultConfig().LockMode = %s", DefaultConfig().LockMode)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFrom(func(k string) any { return app.Context[k] })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg) != fmt.Sprint(DefaultConfig()) {
		t.Errorf("cdk.json's context gives %+v, not the defaults %+v", cfg, DefaultConfig())
	}
}
