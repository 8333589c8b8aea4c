package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

// StackName is the CDK stack the app defines (the hub).
const StackName = "Custody"

// MemberStackName is the app's member stack, deployed into each member
// account of an organization scenario.
const MemberStackName = "CustodyMember"

// Deployment is the stack as the emulator's CloudFormation created it.
type Deployment struct {
	Template *Template
	Outputs  map[string]string
	// Types maps a logical ID to its resource type.
	Types map[string]string
	// FunctionEnv overrides, per custody function name, environment
	// variables of the deployed function: what the local run made in place
	// of what the emulator's CloudFormation could not (ApplySigningKey).
	FunctionEnv map[string]map[string]string
	// SigningKeyFingerprint is the seal key's fingerprint, to pin.
	SigningKeyFingerprint string
	// ContainKeyFingerprint is the containment key's (with containment
	// on), to pin with verify's -contain-key.
	ContainKeyFingerprint string
}

// Output returns a stack output or an error naming it.
func (d *Deployment) Output(name string) (string, error) {
	v, ok := d.Outputs[name]
	if !ok || v == "" {
		return "", fmt.Errorf("stack output %s is missing", name)
	}
	return v, nil
}

// CDK runs the CDK CLI from the project's node_modules against the emulator.
type CDK struct {
	Root   string   // the project root (cdk.json, node_modules)
	Env    []string // emulator environment
	Log    io.Writer
	OutDir string // cdk.out folder for this run
	// FunctionsDir holds the Lambda assets (<name>/bootstrap) to deploy.
	FunctionsDir string
	// Context is extra CDK context (-c key=value), from a seed folder.
	Context map[string]string
}

// ContextFile is the seed folder's CDK context for the deployment, a JSON
// object of context keys (cdk.json's form): a scenario may need settings
// the defaults lack, such as the log groups of its instances.
const ContextFile = "context.json"

// LoadContext reads dir/context.json; a folder without one has none. Values
// that are not strings are passed as their JSON (the app reads lists and
// numbers given that way).
func LoadContext(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ContextFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ContextFile), err)
	}
	out := map[string]string{}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", filepath.Join(dir, ContextFile), k, err)
		}
		out[k] = compact.String()
	}
	return out, nil
}

func (c CDK) run(ctx context.Context, args ...string) error {
	bin := filepath.Join(c.Root, "node_modules", ".bin", "cdk")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the CDK CLI is not installed in %s: run: npm ci", filepath.Join(c.Root, "node_modules"))
	}
	args = append(args, "--output", c.OutDir, "--no-notices", "--no-version-reporting", "--ci")
	if c.FunctionsDir != "" {
		args = append(args, "--context", "custody:functionsDir="+c.FunctionsDir)
	}
	keys := make([]string, 0, len(c.Context))
	for k := range c.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--context", k+"="+c.Context[k])
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.Root
	cmd.Env = append(append(os.Environ(), c.Env...), "CUSTODY_EMULATOR=1", "CDK_DISABLE_CLI_TELEMETRY=true")
	cmd.Stdout, cmd.Stderr = c.Log, c.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cdk %s: %w (output above)", strings.Join(args[:1], " "), err)
	}
	return nil
}

// Bootstrap runs cdk bootstrap for the emulator's account and region.
func (c CDK) Bootstrap(ctx context.Context) error {
	return c.run(ctx, "bootstrap", fmt.Sprintf("aws://%s/%s", emulator.AccountID, emulator.Region))
}

// Deploy runs cdk deploy of the stack. Updates go direct: the emulator's
// change sets are incomplete.
func (c CDK) Deploy(ctx context.Context) error {
	return c.run(ctx, "deploy", StackName, "--require-approval", "never", "--method=direct")
}

// DeployMember runs cdk deploy of the member stack with env (an account's
// credentials), trusting the hub account hub.
func (c CDK) DeployMember(ctx context.Context, env []string, hub string) error {
	m := c
	m.Env = append(append([]string{}, c.Env...), env...)
	m.Context = map[string]string{"custody:hubAccount": hub}
	for k, v := range c.Context {
		m.Context[k] = v
	}
	return m.run(ctx, "deploy", MemberStackName, "--require-approval", "never", "--method=direct")
}

// Destroy runs cdk destroy of the stack.
func (c CDK) Destroy(ctx context.Context) error {
	return c.run(ctx, "destroy", StackName, "--force")
}

