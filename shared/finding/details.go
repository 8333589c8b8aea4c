package finding

import "encoding/json"

// This file holds the parts of the model for Malware Protection, RDS login,
// AWS Backup and AttackSequence findings. Member names are GuardDuty's JSON
// names (the service model's jsonName traits); fields custody does not act
// on are left out (Finding.Raw keeps them).

// EbsVolumeDetails lists the EBS volumes a Malware Protection for EC2 scan
// covered and those it skipped.
type EbsVolumeDetails struct {
	ScannedVolumeDetails []VolumeDetail `json:"scannedVolumeDetails,omitempty"`
	SkippedVolumeDetails []VolumeDetail `json:"skippedVolumeDetails,omitempty"`
}

// VolumeDetail is one EBS volume of a scan.
type VolumeDetail struct {
	// VolumeArn is arn:aws:ec2:<region>:<account>:volume/vol-….
	VolumeArn      string `json:"volumeArn,omitempty"`
	VolumeType     string `json:"volumeType,omitempty"`
	DeviceName     string `json:"deviceName,omitempty"`
	VolumeSizeInGB Count  `json:"volumeSizeInGB,omitempty"`
	EncryptionType string `json:"encryptionType,omitempty"`
	SnapshotArn    string `json:"snapshotArn,omitempty"`
	KmsKeyArn      string `json:"kmsKeyArn,omitempty"`
}

// RdsDbUserDetails is the database user of an RDS login finding.
type RdsDbUserDetails struct {
	User        string `json:"user,omitempty"`
	Application string `json:"application,omitempty"`
	Database    string `json:"database,omitempty"`
	Ssl         string `json:"ssl,omitempty"`
	AuthMethod  string `json:"authMethod,omitempty"`
}

// RdsLimitlessDbDetails is an Aurora Limitless Database shard group.
type RdsLimitlessDbDetails struct {
	DBShardGroupIdentifier string `json:"dbShardGroupIdentifier,omitempty"`
	DBShardGroupArn        string `json:"dbShardGroupArn,omitempty"`
	DBClusterIdentifier    string `json:"dbClusterIdentifier,omitempty"`
	Engine                 string `json:"engine,omitempty"`
}

// Ec2ImageDetails is an AMI scanned by Malware Protection for AWS Backup.
type Ec2ImageDetails struct {
	ImageArn string `json:"imageArn,omitempty"`
}

// EbsSnapshotDetails is an EBS snapshot scanned by Malware Protection for
// AWS Backup.
type EbsSnapshotDetails struct {
	SnapshotArn string `json:"snapshotArn,omitempty"`
}

// RecoveryPointDetails is an AWS Backup recovery point scanned by Malware
// Protection for AWS Backup.
type RecoveryPointDetails struct {
	RecoveryPointArn string `json:"recoveryPointArn,omitempty"`
	BackupVaultName  string `json:"backupVaultName,omitempty"`
}

// EbsVolumeScanDetails is a Malware Protection for EC2 scan.
type EbsVolumeScanDetails struct {
	ScanID string `json:"scanId,omitempty"`
	// ScanType is GUARDDUTY_INITIATED or ON_DEMAND.
	ScanType string `json:"scanType,omitempty"`
	// TriggerFindingID is the finding that started a GuardDuty-initiated
	// scan.
	TriggerFindingID string   `json:"triggerFindingId,omitempty"`
	Sources          []string `json:"sources,omitempty"`
	// ScanStartedAt and ScanCompletedAt are kept as received (epoch
	// milliseconds in events, strings in some exports).
	ScanStartedAt   json.RawMessage `json:"scanStartedAt,omitempty"`
	ScanCompletedAt json.RawMessage `json:"scanCompletedAt,omitempty"`
}

// MalwareScanDetails is a Malware Protection scan (for S3, for AWS Backup).
type MalwareScanDetails struct {
	ScanID       string   `json:"scanId,omitempty"`
	ScanType     string   `json:"scanType,omitempty"`
	ScanCategory string   `json:"scanCategory,omitempty"`
	Threats      []Threat `json:"threats,omitempty"`
}

// Threat is one piece of malware a scan detected.
type Threat struct {
	Name        string       `json:"name,omitempty"`
	Source      string       `json:"source,omitempty"`
	Hash        string       `json:"hash,omitempty"`
	Count       Count        `json:"count,omitempty"`
	ItemPaths   []ItemPath   `json:"itemPaths,omitempty"`
	ItemDetails []ItemDetail `json:"itemDetails,omitempty"`
}

