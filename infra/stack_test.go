package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// functionsDir is a temp dir with placeholder <name>/bootstrap files: the
// asset contents do not matter to the template, and building the real
// handlers here would make every infra test compile every function.
var functionsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custody-functions-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := []string{"triage", "seal", "readiness", "contain"}
	for _, c := range collectors {
		names = append(names, c.Name)
	}
	for _, n := range names {
		err := os.MkdirAll(filepath.Join(dir, n), 0o755)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, n, "bootstrap"), []byte("placeholder "+n+"\n"), 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	functionsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// synthed is one synthesized stack: the template as Go maps, plus the
// assertion handles.
type synthed struct {
	stack    awscdk.Stack
	template assertions.Template
	raw      map[string]any
}

// synth builds the stack from context the way main.go does (context on the
// app, cdk-nag on the app) and synthesizes it.
func synth(t *testing.T, ctx map[string]any) *synthed {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	stack := NewCustodyStack(app, "Custody", &CustodyStackProps{FunctionsDir: functionsDir})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	tpl := assertions.Template_FromStack(stack, nil)
	b, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return &synthed{stack: stack, template: tpl, raw: raw}
}

var (
	defaultOnce sync.Once
	defaultSyn  *synthed
)

// defaultStack is synthesized once and shared: a jsii synth takes seconds.
func defaultStack(t *testing.T) *synthed {
	t.Helper()
	defaultOnce.Do(func() { defaultSyn = synth(t, map[string]any{}) })
	if defaultSyn == nil {
		t.Fatal("default synth failed")
	}
	return defaultSyn
}

// resources returns logical ID -> resource of one CloudFormation type.
func (s *synthed) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.raw["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// one returns the single resource of typ whose logical ID starts with prefix.
func (s *synthed) one(t *testing.T, typ, prefix string) (string, map[string]any) {
	t.Helper()
	var ids []string
	for id := range s.resources(typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one %s %s*, got %v", typ, prefix, ids)
	}
	return ids[0], s.resources(typ)[ids[0]]
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

// path walks nested maps by key.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// list returns v as a list, wrapping a single value (IAM allows both).
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// jsonString renders a template fragment for messages and substring checks.
func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestNagHasNoErrors(t *testing.T) {
	s := defaultStack(t)
	msgs := assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"),
		assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, m := range *msgs {
		t.Errorf("unsuppressed: %s", jsonString(m))
	}
}

func TestEvidenceBucket(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		mode string
		days float64
	}{
		{"default", nil, "COMPLIANCE", 365},
		{"compliance from context", map[string]any{CtxLockMode: "COMPLIANCE", CtxRetentionDays: 2555}, "COMPLIANCE", 2555},
		{"governance from context strings", map[string]any{CtxLockMode: "GOVERNANCE", CtxRetentionDays: "30"}, "GOVERNANCE", 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultStack(t)
			if tc.ctx != nil {
				s = synth(t, tc.ctx)
			}
			id, b := s.one(t, "AWS::S3::Bucket", "EvidenceBucket")
			p := props(b)
			if p["ObjectLockEnabled"] != true {
				t.Errorf("ObjectLockEnabled = %v", p["ObjectLockEnabled"])
			}
			rule := path(p, "ObjectLockConfiguration", "Rule", "DefaultRetention").(map[string]any)
			if rule["Mode"] != tc.mode || rule["Days"] != tc.days {
				t.Errorf("default retention = %v, want %s %v days", rule, tc.mode, tc.days)
			}
			if path(p, "ObjectLockConfiguration", "ObjectLockEnabled") != "Enabled" {
				t.Errorf("ObjectLockConfiguration = %v", p["ObjectLockConfiguration"])
			}
			if path(p, "VersioningConfiguration", "Status") != "Enabled" {
				t.Errorf("versioning = %v", p["VersioningConfiguration"])
			}
			enc := list(path(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))[0].(map[string]any)
			if path(enc, "ServerSideEncryptionByDefault", "SSEAlgorithm") != "aws:kms" ||
				!strings.Contains(jsonString(path(enc, "ServerSideEncryptionByDefault", "KMSMasterKeyID")), "EvidenceKey") {
				t.Errorf("encryption = %v", enc)
			}
			for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
				if path(p, "PublicAccessBlockConfiguration", k) != true {
					t.Errorf("PublicAccessBlockConfiguration.%s = %v", k, path(p, "PublicAccessBlockConfiguration", k))
				}
			}
			if !strings.Contains(jsonString(path(p, "LoggingConfiguration", "DestinationBucketName")), "AccessLogBucket") {
				t.Errorf("logging = %v", p["LoggingConfiguration"])
			}
			if b["DeletionPolicy"] != "Retain" || b["UpdateReplacePolicy"] != "Retain" {
				t.Errorf("%s deletion/update policy = %v/%v", id, b["DeletionPolicy"], b["UpdateReplacePolicy"])
			}
		})
	}
}

