// Package finding is the GuardDuty finding model and every input form custody
// accepts to start a case: the EventBridge event, the bare finding (the
// event's detail), a finding reference to fetch with GetFindings, a finding
// as `aws guardduty get-findings` prints it (PascalCase), and a manual start
// on a resource and a time window. Parse recognises the form, decodes it and
// validates it; every refusal is a *faults.InvalidInputError naming the field.
//
// The model holds the fields custody acts on. The finding as received is kept
// byte for byte in Finding.Raw, so nothing the model omits is lost.
package finding

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Finding is a GuardDuty finding in its EventBridge detail / API JSON form
// (camelCase keys).
type Finding struct {
	ID            string    `json:"id"`
	Arn           string    `json:"arn,omitempty"`
	Type          string    `json:"type"`
	Title         string    `json:"title,omitempty"`
	Description   string    `json:"description,omitempty"`
	Severity      Severity  `json:"severity"`
	AccountID     string    `json:"accountId"`
	Region        string    `json:"region"`
	Partition     string    `json:"partition,omitempty"`
	CreatedAt     Time      `json:"createdAt,omitzero"`
	UpdatedAt     Time      `json:"updatedAt,omitzero"`
	SchemaVersion string    `json:"schemaVersion,omitempty"`
	Resource      *Resource `json:"resource,omitempty"`
	Service       *Service  `json:"service,omitempty"`

	// Raw is the finding exactly as received: the envelope's detail, the
	// bare finding, or the PascalCase element of a get-findings output. For
	// a finding converted from the SDK (FromAPI) it is the JSON of the
	// modelled fields.
	Raw json.RawMessage `json:"-"`
}

// Severity is a finding's numeric severity. It decodes from a JSON number
// and, because SIEM exports write it so, from a string holding a decimal
// number ("8.0"). Anything else ("high", true, an object) is refused.
type Severity float64

// UnmarshalJSON implements json.Unmarshaler; see Severity.
func (s *Severity) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	text := string(data)
	if text == "null" {
		return nil // reported as missing by validation
	}
	if len(data) > 0 && data[0] == '"' {
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return &fieldError{reason: "not a number: " + shorten(string(data))}
		}
		text = strings.TrimSpace(str)
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || text == "" || strings.ContainsAny(text, "xXpP_") || strings.EqualFold(text, "nan") || strings.Contains(strings.ToLower(text), "inf") {
		return &fieldError{reason: "not a number: " + shorten(string(data))}
	}
	*s = Severity(v)
	return nil
}

// Bool is an informational boolean. It also decodes from the strings "true"
// and "false" (some exports write them so); any other value decodes as false
// rather than refusing the finding over a field custody does not act on.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler; see Bool.
func (b *Bool) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(data)), `"`)) {
	case "true":
		*b = true
	default:
		*b = false
	}
	return nil
}

// Count is an informational integer. It also decodes from a string holding a
// number; any other value decodes as 0 rather than refusing the finding over
// a field custody does not act on.
type Count int64

