package incident

import (
	"regexp"
	"sort"
	"strings"

	"github.com/custody-ir/custody/shared/finding"
)

// set collects identifiers: empty strings are dropped, the result is sorted
// and free of duplicates.
type set map[string]struct{}

func (s set) add(vals ...string) {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			s[v] = struct{}{}
		}
	}
}

func (s set) list() []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// scopeBuilder collects a Scope's lists as sets.
type scopeBuilder struct {
	instances, enis, priv, pub, vpcs, subnets, sgs set
	principals, pids, keys, users, roles           set
	buckets, objects, tables, clusters, funcs, dbs set
	dbUsers, k8sUsers, images, volumes, logGroups  set
	remote, domains, findings, other               set
}

func newScopeBuilder() *scopeBuilder {
	return &scopeBuilder{
		instances: set{}, enis: set{}, priv: set{}, pub: set{}, vpcs: set{}, subnets: set{}, sgs: set{},
		principals: set{}, pids: set{}, keys: set{}, users: set{}, roles: set{},
		buckets: set{}, objects: set{}, tables: set{}, clusters: set{}, funcs: set{}, dbs: set{},
		dbUsers: set{}, k8sUsers: set{}, images: set{}, volumes: set{}, logGroups: set{},
		remote: set{}, domains: set{}, findings: set{}, other: set{},
	}
}

func (b *scopeBuilder) scope(account, region string) Scope {
	return Scope{
		AccountID: account, Region: region,
		Instances: b.instances.list(), ENIs: b.enis.list(), PrivateIPs: b.priv.list(), PublicIPs: b.pub.list(),
		VPCs: b.vpcs.list(), Subnets: b.subnets.list(), SecurityGroups: b.sgs.list(),
		Principals: b.principals.list(), PrincipalIDs: b.pids.list(), AccessKeys: b.keys.list(),
		UserNames: b.users.list(), RoleNames: b.roles.list(),
		Buckets: b.buckets.list(), Objects: b.objects.list(), Tables: b.tables.list(),
		Clusters: b.clusters.list(), Functions: b.funcs.list(), DBInstances: b.dbs.list(), DBUsers: b.dbUsers.list(),
		KubernetesUsers: b.k8sUsers.list(), Images: b.images.list(), Volumes: b.volumes.list(),
		LogGroups: b.logGroups.list(), RemoteIPs: b.remote.list(), Domains: b.domains.list(),
		Findings: b.findings.list(), Other: b.other.list(),
	}
}

// ScopeOf lists what a finding touches. Identifiers are taken as the
// finding gives them (GuardDuty sample findings carry placeholders such as
// "GeneratedFindingSubnetId": collectors find nothing for them and report a
// gap). Where they come from:
//
//   - Instances, ENIs, PrivateIPs, PublicIPs, VPCs, Subnets, SecurityGroups:
//     resource.instanceDetails and its networkInterfaces (also the node of
//     an EKS or ECS Runtime Monitoring finding);
//   - Images: instanceDetails.imageId (the AMI), the container images of
//     containerDetails, ecsClusterDetails.taskDetails.containers and
//     kubernetesWorkloadDetails.containers, the AMI of ec2ImageDetails;
//   - Principals (ARNs): the instance profile ARN, the Lambda function's
//     role, a Kubernetes user that is an IAM ARN; an IAM ARN also gives its
//     user or role name;
//   - PrincipalIDs, AccessKeys: resource.accessKeyDetails; the principal ID
//     of an IAM-authenticated Kubernetes user (its uid
//     aws-iam-authenticator:<account>:<principal ID>);
//   - UserNames / RoleNames: accessKeyDetails.userName, a role name when
//     userType is AssumedRole, a user name otherwise;
//   - KubernetesUsers: kubernetesUserDetails.username;
//   - Buckets: s3BucketDetails names (from the ARN when the name is absent);
//     Objects: their s3ObjectDetails as "bucket/key" (Malware Protection
//     for S3);
//   - Volumes: the EBS volume IDs a Malware Protection for EC2 scan covered
//     (ebsVolumeDetails.scannedVolumeDetails);
//   - Clusters: EKS and ECS cluster ARNs (names when there is no ARN);
//   - Functions: the Lambda function ARN (name when there is no ARN);
//   - DBInstances: the RDS instance identifier; DBUsers: the database user
//     of an RDS login finding (rdsDbUserDetails, the login attempts);
//   - LogGroups: /aws/lambda/<function>, /aws/eks/<cluster>/cluster, and
//     the RDS logs that record logins (see rdsLogGroups);
//   - Tables, and more buckets, instances, functions, clusters, databases
//     and IAM principals: service.action.awsApiCallAction.affectedResources
//     (the only place a GuardDuty finding names a DynamoDB table);
//   - RemoteIPs: service.action's remote addresses and a Kubernetes call's
//     source IPs; Domains: its DNS queries;
//   - Findings: the finding that triggered a Malware Protection scan;
//   - an AttackSequence (service.detection.sequence): the union of its
//     resources' scopes, its actors (principal IDs, keys, user and role
//     names, session issuers), its endpoints (remote IPs, domains) and its
//     FINDING signals (Findings); a resource of a type custody does not know
//     is listed in Other as "TYPE:uid".
func ScopeOf(f *finding.Finding) Scope {
	b := newScopeBuilder()
	if r := f.Resource; r != nil {
		b.resource(r)
	}
	b.remote.add(f.RemoteIPs()...)
	if s := f.Service; s != nil {
		if a := s.Action; a != nil {
			if a.DNSRequestAction != nil {
				b.domains.add(a.DNSRequestAction.Domain)
			}
			if c := a.KubernetesAPICallAction; c != nil {
				b.remote.add(c.SourceIPs...)
			}
			if c := a.RdsLoginAttemptAction; c != nil {
				for _, l := range c.LoginAttributes {
					b.dbUsers.add(l.User)
				}
			}
			if c := a.AwsAPICallAction; c != nil {
				for typ, id := range c.AffectedResources {
					b.affected(typ, id)
				}
			}
		}
		if d := s.EbsVolumeScanDetails; d != nil {
			b.findings.add(d.TriggerFindingID)
		}
	}
	if q := f.Sequence(); q != nil {
		b.sequence(q)
	}
	return b.scope(f.AccountID, f.Region)
}