func TestAccessLogBucket(t *testing.T) {
	s := defaultStack(t)
	_, b := s.one(t, "AWS::S3::Bucket", "AccessLogBucket")
	p := props(b)
	if b["DeletionPolicy"] != "Retain" || path(p, "VersioningConfiguration", "Status") != "Enabled" ||
		path(list(path(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") != "AES256" {
		t.Errorf("access log bucket = %s", jsonString(b))
	}
}

func TestEvidenceKey(t *testing.T) {
	s := defaultStack(t)
	_, k := s.one(t, "AWS::KMS::Key", "EvidenceKey")
	if k["DeletionPolicy"] != "Retain" || props(k)["EnableKeyRotation"] != true {
		t.Fatalf("key deletion policy %v rotation %v", k["DeletionPolicy"], props(k)["EnableKeyRotation"])
	}
	var deny map[string]any
	for _, st := range list(path(props(k), "KeyPolicy", "Statement")) {
		if path(st, "Effect") == "Deny" && slices.Contains(list(path(st, "Action")), any("kms:DisableKey")) {
			deny = st.(map[string]any)
		}
	}
	if deny == nil {
		t.Fatal("key policy has no Deny")
	}
	acts := list(deny["Action"])
	for _, a := range []string{"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"} {
		if !slices.Contains(acts, any(a)) {
			t.Errorf("deny lacks %s: %v", a, acts)
		}
	}
	if path(deny, "Principal", "AWS") != "*" {
		t.Errorf("deny principal = %v", deny["Principal"])
	}
	// Exactly two exemptions: the break-glass role, and the CDK deploy role
	// (KMS refuses a policy that locks its creator out of PutKeyPolicy).
	exempt := list(path(deny, "Condition", "ArnNotEquals", "aws:PrincipalArn"))
	if len(exempt) != 2 || !strings.Contains(jsonString(exempt[0]), ":role/CustodyBreakGlass") ||
		!strings.Contains(jsonString(exempt[1]), "-cfn-exec-role-") {
		t.Errorf("deny exemptions = %s, want the break-glass and deploy roles only", jsonString(exempt))
	}
}

func TestBucketPolicyDenies(t *testing.T) {
	s := defaultStack(t)
	var policy map[string]any
	for _, r := range s.resources("AWS::S3::BucketPolicy") {
		if strings.Contains(jsonString(path(props(r), "Bucket")), "EvidenceBucket") {
			policy = r
		}
	}
	if policy == nil {
		t.Fatal("no evidence bucket policy")
	}
	denied := map[string][]map[string]any{}
	var investigator map[string]any
	for _, st := range list(path(props(policy), "PolicyDocument", "Statement")) {
		st := st.(map[string]any)
		if st["Effect"] == "Deny" {
			for _, a := range list(st["Action"]) {
				denied[a.(string)] = append(denied[a.(string)], st)
			}
		} else if strings.Contains(jsonString(st["Principal"]), "CustodyInvestigator") {
			investigator = st
		}
	}
	for _, a := range []string{"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
		"s3:PutObjectRetention", "s3:PutBucketObjectLockConfiguration"} {
		sts := denied[a]
		if len(sts) == 0 {
			t.Errorf("%s is not denied", a)
			continue
		}
		if path(sts[0], "Principal", "AWS") != "*" {
			t.Errorf("%s deny principal = %v", a, sts[0]["Principal"])
		}
	}
	var sseHeader, keyHeader bool
	for _, st := range denied["s3:PutObject"] {
		c := jsonString(st["Condition"])
		sseHeader = sseHeader || strings.Contains(c, `"s3:x-amz-server-side-encryption":"aws:kms"`)
		keyHeader = keyHeader || strings.Contains(c, "s3:x-amz-server-side-encryption-aws-kms-key-id")
	}
	if !sseHeader || !keyHeader {
		t.Errorf("PutObject without KMS / with another key is not denied: %s", jsonString(denied["s3:PutObject"]))
	}
	if investigator == nil {
		t.Fatal("no investigator statement")
	}
	acts := list(investigator["Action"])
	for _, a := range []string{"s3:GetObject*", "s3:ListBucket*", "s3:PutObjectLegalHold", "s3:GetObjectLegalHold", "s3:GetObjectRetention"} {
		if !slices.Contains(acts, any(a)) {
			t.Errorf("investigator lacks %s", a)
		}
	}
	for _, a := range acts {
		if strings.HasPrefix(a.(string), "s3:Delete") || a == "s3:PutObject" {
			t.Errorf("investigator may %s", a)
		}
	}
}

// TestLegalHoldPolicy: only the investigator and break-glass roles may
// put a legal hold, and only break-glass may put one OFF (a template
// assertion: moto enforces no bucket policy).
func TestLegalHoldPolicy(t *testing.T) {
	s := defaultStack(t)
	var holds []map[string]any
	for _, r := range s.resources("AWS::S3::BucketPolicy") {
		if !strings.Contains(jsonString(path(props(r), "Bucket")), "EvidenceBucket") {
			continue
		}
		for _, st := range list(path(props(r), "PolicyDocument", "Statement")) {
			st := st.(map[string]any)
			if st["Effect"] == "Deny" && slices.Contains(list(st["Action"]), any("s3:PutObjectLegalHold")) {
				holds = append(holds, st)
			}
		}
	}
	if len(holds) != 2 {
		t.Fatalf("%d denies of s3:PutObjectLegalHold, want 2: %s", len(holds), jsonString(holds))
	}
	var all, release map[string]any
	for _, st := range holds {
		if path(st, "Condition", "StringEquals", "s3:object-lock-legal-hold") == "OFF" {
			release = st
		} else {
			all = st
		}
	}
	if all == nil || release == nil {
		t.Fatalf("want one deny for everyone else and one for a release: %s", jsonString(holds))
	}
	exempt := jsonString(path(all, "Condition", "ArnNotEquals", "aws:PrincipalArn"))
	if !strings.Contains(exempt, ":role/CustodyInvestigator") || !strings.Contains(exempt, ":role/CustodyBreakGlass") || strings.Count(exempt, ":role/") != 2 {
		t.Errorf("hold exemptions %s, want the investigator and break-glass roles", exempt)
	}
	exempt = jsonString(path(release, "Condition", "ArnNotEquals", "aws:PrincipalArn"))
	if !strings.Contains(exempt, ":role/CustodyBreakGlass") || strings.Count(exempt, ":role/") != 1 {
		t.Errorf("release exemptions %s, want break-glass only", exempt)
	}
	for _, st := range holds {
		if path(st, "Principal", "AWS") != "*" {
			t.Errorf("deny principal = %v", st["Principal"])
		}
	}
}

func TestFindingRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		min  float64
		typ  string // JSON of detail.type, "" for none
	}{
		{"default", nil, 4, ""},
		{"threshold and include", map[string]any{CtxSeverityThreshold: 7, CtxFindingTypeInclude: []any{"UnauthorizedAccess:", "Recon:"}},
			7, `[{"prefix":"UnauthorizedAccess:"},{"prefix":"Recon:"}]`},
		{"one exclude", map[string]any{CtxFindingTypeExclude: []any{"Policy:"}}, 4, `[{"anything-but":{"prefix":"Policy:"}}]`},
		{"several excludes", map[string]any{CtxSeverityThreshold: "5.5", CtxFindingTypeExclude: "Policy:,Stealth:"},
			5.5, `[{"anything-but":{"wildcard":["Policy:*","Stealth:*"]}}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultStack(t)
			if tc.ctx != nil {
				s = synth(t, tc.ctx)
			}
			_, r := s.one(t, "AWS::Events::Rule", "FindingRule")
			p := props(r)
			pat := p["EventPattern"].(map[string]any)
			if jsonString(pat["source"]) != `["aws.guardduty"]` || jsonString(pat["detail-type"]) != `["GuardDuty Finding"]` {
				t.Errorf("source/detail-type = %v %v", pat["source"], pat["detail-type"])
			}
			if got, want := jsonString(path(pat, "detail", "severity")), jsonString([]any{map[string]any{"numeric": []any{">=", tc.min}}}); got != want {
				t.Errorf("severity = %s, want %s", got, want)
			}
			gotType := ""
			if v := path(pat, "detail", "type"); v != nil {
				gotType = jsonString(v)
			}
			if gotType != tc.typ {
				t.Errorf("detail.type = %s, want %s", gotType, tc.typ)
			}
			targets := list(p["Targets"])
			if len(targets) != 1 {
				t.Fatalf("targets = %v", targets)
			}
			tg := targets[0].(map[string]any)
			if !strings.Contains(jsonString(tg["Arn"]), "Workflow") || tg["Input"] != nil || tg["InputPath"] != nil {
				t.Errorf("target = %s, want the workflow with the whole event", jsonString(tg))
			}
			if !strings.Contains(jsonString(path(tg, "DeadLetterConfig", "Arn")), "FindingDeliveryDLQ") || path(tg, "RetryPolicy") == nil {
				t.Errorf("target DLQ/retry = %s", jsonString(tg))
			}
		})
	}
}

func TestTypePattern(t *testing.T) {
	for _, tc := range []struct {
		name             string
		include, exclude []string
		want, err        string
	}{
		{"none", nil, nil, "null", ""},
		{"exclude covers an include", []string{"Recon:", "Policy:IAMUser"}, []string{"Policy:"}, `[{"prefix":"Recon:"}]`, ""},
		{"unrelated exclude is redundant", []string{"Recon:"}, []string{"Policy:"}, `[{"prefix":"Recon:"}]`, ""},
		{"exclude narrower than include", []string{"Recon:"}, []string{"Recon:EC2/Portscan"}, "", "narrows include prefix"},
		{"everything excluded", []string{"Recon:EC2"}, []string{"Recon:"}, "", "never fire"},
		{"wildcard escaped", nil, []string{"a*b", "c"}, `[{"anything-but":{"wildcard":["a\\*b*","c*"]}}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := typePattern(tc.include, tc.exclude)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if jsonString(got) != tc.want {
				t.Errorf("got %s, want %s", jsonString(got), tc.want)
			}
		})
	}
}

