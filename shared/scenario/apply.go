package scenario

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/ctdigest"
)

// DefaultImageID is the AMI used for an instance that names none (one of
// moto's built-in images).
const DefaultImageID = "ami-12c6146b"

// DefaultInstanceType is the instance type used where none is given.
const DefaultInstanceType = "t3.micro"

const ec2AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

type clients struct {
	sts  *sts.Client
	iam  *iam.Client
	s3   *s3.Client
	ec2  *ec2.Client
	logs *cloudwatchlogs.Client
	ct   *cloudtrail.Client
	ddb  *dynamodb.Client
	kms  *kms.Client
	http *http.Client
}

// Apply creates everything the scenario describes in the emulator at
// endpoint (cfg points at it), in the order the package comment gives, then
// uploads <dir>/s3/ and <dir>/logs/ with placeholders replaced. A failure
// names the scenario entry (an *EntryError) or the file.
func Apply(ctx context.Context, cfg aws.Config, endpoint string, sc *Scenario, dir string) (*Seeded, error) {
	if sc == nil {
		return nil, errors.New("scenario: Apply: nil scenario")
	}
	if len(sc.Accounts) > 0 {
		return applyAccounts(ctx, cfg, endpoint, sc, dir)
	}
	return apply(ctx, cfg, endpoint, sc, dir, nil, nil)
}

// apply is Apply for one account: inherited are placeholders other
// accounts already resolved; shift, when set, is the root's time shift.
func apply(ctx context.Context, cfg aws.Config, endpoint string, sc *Scenario, dir string, inherited map[string]string, shift *Shifter) (*Seeded, error) {
	c := &clients{
		sts:  sts.NewFromConfig(cfg),
		iam:  iam.NewFromConfig(cfg),
		s3:   s3.NewFromConfig(cfg, awsconfig.S3Options, func(o *s3.Options) { o.UsePathStyle = true }),
		ec2:  ec2.NewFromConfig(cfg),
		logs: cloudwatchlogs.NewFromConfig(cfg),
		ct:   cloudtrail.NewFromConfig(cfg),
		ddb:  dynamodb.NewFromConfig(cfg),
		kms:  kms.NewFromConfig(cfg),
		http: &http.Client{Timeout: 30 * time.Second},
	}
	a := &applier{c: c, sc: sc, dir: dir, endpoint: strings.TrimRight(endpoint, "/"), out: newSeeded(cfg.Region)}
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("scenario: sts GetCallerIdentity: %w", err)
	}
	a.out.Account = aws.ToString(id.Account)
	a.out.Inherited = inherited
	if shift != nil {
		a.out.Shift = *shift
	} else if sc.TimeShift != nil {
		if a.out.Shift, err = sc.TimeShift.Shifter(a.out.now()); err != nil {
			return nil, err
		}
	}

	files, err := scanFiles(dir)
	if err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{
		a.iamPolicies, a.iamRoles, a.iamUsers,
		func(ctx context.Context) error { return a.buckets(ctx, files) },
		a.vpcs, a.subnets, a.securityGroups, a.instances, a.networkInterfaces,
		func(ctx context.Context) error { return a.logGroups(ctx, files) },
		a.flowLogs, a.trails, a.bucketLogging, a.tables, a.inspector,
		func(ctx context.Context) error { return a.uploadObjects(ctx, files) },
		a.trailDigests,
		func(ctx context.Context) error { return a.uploadLogs(ctx, files) },
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	sort.Strings(a.out.Rewritten)
	return a.out, nil
}

type applier struct {
	c         *clients
	sc        *Scenario
	dir       string
	endpoint  string
	out       *Seeded
	bucketSet map[string]bool
	groupSet  map[string]bool
	// ctLogs are the CloudTrail log files seeded, uncompressed, for their
	// digests (trailDigests).
	ctLogs []ctdigest.Delivered
}

func (a *applier) policyArn(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return fmt.Sprintf("arn:aws:iam::%s:policy/%s", a.out.Account, name)
}