// resource adds what the finding's resource names.
func (b *scopeBuilder) resource(r *finding.Resource) {
	if d := r.InstanceDetails; d != nil {
		b.instances.add(d.InstanceID)
		b.images.add(d.ImageID)
		if d.IamInstanceProfile != nil {
			b.principals.add(d.IamInstanceProfile.Arn)
		}
		for _, n := range d.NetworkInterfaces {
			b.enis.add(n.NetworkInterfaceID)
			b.priv.add(n.PrivateIPAddress)
			for _, p := range n.PrivateIPAddresses {
				b.priv.add(p.PrivateIPAddress)
			}
			b.pub.add(n.PublicIP)
			b.vpcs.add(n.VpcID)
			b.subnets.add(n.SubnetID)
			for _, g := range n.SecurityGroups {
				b.sgs.add(g.GroupID)
			}
		}
	}
	if k := r.AccessKeyDetails; k != nil {
		b.keys.add(k.AccessKeyID)
		b.identity(k.PrincipalID, k.UserName, k.UserType)
	}
	for _, s := range r.S3BucketDetails {
		name := s.Name
		if name == "" {
			name = bucketOfArn(s.Arn)
		}
		b.buckets.add(name)
		for _, o := range s.S3ObjectDetails {
			switch {
			case o.Key != "" && name != "":
				b.objects.add(name + "/" + o.Key)
			case o.ObjectArn != "":
				b.arn(o.ObjectArn)
			}
		}
	}
	if e := r.EksClusterDetails; e != nil {
		b.eksCluster(firstOf(e.Arn, e.Name), e.Name)
		b.vpcs.add(e.VpcID)
	}
	if e := r.EcsClusterDetails; e != nil {
		b.clusters.add(firstOf(e.Arn, e.Name))
		if t := e.TaskDetails; t != nil {
			b.containers(t.Containers)
		}
	}
	if k := r.KubernetesDetails; k != nil {
		if u := k.KubernetesUserDetails; u != nil {
			b.k8sUsers.add(u.Username)
			if isPrincipalArn(u.Username) {
				b.arn(u.Username)
			}
			// aws-iam-authenticator:<account>:<principal ID>
			if parts := strings.Split(u.UID, ":"); len(parts) == 3 && parts[0] == "aws-iam-authenticator" {
				b.pids.add(parts[2])
			}
		}
		if w := k.KubernetesWorkloadDetails; w != nil {
			b.containers(w.Containers)
		}
	}
	if c := r.ContainerDetails; c != nil {
		b.containers([]finding.ContainerDetails{*c})
	}
	if l := r.LambdaDetails; l != nil {
		b.function(l.FunctionArn, l.FunctionName)
		b.arn(l.Role)
	}
	if d := r.RdsDbInstanceDetails; d != nil {
		b.dbs.add(d.DBInstanceIdentifier)
		b.logGroups.add(rdsLogGroups(d.Engine, d.DBInstanceIdentifier, d.DBClusterIdentifier)...)
	}
	if d := r.RdsLimitlessDbDetails; d != nil {
		b.logGroups.add(rdsLogGroups(firstOf(d.Engine, "postgres"), "", d.DBClusterIdentifier)...)
	}
	if u := r.RdsDbUserDetails; u != nil {
		b.dbUsers.add(u.User)
	}
	if v := r.EbsVolumeDetails; v != nil {
		for _, d := range v.ScannedVolumeDetails {
			b.arn(d.VolumeArn)
		}
	}
	if d := r.Ec2ImageDetails; d != nil {
		b.arn(d.ImageArn)
	}
	if d := r.EbsSnapshotDetails; d != nil && d.SnapshotArn != "" {
		b.other.add("EBSSnapshot:" + d.SnapshotArn)
	}
	if d := r.RecoveryPointDetails; d != nil && d.RecoveryPointArn != "" {
		b.other.add("RecoveryPoint:" + d.RecoveryPointArn)
	}
}