// Discover reads the deployed stack: outputs, physical IDs, and the
// synthesized template beside them.
func Discover(ctx context.Context, cfg aws.Config, templatePath string) (*Deployment, error) {
	cf := cloudformation.NewFromConfig(cfg)
	st, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(StackName)})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", StackName, err)
	}
	if len(st.Stacks) != 1 {
		return nil, fmt.Errorf("stack %s: %d stacks found", StackName, len(st.Stacks))
	}
	tpl, err := LoadTemplate(templatePath)
	if err != nil {
		return nil, err
	}
	tpl.AccountID, tpl.Region = emulator.AccountID, cfg.Region
	tpl.Physical = map[string]string{}
	d := &Deployment{Template: tpl, Outputs: map[string]string{}, Types: map[string]string{}}
	for _, o := range st.Stacks[0].Outputs {
		d.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	p := cloudformation.NewListStackResourcesPaginator(cf, &cloudformation.ListStackResourcesInput{StackName: aws.String(StackName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list stack resources: %w", err)
		}
		for _, r := range page.StackResourceSummaries {
			tpl.Physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
			d.Types[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.ResourceType)
		}
	}
	return d, nil
}

// ApplyDropped applies what the emulator's CloudFormation silently drops
// from the template's buckets: versioning, Object Lock configuration, public
// access block, encryption, logging and the bucket policy, each read from
// the synthesized template, so the local run has the bucket cdk deploy
// would create. It returns one line per setting applied.
func ApplyDropped(ctx context.Context, cfg aws.Config, d *Deployment) ([]string, error) {
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	t := d.Template
	var done []string
	type bucketLogging struct {
		bucket string
		config map[string]any
	}
	var logging []bucketLogging
	for _, id := range t.OfType("AWS::S3::Bucket") {
		bucket, ok := t.Physical[id]
		if !ok {
			return done, fmt.Errorf("bucket %s was not deployed", id)
		}
		props, err := t.Resolve(t.Resources[id].Properties)
		if err != nil {
			return done, fmt.Errorf("bucket %s: %w", id, err)
		}
		p, _ := props.(map[string]any)
		if v, ok := p["VersioningConfiguration"].(map[string]any); ok && v["Status"] == "Enabled" {
			if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  aws.String(bucket),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
			}); err != nil {
				return done, fmt.Errorf("bucket %s: versioning: %w", bucket, err)
			}
			done = append(done, bucket+": versioning enabled")
		}
		if lock, ok := p["ObjectLockConfiguration"].(map[string]any); ok {
			in, desc, err := objectLockInput(bucket, lock)
			if err != nil {
				return done, err
			}
			if _, err := client.PutObjectLockConfiguration(ctx, in); err != nil {
				return done, fmt.Errorf("bucket %s: object lock: %w", bucket, err)
			}
			done = append(done, bucket+": "+desc)
		}
		if pab, ok := p["PublicAccessBlockConfiguration"].(map[string]any); ok {
			if _, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: aws.String(bucket),
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls:       aws.Bool(pab["BlockPublicAcls"] == true),
					BlockPublicPolicy:     aws.Bool(pab["BlockPublicPolicy"] == true),
					IgnorePublicAcls:      aws.Bool(pab["IgnorePublicAcls"] == true),
					RestrictPublicBuckets: aws.Bool(pab["RestrictPublicBuckets"] == true),
				},
			}); err != nil {
				return done, fmt.Errorf("bucket %s: public access block: %w", bucket, err)
			}
			done = append(done, bucket+": public access blocked")
		}
		if enc, ok := p["BucketEncryption"].(map[string]any); ok {
			if in := encryptionInput(bucket, enc); in != nil {
				if _, err := client.PutBucketEncryption(ctx, in); err != nil {
					return done, fmt.Errorf("bucket %s: encryption: %w", bucket, err)
				}
				done = append(done, bucket+": default encryption "+string(in.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm))
			}
		}
		if lg, ok := p["LoggingConfiguration"].(map[string]any); ok {
			// After the bucket policies: the log bucket's policy is what
			// lets the logging service write to it.
			logging = append(logging, bucketLogging{bucket: bucket, config: lg})
		}
	}
	for _, id := range t.OfType("AWS::S3::BucketPolicy") {
		props, err := t.Resolve(t.Resources[id].Properties)
		if err != nil {
			return done, fmt.Errorf("bucket policy %s: %w", id, err)
		}
		p, _ := props.(map[string]any)
		bucket, _ := p["Bucket"].(string)
		policy, skipped := emulatorPolicy(p["PolicyDocument"])
		doc, err := json.Marshal(policy)
		if err != nil {
			return done, err
		}
		if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(string(doc))}); err != nil {
			return done, fmt.Errorf("bucket %s: policy: %w", bucket, err)
		}
		for _, sk := range skipped {
			done = append(done, bucket+": left out on the emulator (it applies a conditional Deny without its condition): "+sk)
		}
		done = append(done, bucket+": bucket policy applied")
	}
	for _, l := range logging {
		target, _ := l.config["DestinationBucketName"].(string)
		prefix, _ := l.config["LogFilePrefix"].(string)
		if target == "" {
			continue
		}
		if _, err := client.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{
			Bucket: aws.String(l.bucket),
			BucketLoggingStatus: &s3types.BucketLoggingStatus{LoggingEnabled: &s3types.LoggingEnabled{
				TargetBucket: aws.String(target), TargetPrefix: aws.String(prefix),
			}},
		}); err != nil {
			return done, fmt.Errorf("bucket %s: logging: %w", l.bucket, err)
		}
		done = append(done, l.bucket+": access logs to "+target+"/"+prefix)
	}
	return done, nil
}