// doc renders a policy document given as a JSON object or a JSON string.
func doc(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("policy document: %w", err)
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

func (a *applier) iamPolicies(ctx context.Context) error {
	for i, p := range a.sc.IAM.Policies {
		d, err := doc(p.Document)
		if err == nil {
			_, err = a.c.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(p.Name), PolicyDocument: aws.String(d)})
		}
		if err != nil {
			return entryErr("iam.policies", i, p.Name, "CreatePolicy: %w", err)
		}
	}
	return nil
}

func (a *applier) iamRoles(ctx context.Context) error {
	for i, r := range a.sc.IAM.Roles {
		fail := func(op string, err error) error { return entryErr("iam.roles", i, r.Name, "%s: %w", op, err) }
		trust := ec2AssumeRolePolicy
		if len(r.AssumeRolePolicy) > 0 {
			var err error
			if trust, err = doc(r.AssumeRolePolicy); err != nil {
				return fail("assumeRolePolicy", err)
			}
		}
		out, err := a.c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.Name), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			return fail("CreateRole", err)
		}
		a.out.Roles[r.Name] = aws.ToString(out.Role.Arn)
		for _, p := range r.Policies {
			d, err := doc(p.Document)
			if err == nil {
				_, err = a.c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(r.Name), PolicyName: aws.String(p.Name), PolicyDocument: aws.String(d)})
			}
			if err != nil {
				return fail("PutRolePolicy "+p.Name, err)
			}
		}
		for _, p := range r.AttachedPolicies {
			if _, err := a.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(r.Name), PolicyArn: aws.String(a.policyArn(p))}); err != nil {
				return fail("AttachRolePolicy "+p, err)
			}
		}
		if r.InstanceProfile {
			ip, err := a.c.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(r.Name)})
			if err != nil {
				return fail("CreateInstanceProfile", err)
			}
			if _, err := a.c.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(r.Name), RoleName: aws.String(r.Name)}); err != nil {
				return fail("AddRoleToInstanceProfile", err)
			}
			a.out.Profiles[r.Name] = aws.ToString(ip.InstanceProfile.Arn)
		}
	}
	return nil
}

func (a *applier) iamUsers(ctx context.Context) error {
	for i, u := range a.sc.IAM.Users {
		fail := func(op string, err error) error { return entryErr("iam.users", i, u.Name, "%s: %w", op, err) }
		if _, err := a.c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.Name)}); err != nil {
			return fail("CreateUser", err)
		}
		for _, p := range u.Policies {
			d, err := doc(p.Document)
			if err == nil {
				_, err = a.c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(u.Name), PolicyName: aws.String(p.Name), PolicyDocument: aws.String(d)})
			}
			if err != nil {
				return fail("PutUserPolicy "+p.Name, err)
			}
		}
		for _, p := range u.AttachedPolicies {
			if _, err := a.c.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(u.Name), PolicyArn: aws.String(a.policyArn(p))}); err != nil {
				return fail("AttachUserPolicy "+p, err)
			}
		}
		for k, key := range u.AccessKeys {
			out, err := a.c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.Name)})
			if err != nil {
				return fail(fmt.Sprintf("CreateAccessKey %d", k+1), err)
			}
			id := aws.ToString(out.AccessKey.AccessKeyId)
			a.out.AccessKeys[u.Name] = append(a.out.AccessKeys[u.Name], id)
			if strings.EqualFold(key.Status, "Inactive") {
				if _, err := a.c.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(u.Name), AccessKeyId: aws.String(id), Status: "Inactive"}); err != nil {
					return fail("UpdateAccessKey", err)
				}
			}
		}
	}
	return nil
}