// definition resolves the state machine's DefinitionString (an Fn::Join of
// strings, Refs and GetAtts) into ASL, each token replaced by a placeholder
// function ARN naming its logical ID.
func (s *synthed) definition(t *testing.T) map[string]any {
	t.Helper()
	_, sm := s.one(t, "AWS::StepFunctions::StateMachine", "Workflow")
	parts := list(path(props(sm), "DefinitionString", "Fn::Join"))[1].([]any)
	var b strings.Builder
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			b.WriteString(x)
		case map[string]any:
			id := ""
			// Pseudo parameters resolve as the test environment's.
			if pseudo, ok := map[any]string{"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com"}[x["Ref"]]; ok {
				b.WriteString(pseudo)
				continue
			}
			if ref, ok := x["Ref"].(string); ok {
				id = ref
			} else if ga, ok := x["Fn::GetAtt"].([]any); ok {
				id = ga[0].(string)
			} else if _, ok := x["Fn::Select"]; ok {
				id = "Select"
			}
			fmt.Fprintf(&b, "arn:aws:lambda:us-east-1:123456789012:function:%s", id)
		default:
			t.Fatalf("unexpected definition part %T %v", p, p)
		}
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(b.String()), &def); err != nil {
		t.Fatalf("definition is not JSON: %v\n%s", err, b.String())
	}
	return def
}