// emulatorPolicy returns the policy the emulator can enforce: moto applies a
// Deny statement's effect without evaluating its Condition (measured: a
// Deny on aws:SecureTransport=false, or on a present, non-KMS encryption
// header, refuses every plain put), so those statements would refuse all
// writes. They are left out here and proved on the synthesized template by
// the infra tests; every unconditional Deny (no delete, no bypass, no
// shorter retention) and every Allow is applied and enforced.
func emulatorPolicy(doc any) (map[string]any, []string) {
	d, _ := doc.(map[string]any)
	out := map[string]any{}
	for k, v := range d {
		out[k] = v
	}
	stmts, _ := d["Statement"].([]any)
	var kept []any
	var skipped []string
	for i, st := range stmts {
		m, _ := st.(map[string]any)
		if m["Effect"] == "Deny" && m["Condition"] != nil {
			name, _ := m["Sid"].(string)
			if name == "" {
				c, _ := json.Marshal(m["Condition"])
				name = fmt.Sprintf("statement %d (condition %s)", i, c)
			}
			skipped = append(skipped, name)
			continue
		}
		kept = append(kept, st)
	}
	out["Statement"] = kept
	return out, skipped
}

func objectLockInput(bucket string, lock map[string]any) (*s3.PutObjectLockConfigurationInput, string, error) {
	in := &s3.PutObjectLockConfigurationInput{
		Bucket:                  aws.String(bucket),
		ObjectLockConfiguration: &s3types.ObjectLockConfiguration{ObjectLockEnabled: s3types.ObjectLockEnabledEnabled},
	}
	desc := "object lock enabled"
	rule, _ := lock["Rule"].(map[string]any)
	ret, _ := rule["DefaultRetention"].(map[string]any)
	if ret != nil {
		mode, _ := ret["Mode"].(string)
		dr := &s3types.DefaultRetention{Mode: s3types.ObjectLockRetentionMode(mode)}
		if days, ok := number(ret["Days"]); ok {
			dr.Days = aws.Int32(int32(days))
			desc = fmt.Sprintf("object lock %s, %d days", mode, days)
		}
		if years, ok := number(ret["Years"]); ok {
			dr.Years = aws.Int32(int32(years))
			desc = fmt.Sprintf("object lock %s, %d years", mode, years)
		}
		if mode == "" || (dr.Days == nil && dr.Years == nil) {
			return nil, "", fmt.Errorf("bucket %s: object lock default retention needs a mode and a period: %v", bucket, ret)
		}
		in.ObjectLockConfiguration.Rule = &s3types.ObjectLockRule{DefaultRetention: dr}
	}
	return in, desc, nil
}

func encryptionInput(bucket string, enc map[string]any) *s3.PutBucketEncryptionInput {
	rules, _ := enc["ServerSideEncryptionConfiguration"].([]any)
	if len(rules) == 0 {
		return nil
	}
	r0, _ := rules[0].(map[string]any)
	def, _ := r0["ServerSideEncryptionByDefault"].(map[string]any)
	alg, _ := def["SSEAlgorithm"].(string)
	if alg == "" {
		return nil
	}
	by := &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryption(alg)}
	if k, ok := def["KMSMasterKeyID"].(string); ok {
		by.KMSMasterKeyID = aws.String(k)
	}
	rule := s3types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: by}
	if b, ok := r0["BucketKeyEnabled"].(bool); ok {
		rule.BucketKeyEnabled = aws.Bool(b)
	}
	return &s3.PutBucketEncryptionInput{
		Bucket:                            aws.String(bucket),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{rule}},
	}
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), true
	case string:
		var i int
		if _, err := fmt.Sscan(n, &i); err == nil {
			return i, true
		}
	}
	return 0, false
}