// buckets creates the declared buckets, then those only referenced.
func (a *applier) buckets(ctx context.Context, files *seedFiles) error {
	a.bucketSet = map[string]bool{}
	for i, b := range a.sc.Buckets {
		if err := a.createBucket(ctx, b); err != nil {
			return entryErr("buckets", i, b.Name, "%w", err)
		}
	}
	implicit := func(list string, i int, name string) error {
		if name == "" || a.bucketSet[name] {
			return nil
		}
		if err := a.createBucket(ctx, Bucket{Name: name}); err != nil {
			return entryErr(list, i, name, "create bucket it names: %w", err)
		}
		return nil
	}
	for i, t := range a.sc.Trails {
		if err := implicit("trails", i, t.Bucket); err != nil {
			return err
		}
	}
	for i, f := range a.sc.FlowLogs {
		if f.DestinationType == "s3" {
			b, _, _ := strings.Cut(f.Destination, "/")
			if err := implicit("flowLogs", i, b); err != nil {
				return err
			}
		}
	}
	for i, l := range a.sc.BucketLogging {
		if err := implicit("bucketLogging", i, l.Bucket); err != nil {
			return err
		}
		if err := implicit("bucketLogging", i, l.TargetBucket); err != nil {
			return err
		}
	}
	for _, f := range files.objects {
		name, err := a.out.rewrite([]byte(f.bucket), f.rel)
		if err != nil {
			return err
		}
		if !a.bucketSet[string(name)] {
			if err := a.createBucket(ctx, Bucket{Name: string(name)}); err != nil {
				return fmt.Errorf("scenario: %s: create bucket %q: %w", f.rel, name, err)
			}
		}
	}
	return nil
}

func (a *applier) createBucket(ctx context.Context, b Bucket) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(b.Name)}
	if r := a.c.s3.Options().Region; r != "" && r != "us-east-1" {
		// Outside us-east-1, S3 (and the emulator) refuses a bucket
		// without its region as the location constraint.
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(r)}
	}
	if b.ObjectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := a.c.s3.CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("CreateBucket: %w", err)
	}
	a.bucketSet[b.Name] = true
	a.out.Buckets = append(a.out.Buckets, b.Name)
	if b.Versioning || b.ObjectLock {
		if _, err := a.c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b.Name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			return fmt.Errorf("PutBucketVersioning: %w", err)
		}
	}
	if len(b.Policy) > 0 {
		d, err := doc(b.Policy)
		if err != nil {
			return err
		}
		if d, err = a.out.rewriteString(d); err != nil {
			return err
		}
		if _, err := a.c.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(b.Name), Policy: aws.String(d)}); err != nil {
			return fmt.Errorf("PutBucketPolicy: %w", err)
		}
	}
	return nil
}

func tagSpec(rt ec2types.ResourceType, name string, tags map[string]string) []ec2types.TagSpecification {
	t := []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t = append(t, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: t}}
}

func (a *applier) vpcs(ctx context.Context) error {
	for i, v := range a.sc.VPCs {
		out, err := a.c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(v.CIDR), TagSpecifications: tagSpec(ec2types.ResourceTypeVpc, v.Name, nil)})
		if err != nil {
			return entryErr("vpcs", i, v.Name, "CreateVpc: %w", err)
		}
		a.out.VPCs[v.Name] = aws.ToString(out.Vpc.VpcId)
	}
	return nil
}

func (a *applier) subnets(ctx context.Context) error {
	for i, s := range a.sc.Subnets {
		in := &ec2.CreateSubnetInput{VpcId: aws.String(a.out.VPCs[s.VPC]), CidrBlock: aws.String(s.CIDR), TagSpecifications: tagSpec(ec2types.ResourceTypeSubnet, s.Name, nil)}
		if s.AZ != "" {
			in.AvailabilityZone = aws.String(s.AZ)
		}
		out, err := a.c.ec2.CreateSubnet(ctx, in)
		if err != nil {
			return entryErr("subnets", i, s.Name, "CreateSubnet: %w", err)
		}
		id := aws.ToString(out.Subnet.SubnetId)
		a.out.Subnets[s.Name] = id
		if s.MapPublicIP {
			if _, err := a.c.ec2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: aws.String(id), MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
				return entryErr("subnets", i, s.Name, "ModifySubnetAttribute: %w", err)
			}
		}
	}
	return nil
}

func (a *applier) securityGroups(ctx context.Context) error {
	for i, g := range a.sc.SecurityGroups {
		desc := g.Description
		if desc == "" {
			desc = g.Name
		}
		out, err := a.c.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(g.Name), Description: aws.String(desc), VpcId: aws.String(a.out.VPCs[g.VPC])})
		if err != nil {
			return entryErr("securityGroups", i, g.Name, "CreateSecurityGroup: %w", err)
		}
		id := aws.ToString(out.GroupId)
		a.out.SecurityGroups[g.Name] = id
		for _, r := range g.Ingress {
			proto := r.Protocol
			if proto == "" {
				proto = "tcp"
			}
			if _, err := a.c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id),
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String(proto), FromPort: aws.Int32(r.FromPort), ToPort: aws.Int32(r.ToPort),
					IpRanges: []ec2types.IpRange{{CidrIp: aws.String(r.CIDR)}}}}}); err != nil {
				return entryErr("securityGroups", i, g.Name, "AuthorizeSecurityGroupIngress: %w", err)
			}
		}
	}
	return nil
}