// identity adds an IAM identity as accessKeyDetails and sequence actors
// give it: the principal ID, and the name as a role name when the type is
// AssumedRole, a user name otherwise.
func (b *scopeBuilder) identity(principalID, name, userType string) {
	b.pids.add(principalID)
	if strings.EqualFold(userType, "AssumedRole") {
		b.roles.add(name)
	} else {
		b.users.add(name)
	}
}

func (b *scopeBuilder) containers(cs []finding.ContainerDetails) {
	for _, c := range cs {
		b.images.add(c.Image)
	}
}

func (b *scopeBuilder) eksCluster(id, name string) {
	b.clusters.add(id)
	if name == "" {
		name = afterSlash(id)
	}
	if name != "" {
		b.logGroups.add("/aws/eks/" + name + "/cluster")
	}
}

func (b *scopeBuilder) function(arn, name string) {
	b.funcs.add(firstOf(arn, name))
	if name == "" {
		name = lambdaNameFromArn(arn)
	}
	if name != "" {
		b.logGroups.add("/aws/lambda/" + name)
	}
}

// affected adds one entry of awsApiCallAction.affectedResources: a
// CloudFormation resource type and the resource's name or ARN.
func (b *scopeBuilder) affected(typ, id string) {
	id = strings.TrimSpace(id)
	if id == "" {
		return
	}
	if strings.HasPrefix(id, "arn:") && b.arn(id) {
		return
	}
	switch typ {
	case "AWS::S3::Bucket":
		b.buckets.add(id)
	case "AWS::DynamoDB::Table":
		b.tables.add(id)
	case "AWS::EC2::Instance":
		b.instances.add(id)
	case "AWS::Lambda::Function":
		b.function("", id)
	case "AWS::IAM::User":
		b.users.add(id)
	case "AWS::IAM::Role":
		b.roles.add(id)
	case "AWS::EKS::Cluster":
		b.eksCluster(id, id)
	case "AWS::ECS::Cluster":
		b.clusters.add(id)
	case "AWS::RDS::DBInstance":
		b.dbs.add(id)
	}
}

var principalArnRe = regexp.MustCompile(`^arn:[a-z-]+:(iam|sts)::[0-9]{12}:(user|role|assumed-role|federated-user)/(.+)$`)

func isPrincipalArn(s string) bool { return principalArnRe.MatchString(s) }

// principalNames returns the user and role name of an IAM or STS principal
// ARN: the last path element of a user or role, the role of an assumed-role
// session, the user of a federated user.
func principalNames(arn string) (user, role string) {
	sub := principalArnRe.FindStringSubmatch(arn)
	if sub == nil {
		return "", ""
	}
	path := strings.Split(sub[3], "/")
	switch sub[2] {
	case "user":
		return path[len(path)-1], ""
	case "role":
		return "", path[len(path)-1]
	case "assumed-role":
		return "", path[0]
	case "federated-user":
		return path[0], ""
	}
	return "", ""
}