// ItemPath is where in the scanned item a threat was found.
type ItemPath struct {
	NestedItemPath string `json:"nestedItemPath,omitempty"`
	Hash           string `json:"hash,omitempty"`
}

// ItemDetail is a scanned item holding a threat.
type ItemDetail struct {
	ResourceArn string `json:"resourceArn,omitempty"`
	ItemPath    string `json:"itemPath,omitempty"`
	Hash        string `json:"hash,omitempty"`
}

// Detection is service.detection.
type Detection struct {
	Sequence *Sequence `json:"sequence,omitempty"`
}

// Sequence is the attack sequence of an AttackSequence finding: the signals
// (findings, CloudTrail and S3 data events) GuardDuty correlated, and the
// resources, actors and network endpoints they involve.
type Sequence struct {
	UID         string            `json:"uid,omitempty"`
	Description string            `json:"description,omitempty"`
	Signals     []Signal          `json:"signals,omitempty"`
	Resources   []ResourceV2      `json:"resources,omitempty"`
	Actors      []Actor           `json:"actors,omitempty"`
	Endpoints   []NetworkEndpoint `json:"endpoints,omitempty"`
}

// Signal is one signal of a sequence.
type Signal struct {
	UID string `json:"uid,omitempty"`
	// Type is FINDING, CLOUD_TRAIL or S3_DATA_EVENTS.
	Type         string   `json:"type,omitempty"`
	Name         string   `json:"name,omitempty"`
	Description  string   `json:"description,omitempty"`
	Count        Count    `json:"count,omitempty"`
	ResourceUids []string `json:"resourceUids,omitempty"`
	ActorIDs     []string `json:"actorIds,omitempty"`
	EndpointIDs  []string `json:"endpointIds,omitempty"`
}

// ResourceV2 is one resource of a sequence.
type ResourceV2 struct {
	// UID is the resource's identifier: an ARN, or an ID (instance ID,
	// access key ID) as the type has it.
	UID       string `json:"uid,omitempty"`
	Name      string `json:"name,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	// ResourceType is EC2_INSTANCE, S3_BUCKET, S3_OBJECT, ACCESS_KEY,
	// EKS_CLUSTER, KUBERNETES_WORKLOAD, CONTAINER, ECS_CLUSTER, ECS_TASK,
	// EC2_NETWORK_INTERFACE, IAM_INSTANCE_PROFILE, EC2_IMAGE, …
	ResourceType string        `json:"resourceType,omitempty"`
	Region       string        `json:"region,omitempty"`
	Service      string        `json:"service,omitempty"`
	Data         *ResourceData `json:"data,omitempty"`
}

// ResourceData is the type-specific data of a sequence resource.
type ResourceData struct {
	AccessKey           *AccessKeyV2           `json:"accessKey,omitempty"`
	Ec2Instance         *Ec2InstanceV2         `json:"ec2Instance,omitempty"`
	Ec2NetworkInterface *Ec2NetworkInterfaceV2 `json:"ec2NetworkInterface,omitempty"`
	S3Bucket            *S3BucketV2            `json:"s3Bucket,omitempty"`
	S3Object            *S3ObjectV2            `json:"s3Object,omitempty"`
	EksCluster          *EksClusterV2          `json:"eksCluster,omitempty"`
	EcsCluster          *InstanceUids          `json:"ecsCluster,omitempty"`
	EcsTask             *EcsTaskV2             `json:"ecsTask,omitempty"`
	KubernetesWorkload  *KubernetesWorkloadV2  `json:"kubernetesWorkload,omitempty"`
	Container           *ContainerV2           `json:"container,omitempty"`
	IamInstanceProfile  *InstanceUids          `json:"iamInstanceProfile,omitempty"`
	Ec2Image            *InstanceUids          `json:"ec2Image,omitempty"`
}

// AccessKeyV2 is the data of an ACCESS_KEY sequence resource.
type AccessKeyV2 struct {
	PrincipalID string `json:"principalId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	UserType    string `json:"userType,omitempty"`
}

// Ec2InstanceV2 is the data of an EC2_INSTANCE sequence resource.
type Ec2InstanceV2 struct {
	InstanceType            string              `json:"instanceType,omitempty"`
	IamInstanceProfile      *IamInstanceProfile `json:"iamInstanceProfile,omitempty"`
	Ec2NetworkInterfaceUids []string            `json:"ec2NetworkInterfaceUids,omitempty"`
}