func (a *applier) sgIDs(names []string) []string {
	var ids []string
	for _, n := range names {
		ids = append(ids, a.out.SecurityGroups[n])
	}
	return ids
}

func (a *applier) instances(ctx context.Context) error {
	for i, in := range a.sc.Instances {
		fail := func(op string, err error) error { return entryErr("instances", i, in.Name, "%s: %w", op, err) }
		req := &ec2.RunInstancesInput{
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			ImageId:           aws.String(or(in.ImageID, DefaultImageID)),
			InstanceType:      ec2types.InstanceType(or(in.InstanceType, DefaultInstanceType)),
			SubnetId:          aws.String(a.out.Subnets[in.Subnet]),
			TagSpecifications: tagSpec(ec2types.ResourceTypeInstance, in.Name, in.Tags),
		}
		if in.PrivateIP != "" {
			req.PrivateIpAddress = aws.String(in.PrivateIP)
		}
		if in.IAMInstanceProfile != "" {
			req.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(in.IAMInstanceProfile)}
		}
		if len(in.SecurityGroups) > 0 {
			req.SecurityGroupIds = a.sgIDs(in.SecurityGroups)
		}
		if in.UserData != "" {
			req.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(in.UserData)))
		}
		out, err := a.c.ec2.RunInstances(ctx, req)
		if err != nil {
			return fail("RunInstances", err)
		}
		if len(out.Instances) != 1 {
			return fail("RunInstances", fmt.Errorf("%d instances returned", len(out.Instances)))
		}
		inst := out.Instances[0]
		a.out.Instances[in.Name] = aws.ToString(inst.InstanceId)
		a.out.PrivateIPs[in.Name] = aws.ToString(inst.PrivateIpAddress)
		if ip := aws.ToString(inst.PublicIpAddress); ip != "" {
			a.out.PublicIPs[in.Name] = ip
		}
		for _, ni := range inst.NetworkInterfaces {
			if ni.Attachment != nil && aws.ToInt32(ni.Attachment.DeviceIndex) == 0 {
				a.out.ENIs[in.Name] = aws.ToString(ni.NetworkInterfaceId)
			}
		}
		if a.out.ENIs[in.Name] == "" {
			// Some emulator answers leave the attachment out: describe it.
			d, err := a.c.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
				{Name: aws.String("attachment.instance-id"), Values: []string{a.out.Instances[in.Name]}}}})
			if err != nil {
				return fail("DescribeNetworkInterfaces", err)
			}
			for _, ni := range d.NetworkInterfaces {
				if ni.Attachment == nil || aws.ToInt32(ni.Attachment.DeviceIndex) == 0 {
					a.out.ENIs[in.Name] = aws.ToString(ni.NetworkInterfaceId)
					break
				}
			}
		}
		if a.out.ENIs[in.Name] == "" {
			return fail("primary ENI", errors.New("the instance has no network interface"))
		}
	}
	return nil
}

func (a *applier) networkInterfaces(ctx context.Context) error {
	for i, n := range a.sc.NetworkInterfaces {
		req := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(a.out.Subnets[n.Subnet]), TagSpecifications: tagSpec(ec2types.ResourceTypeNetworkInterface, n.Name, nil)}
		if n.PrivateIP != "" {
			req.PrivateIpAddress = aws.String(n.PrivateIP)
		}
		if len(n.SecurityGroups) > 0 {
			req.Groups = a.sgIDs(n.SecurityGroups)
		}
		out, err := a.c.ec2.CreateNetworkInterface(ctx, req)
		if err != nil {
			return entryErr("networkInterfaces", i, n.Name, "CreateNetworkInterface: %w", err)
		}
		id := aws.ToString(out.NetworkInterface.NetworkInterfaceId)
		a.out.ENIs[n.Name] = id
		a.out.PrivateIPs[n.Name] = aws.ToString(out.NetworkInterface.PrivateIpAddress)
		if n.AttachTo != "" {
			if _, err := a.c.ec2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(id),
				InstanceId: aws.String(a.out.Instances[n.AttachTo]), DeviceIndex: aws.Int32(1)}); err != nil {
				return entryErr("networkInterfaces", i, n.Name, "AttachNetworkInterface: %w", err)
			}
		}
	}
	return nil
}