// arn adds what an ARN names, by service and resource type, and reports
// whether it knew the ARN.
func (b *scopeBuilder) arn(arn string) bool {
	arn = strings.TrimSpace(arn)
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return false
	}
	service, region, account, res := parts[2], parts[3], parts[4], parts[5]
	kind, id, _ := strings.Cut(res, "/")
	switch service {
	case "iam", "sts":
		b.principals.add(arn)
		user, role := principalNames(arn)
		b.users.add(user)
		b.roles.add(role)
		return true
	case "s3":
		bucket, key, hasKey := strings.Cut(res, "/")
		b.buckets.add(bucket)
		if hasKey && key != "" {
			b.objects.add(bucket + "/" + key)
		}
		return bucket != ""
	case "ec2":
		switch kind {
		case "instance":
			b.instances.add(id)
		case "volume":
			b.volumes.add(id)
		case "image":
			b.images.add(id)
		case "network-interface":
			b.enis.add(id)
		default:
			return false
		}
		return true
	case "lambda":
		if strings.HasPrefix(res, "function:") {
			b.function(arn, "")
			return true
		}
	case "eks":
		if kind == "cluster" {
			b.eksCluster(arn, id)
			return true
		}
	case "ecs":
		switch kind {
		case "cluster":
			b.clusters.add(arn)
			return true
		case "task":
			// task/<cluster>/<task id> (the old form, task/<id>, has no cluster)
			if cluster, _, ok := strings.Cut(id, "/"); ok {
				b.clusters.add("arn:" + parts[1] + ":ecs:" + region + ":" + account + ":cluster/" + cluster)
				return true
			}
		}
	case "rds":
		if db, ok := strings.CutPrefix(res, "db:"); ok {
			b.dbs.add(db)
			return true
		}
	case "dynamodb":
		if kind == "table" {
			table, _, _ := strings.Cut(id, "/") // table/<name>/stream/<label>
			b.tables.add(table)
			return true
		}
	}
	return false
}

// sequence adds an attack sequence's resources, actors, endpoints and
// finding signals.
func (b *scopeBuilder) sequence(q *finding.Sequence) {
	for _, r := range q.Resources {
		b.sequenceResource(r)
	}
	for _, a := range q.Actors {
		if u := a.User; u != nil {
			b.identity(u.UID, u.Name, u.Type)
			b.keys.add(u.CredentialUID)
		}
		if s := a.Session; s != nil && isPrincipalArn(s.Issuer) {
			b.arn(s.Issuer)
		}
	}
	for _, e := range q.Endpoints {
		b.remote.add(e.IP)
		b.domains.add(e.Domain)
	}
	for _, s := range q.Signals {
		if strings.EqualFold(s.Type, "FINDING") {
			b.findings.add(s.UID)
		}
	}
}