// Ec2NetworkInterfaceV2 is the data of an EC2_NETWORK_INTERFACE sequence
// resource.
type Ec2NetworkInterfaceV2 struct {
	PrivateIPAddresses []PrivateIPAddress `json:"privateIpAddresses,omitempty"`
	PublicIP           string             `json:"publicIp,omitempty"`
	IPv6Addresses      []string           `json:"ipv6Addresses,omitempty"`
	SecurityGroups     []SecurityGroup    `json:"securityGroups,omitempty"`
	SubnetID           string             `json:"subNetId,omitempty"`
	VpcID              string             `json:"vpcId,omitempty"`
}

// S3BucketV2 is the data of an S3_BUCKET sequence resource.
type S3BucketV2 struct {
	OwnerID      string   `json:"ownerId,omitempty"`
	S3ObjectUids []string `json:"s3ObjectUids,omitempty"`
}

// S3ObjectV2 is the data of an S3_OBJECT sequence resource.
type S3ObjectV2 struct {
	Key       string `json:"key,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	ETag      string `json:"eTag,omitempty"`
}

// EksClusterV2 is the data of an EKS_CLUSTER sequence resource.
type EksClusterV2 struct {
	Arn             string   `json:"arn,omitempty"`
	VpcID           string   `json:"vpcId,omitempty"`
	Ec2InstanceUids []string `json:"ec2InstanceUids,omitempty"`
}

// InstanceUids is the data of a sequence resource that only lists the
// instances it runs on (ECS_CLUSTER, IAM_INSTANCE_PROFILE, EC2_IMAGE).
type InstanceUids struct {
	Ec2InstanceUids []string `json:"ec2InstanceUids,omitempty"`
}

// EcsTaskV2 is the data of an ECS_TASK sequence resource.
type EcsTaskV2 struct {
	TaskDefinitionArn string   `json:"taskDefinitionArn,omitempty"`
	LaunchType        string   `json:"launchType,omitempty"`
	ContainerUids     []string `json:"containerUids,omitempty"`
}

// KubernetesWorkloadV2 is the data of a KUBERNETES_WORKLOAD sequence
// resource.
type KubernetesWorkloadV2 struct {
	Namespace     string   `json:"namespace,omitempty"`
	Type          string   `json:"type,omitempty"`
	ContainerUids []string `json:"containerUids,omitempty"`
}

// ContainerV2 is the data of a CONTAINER sequence resource.
type ContainerV2 struct {
	Image    string `json:"image,omitempty"`
	ImageUID string `json:"imageUid,omitempty"`
}

// Actor is who acted in a sequence.
type Actor struct {
	ID      string        `json:"id,omitempty"`
	User    *SequenceUser `json:"user,omitempty"`
	Session *Session      `json:"session,omitempty"`
}

// SequenceUser is the IAM identity of an actor.
type SequenceUser struct {
	Name string `json:"name,omitempty"`
	// UID is the principal ID (AIDA…, AROA…).
	UID string `json:"uid,omitempty"`
	// Type is IAMUser, AssumedRole, Root, FederatedUser, …
	Type string `json:"type,omitempty"`
	// CredentialUID is the access key ID the actor used.
	CredentialUID string           `json:"credentialUid,omitempty"`
	Account       *SequenceAccount `json:"account,omitempty"`
}

// SequenceAccount is an actor's account.
type SequenceAccount struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"account,omitempty"`
}

// Session is an actor's session.
type Session struct {
	UID       string `json:"uid,omitempty"`
	MfaStatus string `json:"mfaStatus,omitempty"`
	// Issuer is the ARN of the role (or user) that issued the session.
	Issuer string `json:"issuer,omitempty"`
}

// NetworkEndpoint is a network endpoint of a sequence.
type NetworkEndpoint struct {
	ID     string `json:"id,omitempty"`
	IP     string `json:"ip,omitempty"`
	Domain string `json:"domain,omitempty"`
	Port   Count  `json:"port,omitempty"`
}

// Sequence returns service.detection.sequence (nil when the finding has
// none).
func (f *Finding) Sequence() *Sequence {
	if f == nil || f.Service == nil || f.Service.Detection == nil {
		return nil
	}
	return f.Service.Detection.Sequence
}