func (a *applier) createLogGroup(ctx context.Context, g LogGroup) error {
	if _, err := a.c.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(g.Name)}); err != nil {
		return fmt.Errorf("CreateLogGroup: %w", err)
	}
	a.groupSet[g.Name] = true
	a.out.LogGroups = append(a.out.LogGroups, g.Name)
	if g.RetentionDays > 0 {
		if _, err := a.c.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(g.Name), RetentionInDays: aws.Int32(g.RetentionDays)}); err != nil {
			return fmt.Errorf("PutRetentionPolicy: %w", err)
		}
	}
	return nil
}

func (a *applier) logGroups(ctx context.Context, files *seedFiles) error {
	a.groupSet = map[string]bool{}
	for i, g := range a.sc.LogGroups {
		if err := a.createLogGroup(ctx, g); err != nil {
			return entryErr("logGroups", i, g.Name, "%w", err)
		}
	}
	for i, f := range a.sc.FlowLogs {
		if f.DestinationType == "cloud-watch-logs" && !a.groupSet[f.Destination] {
			if err := a.createLogGroup(ctx, LogGroup{Name: f.Destination}); err != nil {
				return entryErr("flowLogs", i, or(f.Name, f.Resource), "create log group it names: %w", err)
			}
		}
	}
	for _, f := range files.streams {
		g, err := a.groupFor(f)
		if err != nil {
			return err
		}
		if !a.groupSet[g] {
			if err := a.createLogGroup(ctx, LogGroup{Name: g}); err != nil {
				return fmt.Errorf("scenario: %s: %w", f.rel, err)
			}
		}
	}
	return nil
}

// groupFor maps a logs/ folder path to a group name: the folder path under
// logs/; a declared group with a leading "/" matches it too.
func (a *applier) groupFor(f streamFile) (string, error) {
	g, err := a.out.rewriteString(f.group)
	if err != nil {
		return "", fmt.Errorf("scenario: %s: %w", f.rel, err)
	}
	for _, d := range a.sc.LogGroups {
		if d.Name == "/"+g {
			return d.Name, nil
		}
	}
	for _, fl := range a.sc.FlowLogs {
		if fl.DestinationType == "cloud-watch-logs" && fl.Destination == "/"+g {
			return fl.Destination, nil
		}
	}
	return g, nil
}