// sequenceResource adds one resource of an attack sequence (a ResourceV2:
// uid, name, resourceType, data).
func (b *scopeBuilder) sequenceResource(r finding.ResourceV2) {
	uid, isArn := r.UID, strings.HasPrefix(r.UID, "arn:")
	d := r.Data
	if d == nil {
		d = &finding.ResourceData{}
	}
	known := true
	switch normType(r.ResourceType) {
	case "ec2instance":
		if isArn {
			b.arn(uid)
		} else {
			b.instances.add(uid)
		}
		if e := d.Ec2Instance; e != nil {
			if e.IamInstanceProfile != nil {
				b.principals.add(e.IamInstanceProfile.Arn)
			}
			b.enis.add(e.Ec2NetworkInterfaceUids...)
		}
	case "ec2networkinterface":
		if isArn {
			b.arn(uid)
		} else {
			b.enis.add(uid)
		}
		if n := d.Ec2NetworkInterface; n != nil {
			for _, p := range n.PrivateIPAddresses {
				b.priv.add(p.PrivateIPAddress)
			}
			b.pub.add(n.PublicIP)
			b.vpcs.add(n.VpcID)
			b.subnets.add(n.SubnetID)
			for _, g := range n.SecurityGroups {
				b.sgs.add(g.GroupID)
			}
		}
	case "s3bucket":
		bucket := firstOf(r.Name, bucketOfArn(uid))
		if !isArn {
			bucket = firstOf(bucket, uid)
		}
		b.buckets.add(bucket)
		if s := d.S3Bucket; s != nil {
			for _, o := range s.S3ObjectUids {
				if strings.HasPrefix(o, "arn:") {
					b.arn(o)
				} else if bucket != "" && o != "" {
					b.objects.add(bucket + "/" + o)
				}
			}
		}
	case "s3object":
		if isArn {
			b.arn(uid)
		}
	case "accesskey":
		if !isArn {
			b.keys.add(uid)
		}
		if k := d.AccessKey; k != nil {
			b.identity(k.PrincipalID, k.UserName, k.UserType)
		}
	case "ekscluster":
		id := uid
		if e := d.EksCluster; e != nil {
			id = firstOf(e.Arn, id)
			b.vpcs.add(e.VpcID)
			b.instances.add(e.Ec2InstanceUids...)
		}
		b.eksCluster(firstOf(id, r.Name), firstOf(r.Name, afterSlash(id)))
	case "ecscluster":
		b.clusters.add(firstOf(uid, r.Name))
		if e := d.EcsCluster; e != nil {
			b.instances.add(e.Ec2InstanceUids...)
		}
	case "ecstask":
		if isArn {
			b.arn(uid)
		}
	case "container":
		if c := d.Container; c != nil {
			b.images.add(c.Image)
		}
	case "kubernetesworkload":
		// Its containers are CONTAINER resources of the sequence.
	case "iaminstanceprofile":
		if isArn {
			b.principals.add(uid)
		}
		if p := d.IamInstanceProfile; p != nil {
			b.instances.add(p.Ec2InstanceUids...)
		}
	case "ec2image":
		if isArn {
			b.arn(uid)
		} else {
			b.images.add(uid)
		}
		if i := d.Ec2Image; i != nil {
			b.instances.add(i.Ec2InstanceUids...)
		}
	default:
		known = isArn && b.arn(uid)
	}
	if !known && uid != "" {
		b.other.add(r.ResourceType + ":" + uid)
	}
}

// rdsLogGroups returns the CloudWatch log groups where RDS writes the logins
// of a database, when its logs are exported: for an Aurora cluster
// /aws/rds/cluster/<cluster>/<log>, for an instance
// /aws/rds/instance/<id>/<log>; <log> is postgresql for PostgreSQL
// engines, error and audit for MySQL and MariaDB ones. An unknown engine
// gives none.
func rdsLogGroups(engine, instance, cluster string) []string {
	engine = strings.ToLower(engine)
	var logs []string
	switch {
	case strings.Contains(engine, "postgres"):
		logs = []string{"postgresql"}
	case strings.Contains(engine, "mysql"), strings.Contains(engine, "mariadb"):
		logs = []string{"audit", "error"}
	default:
		return nil
	}
	base := ""
	switch {
	case cluster != "" && (strings.HasPrefix(engine, "aurora") || instance == ""):
		base = "/aws/rds/cluster/" + cluster + "/"
	case instance != "":
		base = "/aws/rds/instance/" + instance + "/"
	default:
		return nil
	}
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = base + l
	}
	return out
}

// ManualScope is the Scope of a manual start's one resource. A principal
// ARN also gives its user or role name (the last path element of a user or
// role, the role of an assumed-role session); a type custody does not know
// is listed in Other as "Type:id".
func ManualScope(m *finding.ManualStart) Scope {
	sc := Scope{AccountID: m.AccountID, Region: m.Region}
	one := []string{m.ResourceID}
	switch strings.ToLower(m.ResourceType) {
	case "instance":
		sc.Instances = one
	case "accesskey":
		sc.AccessKeys = one
	case "s3bucket":
		sc.Buckets = one
	case "principal":
		sc.Principals = one
		if user, role := principalNames(m.ResourceID); user != "" {
			sc.UserNames = []string{user}
		} else if role != "" {
			sc.RoleNames = []string{role}
		}
	default:
		sc.Other = []string{m.ResourceType + ":" + m.ResourceID}
	}
	return sc
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// afterSlash returns what follows the last "/" of s ("" when there is
// none).
func afterSlash(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// bucketOfArn returns the bucket of an S3 ARN (arn:aws:s3:::bucket[/key]),
// or "" for anything else.
func bucketOfArn(arn string) string {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, ":", 5)
	if len(parts) != 5 || parts[1] != "s3" {
		return ""
	}
	bucket, _, _ := strings.Cut(parts[4], "/")
	return bucket
}

// lambdaNameFromArn returns the function name of a Lambda ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]).
func lambdaNameFromArn(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return ""
}