// UnmarshalJSON implements json.Unmarshaler; see Count.
func (c *Count) UnmarshalJSON(data []byte) error {
	text := strings.Trim(string(bytes.TrimSpace(data)), `"`)
	if text == "null" || text == "" {
		*c = 0
		return nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v != float64(int64(v)) {
		*c = 0
		return nil
	}
	*c = Count(v)
	return nil
}

// fieldError is returned by Severity's decoder; Parse turns it into an
// InvalidInputError naming the field.
type fieldError struct{ reason string }

func (e *fieldError) Error() string { return e.reason }

// Resource is what the finding is about.
type Resource struct {
	ResourceType         string                `json:"resourceType"`
	InstanceDetails      *InstanceDetails      `json:"instanceDetails,omitempty"`
	AccessKeyDetails     *AccessKeyDetails     `json:"accessKeyDetails,omitempty"`
	S3BucketDetails      []S3BucketDetail      `json:"s3BucketDetails,omitempty"`
	EksClusterDetails    *EksClusterDetails    `json:"eksClusterDetails,omitempty"`
	LambdaDetails        *LambdaDetails        `json:"lambdaDetails,omitempty"`
	RdsDbInstanceDetails *RdsDbInstanceDetails `json:"rdsDbInstanceDetails,omitempty"`
	EcsClusterDetails    *EcsClusterDetails    `json:"ecsClusterDetails,omitempty"`
	KubernetesDetails    *KubernetesDetails    `json:"kubernetesDetails,omitempty"`
	ContainerDetails     *ContainerDetails     `json:"containerDetails,omitempty"`
	// EbsVolumeDetails are the volumes a Malware Protection for EC2 scan
	// covered (and skipped).
	EbsVolumeDetails *EbsVolumeDetails `json:"ebsVolumeDetails,omitempty"`
	// RdsDbUserDetails is the database user of an RDS login finding.
	RdsDbUserDetails *RdsDbUserDetails `json:"rdsDbUserDetails,omitempty"`
	// RdsLimitlessDbDetails is an Aurora Limitless database shard group.
	RdsLimitlessDbDetails *RdsLimitlessDbDetails `json:"rdsLimitlessDbDetails,omitempty"`
	// Ec2ImageDetails, EbsSnapshotDetails and RecoveryPointDetails are the
	// scanned resource of a Malware Protection for AWS Backup finding.
	Ec2ImageDetails      *Ec2ImageDetails      `json:"ec2ImageDetails,omitempty"`
	EbsSnapshotDetails   *EbsSnapshotDetails   `json:"ebsSnapshotDetails,omitempty"`
	RecoveryPointDetails *RecoveryPointDetails `json:"recoveryPointDetails,omitempty"`
}

// InstanceDetails describes an EC2 instance.
type InstanceDetails struct {
	InstanceID         string              `json:"instanceId,omitempty"`
	InstanceType       string              `json:"instanceType,omitempty"`
	InstanceState      string              `json:"instanceState,omitempty"`
	AvailabilityZone   string              `json:"availabilityZone,omitempty"`
	ImageID            string              `json:"imageId,omitempty"`
	Platform           string              `json:"platform,omitempty"`
	OutpostArn         string              `json:"outpostArn,omitempty"`
	IamInstanceProfile *IamInstanceProfile `json:"iamInstanceProfile,omitempty"`
	NetworkInterfaces  []NetworkInterface  `json:"networkInterfaces,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
	// LaunchTime is kept as received: GuardDuty writes it as a string, older
	// events as epoch milliseconds.
	LaunchTime json.RawMessage `json:"launchTime,omitempty"`
}

// IamInstanceProfile is the instance profile of an EC2 instance.
type IamInstanceProfile struct {
	Arn string `json:"arn,omitempty"`
	ID  string `json:"id,omitempty"`
}

// NetworkInterface is one ENI of an EC2 instance.
type NetworkInterface struct {
	NetworkInterfaceID string             `json:"networkInterfaceId,omitempty"`
	PrivateIPAddress   string             `json:"privateIpAddress,omitempty"`
	PrivateIPAddresses []PrivateIPAddress `json:"privateIpAddresses,omitempty"`
	PublicIP           string             `json:"publicIp,omitempty"`
	IPv6Addresses      []string           `json:"ipv6Addresses,omitempty"`
	SubnetID           string             `json:"subnetId,omitempty"`
	VpcID              string             `json:"vpcId,omitempty"`
	SecurityGroups     []SecurityGroup    `json:"securityGroups,omitempty"`
}

// PrivateIPAddress is one private address of an ENI.
type PrivateIPAddress struct {
	PrivateIPAddress string `json:"privateIpAddress,omitempty"`
	PrivateDNSName   string `json:"privateDnsName,omitempty"`
}

// SecurityGroup names a security group.
type SecurityGroup struct {
	GroupID   string `json:"groupId,omitempty"`
	GroupName string `json:"groupName,omitempty"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AccessKeyDetails is the IAM identity whose credentials were used.
type AccessKeyDetails struct {
	AccessKeyID string `json:"accessKeyId,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// UserType is IAMUser, AssumedRole, Root, FederatedUser, …
	UserType string `json:"userType,omitempty"`
}

// S3BucketDetail is one bucket the finding involves.
type S3BucketDetail struct {
	Name string `json:"name,omitempty"`
	Arn  string `json:"arn,omitempty"`
	Type string `json:"type,omitempty"`
	// S3ObjectDetails are the objects involved (Malware Protection for S3:
	// the scanned object).
	S3ObjectDetails []S3ObjectDetail `json:"s3ObjectDetails,omitempty"`
}

// S3ObjectDetail is one object of a bucket the finding involves.
type S3ObjectDetail struct {
	ObjectArn string `json:"objectArn,omitempty"`
	Key       string `json:"key,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	Hash      string `json:"hash,omitempty"`
}

// EksClusterDetails is an EKS cluster.
type EksClusterDetails struct {
	Name  string `json:"name,omitempty"`
	Arn   string `json:"arn,omitempty"`
	VpcID string `json:"vpcId,omitempty"`
}

// LambdaDetails is a Lambda function.
type LambdaDetails struct {
	FunctionName    string `json:"functionName,omitempty"`
	FunctionArn     string `json:"functionArn,omitempty"`
	FunctionVersion string `json:"functionVersion,omitempty"`
	Role            string `json:"role,omitempty"`
}

// RdsDbInstanceDetails is an RDS database instance.
type RdsDbInstanceDetails struct {
	DBInstanceIdentifier string `json:"dbInstanceIdentifier,omitempty"`
	DBInstanceArn        string `json:"dbInstanceArn,omitempty"`
	DBClusterIdentifier  string `json:"dbClusterIdentifier,omitempty"`
	Engine               string `json:"engine,omitempty"`
}

// EcsClusterDetails is an ECS cluster.
type EcsClusterDetails struct {
	Name        string          `json:"name,omitempty"`
	Arn         string          `json:"arn,omitempty"`
	TaskDetails *EcsTaskDetails `json:"taskDetails,omitempty"`
}

// EcsTaskDetails is the ECS task of a Runtime Monitoring or Malware
// Protection finding.
type EcsTaskDetails struct {
	Arn           string             `json:"arn,omitempty"`
	DefinitionArn string             `json:"definitionArn,omitempty"`
	LaunchType    string             `json:"launchType,omitempty"`
	Containers    []ContainerDetails `json:"containers,omitempty"`
}

// KubernetesDetails names the Kubernetes user and workload involved.
type KubernetesDetails struct {
	KubernetesUserDetails     *KubernetesUserDetails     `json:"kubernetesUserDetails,omitempty"`
	KubernetesWorkloadDetails *KubernetesWorkloadDetails `json:"kubernetesWorkloadDetails,omitempty"`
}

// KubernetesUserDetails is a Kubernetes user.
type KubernetesUserDetails struct {
	// Username is the Kubernetes user name: an IAM ARN as EKS maps it
	// (arn:aws:sts::…:assumed-role/…), or a name such as kubernetes-admin.
	Username string `json:"username,omitempty"`
	// UID is, for an IAM-authenticated user,
	// "aws-iam-authenticator:<account>:<principal ID>".
	UID         string   `json:"uid,omitempty"`
	Groups      []string `json:"groups,omitempty"`
	SessionName []string `json:"sessionName,omitempty"`
}

// KubernetesWorkloadDetails is a Kubernetes workload.
type KubernetesWorkloadDetails struct {
	Name               string             `json:"name,omitempty"`
	Type               string             `json:"type,omitempty"`
	UID                string             `json:"uid,omitempty"`
	Namespace          string             `json:"namespace,omitempty"`
	ServiceAccountName string             `json:"serviceAccountName,omitempty"`
	Containers         []ContainerDetails `json:"containers,omitempty"`
}

// ContainerDetails is a container.
type ContainerDetails struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Image string `json:"image,omitempty"`
	// ImagePrefix is the image's repository without the tag or digest.
	ImagePrefix      string `json:"imagePrefix,omitempty"`
	ContainerRuntime string `json:"containerRuntime,omitempty"`
}

// Service is GuardDuty's account of what it saw.
type Service struct {
	ServiceName    string  `json:"serviceName,omitempty"`
	DetectorID     string  `json:"detectorId,omitempty"`
	EventFirstSeen Time    `json:"eventFirstSeen,omitzero"`
	EventLastSeen  Time    `json:"eventLastSeen,omitzero"`
	Count          Count   `json:"count,omitempty"`
	Archived       Bool    `json:"archived,omitempty"`
	ResourceRole   string  `json:"resourceRole,omitempty"`
	FeatureName    string  `json:"featureName,omitempty"`
	Action         *Action `json:"action,omitempty"`
	// AdditionalInfo is kept as received (an object; in the API's PascalCase
	// form its JSON text "Value" is decoded to the object).
	AdditionalInfo json.RawMessage `json:"additionalInfo,omitempty"`
	// Detection holds, for an AttackSequence finding, the sequence: its
	// signals, resources, actors and endpoints.
	Detection *Detection `json:"detection,omitempty"`
	// EbsVolumeScanDetails is a Malware Protection for EC2 scan.
	EbsVolumeScanDetails *EbsVolumeScanDetails `json:"ebsVolumeScanDetails,omitempty"`
	// MalwareScanDetails is a Malware Protection (S3, Backup) scan.
	MalwareScanDetails *MalwareScanDetails `json:"malwareScanDetails,omitempty"`
}

// Action is what was done, by action type.
type Action struct {
	ActionType              string                   `json:"actionType,omitempty"`
	AwsAPICallAction        *AwsAPICallAction        `json:"awsApiCallAction,omitempty"`
	NetworkConnectionAction *NetworkConnectionAction `json:"networkConnectionAction,omitempty"`
	PortProbeAction         *PortProbeAction         `json:"portProbeAction,omitempty"`
	DNSRequestAction        *DNSRequestAction        `json:"dnsRequestAction,omitempty"`
	KubernetesAPICallAction *KubernetesAPICallAction `json:"kubernetesApiCallAction,omitempty"`
	RdsLoginAttemptAction   *RdsLoginAttemptAction   `json:"rdsLoginAttemptAction,omitempty"`
}

// RemoteIPDetails is the far end of an action.
type RemoteIPDetails struct {
	IPAddressV4 string `json:"ipAddressV4,omitempty"`
	IPAddressV6 string `json:"ipAddressV6,omitempty"`
}

// AwsAPICallAction is an AWS API call.
type AwsAPICallAction struct {
	API             string           `json:"api,omitempty"`
	ServiceName     string           `json:"serviceName,omitempty"`
	CallerType      string           `json:"callerType,omitempty"`
	ErrorCode       string           `json:"errorCode,omitempty"`
	UserAgent       string           `json:"userAgent,omitempty"`
	RemoteIPDetails *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
	// AffectedResources maps a CloudFormation resource type
	// ("AWS::S3::Bucket") to the resource's name or ID.
	AffectedResources map[string]string `json:"affectedResources,omitempty"`
}

// NetworkConnectionAction is a network connection.
type NetworkConnectionAction struct {
	ConnectionDirection string           `json:"connectionDirection,omitempty"`
	Protocol            string           `json:"protocol,omitempty"`
	Blocked             Bool             `json:"blocked,omitempty"`
	RemoteIPDetails     *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
	LocalPortDetails    *PortDetails     `json:"localPortDetails,omitempty"`
	RemotePortDetails   *PortDetails     `json:"remotePortDetails,omitempty"`
}

// PortDetails is a port.
type PortDetails struct {
	Port     Count  `json:"port,omitempty"`
	PortName string `json:"portName,omitempty"`
}

// PortProbeAction is a port probe.
type PortProbeAction struct {
	Blocked          Bool              `json:"blocked,omitempty"`
	PortProbeDetails []PortProbeDetail `json:"portProbeDetails,omitempty"`
}

// PortProbeDetail is one probe.
type PortProbeDetail struct {
	LocalPortDetails *PortDetails     `json:"localPortDetails,omitempty"`
	RemoteIPDetails  *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
}

// DNSRequestAction is a DNS query.
type DNSRequestAction struct {
	Domain   string `json:"domain,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Blocked  Bool   `json:"blocked,omitempty"`
}

// KubernetesAPICallAction is a Kubernetes API call.
type KubernetesAPICallAction struct {
	RequestURI      string           `json:"requestUri,omitempty"`
	Verb            string           `json:"verb,omitempty"`
	SourceIPs       []string         `json:"sourceIPs,omitempty"`
	UserAgent       string           `json:"userAgent,omitempty"`
	RemoteIPDetails *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
	StatusCode      Count            `json:"statusCode,omitempty"`
}

// RdsLoginAttemptAction is a database login attempt.
type RdsLoginAttemptAction struct {
	RemoteIPDetails *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
	LoginAttributes []LoginAttribute `json:"loginAttributes,omitempty"`
}

// LoginAttribute counts the login attempts of one database user.
type LoginAttribute struct {
	User                    string `json:"user,omitempty"`
	Application             string `json:"application,omitempty"`
	FailedLoginAttempts     Count  `json:"failedLoginAttempts,omitempty"`
	SuccessfulLoginAttempts Count  `json:"successfulLoginAttempts,omitempty"`
}

// ResourceType returns the finding's resource type ("" when it has none).
func (f *Finding) ResourceType() string {
	if f == nil || f.Resource == nil {
		return ""
	}
	return f.Resource.ResourceType
}

// DetectorID returns service.detectorId ("" when absent).
func (f *Finding) DetectorID() string {
	if f == nil || f.Service == nil {
		return ""
	}
	return f.Service.DetectorID
}

// FirstSeen is when the activity was first seen: service.eventFirstSeen, or
// createdAt when the finding does not say.
func (f *Finding) FirstSeen() Time {
	if f.Service != nil && !f.Service.EventFirstSeen.IsZero() {
		return f.Service.EventFirstSeen
	}
	return f.CreatedAt
}

// LastSeen is when the activity was last seen: service.eventLastSeen, or
// updatedAt when the finding does not say.
func (f *Finding) LastSeen() Time {
	if f.Service != nil && !f.Service.EventLastSeen.IsZero() {
		return f.Service.EventLastSeen
	}
	return f.UpdatedAt
}

// IsSample reports whether GuardDuty generated the finding as a sample
// (service.additionalInfo.sample is true).
func (f *Finding) IsSample() bool {
	if f.Service == nil || len(f.Service.AdditionalInfo) == 0 {
		return false
	}
	var info struct {
		Sample Bool `json:"sample"`
	}
	if json.Unmarshal(f.Service.AdditionalInfo, &info) != nil {
		return false
	}
	return bool(info.Sample)
}

// RemoteIPs lists the remote addresses of service.action, in the order they
// appear (not deduplicated).
func (f *Finding) RemoteIPs() []string {
	if f.Service == nil || f.Service.Action == nil {
		return nil
	}
	a := f.Service.Action
	var out []string
	add := func(r *RemoteIPDetails) {
		if r == nil {
			return
		}
		for _, ip := range []string{r.IPAddressV4, r.IPAddressV6} {
			if ip != "" {
				out = append(out, ip)
			}
		}
	}
	if a.AwsAPICallAction != nil {
		add(a.AwsAPICallAction.RemoteIPDetails)
	}
	if a.NetworkConnectionAction != nil {
		add(a.NetworkConnectionAction.RemoteIPDetails)
	}
	if a.PortProbeAction != nil {
		for _, d := range a.PortProbeAction.PortProbeDetails {
			add(d.RemoteIPDetails)
		}
	}
	if a.KubernetesAPICallAction != nil {
		add(a.KubernetesAPICallAction.RemoteIPDetails)
	}
	if a.RdsLoginAttemptAction != nil {
		add(a.RdsLoginAttemptAction.RemoteIPDetails)
	}
	return out
}