func (a *applier) flowLogs(ctx context.Context) error {
	for i, f := range a.sc.FlowLogs {
		name := or(f.Name, f.Resource)
		fail := func(err error) error { return entryErr("flowLogs", i, name, "CreateFlowLogs: %w", err) }
		kind, ref, _ := parseRef(f.Resource)
		req := &ec2.CreateFlowLogsInput{TrafficType: ec2types.TrafficType(or(f.TrafficType, "ALL"))}
		switch kind {
		case "vpc":
			req.ResourceType, req.ResourceIds = ec2types.FlowLogsResourceTypeVpc, []string{a.out.VPCs[ref]}
		case "subnet":
			req.ResourceType, req.ResourceIds = ec2types.FlowLogsResourceTypeSubnet, []string{a.out.Subnets[ref]}
		case "eni":
			req.ResourceType, req.ResourceIds = ec2types.FlowLogsResourceTypeNetworkInterface, []string{a.out.ENIs[ref]}
		}
		if f.LogFormat != "" {
			req.LogFormat = aws.String(f.LogFormat)
		}
		if f.MaxAggregationInterval != 0 {
			req.MaxAggregationInterval = aws.Int32(f.MaxAggregationInterval)
		}
		if f.DestinationType == "s3" {
			req.LogDestinationType = ec2types.LogDestinationTypeS3
			req.LogDestination = aws.String("arn:aws:s3:::" + strings.TrimSuffix(f.Destination, "/"))
		} else {
			req.LogDestinationType = ec2types.LogDestinationTypeCloudWatchLogs
			req.LogGroupName = aws.String(f.Destination)
			req.DeliverLogsPermissionArn = aws.String(or(f.DeliverLogsPermissionArn, fmt.Sprintf("arn:aws:iam::%s:role/flow-logs-delivery", a.out.Account)))
		}
		out, err := a.c.ec2.CreateFlowLogs(ctx, req)
		if err == nil && len(out.FlowLogIds) == 0 && f.DestinationType == "s3" && strings.Contains(strings.TrimSuffix(f.Destination, "/"), "/") {
			// moto looks the whole "bucket/prefix" up as a bucket: retry
			// without the prefix (see the package comment).
			bucket, _, _ := strings.Cut(f.Destination, "/")
			req.LogDestination = aws.String("arn:aws:s3:::" + bucket)
			a.out.Warnings = append(a.out.Warnings, fmt.Sprintf("flowLogs[%d] %q: the emulator refuses an S3 destination with a prefix; created with destination bucket %q only", i, name, bucket))
			out, err = a.c.ec2.CreateFlowLogs(ctx, req)
		}
		if err != nil {
			return fail(err)
		}
		if len(out.FlowLogIds) != 1 {
			msg := "no flow log created"
			for _, u := range out.Unsuccessful {
				if u.Error != nil {
					msg = aws.ToString(u.Error.Code) + ": " + aws.ToString(u.Error.Message)
				}
			}
			return fail(errors.New(msg))
		}
		if f.Name != "" {
			a.out.FlowLogs[f.Name] = out.FlowLogIds[0]
		}
	}
	return nil
}

func (a *applier) trails(ctx context.Context) error {
	for i, t := range a.sc.Trails {
		fail := func(op string, err error) error { return entryErr("trails", i, t.Name, "%s: %w", op, err) }
		req := &cloudtrail.CreateTrailInput{Name: aws.String(t.Name), S3BucketName: aws.String(t.Bucket),
			IsMultiRegionTrail: aws.Bool(t.MultiRegion), IsOrganizationTrail: aws.Bool(t.IsOrganizationTrail),
			// The seeded log files get digests (trailDigests), as a trail
			// with validation on delivers them.
			EnableLogFileValidation: aws.Bool(t.Validates())}
		if t.Prefix != "" {
			req.S3KeyPrefix = aws.String(t.Prefix)
		}
		key := t.KMSKeyID
		if t.KMS {
			k, err := a.c.kms.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("CloudTrail key for trail " + t.Name)})
			if err != nil {
				return fail("kms CreateKey", err)
			}
			key = aws.ToString(k.KeyMetadata.Arn)
			a.out.TrailKeys[t.Name] = key
		}
		if key != "" {
			req.KmsKeyId = aws.String(key)
		}
		if _, err := a.c.ct.CreateTrail(ctx, req); err != nil {
			return fail("CreateTrail", err)
		}
		if _, err := a.c.ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(t.Name)}); err != nil {
			return fail("StartLogging", err)
		}
	}
	return nil
}

