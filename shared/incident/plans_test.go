package incident

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/plans.json and docs/plans.md")

const (
	syntheticDir = "testdata/synthetic"
	plansGolden  = "testdata/golden/plans.json"
	plansDoc     = "../../docs/plans.md"
)

// input is one finding input as Triage receives it.
type input struct {
	name   string
	source string // "corpus" (real, as published) or "derived" (testdata/synthetic)
	raw    []byte
}

func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corpusInputs lists every GuardDuty finding sample of the corpus (and the
// Security Hub ones, refused), each in the form it comes in: a file as it
// is; the placebo recording's data; each stix-shifter finding; each line
// of the panther export.
func corpusInputs(t *testing.T) []input {
	t.Helper()
	var out []input
	for _, p := range []string{
		"cloud-custodian/guardduty_eventbridge_ec2_dns_sample.json",
		"cloud-custodian/guardduty_eventbridge_iam_toripcaller.json",
		"cloud-custodian/securityhub_custom_action_event_iamkey.json",
		"aws-samples-guardduty-automated-response/guardduty_ec2_event.json",
		"aws-samples-guardduty-automated-response/guardduty_iam_event.json",
		"aws-samples-guardduty-automated-response/guardduty_s3_event.json",
		"aws-cli-examples/guardduty_get-findings_output.json",
		"aws-cli-examples/securityhub_get-findings_output_asff.json",
	} {
		out = append(out, input{p, "corpus", readCorpus(t, p)})
	}
	var placebo struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(readCorpus(t, "cloud-custodian/placebo_securityhub_GetFindings_guardduty_asff.json"), &placebo); err != nil {
		t.Fatal(err)
	}
	out = append(out, input{"cloud-custodian/placebo_securityhub_GetFindings_guardduty_asff.json#data", "corpus", placebo.Data})
	var stix []struct {
		Var     string          `json:"python_variable"`
		Finding json.RawMessage `json:"finding"`
	}
	if err := json.Unmarshal(readCorpus(t, "stix-shifter/guardduty_getfindings_pascalcase_4_findings.json"), &stix); err != nil {
		t.Fatal(err)
	}
	for _, s := range stix {
		out = append(out, input{"stix-shifter/guardduty_getfindings_pascalcase_4_findings.json#" + s.Var, "corpus", s.Finding})
	}
	const panther = "panther-analysis/guardduty_rule_test_logs.jsonl"
	sc := bufio.NewScanner(bytes.NewReader(readCorpus(t, panther)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var line struct {
			Name string          `json:"test_name"`
			Log  json.RawMessage `json:"log"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		out = append(out, input{fmt.Sprintf("%s#%d (%s)", panther, n, line.Name), "corpus", line.Log})
	}
	return out
}

// syntheticInputs lists testdata/synthetic: findings derived from the
// corpus's shapes with fields added per the GuardDuty documentation (see
// testdata/SOURCES.md).
func syntheticInputs(t *testing.T) []input {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(syntheticDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no synthetic findings: %v", err)
	}
	var out []input
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, input{"synthetic/" + filepath.Base(p), "derived", b})
	}
	return out
}

// planned is what the golden file pins for one input.
type planned struct {
	Source       string   `json:"source"`
	Kind         string   `json:"kind,omitempty"`
	Type         string   `json:"type,omitempty"`
	ResourceType string   `json:"resourceType,omitempty"`
	Plan         []string `json:"plan,omitempty"`
	Scope        *Scope   `json:"scope,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	Refused      *refusal `json:"refused,omitempty"`
}

type refusal struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func collectors(plan []PlanItem) []string {
	var out []string
	for _, p := range plan {
		out = append(out, p.Collector)
	}
	return out
}

// planInput parses raw as Triage does and builds its incident.
func planInput(t *testing.T, in input) (planned, *Incident) {
	t.Helper()
	got := planned{Source: in.source}
	parsed, err := finding.Parse(in.raw)
	got.Kind = string(parsed.Kind)
	if err != nil {
		var inv *faults.InvalidInputError
		if !errors.As(err, &inv) {
			t.Errorf("%s: refused with %T %v, not an InvalidInputError", in.name, err, err)
			return got, nil
		}
		got.Refused = &refusal{Field: inv.Field, Reason: inv.Reason}
		return got, nil
	}
	if parsed.Finding == nil {
		t.Errorf("%s: parsed as %s, not a finding", in.name, parsed.Kind)
		return got, nil
	}
	inc, err := FromFinding(parsed.Finding, DefaultConfig(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Errorf("%s: FromFinding: %v", in.name, err)
		return got, nil
	}
	got.Type, got.ResourceType = parsed.Finding.Type, parsed.Finding.ResourceType()
	got.Plan, got.Scope, got.Warnings = collectors(inc.Plan), &inc.Scope, inc.Warnings
	return got, inc
}

// TestPlansGolden plans every GuardDuty finding of the corpus, in the form
// it comes in, and every synthetic one, and compares resource type, plan
// and scope with testdata/golden/plans.json (go test -run TestPlansGolden
// -update rewrites it). Refused inputs are listed with the field named.
func TestPlansGolden(t *testing.T) {
	inputs := append(corpusInputs(t), syntheticInputs(t)...)
	got := map[string]planned{}
	rows := map[string]bool{} // plan table rows used, by first type
	for _, in := range inputs {
		p, inc := planInput(t, in)
		if _, dup := got[in.name]; dup {
			t.Fatalf("two inputs named %s", in.name)
		}
		got[in.name] = p
		if inc == nil {
			continue
		}
		// Every plan: the finding first, each collector once, every item
		// with a reason.
		seen := map[string]bool{}
		for i, item := range inc.Plan {
			if (i == 0) != (item.Collector == CollectorGuardDuty) || seen[item.Collector] || item.Reason == "" {
				t.Errorf("%s: plan %v", in.name, p.Plan)
			}
			seen[item.Collector] = true
		}
		types := []string{p.ResourceType}
		parsed, _ := finding.Parse(in.raw)
		if q := parsed.Finding.Sequence(); q != nil {
			for _, r := range q.Resources {
				types = append(types, r.ResourceType)
			}
		}
		for _, typ := range types {
			if row, ok := rowFor(typ); ok {
				rows[row.Types[0]] = true
			}
		}
	}
	// The rows every GuardDuty finding family lands in are pinned by at
	// least one input.
	for _, typ := range []string{"Instance", "AccessKey", "S3Bucket", "EKSCluster", "ECSCluster", "Lambda", "RDSDBInstance", "AttackSequence"} {
		if !rows[typ] {
			t.Errorf("no input is planned by the %s row", typ)
		}
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(plansGolden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(plansGolden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(plansGolden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("plans differ from %s (run with -update and review the diff):\n%s", plansGolden, b)
	}
}

// TestPlansExplicit pins, independent of the golden file, the plan of each
// finding family and the parts of its scope that drive it.
func TestPlansExplicit(t *testing.T) {
	cases := []struct {
		path  string
		plan  []string
		check func(t *testing.T, s Scope)
		warn  string
	}{
		{"synthetic/eks_audit_envelope.json",
			[]string{"guardduty", "cloudtrail", "cloudwatch", "iam", "inspector"},
			func(t *testing.T, s Scope) {
				want(t, "clusters", s.Clusters, "arn:aws:eks:us-east-1:123456789012:cluster/shop-prod")
				want(t, "logGroups", s.LogGroups, "/aws/eks/shop-prod/cluster")
				want(t, "principals", s.Principals, "arn:aws:sts::123456789012:assumed-role/eks-deployer/ci-session")
				want(t, "roleNames", s.RoleNames, "eks-deployer")
				want(t, "principalIds", s.PrincipalIDs, "AROAEXAMPLEDEPLOYER01")
				want(t, "kubernetesUsers", s.KubernetesUsers, "arn:aws:sts::123456789012:assumed-role/eks-deployer/ci-session")
				want(t, "images", s.Images, "123456789012.dkr.ecr.us-east-1.amazonaws.com/tools/debug:1.4.2")
				want(t, "remoteIps", s.RemoteIPs, "198.51.100.7")
			}, ""},
		{"synthetic/ecs_runtime_finding.json",
			[]string{"guardduty", "cloudtrail", "cloudwatch", "inspector"},
			func(t *testing.T, s Scope) {
				want(t, "clusters", s.Clusters, "arn:aws:ecs:us-east-1:123456789012:cluster/shop-batch")
				want(t, "images", s.Images, "123456789012.dkr.ecr.us-east-1.amazonaws.com/report-worker@sha256:9b2f7c4d1e0a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c")
				want(t, "domains", s.Domains, "pool.example-miner.net")
			}, ""},
		{"synthetic/container_malware_finding.json",
			[]string{"guardduty", "cloudtrail", "cloudwatch", "ec2", "vpcflow", "iam", "inspector"},
			func(t *testing.T, s Scope) {
				want(t, "instances", s.Instances, "i-0abc1234def567890")
				want(t, "volumes", s.Volumes, "vol-0a1b2c3d4e5f60004")
				want(t, "images", s.Images, "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:2024.07.30", "ami-0f1e2d3c4b5a69788")
				want(t, "findings", s.Findings, "7a6c2f10d4e84b5c9f0e1d2c3b4a5968")
			}, ""},
		{"synthetic/lambda_network_envelope.json",
			[]string{"guardduty", "cloudtrail", "cloudwatch", "inspector", "iam"},
			func(t *testing.T, s Scope) {
				want(t, "functions", s.Functions, "arn:aws:lambda:us-east-1:123456789012:function:thumbnailer")
				want(t, "logGroups", s.LogGroups, "/aws/lambda/thumbnailer")
				want(t, "principals", s.Principals, "arn:aws:iam::123456789012:role/thumbnailer-exec")
				want(t, "roleNames", s.RoleNames, "thumbnailer-exec")
				want(t, "remoteIps", s.RemoteIPs, "203.0.113.66")
			}, ""},
		{"synthetic/rds_login_getfindings.json",
			[]string{"guardduty", "cloudtrail", "cloudwatch"},
			func(t *testing.T, s Scope) {
				want(t, "dbInstances", s.DBInstances, "orders-db-1")
				want(t, "dbUsers", s.DBUsers, "reporting")
				want(t, "logGroups", s.LogGroups, "/aws/rds/cluster/orders-db/postgresql")
				want(t, "remoteIps", s.RemoteIPs, "192.0.2.199")
			}, ""},
		{"synthetic/malware_ec2_finding.json",
			[]string{"guardduty", "ec2", "cloudtrail", "vpcflow", "cloudwatch", "inspector", "iam"},
			func(t *testing.T, s Scope) {
				want(t, "instances", s.Instances, "i-0123456789abcdef0")
				want(t, "volumes", s.Volumes, "vol-0123456789abcdef5")
				want(t, "images", s.Images, "ami-0a1b2c3d4e5f60789")
				want(t, "principals", s.Principals, "arn:aws:iam::123456789012:instance-profile/web-profile")
				want(t, "findings", s.Findings, "b4b01b60fc24a199139f8f5f490edd81")
			}, ""},
		{"synthetic/malware_s3_envelope.json",
			[]string{"guardduty", "cloudtrail", "s3access"},
			func(t *testing.T, s Scope) {
				want(t, "buckets", s.Buckets, "shop-uploads")
				want(t, "objects", s.Objects, "shop-uploads/incoming/2024/08/02/invoice.pdf.exe")
			}, ""},
		{"synthetic/attack_sequence_finding.json",
			// AttackSequence's row, then ACCESS_KEY's, S3_BUCKET's,
			// (S3_OBJECT's adds nothing new) and EC2_INSTANCE's.
			[]string{"guardduty", "cloudtrail", "iam", "s3access", "ec2", "vpcflow", "cloudwatch", "inspector"},
			func(t *testing.T, s Scope) {
				want(t, "accessKeys", s.AccessKeys, "AKIA3UBBJ2K3TEXAMPLE", "ASIA3UBBJ2K3WEBSESS1")
				want(t, "principalIds", s.PrincipalIDs, "AIDA3UBBJ2K3TVEXAMPLE", "AROA3UBBJ2K3WEBROLE1")
				want(t, "userNames", s.UserNames, "john_doe")
				want(t, "roleNames", s.RoleNames, "web-role")
				want(t, "principals", s.Principals, "arn:aws:iam::123456789012:instance-profile/web-profile", "arn:aws:iam::123456789012:role/web-role")
				want(t, "buckets", s.Buckets, "shop-data")
				want(t, "objects", s.Objects, "shop-data/exports/customers.csv")
				want(t, "instances", s.Instances, "i-0123456789abcdef0")
				want(t, "enis", s.ENIs, "eni-0123456789abcdef1")
				want(t, "remoteIps", s.RemoteIPs, "10.0.0.1")
				want(t, "findings", s.Findings, "8c258d654378414b9bc26f61a93eb816", "b174b38d16e34da0a4c66012083bd8f7")
			}, ""},
		{"synthetic/iam_dynamodb_export_finding.json",
			[]string{"guardduty", "cloudtrail", "iam", "dynamodb", "s3access"},
			func(t *testing.T, s Scope) {
				want(t, "tables", s.Tables, "orders")
				want(t, "buckets", s.Buckets, "external-drop-bucket")
				want(t, "roleNames", s.RoleNames, "analyst")
				want(t, "accessKeys", s.AccessKeys, "ASIA3UBBJ2K3EXPORT01")
			}, ""},
		// Panther dropped the sequence: the AttackSequence row and a warning.
		{"panther-analysis/guardduty_rule_test_logs.jsonl#1 (Critical Sev Finding)",
			[]string{"guardduty", "cloudtrail"}, nil, "no service.detection.sequence"},
		{"aws-cli-examples/guardduty_get-findings_output.json",
			[]string{"guardduty", "cloudtrail", "iam"}, nil, ""},
	}
	all := map[string]input{}
	for _, in := range append(corpusInputs(t), syntheticInputs(t)...) {
		all[in.name] = in
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			in, ok := all[c.path]
			if !ok {
				t.Fatal("no such input")
			}
			p, inc := planInput(t, in)
			if inc == nil {
				t.Fatalf("not planned: %+v", p.Refused)
			}
			if !reflect.DeepEqual(p.Plan, c.plan) {
				t.Errorf("plan %q, want %q", p.Plan, c.plan)
			}
			if c.check != nil {
				c.check(t, inc.Scope)
			}
			var planWarns []string // the window's are not the plan's
			for _, w := range inc.Warnings {
				if !strings.HasPrefix(w, "window ") {
					planWarns = append(planWarns, w)
				}
			}
			warns := strings.Join(planWarns, "\n")
			if (c.warn == "") != (warns == "") || !strings.Contains(warns, c.warn) {
				t.Errorf("warnings %q, want one saying %q", inc.Warnings, c.warn)
			}
		})
	}
}

func want(t *testing.T, name string, got []string, vals ...string) {
	t.Helper()
	sorted := append([]string(nil), vals...)
	sort.Strings(sorted)
	if !reflect.DeepEqual(got, sorted) {
		t.Errorf("%s %q, want %q", name, got, sorted)
	}
}

// TestPlanUnion: an attack sequence's plan is the union of its rows, in
// order, each collector once; an unknown resource type among them adds a
// warning, not an error; the same types always give the same plan.
func TestPlanUnion(t *testing.T) {
	cases := []struct {
		name  string
		typ   string
		also  []string
		scope Scope
		want  []string
		warns int
	}{
		{"no resources", "AttackSequence", nil, Scope{}, []string{"guardduty", "cloudtrail"}, 0},
		{"a key and a bucket", "AttackSequence", []string{"ACCESS_KEY", "S3_BUCKET", "S3_OBJECT"}, Scope{},
			[]string{"guardduty", "cloudtrail", "iam", "s3access"}, 0},
		{"an EKS cluster, a workload and a container", "AttackSequence", []string{"EKS_CLUSTER", "KUBERNETES_WORKLOAD", "CONTAINER"}, Scope{Images: []string{"img"}},
			[]string{"guardduty", "cloudtrail", "cloudwatch", "inspector"}, 0},
		{"order follows the resources", "AttackSequence", []string{"S3_BUCKET", "EC2_INSTANCE", "ACCESS_KEY"}, Scope{},
			[]string{"guardduty", "cloudtrail", "s3access", "ec2", "vpcflow", "cloudwatch", "inspector", "iam"}, 0},
		{"an unknown type among them", "AttackSequence", []string{"CLOUDFORMATION_STACK", "CLOUDFORMATION_STACK", "ECS_TASK"}, Scope{},
			[]string{"guardduty", "cloudtrail", "cloudwatch"}, 1},
		{"unknown finding type", "Spaceship", []string{"EC2_INSTANCE"}, Scope{},
			[]string{"guardduty", "cloudtrail", "ec2", "vpcflow", "cloudwatch", "inspector"}, 1},
		{"a table in scope", "AccessKey", nil, Scope{Tables: []string{"t"}},
			[]string{"guardduty", "cloudtrail", "iam", "dynamodb"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, warns := Plan("r", c.scope, c.typ, c.also...)
			if got := collectors(plan); !reflect.DeepEqual(got, c.want) {
				t.Errorf("plan %q, want %q", got, c.want)
			}
			if len(warns) != c.warns {
				t.Errorf("warnings %q, want %d", warns, c.warns)
			}
			again, _ := Plan("r", c.scope, c.typ, c.also...)
			if !reflect.DeepEqual(plan, again) {
				t.Error("not deterministic")
			}
		})
	}
}

// TestScopeRules: each scope rule adds its collector for exactly the scope
// lists it names.
func TestScopeRules(t *testing.T) {
	one := []string{"x"}
	cases := []struct {
		scope Scope
		want  []string
	}{
		{Scope{Tables: one}, []string{"dynamodb"}},
		{Scope{Instances: one}, []string{"ec2", "vpcflow", "inspector"}},
		{Scope{ENIs: one}, []string{"vpcflow"}},
		{Scope{Buckets: one}, []string{"s3access"}},
		{Scope{Functions: one}, []string{"cloudwatch", "inspector"}},
		{Scope{Clusters: one}, []string{"cloudwatch"}},
		{Scope{LogGroups: one}, []string{"cloudwatch"}},
		{Scope{Principals: one}, []string{"iam"}},
		{Scope{PrincipalIDs: one}, nil},
		{Scope{AccessKeys: one}, []string{"iam"}},
		{Scope{UserNames: one}, []string{"iam"}},
		{Scope{RoleNames: one}, []string{"iam"}},
		{Scope{Images: one}, []string{"inspector"}},
		{Scope{}, nil},
	}
	for _, c := range cases {
		got := collectors(WithScope(nil, c.scope))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.scope, got, c.want)
		}
	}
	// Every collector the table or the rules name is a known collector.
	known := map[string]bool{CollectorGuardDuty: true, CollectorCloudTrail: true, CollectorVPCFlow: true, CollectorS3Access: true,
		CollectorCloudWatch: true, CollectorEC2: true, CollectorDynamoDB: true, CollectorIAM: true, CollectorInspector: true}
	for _, r := range plans {
		for _, p := range r.Collectors {
			if !known[p.Collector] || p.Reason == "" {
				t.Errorf("%v: %+v", r.Types, p)
			}
		}
	}
	for _, r := range byScope {
		if !known[r.Item.Collector] || r.What == "" {
			t.Errorf("rule %+v", r)
		}
	}
	// No type is in two rows.
	seen := map[string]bool{}
	for _, k := range KnownResourceTypes() {
		if seen[k] {
			t.Errorf("%s is in two rows", k)
		}
		seen[k] = true
	}
}

// TestScopeOfARNs: the identifiers ARNs give.
func TestScopeOfARNs(t *testing.T) {
	b := newScopeBuilder()
	for _, a := range []string{
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-08-02T00:00:00.000",
		"arn:aws:ecs:us-east-1:123456789012:task/shop-batch/0f9e",
		"arn:aws:rds:us-east-1:123456789012:db:orders-db-1",
		"arn:aws:ec2:us-east-1:123456789012:image/ami-0123",
		"arn:aws:iam::123456789012:user/ops/alice",
		"arn:aws:sts::123456789012:assumed-role/Admin/bob",
		"arn:aws:s3:::bucket/a/b.txt",
		"arn:aws:lambda:us-east-1:123456789012:function:fn:prod",
	} {
		if !b.arn(a) {
			t.Errorf("%s: not known", a)
		}
	}
	if b.arn("arn:aws:ec2:us-east-1:123456789012:snapshot/snap-1") || b.arn("not-an-arn") {
		t.Error("an unknown ARN is known")
	}
	s := b.scope("", "")
	want(t, "tables", s.Tables, "orders")
	want(t, "clusters", s.Clusters, "arn:aws:ecs:us-east-1:123456789012:cluster/shop-batch")
	want(t, "dbInstances", s.DBInstances, "orders-db-1")
	want(t, "images", s.Images, "ami-0123")
	want(t, "userNames", s.UserNames, "alice")
	want(t, "roleNames", s.RoleNames, "Admin")
	want(t, "buckets", s.Buckets, "bucket")
	want(t, "objects", s.Objects, "bucket/a/b.txt")
	want(t, "functions", s.Functions, "arn:aws:lambda:us-east-1:123456789012:function:fn:prod")
	want(t, "logGroups", s.LogGroups, "/aws/lambda/fn")
	for _, c := range []struct{ engine, instance, cluster, want string }{
		{"aurora-postgresql", "db-1", "c", "/aws/rds/cluster/c/postgresql"},
		{"postgres", "db-1", "", "/aws/rds/instance/db-1/postgresql"},
		{"mysql", "db-1", "", "/aws/rds/instance/db-1/audit /aws/rds/instance/db-1/error"},
		{"aurora-mysql", "db-1", "c", "/aws/rds/cluster/c/audit /aws/rds/cluster/c/error"},
		{"", "db-1", "c", ""},
	} {
		if got := strings.Join(rdsLogGroups(c.engine, c.instance, c.cluster), " "); got != c.want {
			t.Errorf("rdsLogGroups(%q, %q, %q) = %q, want %q", c.engine, c.instance, c.cluster, got, c.want)
		}
	}
}

// TestPlansDoc writes the plan table as docs/plans.md (go test -run
// TestPlansDoc -update), so that the document cannot drift from the table.
func TestPlansDoc(t *testing.T) {
	got := []byte(plansMarkdown())
	if *update {
		if err := os.WriteFile(plansDoc, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(plansDoc)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the plan table (run go test ./shared/incident -run TestPlansDoc -update):\n%s", plansDoc, got)
	}
}

func plansMarkdown() string {
	var b strings.Builder
	code := func(vals []string) string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = "`" + v + "`"
		}
		return strings.Join(out, ", ")
	}
	names := func(items []PlanItem) []string {
		out := []string{CollectorGuardDuty}
		return append(out, collectors(items)...)
	}
	b.WriteString("<!-- Generated from shared/incident/plan.go by `go test ./shared/incident -run TestPlansDoc -update`. Do not edit. -->\n\n")
	b.WriteString("# Which evidence each finding gets\n\n")
	b.WriteString("Triage plans the collectors from the finding's `resource.resourceType`\n")
	b.WriteString("(the plan table, `plans` in `shared/incident/plan.go`), then adds those for\n")
	b.WriteString("what the finding names besides (`byScope`). Every plan starts with\n")
	b.WriteString("`guardduty`: the finding as received, its parsed summary, and the related\n")
	b.WriteString("findings. Each collector runs once, in the order below. Types match\n")
	b.WriteString("without regard to case, `_`, `-` or spaces, so an attack sequence's\n")
	b.WriteString("`EC2_INSTANCE` is `EC2Instance`.\n\n")
	b.WriteString("| resource type | findings | collectors |\n| --- | --- | --- |\n")
	for _, r := range plans {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(r.Types), r.Findings, strings.Join(names(r.Collectors), ", "))
	}
	fmt.Fprintf(&b, "| any other | a type custody does not know | %s, and a warning in the manifest (never a failure) |\n\n", strings.Join(names(generic), ", "))
	b.WriteString("**And whatever the finding names**, in this order after the row's own:\n\n")
	b.WriteString("| when the scope names | add |\n| --- | --- |\n")
	for _, r := range byScope {
		fmt.Fprintf(&b, "| %s | %s |\n", r.What, r.Item.Collector)
	}
	b.WriteString("\n**AttackSequence** findings plan as the union of the `AttackSequence` row\n")
	b.WriteString("and the rows of every resource of `service.detection.sequence.resources`;\n")
	b.WriteString("their scope is the union of the resources' scopes, with the actors'\n")
	b.WriteString("principals and keys, the endpoints' IPs and domains, and the IDs of the\n")
	b.WriteString("FINDING signals (for the `guardduty` collector's related findings). A\n")
	b.WriteString("sequence resource of a type not in the table adds CloudTrail and a\n")
	b.WriteString("warning. An AttackSequence without its sequence (a SIEM export that\n")
	b.WriteString("dropped it) is planned on its own row, with a warning.\n\n")
	b.WriteString("**Malware Protection** findings plan like their resource: for EC2\n")
	b.WriteString("(`Instance`, `Container`, `EBSVolume`; the scanned volumes go to the\n")
	b.WriteString("scope's `volumes`, the finding that triggered the scan to `findings`),\n")
	b.WriteString("for S3 (`S3Object`; the object to `objects` as `bucket/key`), for AWS\n")
	b.WriteString("Backup (`EBSSnapshot`, `EC2Image`, `RecoveryPoint`).\n\n")
	b.WriteString("**Where the scope comes from** (`ScopeOf` in `shared/incident/scope.go`):\n")
	b.WriteString("instances, ENIs, IPs, VPCs, subnets and security groups from\n")
	b.WriteString("`instanceDetails`; images from its `imageId` and from every container\n")
	b.WriteString("(`containerDetails`, `ecsClusterDetails.taskDetails.containers`,\n")
	b.WriteString("`kubernetesWorkloadDetails.containers`); principals, principal IDs, keys,\n")
	b.WriteString("user and role names from `accessKeyDetails`, the instance profile, the\n")
	b.WriteString("Lambda role, an IAM-mapped Kubernetes user (`kubernetesUserDetails`);\n")
	b.WriteString("clusters and their log groups from `eksClusterDetails` /\n")
	b.WriteString("`ecsClusterDetails`; functions and `/aws/lambda/<name>` from\n")
	b.WriteString("`lambdaDetails`; DB instances, DB users and the RDS login log groups from\n")
	b.WriteString("`rdsDbInstanceDetails`, `rdsDbUserDetails` and\n")
	b.WriteString("`rdsLoginAttemptAction.loginAttributes`; DynamoDB tables (and more\n")
	b.WriteString("buckets, instances, functions, roles) from\n")
	b.WriteString("`awsApiCallAction.affectedResources`; remote IPs and domains from\n")
	b.WriteString("`service.action`.\n")
	return b.String()
}