func TestStateMachineDefinition(t *testing.T) {
	s := defaultStack(t)
	def := s.definition(t)
	states := def["States"].(map[string]any)
	if def["StartAt"] != "Triage" {
		t.Errorf("StartAt = %v", def["StartAt"])
	}
	wantTop := []string{"Triage", "InputRejected", "TriageFailed", "AlreadyCollected?", "Duplicate", "Collect",
		"PivotStart", "PivotDerive", "PivotFailed", "PivotMore?", "PivotCollect", "PivotThen?", "PivotPrincipals",
		"SecondPass?", "CollectDynamoDBFromCloudTrail", "SecondPassFailed", "NoSecondPass", "Seal", "SealFailed", "Sealed"}
	for _, n := range wantTop {
		if states[n] == nil {
			t.Errorf("no state %q", n)
		}
	}
	if len(states) != len(wantTop) {
		t.Errorf("states = %v", keys(states))
	}

	checkTask := func(t *testing.T, name string, st map[string]any, fnPrefix string) {
		t.Helper()
		if st["Type"] != "Task" || !strings.Contains(st["Resource"].(string), ":function:"+fnPrefix) {
			t.Errorf("%s: Type %v Resource %v (want the %s function ARN itself)", name, st["Type"], st["Resource"], fnPrefix)
		}
		retry := list(st["Retry"])
		reserved := false
		for _, c := range collectors {
			if c.Reserved > 0 && fnPrefix == c.State+"Function" {
				reserved = true
			}
		}
		if reserved {
			// A reserved function's tasks queue first on its reservation.
			if len(retry) != 2 {
				t.Fatalf("%s: Retry = %v, want the queue retry then the common one", name, retry)
			}
			q := retry[0].(map[string]any)
			if jsonString(q["ErrorEquals"]) != `["Lambda.TooManyRequestsException"]` || q["MaxAttempts"] != float64(queueAttempts) || q["JitterStrategy"] != "FULL" {
				t.Errorf("%s: queue Retry = %s", name, jsonString(q))
			}
			retry = retry[1:]
		}
		if len(retry) != 1 {
			t.Fatalf("%s: Retry = %v", name, retry)
		}
		r := retry[0].(map[string]any)
		if jsonString(r["ErrorEquals"]) != jsonString(retryErrors) || r["IntervalSeconds"] != 2.0 || r["BackoffRate"] != 2.0 ||
			r["MaxAttempts"] != 5.0 || r["JitterStrategy"] != "FULL" || r["MaxDelaySeconds"] != 60.0 {
			t.Errorf("%s: Retry = %s", name, jsonString(r))
		}
	}
	triage := states["Triage"].(map[string]any)
	checkTask(t, "Triage", triage, "TriageFunction")
	if got := jsonString(triage["Catch"]); got != `[{"ErrorEquals":["InvalidInputError"],"Next":"InputRejected"},{"ErrorEquals":["States.ALL"],"Next":"TriageFailed"}]` {
		t.Errorf("Triage Catch = %s", got)
	}
	if r := states["InputRejected"].(map[string]any); r["Type"] != "Fail" || r["Error"] != "InvalidInputError" || r["CausePath"] != "$.Cause" {
		t.Errorf("InputRejected = %v", r)
	}
	if triage["Next"] != "AlreadyCollected?" {
		t.Errorf("Triage.Next = %v", triage["Next"])
	}
	choice := states["AlreadyCollected?"].(map[string]any)
	if jsonString(choice["Choices"]) != `[{"BooleanEquals":true,"Next":"Duplicate","Variable":"$.duplicate"}]` || choice["Default"] != "Collect" {
		t.Errorf("AlreadyCollected? = %s", jsonString(choice))
	}

	collect := states["Collect"].(map[string]any)
	if collect["Type"] != "Map" || collect["ItemsPath"] != "$.incident.plan" || collect["ResultPath"] != "$.results" ||
		collect["MaxConcurrency"] != 4.0 || collect["Next"] != "PivotStart" {
		t.Errorf("Collect = %s", jsonString(collect))
	}
	if got := jsonString(collect["ItemSelector"]); got != `{"incident.$":"$.incident","item.$":"$$.Map.Item.Value"}` {
		t.Errorf("ItemSelector = %s", got)
	}
	proc := collect["ItemProcessor"].(map[string]any)
	inner := proc["States"].(map[string]any)
	route := inner["Route"].(map[string]any)
	if proc["StartAt"] != "Route" || route["Default"] != "UnknownCollector" {
		t.Errorf("ItemProcessor = %s", jsonString(proc))
	}
	if len(list(route["Choices"])) != len(collectors) {
		t.Errorf("Route has %d choices for %d collectors", len(list(route["Choices"])), len(collectors))
	}
	for _, c := range collectors {
		t.Run(c.State, func(t *testing.T) {
			found := false
			for _, ch := range list(route["Choices"]) {
				ch := ch.(map[string]any)
				if ch["Variable"] == "$.item.collector" && ch["StringEquals"] == c.Name && ch["Next"] == c.State {
					found = true
				}
			}
			if !found {
				t.Errorf("Route does not send %q to %s", c.Name, c.State)
			}
			st := inner[c.State].(map[string]any)
			checkTask(t, c.State, st, c.State+"Function")
			if got := jsonString(st["Catch"]); got != `[{"ErrorEquals":["States.ALL"],"Next":"CollectorFailed","ResultPath":"$.error"}]` {
				t.Errorf("%s Catch = %s", c.State, got)
			}
			if !c.FanOut {
				if st["End"] != true || st["ResultPath"] != nil {
					t.Errorf("%s = %s", c.State, jsonString(st))
				}
				return
			}
			// A fan-out: the first answer at $.result; shards when it names
			// them, then the merge; else the answer itself.
			if st["ResultPath"] != "$.result" || st["Next"] != c.State+"FannedOut?" {
				t.Errorf("%s = %s", c.State, jsonString(st))
			}
			choice := inner[c.State+"FannedOut?"].(map[string]any)
			if jsonString(choice["Choices"]) != `[{"IsPresent":true,"Next":"`+c.State+`Shards","Variable":"$.result.shards[0]"}]` || choice["Default"] != c.State+"Collected" {
				t.Errorf("%sFannedOut? = %s", c.State, jsonString(choice))
			}
			if done := inner[c.State+"Collected"].(map[string]any); done["Type"] != "Pass" || done["OutputPath"] != "$.result" || done["End"] != true {
				t.Errorf("%sCollected = %s", c.State, jsonString(done))
			}
			m := inner[c.State+"Shards"].(map[string]any)
			if m["Type"] != "Map" || m["ItemsPath"] != "$.result.shards" || m["ResultPath"] != "$.shardResults" ||
				m["MaxConcurrency"] != float64(shardConcurrency) || m["Next"] != c.State+"Merge" ||
				jsonString(m["ItemSelector"]) != `{"incident.$":"$.incident","item.$":"$.item","shard.$":"$$.Map.Item.Value"}` {
				t.Errorf("%sShards = %s", c.State, jsonString(m))
			}
			shardStates := path(m, "ItemProcessor", "States").(map[string]any)
			shardFn := c.State + "Function"
			if c.Reserved > 0 {
				shardFn = c.State + "ShardFunction" // unreserved: the shards run side by side
			}
			shard := shardStates[c.State+"Shard"].(map[string]any)
			checkTask(t, c.State+"Shard", shard, shardFn)
			if jsonString(shard["Catch"]) != `[{"ErrorEquals":["States.ALL"],"Next":"`+c.State+`ShardFailed","ResultPath":"$.error"}]` ||
				jsonString(path(shardStates, c.State+"ShardFailed", "Parameters")) != `{"collector.$":"$.item.collector","error.$":"$.error","shard.$":"$.shard","status":"failed"}` {
				t.Errorf("%sShard = %s, failed = %s", c.State, jsonString(shard), jsonString(shardStates[c.State+"ShardFailed"]))
			}
			merge := inner[c.State+"Merge"].(map[string]any)
			checkTask(t, c.State+"Merge", merge, c.State+"Function")
			if jsonString(merge["Parameters"]) != `{"incident.$":"$.incident","item.$":"$.item","merge":{"shards.$":"$.shardResults"}}` ||
				jsonString(merge["Catch"]) != `[{"ErrorEquals":["States.ALL"],"Next":"CollectorFailed","ResultPath":"$.error"}]` || merge["End"] != true {
				t.Errorf("%sMerge = %s", c.State, jsonString(merge))
			}
		})
	}
	if got := jsonString(path(inner, "CollectorFailed", "Parameters")); got != `{"collector.$":"$.item.collector","error.$":"$.error","status":"failed"}` {
		t.Errorf("CollectorFailed = %s", got)
	}
	if got := jsonString(path(inner, "UnknownCollector", "Parameters")); got != `{"collector.$":"$.item.collector","status":"skipped"}` {
		t.Errorf("UnknownCollector = %s", got)
	}

	// The pivot loop: PivotDerive (the CloudTrail function) and, while it
	// names a pass, a one-item Map running the CloudTrail collector's
	// fan-out states for it; then the second pass. Both failures go on.
	t.Run("pivot loop", func(t *testing.T) {
		if got := jsonString(path(states, "PivotStart", "Result")); got != `{"last":[],"state":{"items":[],"pass":0,"results":[]}}` || path(states, "PivotStart", "Next") != "PivotDerive" {
			t.Errorf("PivotStart = %s", jsonString(states["PivotStart"]))
		}
		derive := states["PivotDerive"].(map[string]any)
		checkTask(t, "PivotDerive", derive, "CollectCloudTrailFunction")
		if jsonString(derive["Parameters"]) != `{"incident.$":"$.incident","last.$":"$.pivot.last","pivot.$":"$.pivot.state"}` ||
			derive["ResultPath"] != "$.pivot" || derive["Next"] != "PivotMore?" ||
			jsonString(derive["Catch"]) != `[{"ErrorEquals":["States.ALL"],"Next":"PivotFailed","ResultPath":"$.pivotError"}]` {
			t.Errorf("PivotDerive = %s", jsonString(derive))
		}
		if f := states["PivotFailed"].(map[string]any); f["Next"] != "SecondPass?" || f["ResultPath"] != "$.pivot" ||
			jsonString(f["Parameters"]) != `{"state":{"done":true,"failed":{"collector":"cloudtrail-pivot","error.$":"$.pivotError","status":"failed"}}}` {
			t.Errorf("PivotFailed = %s", jsonString(f))
		}
		more := states["PivotMore?"].(map[string]any)
		if jsonString(more["Choices"]) != `[{"IsPresent":true,"Next":"PivotCollect","Variable":"$.pivot.state.items[0]"}]` || more["Default"] != "PivotThen?" {
			t.Errorf("PivotMore? = %s", jsonString(more))
		}
		then := states["PivotThen?"].(map[string]any)
		if jsonString(then["Choices"]) != `[{"IsPresent":true,"Next":"PivotPrincipals","Variable":"$.pivot.state.then[0]"}]` || then["Default"] != "SecondPass?" {
			t.Errorf("PivotThen? = %s", jsonString(then))
		}
		pm := states["PivotPrincipals"].(map[string]any)
		if pm["ItemsPath"] != "$.pivot.state.then" || pm["ResultPath"] != "$.pivot.state.principals" || pm["Next"] != "SecondPass?" {
			t.Errorf("PivotPrincipals = %s", jsonString(pm))
		}
		if r := jsonString(path(pm, "ItemProcessor", "States", "PivotRoute", "Choices")); r != `[{"Next":"CollectIAMPivot","StringMatches":"iam-pivot-*","Variable":"$.item.collector"},{"Next":"CollectS3AccessPivot","StringMatches":"s3access-pivot-*","Variable":"$.item.collector"}]` {
			t.Errorf("PivotRoute = %s", r)
		}
		checkTask(t, "CollectS3AccessPivot", path(pm, "ItemProcessor", "States", "CollectS3AccessPivot").(map[string]any), "CollectS3AccessFunction")
		iamTask := path(pm, "ItemProcessor", "States", "CollectIAMPivot").(map[string]any)
		checkTask(t, "CollectIAMPivot", iamTask, "CollectIAMFunction")
		if jsonString(iamTask["Catch"]) != `[{"ErrorEquals":["States.ALL"],"Next":"PivotPrincipalsFailed","ResultPath":"$.error"}]` {
			t.Errorf("CollectIAMPivot = %s", jsonString(iamTask))
		}
		m := states["PivotCollect"].(map[string]any)
		if m["ItemsPath"] != "$.pivot.state.items" || m["ResultPath"] != "$.pivot.last" || m["Next"] != "PivotDerive" || m["MaxConcurrency"] != 1.0 {
			t.Errorf("PivotCollect = %s", jsonString(m))
		}
		ps := path(m, "ItemProcessor", "States").(map[string]any)
		if path(m, "ItemProcessor", "StartAt") != "CollectCloudTrailPivot" {
			t.Errorf("PivotCollect starts at %v", path(m, "ItemProcessor", "StartAt"))
		}
		checkTask(t, "CollectCloudTrailPivot", ps["CollectCloudTrailPivot"].(map[string]any), "CollectCloudTrailFunction")
		checkTask(t, "CollectCloudTrailPivotMerge", ps["CollectCloudTrailPivotMerge"].(map[string]any), "CollectCloudTrailFunction")
		shard := path(ps, "CollectCloudTrailPivotShards", "ItemProcessor", "States", "CollectCloudTrailPivotShard").(map[string]any)
		checkTask(t, "CollectCloudTrailPivotShard", shard, "CollectCloudTrailShardFunction")
		if got := jsonString(path(ps, "CollectCloudTrailPivot", "Catch")); got != `[{"ErrorEquals":["States.ALL"],"Next":"PivotCollectorFailed","ResultPath":"$.error"}]` {
			t.Errorf("CollectCloudTrailPivot Catch = %s", got)
		}
	})

	// The second pass: the DynamoDB collector again, after the Map, for the
	// tables the CloudTrail extract names; caught into a failed result.
	second := states["SecondPass?"].(map[string]any)
	if jsonString(second["Choices"]) != `[{"IsPresent":true,"Next":"CollectDynamoDBFromCloudTrail","Variable":"$.incident.secondPass[0]"}]` || second["Default"] != "NoSecondPass" {
		t.Errorf("SecondPass? = %s", jsonString(second))
	}
	secondTask := states["CollectDynamoDBFromCloudTrail"].(map[string]any)
	checkTask(t, "CollectDynamoDBFromCloudTrail", secondTask, "CollectDynamoDBFunction")
	if secondTask["ResultPath"] != "$.secondPass" || secondTask["Next"] != "Seal" ||
		jsonString(secondTask["Catch"]) != `[{"ErrorEquals":["States.ALL"],"Next":"SecondPassFailed","ResultPath":"$.secondPass"}]` {
		t.Errorf("CollectDynamoDBFromCloudTrail = %s", jsonString(secondTask))
	}

	seal := states["Seal"].(map[string]any)
	checkTask(t, "Seal", seal, "SealFunction")
	if got := jsonString(seal["Parameters"]); got != `{"incident.$":"$.incident","pivot.$":"$.pivot.state","results.$":"$.results","secondPass.$":"$.secondPass"}` {
		t.Errorf("Seal Parameters = %s", got)
	}
	if jsonString(seal["Catch"]) != `[{"ErrorEquals":["States.ALL"],"Next":"SealFailed"}]` || seal["Next"] != "Sealed" {
		t.Errorf("Seal = %s", jsonString(seal))
	}
	if path(states, "Sealed", "Type") != "Succeed" || path(states, "Duplicate", "Type") != "Succeed" || path(states, "SealFailed", "Type") != "Fail" {
		t.Errorf("terminal states wrong")
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestStateMachineLoggingAndTracing(t *testing.T) {
	s := defaultStack(t)
	_, sm := s.one(t, "AWS::StepFunctions::StateMachine", "Workflow")
	p := props(sm)
	if p["StateMachineType"] != "STANDARD" || path(p, "TracingConfiguration", "Enabled") != true {
		t.Errorf("type %v tracing %v", p["StateMachineType"], p["TracingConfiguration"])
	}
	lc := p["LoggingConfiguration"].(map[string]any)
	if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != true ||
		!strings.Contains(jsonString(lc["Destinations"]), "WorkflowLogs") {
		t.Errorf("logging = %s", jsonString(lc))
	}
	_, lg := s.one(t, "AWS::Logs::LogGroup", "WorkflowLogs")
	if !strings.Contains(jsonString(props(lg)["KmsKeyId"]), "EvidenceKey") {
		t.Errorf("workflow log group is not encrypted with the key: %s", jsonString(lg))
	}
}

// functionRole maps each function's logical-ID prefix to its name.
var wantFunctions = map[string]string{"TriageFunction": "triage", "CollectGuardDutyFunction": "guardduty",
	"CollectCloudWatchFunction": "cloudwatch", "CollectCloudTrailFunction": "cloudtrail", "CollectVPCFlowFunction": "vpcflow",
	"CollectS3AccessFunction": "s3access", "CollectEC2Function": "ec2", "CollectIAMFunction": "iam",
	"CollectInspectorFunction": "inspector", "CollectDynamoDBFunction": "dynamodb", "SealFunction": "seal",
	"CollectCloudTrailShardFunction": "cloudtrail", "ReadinessFunction": "readiness"}

func TestFunctions(t *testing.T) {
	s := defaultStack(t)
	if got := len(s.resources("AWS::Lambda::Function")); got != len(wantFunctions) {
		t.Errorf("%d functions, want %d", got, len(wantFunctions))
	}
	for prefix, name := range wantFunctions {
		t.Run(name, func(t *testing.T) {
			_, f := s.one(t, "AWS::Lambda::Function", prefix)
			p := props(f)
			if p["Runtime"] != "provided.al2023" || jsonString(p["Architectures"]) != `["arm64"]` || p["Handler"] != "bootstrap" ||
				path(p, "TracingConfig", "Mode") != "Active" {
				t.Errorf("runtime %v arch %v handler %v tracing %v", p["Runtime"], p["Architectures"], p["Handler"], p["TracingConfig"])
			}
			env := path(p, "Environment", "Variables").(map[string]any)
			if env["CUSTODY_FUNCTION"] != name || !strings.Contains(jsonString(env["EVIDENCE_BUCKET"]), "EvidenceBucket") {
				t.Errorf("env = %s", jsonString(env))
			}
			if !strings.Contains(jsonString(path(p, "LoggingConfig", "LogGroup")), prefix+"Logs") {
				t.Errorf("log group = %v", p["LoggingConfig"])
			}
			switch name {
			case "triage":
				if env["CUSTODY_LOOKBACK"] != "6h" || env["CUSTODY_LOOKAHEAD"] != "1h" || env["CUSTODY_MAX_SPAN"] != "168h" {
					t.Errorf("triage window env = %s", jsonString(env))
				}
			case "seal":
				if !strings.Contains(jsonString(env["CASE_TOPIC_ARN"]), "CaseTopic") {
					t.Errorf("seal env = %s", jsonString(env))
				}
				// The timeline's sort runs and spools need disk and time
				// for large cases.
				if p["Timeout"] != 900.0 || path(p, "EphemeralStorage", "Size") != 10240.0 {
					t.Errorf("seal sizing: %v s %v", p["Timeout"], p["EphemeralStorage"])
				}
			case "readiness":
				// A few hundred Describe calls: no disk, five minutes.
				if p["MemorySize"] != 256.0 || p["Timeout"] != 300.0 || p["EphemeralStorage"] != nil {
					t.Errorf("readiness sizing: %v MB %v s %v", p["MemorySize"], p["Timeout"], p["EphemeralStorage"])
				}
			default:
				if p["MemorySize"] != 1024.0 || p["Timeout"] != 900.0 || path(p, "EphemeralStorage", "Size") != 2048.0 {
					t.Errorf("collector sizing: %v MB %v s %v", p["MemorySize"], p["Timeout"], p["EphemeralStorage"])
				}
				for _, c := range collectors {
					if c.Name != name {
						continue
					}
					// The reservation paces first invocations; shards run unreserved.
					want := any(nil)
					if c.Reserved > 0 && !strings.Contains(prefix, "Shard") {
						want = c.Reserved
					}
					if p["ReservedConcurrentExecutions"] != want {
						t.Errorf("reserved concurrency %v, want %v", p["ReservedConcurrentExecutions"], want)
					}
					budget := env["CUSTODY_SHARD_BYTES"] == "2147483648" && env["CUSTODY_SHARD_OBJECTS"] == "4000"
					if budget != c.FanOut {
						t.Errorf("fan-out %v, shard budget env %v %v", c.FanOut, env["CUSTODY_SHARD_BYTES"], env["CUSTODY_SHARD_OBJECTS"])
					}
				}
			}
		})
	}
}

func TestWindowContextReachesTriage(t *testing.T) {
	s := synth(t, map[string]any{CtxLookback: "12h", CtxLookahead: "30m", CtxMaxSpan: "72h"})
	_, f := s.one(t, "AWS::Lambda::Function", "TriageFunction")
	env := path(props(f), "Environment", "Variables").(map[string]any)
	if env["CUSTODY_LOOKBACK"] != "12h" || env["CUSTODY_LOOKAHEAD"] != "30m" || env["CUSTODY_MAX_SPAN"] != "72h" {
		t.Errorf("env = %s", jsonString(env))
	}
}

// statements returns every statement of the IAM policies attached to the role
// whose logical ID starts with rolePrefix.
func (s *synthed) statements(t *testing.T, rolePrefix string) []map[string]any {
	t.Helper()
	roleID, role := s.one(t, "AWS::IAM::Role", rolePrefix)
	if len(list(props(role)["ManagedPolicyArns"])) != 0 {
		t.Errorf("%s has managed policies: %v", roleID, props(role)["ManagedPolicyArns"])
	}
	var out []map[string]any
	for _, p := range s.resources("AWS::IAM::Policy") {
		if !strings.Contains(jsonString(props(p)["Roles"]), `"`+roleID+`"`) {
			continue
		}
		for _, st := range list(path(props(p), "PolicyDocument", "Statement")) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func TestFunctionRolesLeastPrivilege(t *testing.T) {
	s := defaultStack(t)
	for _, tc := range []struct {
		role       string
		must       []string
		putPrefix  []string // the only prefixes s3:PutObject may name
		notAllowed []string
	}{
		{"TriageFunctionRole", []string{"s3:PutObject", "s3:GetObject", "guardduty:GetFindings", "kms:GenerateDataKey", "kms:Decrypt"},
			[]string{"cases/*", "rejected/*"}, []string{"sns:Publish", "s3:DeleteObject"}},
		{"CollectGuardDutyFunctionRole", []string{"s3:PutObject", "s3:GetObject", "guardduty:GetFindings", "guardduty:ListFindings", "guardduty:ListDetectors", "kms:GenerateDataKey"},
			[]string{"cases/*"}, []string{"sns:Publish", "s3:DeleteObject"}},
		{"CollectCloudWatchFunctionRole", []string{"s3:PutObject", "s3:GetObject", "logs:FilterLogEvents", "logs:DescribeLogGroups", "kms:GenerateDataKey"},
			[]string{"cases/*"}, []string{"sns:Publish", "s3:DeleteObject", "guardduty:GetFindings", "logs:CreateExportTask"}},
		{"CollectCloudTrailFunctionRole", []string{"s3:PutObject", "cloudtrail:DescribeTrails", "cloudtrail:LookupEvents", "cloudtrail:GetTrailStatus", "s3:GetObject", "kms:Decrypt"},
			[]string{"cases/*"}, []string{"sns:Publish", "s3:DeleteObject", "cloudtrail:StopLogging", "s3:PutBucketPolicy"}},
		{"CollectCloudTrailShardFunctionRole", []string{"s3:PutObject", "cloudtrail:DescribeTrails", "s3:GetObject", "kms:Decrypt"},
			[]string{"cases/*"}, []string{"sns:Publish", "s3:DeleteObject", "cloudtrail:StopLogging", "s3:PutBucketPolicy"}},
		{"CollectVPCFlowFunctionRole", []string{"s3:PutObject", "ec2:DescribeFlowLogs", "logs:FilterLogEvents", "s3:GetObject"},
			[]string{"cases/*"}, []string{"sns:Publish", "s3:DeleteObject", "ec2:DeleteFlowLogs"}},
		{"CollectS3AccessFunctionRole", []string{"s3:PutObject", "s3:GetBucketLogging", "s3:GetBucketPolicy", "s3:GetObject"},
			[]string{"cases/*"}, []string{"sns:Publish", "s3:DeleteObject", "s3:PutBucketLogging", "s3:PutBucketPolicy"}},
		{"CollectEC2FunctionRole", []string{"s3:PutObject", "ec2:DescribeInstances", "ec2:CreateSnapshots", "ec2:CreateTags", "ec2:GetConsoleOutput"},
			[]string{"cases/*"}, []string{"sns:Publish", "ec2:StopInstances", "ec2:TerminateInstances", "ec2:ModifyInstanceAttribute", "ec2:DeleteSnapshot"}},
		{"CollectIAMFunctionRole", []string{"s3:PutObject", "iam:GetUser", "iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails", "iam:GetAccessKeyLastUsed"},
			[]string{"cases/*"}, []string{"sns:Publish", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:AttachRolePolicy"}},
		{"CollectInspectorFunctionRole", []string{"s3:PutObject", "inspector2:ListFindings"},
			[]string{"cases/*"}, []string{"sns:Publish", "inspector2:Disable", "guardduty:GetFindings"}},
		{"CollectDynamoDBFunctionRole", []string{"s3:PutObject", "s3:GetObject", "dynamodb:DescribeTable", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
			[]string{"cases/*"}, []string{"sns:Publish", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"}},
		{"SealFunctionRole", []string{"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "sns:Publish", "kms:GenerateDataKey", "cloudtrail:ListPublicKeys"},
			[]string{"cases/*"}, []string{"guardduty:GetFindings", "s3:DeleteObject", "kms:Sign", "cloudtrail:StopLogging"}},
		{"ReadinessFunctionRole", []string{"s3:PutObject", "s3:GetObject", "sns:Publish", "cloudtrail:GetEventSelectors", "ec2:DescribeFlowLogs", "s3:GetBucketLogging",
			"guardduty:GetDetector", "inspector2:BatchGetAccountStatus", "dynamodb:DescribeTable", "logs:DescribeLogGroups"},
			[]string{"readiness/*"}, []string{"s3:DeleteObject", "cloudtrail:StopLogging", "cloudtrail:PutEventSelectors", "s3:PutBucketLogging", "guardduty:UpdateDetector", "ec2:DeleteFlowLogs"}},
	} {
		t.Run(tc.role, func(t *testing.T) {
			sts := s.statements(t, tc.role)
			have := map[string]bool{}
			for _, st := range sts {
				if st["Effect"] != "Allow" {
					continue
				}
				res := jsonString(st["Resource"])
				for _, a := range list(st["Action"]) {
					a := a.(string)
					have[a] = true
					if a == "*" || strings.HasSuffix(a, ":*") {
						t.Errorf("wildcard action %s", a)
					}
					if a == "s3:PutObject" {
						for _, r := range list(st["Resource"]) {
							ok := false
							for _, p := range tc.putPrefix {
								ok = ok || strings.HasSuffix(jsonString(r), `/`+p+`"]]}`)
							}
							if !ok {
								t.Errorf("s3:PutObject on %s, allowed only under %v", jsonString(r), tc.putPrefix)
							}
						}
					}
					cond := jsonString(st["Condition"])
					onEvidence := strings.Contains(res, "EvidenceBucket")
					// On the evidence bucket, listing is limited to cases/ (the
					// readiness audit: its readiness/); on source buckets (log
					// readers), to this account's buckets.
					listPrefix := "cases/*"
					if tc.role == "ReadinessFunctionRole" {
						listPrefix = "readiness/*"
					}
					if a == "s3:ListBucket" && onEvidence && !strings.Contains(cond, `"s3:prefix":["`+listPrefix+`"]`) {
						t.Errorf("s3:ListBucket without the %s prefix condition: %s", listPrefix, jsonString(st))
					}
					if a == "s3:ListBucket" && !onEvidence && !strings.Contains(cond, `"s3:ResourceAccount"`) {
						t.Errorf("s3:ListBucket of source buckets not limited to this account: %s", jsonString(st))
					}
					// KMS: the evidence key, or (log readers) decrypt only, only through S3.
					if strings.HasPrefix(a, "kms:") && !strings.Contains(res, "EvidenceKey") &&
						(a != "kms:Decrypt" || !strings.Contains(cond, `"kms:ViaService":{"Fn::Join":["",["s3.",`)) {
						t.Errorf("%s on %s (condition %s)", a, res, cond)
					}
				}
			}
			for _, a := range tc.must {
				if !have[a] {
					t.Errorf("lacks %s (has %v)", a, have)
				}
			}
			for _, a := range tc.notAllowed {
				if have[a] {
					t.Errorf("may %s", a)
				}
			}
		})
	}
}

// TestReadinessSchedule: the scheduled readiness audit is a function an
// EventBridge schedule runs daily (schedules never fire in the emulator:
// functions/readiness runs its handler directly), told the bucket, the
// topic, the lookback and the tables.
func TestReadinessSchedule(t *testing.T) {
	s := defaultStack(t)
	fnID, fn := s.one(t, "AWS::Lambda::Function", "ReadinessFunction")
	env := jsonString(path(props(fn), "Environment", "Variables"))
	for _, k := range []string{"EVIDENCE_BUCKET", "CASE_TOPIC_ARN", "CUSTODY_ACCOUNT_ID", `"CUSTODY_LOOKBACK":"6h"`, "CUSTODY_DYNAMODB_TABLES"} {
		if !strings.Contains(env, k) {
			t.Errorf("ReadinessFunction environment lacks %s: %s", k, env)
		}
	}
	_, rule := s.one(t, "AWS::Events::Rule", "ReadinessSchedule")
	p := props(rule)
	if p["ScheduleExpression"] != "rate(1 day)" || p["State"] != "ENABLED" {
		t.Errorf("schedule = %s", jsonString(p))
	}
	if targets := list(p["Targets"]); len(targets) != 1 || !strings.Contains(jsonString(path(targets[0], "Arn")), fnID) {
		t.Errorf("targets = %s, want %s", jsonString(p["Targets"]), fnID)
	}
	found := false
	for _, perm := range s.resources("AWS::Lambda::Permission") {
		pp := props(perm)
		found = found || (strings.Contains(jsonString(pp["FunctionName"]), fnID) && pp["Principal"] == "events.amazonaws.com" &&
			strings.Contains(jsonString(pp["SourceArn"]), "ReadinessSchedule"))
	}
	if !found {
		t.Error("EventBridge may not invoke ReadinessFunction from the schedule")
	}
}

func TestOutputs(t *testing.T) {
	s := defaultStack(t)
	outs := s.raw["Outputs"].(map[string]any)
	for _, id := range []string{"EvidenceBucketName", "StateMachineArn", "CaseTopicArn"} {
		if outs[id] == nil {
			t.Errorf("no output %s (have %v)", id, keys(outs))
		}
	}
}

func TestCaseTopicEncrypted(t *testing.T) {
	s := defaultStack(t)
	_, topic := s.one(t, "AWS::SNS::Topic", "CaseTopic")
	if !strings.Contains(jsonString(props(topic)["KmsMasterKeyId"]), "EvidenceKey") {
		t.Errorf("topic = %s", jsonString(topic))
	}
}

func TestConfigFromContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		err  string
		want func(Config) bool
	}{
		{"empty gives defaults", map[string]any{}, "", func(c Config) bool {
			return c.SeverityThreshold == 4 && c.LockMode == "COMPLIANCE" && c.RetentionDays == 365 &&
				c.BreakGlassRoleName == "CustodyBreakGlass" && c.InvestigatorRoleName == "CustodyInvestigator" &&
				c.Lookback == "6h" && c.Lookahead == "1h" && c.MaxSpan == "168h" &&
				c.ShardBytes == 2<<30 && c.ShardObjects == 4000 && c.PivotDepth == 3 && c.PivotMaxIdentities == 50 && c.BaselineDays == 1
		}},
		{"pivot bounds", map[string]any{CtxPivotDepth: "2", CtxPivotMaxIdentities: 7.0}, "", func(c Config) bool {
			return c.PivotDepth == 2 && c.PivotMaxIdentities == 7
		}},
		{"zero pivot depth", map[string]any{CtxPivotDepth: 0}, "custody:pivotDepth", nil},
		{"pivot depth too deep", map[string]any{CtxPivotDepth: 11}, "custody:pivotDepth", nil},
		{"fractional pivot identities", map[string]any{CtxPivotMaxIdentities: 1.5}, "custody:pivotMaxIdentities", nil},
		{"zero pivot identities", map[string]any{CtxPivotMaxIdentities: 0}, "custody:pivotMaxIdentities", nil},
		{"no baseline", map[string]any{CtxBaselineDays: "0"}, "", func(c Config) bool { return c.BaselineDays == 0 }},
		{"baseline too long", map[string]any{CtxBaselineDays: 91}, "custody:baselineDays", nil},
		{"cli strings", map[string]any{CtxSeverityThreshold: "7", CtxFindingTypeInclude: `["Recon:"]`, CtxRetentionDays: "10"}, "", func(c Config) bool {
			return c.SeverityThreshold == 7 && slices.Equal(c.FindingTypeInclude, []string{"Recon:"}) && c.RetentionDays == 10
		}},
		{"shard budget", map[string]any{CtxShardBytes: "1048576", CtxShardObjects: 10.0}, "", func(c Config) bool {
			return c.ShardBytes == 1<<20 && c.ShardObjects == 10
		}},
		{"negative shard budget", map[string]any{CtxShardBytes: -1}, "custody:shardBytes", nil},
		{"fractional shard objects", map[string]any{CtxShardObjects: 2.5}, "custody:shardObjects", nil},
		{"bad lock mode", map[string]any{CtxLockMode: "governance-ish"}, "custody:lockMode", nil},
		{"bad duration", map[string]any{CtxLookback: "six hours"}, "custody:lookback", nil},
		{"bad threshold", map[string]any{CtxSeverityThreshold: "high"}, "custody:severityThreshold", nil},
		{"zero retention", map[string]any{CtxRetentionDays: 0}, "custody:retentionDays", nil},
		{"fractional retention", map[string]any{CtxRetentionDays: 1.5}, "custody:retentionDays", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFrom(func(k string) any { return tc.ctx[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestInvalidLockModeFailsSynth(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("synth with lockMode BOGUS did not fail")
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "custody:lockMode") || !strings.Contains(msg, "BOGUS") {
			t.Errorf("error does not name the key and value: %s", msg)
		}
	}()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{CtxLockMode: "BOGUS"}})
	NewCustodyStack(app, "Custody", &CustodyStackProps{FunctionsDir: functionsDir})
}

// repoRoot is the module root, where node_modules and cdk.json live.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd) // tests run in infra/
}

func TestTemplatePassesCfnLint(t *testing.T) {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Fatal("cfn-lint not found: install: pip install cfn-lint")
	}
	// The default stack, and the one with every containment mode (the
	// approval states and the approver role).
	for name, s := range map[string]*synthed{"default": defaultStack(t), "containment": synth(t, containOn)} {
		f := filepath.Join(t.TempDir(), "Custody.template.json")
		b, _ := json.MarshalIndent(s.raw, "", " ")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		// W3005: CDK adds DependsOn on a role that a GetAtt already implies (so
		// the role's policy exists before the function); redundant, harmless.
		out, err := exec.Command("cfn-lint", "--ignore-checks", "W3005", "--", f).CombinedOutput()
		if err != nil {
			t.Errorf("%s: cfn-lint: %v\n%s", name, err, out)
		}
	}
}

func TestDefinitionPassesAslValidator(t *testing.T) {
	bin := filepath.Join(repoRoot(t), "node_modules", ".bin", "asl-validator")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("asl-validator not installed (%v): run npm ci at the repository root", err)
	}
	for name, s := range map[string]*synthed{"default": defaultStack(t), "containment": synth(t, containOn)} {
		f := filepath.Join(t.TempDir(), "definition.asl.json")
		b, _ := json.Marshal(s.definition(t))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "--json-path", f).CombinedOutput()
		if err != nil {
			t.Errorf("%s: asl-validator: %v\n%s", name, err, out)
		}
	}
}

// TestSuppressionsHaveReasons keeps every cdk-nag suppression honest: a rule
// ID and a reason long enough to say something.
func TestSuppressionsHaveReasons(t *testing.T) {
	s := defaultStack(t)
	re := regexp.MustCompile(`^AwsSolutions-[A-Z]+[0-9]+$`)
	n := 0
	for id, r := range s.raw["Resources"].(map[string]any) {
		for _, sup := range list(path(r, "Metadata", "cdk_nag", "rules_to_suppress")) {
			n++
			sid, _ := path(sup, "id").(string)
			reason, _ := path(sup, "reason").(string)
			if !re.MatchString(sid) || len(reason) < 40 {
				t.Errorf("%s: suppression %q with reason %q", id, sid, reason)
			}
		}
	}
	if n == 0 {
		t.Error("no suppressions found: metadata layout changed?")
	}
}