// loggingPolicy lets the S3 logging service put objects in target.
func loggingPolicy(target, account string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::%s/*","Condition":{"StringEquals":{"aws:SourceAccount":"%s"}}}]}`, target, account)
}

func (a *applier) bucketLogging(ctx context.Context) error {
	declaredPolicy := map[string]bool{}
	for _, b := range a.sc.Buckets {
		declaredPolicy[b.Name] = len(b.Policy) > 0
	}
	done := map[string]bool{}
	for i, l := range a.sc.BucketLogging {
		fail := func(op string, err error) error { return entryErr("bucketLogging", i, l.Bucket, "%s: %w", op, err) }
		if !declaredPolicy[l.TargetBucket] && !done[l.TargetBucket] {
			if _, err := a.c.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(l.TargetBucket), Policy: aws.String(loggingPolicy(l.TargetBucket, a.out.Account))}); err != nil {
				return fail("PutBucketPolicy on target "+l.TargetBucket, err)
			}
			done[l.TargetBucket] = true
		}
		le := &s3types.LoggingEnabled{TargetBucket: aws.String(l.TargetBucket), TargetPrefix: aws.String(l.TargetPrefix)}
		if l.Partitioned {
			le.TargetObjectKeyFormat = &s3types.TargetObjectKeyFormat{PartitionedPrefix: &s3types.PartitionedPrefix{PartitionDateSource: s3types.PartitionDateSourceEventTime}}
		} else {
			le.TargetObjectKeyFormat = &s3types.TargetObjectKeyFormat{SimplePrefix: &s3types.SimplePrefix{}}
		}
		if _, err := a.c.s3.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(l.Bucket), BucketLoggingStatus: &s3types.BucketLoggingStatus{LoggingEnabled: le}}); err != nil {
			return fail("PutBucketLogging", err)
		}
	}
	return nil
}

func (a *applier) tables(ctx context.Context) error {
	for i, t := range a.sc.Tables {
		fail := func(op string, err error) error { return entryErr("tables", i, t.Name, "%s: %w", op, err) }
		ks := []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.HashKey), KeyType: ddbtypes.KeyTypeHash}}
		ad := []ddbtypes.AttributeDefinition{{AttributeName: aws.String(t.HashKey), AttributeType: ddbtypes.ScalarAttributeType(or(t.HashKeyType, "S"))}}
		if t.RangeKey != "" {
			ks = append(ks, ddbtypes.KeySchemaElement{AttributeName: aws.String(t.RangeKey), KeyType: ddbtypes.KeyTypeRange})
			ad = append(ad, ddbtypes.AttributeDefinition{AttributeName: aws.String(t.RangeKey), AttributeType: ddbtypes.ScalarAttributeType(or(t.RangeKeyType, "S"))})
		}
		if _, err := a.c.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(t.Name), KeySchema: ks, AttributeDefinitions: ad,
			BillingMode: ddbtypes.BillingModePayPerRequest,
			StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true),
				StreamViewType: ddbtypes.StreamViewType(or(t.StreamViewType, string(ddbtypes.StreamViewTypeNewAndOldImages)))}}); err != nil {
			return fail("CreateTable", err)
		}
		for j, raw := range t.Items {
			b, err := a.out.rewriteTimed(raw, fmt.Sprintf("tables[%d].items[%d]", i, j))
			if err != nil {
				return err
			}
			item, err := itemFromJSON(b)
			if err != nil {
				return fail(fmt.Sprintf("items[%d]", j), err)
			}
			if _, err := a.c.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.Name), Item: item}); err != nil {
				return fail(fmt.Sprintf("PutItem items[%d]", j), err)
			}
		}
	}
	return nil
}

// InspectorError is a failure to queue Inspector2 findings in the emulator.
type InspectorError struct {
	Status string
	Err    error
}

func (e *InspectorError) Error() string {
	if e.Err != nil {
		return "scenario: inspector2Findings: " + e.Err.Error()
	}
	return "scenario: inspector2Findings: the emulator answered " + e.Status
}

func (e *InspectorError) Unwrap() error { return e.Err }

func (a *applier) inspector(ctx context.Context) error {
	if len(a.sc.Inspector2Findings) == 0 {
		return nil
	}
	var page []any
	for i, raw := range a.sc.Inspector2Findings {
		b, err := a.out.rewriteTimed(raw, fmt.Sprintf("inspector2Findings[%d]", i))
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return entryErr("inspector2Findings", i, "", "%w", err)
		}
		page = append(page, epochTimes(v, ""))
	}
	results := make([][]any, InspectorRepeat)
	for i := range results {
		results[i] = page
	}
	body, _ := json.Marshal(map[string]any{"results": results, "account_id": a.out.Account, "region": a.out.Region})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint+"/moto-api/static/inspector2/findings-results", bytes.NewReader(body))
	if err != nil {
		return &InspectorError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.http.Do(req)
	if err != nil {
		return &InspectorError{Err: err}
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &InspectorError{Status: resp.Status}
	}
	return nil
}

// epochTimes turns RFC 3339 strings under keys ending in "At" into epoch
// seconds, the form the Inspector2 API sends.
func epochTimes(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = epochTimes(e, k)
		}
	case []any:
		for i, e := range x {
			x[i] = epochTimes(e, key)
		}
	case string:
		if strings.HasSuffix(key, "At") {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return float64(t.UnixMilli()) / 1000
			}
		}
	}
	return v
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
