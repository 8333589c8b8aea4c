package finding

import (
	"encoding/json"
	"errors"
	"time"

	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/custody-ir/custody/shared/faults"
)

// FromAPI converts a finding fetched with the SDK's GuardDuty GetFindings
// (for a KindFindingRef input) to a Finding, field by field for the fields
// the model has, and validates it as Parse validates a bare finding. The
// SDK's types do not marshal to the API's JSON, so Finding.Raw is the JSON of
// the converted model, not the service's response bytes.
func FromAPI(in gdtypes.Finding) (*Finding, []string, error) {
	f := &Finding{
		ID:            str(in.Id),
		Arn:           str(in.Arn),
		Type:          str(in.Type),
		Title:         str(in.Title),
		Description:   str(in.Description),
		AccountID:     str(in.AccountId),
		Region:        str(in.Region),
		Partition:     str(in.Partition),
		SchemaVersion: str(in.SchemaVersion),
		CreatedAt:     timeOf(in.CreatedAt),
		UpdatedAt:     timeOf(in.UpdatedAt),
	}
	top := map[string]json.RawMessage{}
	if in.Severity != nil {
		f.Severity = Severity(*in.Severity)
		top["severity"] = json.RawMessage("0")
	}
	if r := in.Resource; r != nil {
		f.Resource = resourceFromAPI(r)
	}
	if s := in.Service; s != nil {
		f.Service = serviceFromAPI(s)
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return nil, nil, faults.Invalid("", "cannot encode the converted finding: %v", err)
	}
	f.Raw = raw
	warns, err := validate(f, top, "", defaults{})
	if err != nil {
		var inv *faults.InvalidInputError
		if errors.As(err, &inv) {
			err = faults.Invalid(pascalPath(inv.Field), "%s", inv.Reason)
		}
		return nil, warns, err
	}
	return f, warns, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func timeOf(p *string) Time {
	var t Time
	if p != nil {
		b, _ := json.Marshal(*p)
		_ = t.UnmarshalJSON(b)
	}
	return t
}

func remoteFromAPI(r *gdtypes.RemoteIpDetails) *RemoteIPDetails {
	if r == nil {
		return nil
	}
	return &RemoteIPDetails{IPAddressV4: str(r.IpAddressV4), IPAddressV6: str(r.IpAddressV6)}
}

func tagsFromAPI(in []gdtypes.Tag) []Tag {
	var out []Tag
	for _, t := range in {
		out = append(out, Tag{Key: str(t.Key), Value: str(t.Value)})
	}
	return out
}

func resourceFromAPI(r *gdtypes.Resource) *Resource {
	out := &Resource{ResourceType: str(r.ResourceType)}
	if d := r.InstanceDetails; d != nil {
		id := &InstanceDetails{
			InstanceID:       str(d.InstanceId),
			InstanceType:     str(d.InstanceType),
			InstanceState:    str(d.InstanceState),
			AvailabilityZone: str(d.AvailabilityZone),
			ImageID:          str(d.ImageId),
			Platform:         str(d.Platform),
			OutpostArn:       str(d.OutpostArn),
			Tags:             tagsFromAPI(d.Tags),
		}
		if d.LaunchTime != nil {
			id.LaunchTime, _ = json.Marshal(*d.LaunchTime)
		}
		if p := d.IamInstanceProfile; p != nil {
			id.IamInstanceProfile = &IamInstanceProfile{Arn: str(p.Arn), ID: str(p.Id)}
		}
		for _, n := range d.NetworkInterfaces {
			ni := NetworkInterface{
				NetworkInterfaceID: str(n.NetworkInterfaceId),
				PrivateIPAddress:   str(n.PrivateIpAddress),
				PublicIP:           str(n.PublicIp),
				IPv6Addresses:      n.Ipv6Addresses,
				SubnetID:           str(n.SubnetId),
				VpcID:              str(n.VpcId),
			}
			for _, p := range n.PrivateIpAddresses {
				ni.PrivateIPAddresses = append(ni.PrivateIPAddresses, PrivateIPAddress{PrivateIPAddress: str(p.PrivateIpAddress), PrivateDNSName: str(p.PrivateDnsName)})
			}
			for _, g := range n.SecurityGroups {
				ni.SecurityGroups = append(ni.SecurityGroups, SecurityGroup{GroupID: str(g.GroupId), GroupName: str(g.GroupName)})
			}
			id.NetworkInterfaces = append(id.NetworkInterfaces, ni)
		}
		out.InstanceDetails = id
	}
	if k := r.AccessKeyDetails; k != nil {
		out.AccessKeyDetails = &AccessKeyDetails{AccessKeyID: str(k.AccessKeyId), PrincipalID: str(k.PrincipalId), UserName: str(k.UserName), UserType: str(k.UserType)}
	}
	for _, b := range r.S3BucketDetails {
		bd := S3BucketDetail{Name: str(b.Name), Arn: str(b.Arn), Type: str(b.Type)}
		for _, o := range b.S3ObjectDetails {
			bd.S3ObjectDetails = append(bd.S3ObjectDetails, S3ObjectDetail{ObjectArn: str(o.ObjectArn), Key: str(o.Key),
				VersionID: str(o.VersionId), ETag: str(o.ETag), Hash: str(o.Hash)})
		}
		out.S3BucketDetails = append(out.S3BucketDetails, bd)
	}
	if e := r.EksClusterDetails; e != nil {
		out.EksClusterDetails = &EksClusterDetails{Name: str(e.Name), Arn: str(e.Arn), VpcID: str(e.VpcId)}
	}
	if l := r.LambdaDetails; l != nil {
		out.LambdaDetails = &LambdaDetails{FunctionName: str(l.FunctionName), FunctionArn: str(l.FunctionArn), FunctionVersion: str(l.FunctionVersion), Role: str(l.Role)}
	}
	if d := r.RdsDbInstanceDetails; d != nil {
		out.RdsDbInstanceDetails = &RdsDbInstanceDetails{DBInstanceIdentifier: str(d.DbInstanceIdentifier), DBInstanceArn: str(d.DbInstanceArn), DBClusterIdentifier: str(d.DbClusterIdentifier), Engine: str(d.Engine)}
	}
	if e := r.EcsClusterDetails; e != nil {
		ec := &EcsClusterDetails{Name: str(e.Name), Arn: str(e.Arn)}
		if t := e.TaskDetails; t != nil {
			ec.TaskDetails = &EcsTaskDetails{Arn: str(t.Arn), DefinitionArn: str(t.DefinitionArn), LaunchType: str(t.LaunchType),
				Containers: containersFromAPI(t.Containers)}
		}
		out.EcsClusterDetails = ec
	}
	if k := r.KubernetesDetails; k != nil {
		kd := &KubernetesDetails{}
		if u := k.KubernetesUserDetails; u != nil {
			kd.KubernetesUserDetails = &KubernetesUserDetails{Username: str(u.Username), UID: str(u.Uid), Groups: u.Groups, SessionName: u.SessionName}
		}
		if w := k.KubernetesWorkloadDetails; w != nil {
			kd.KubernetesWorkloadDetails = &KubernetesWorkloadDetails{Name: str(w.Name), Type: str(w.Type), UID: str(w.Uid), Namespace: str(w.Namespace),
				ServiceAccountName: str(w.ServiceAccountName), Containers: containersFromAPI(w.Containers)}
		}
		out.KubernetesDetails = kd
	}
	if c := r.ContainerDetails; c != nil {
		out.ContainerDetails = &containersFromAPI([]gdtypes.Container{*c})[0]
	}
	if v := r.EbsVolumeDetails; v != nil {
		out.EbsVolumeDetails = &EbsVolumeDetails{ScannedVolumeDetails: volumesFromAPI(v.ScannedVolumeDetails), SkippedVolumeDetails: volumesFromAPI(v.SkippedVolumeDetails)}
	}
	if u := r.RdsDbUserDetails; u != nil {
		out.RdsDbUserDetails = &RdsDbUserDetails{User: str(u.User), Application: str(u.Application), Database: str(u.Database), Ssl: str(u.Ssl), AuthMethod: str(u.AuthMethod)}
	}
	if d := r.RdsLimitlessDbDetails; d != nil {
		out.RdsLimitlessDbDetails = &RdsLimitlessDbDetails{DBShardGroupIdentifier: str(d.DbShardGroupIdentifier), DBShardGroupArn: str(d.DbShardGroupArn),
			DBClusterIdentifier: str(d.DbClusterIdentifier), Engine: str(d.Engine)}
	}
	if d := r.Ec2ImageDetails; d != nil {
		out.Ec2ImageDetails = &Ec2ImageDetails{ImageArn: str(d.ImageArn)}
	}
	if d := r.EbsSnapshotDetails; d != nil {
		out.EbsSnapshotDetails = &EbsSnapshotDetails{SnapshotArn: str(d.SnapshotArn)}
	}
	if d := r.RecoveryPointDetails; d != nil {
		out.RecoveryPointDetails = &RecoveryPointDetails{RecoveryPointArn: str(d.RecoveryPointArn), BackupVaultName: str(d.BackupVaultName)}
	}
	return out
}

func containersFromAPI(in []gdtypes.Container) []ContainerDetails {
	var out []ContainerDetails
	for _, c := range in {
		out = append(out, ContainerDetails{ID: str(c.Id), Name: str(c.Name), Image: str(c.Image), ImagePrefix: str(c.ImagePrefix), ContainerRuntime: str(c.ContainerRuntime)})
	}
	return out
}

func volumesFromAPI(in []gdtypes.VolumeDetail) []VolumeDetail {
	var out []VolumeDetail
	for _, v := range in {
		vd := VolumeDetail{VolumeArn: str(v.VolumeArn), VolumeType: str(v.VolumeType), DeviceName: str(v.DeviceName),
			EncryptionType: str(v.EncryptionType), SnapshotArn: str(v.SnapshotArn), KmsKeyArn: str(v.KmsKeyArn)}
		if v.VolumeSizeInGB != nil {
			vd.VolumeSizeInGB = Count(*v.VolumeSizeInGB)
		}
		out = append(out, vd)
	}
	return out
}

func timeRaw(t *time.Time) json.RawMessage {
	if t == nil {
		return nil
	}
	b, _ := json.Marshal(t.UTC().Format(time.RFC3339Nano))
	return b
}

func detectionFromAPI(d *gdtypes.Detection) *Detection {
	if d == nil || d.Sequence == nil {
		return nil
	}
	q := d.Sequence
	seq := &Sequence{UID: str(q.Uid), Description: str(q.Description)}
	for _, s := range q.Signals {
		sig := Signal{UID: str(s.Uid), Type: string(s.Type), Name: str(s.Name), Description: str(s.Description),
			ResourceUids: s.ResourceUids, ActorIDs: s.ActorIds, EndpointIDs: s.EndpointIds}
		if s.Count != nil {
			sig.Count = Count(*s.Count)
		}
		seq.Signals = append(seq.Signals, sig)
	}
	for _, r := range q.Resources {
		rv := ResourceV2{UID: str(r.Uid), Name: str(r.Name), AccountID: str(r.AccountId), ResourceType: string(r.ResourceType),
			Region: str(r.Region), Service: str(r.Service)}
		if x := r.Data; x != nil {
			rd := &ResourceData{}
			if a := x.AccessKey; a != nil {
				rd.AccessKey = &AccessKeyV2{PrincipalID: str(a.PrincipalId), UserName: str(a.UserName), UserType: str(a.UserType)}
			}
			if e := x.Ec2Instance; e != nil {
				ei := &Ec2InstanceV2{InstanceType: str(e.InstanceType), Ec2NetworkInterfaceUids: e.Ec2NetworkInterfaceUids}
				if p := e.IamInstanceProfile; p != nil {
					ei.IamInstanceProfile = &IamInstanceProfile{Arn: str(p.Arn), ID: str(p.Id)}
				}
				rd.Ec2Instance = ei
			}
			if n := x.Ec2NetworkInterface; n != nil {
				ni := &Ec2NetworkInterfaceV2{PublicIP: str(n.PublicIp), IPv6Addresses: n.Ipv6Addresses, SubnetID: str(n.SubNetId), VpcID: str(n.VpcId)}
				for _, p := range n.PrivateIpAddresses {
					ni.PrivateIPAddresses = append(ni.PrivateIPAddresses, PrivateIPAddress{PrivateIPAddress: str(p.PrivateIpAddress), PrivateDNSName: str(p.PrivateDnsName)})
				}
				for _, g := range n.SecurityGroups {
					ni.SecurityGroups = append(ni.SecurityGroups, SecurityGroup{GroupID: str(g.GroupId), GroupName: str(g.GroupName)})
				}
				rd.Ec2NetworkInterface = ni
			}
			if b := x.S3Bucket; b != nil {
				rd.S3Bucket = &S3BucketV2{OwnerID: str(b.OwnerId), S3ObjectUids: b.S3ObjectUids}
			}
			if o := x.S3Object; o != nil {
				rd.S3Object = &S3ObjectV2{Key: str(o.Key), VersionID: str(o.VersionId), ETag: str(o.ETag)}
			}
			if e := x.EksCluster; e != nil {
				rd.EksCluster = &EksClusterV2{Arn: str(e.Arn), VpcID: str(e.VpcId), Ec2InstanceUids: e.Ec2InstanceUids}
			}
			if e := x.EcsCluster; e != nil {
				rd.EcsCluster = &InstanceUids{Ec2InstanceUids: e.Ec2InstanceUids}
			}
			if t := x.EcsTask; t != nil {
				rd.EcsTask = &EcsTaskV2{TaskDefinitionArn: str(t.TaskDefinitionArn), LaunchType: string(t.LaunchType), ContainerUids: t.ContainerUids}
			}
			if w := x.KubernetesWorkload; w != nil {
				rd.KubernetesWorkload = &KubernetesWorkloadV2{Namespace: str(w.Namespace), Type: string(w.KubernetesResourcesTypes), ContainerUids: w.ContainerUids}
			}
			if c := x.Container; c != nil {
				rd.Container = &ContainerV2{Image: str(c.Image), ImageUID: str(c.ImageUid)}
			}
			if p := x.IamInstanceProfile; p != nil {
				rd.IamInstanceProfile = &InstanceUids{Ec2InstanceUids: p.Ec2InstanceUids}
			}
			if i := x.Ec2Image; i != nil {
				rd.Ec2Image = &InstanceUids{Ec2InstanceUids: i.Ec2InstanceUids}
			}
			rv.Data = rd
		}
		seq.Resources = append(seq.Resources, rv)
	}
	for _, a := range q.Actors {
		ac := Actor{ID: str(a.Id)}
		if u := a.User; u != nil {
			su := &SequenceUser{Name: str(u.Name), UID: str(u.Uid), Type: str(u.Type), CredentialUID: str(u.CredentialUid)}
			if acct := u.Account; acct != nil {
				su.Account = &SequenceAccount{UID: str(acct.Uid), Name: str(acct.Name)}
			}
			ac.User = su
		}
		if s := a.Session; s != nil {
			ac.Session = &Session{UID: str(s.Uid), MfaStatus: string(s.MfaStatus), Issuer: str(s.Issuer)}
		}
		seq.Actors = append(seq.Actors, ac)
	}
	for _, e := range q.Endpoints {
		ep := NetworkEndpoint{ID: str(e.Id), IP: str(e.Ip), Domain: str(e.Domain)}
		if e.Port != nil {
			ep.Port = Count(*e.Port)
		}
		seq.Endpoints = append(seq.Endpoints, ep)
	}
	return &Detection{Sequence: seq}
}

func serviceFromAPI(s *gdtypes.Service) *Service {
	out := &Service{
		ServiceName:    str(s.ServiceName),
		DetectorID:     str(s.DetectorId),
		EventFirstSeen: timeOf(s.EventFirstSeen),
		EventLastSeen:  timeOf(s.EventLastSeen),
		ResourceRole:   str(s.ResourceRole),
		FeatureName:    str(s.FeatureName),
	}
	if s.Count != nil {
		out.Count = Count(*s.Count)
	}
	if s.Archived != nil {
		out.Archived = Bool(*s.Archived)
	}
	out.Detection = detectionFromAPI(s.Detection)
	if d := s.EbsVolumeScanDetails; d != nil {
		out.EbsVolumeScanDetails = &EbsVolumeScanDetails{ScanID: str(d.ScanId), ScanType: string(d.ScanType), TriggerFindingID: str(d.TriggerFindingId),
			Sources: d.Sources, ScanStartedAt: timeRaw(d.ScanStartedAt), ScanCompletedAt: timeRaw(d.ScanCompletedAt)}
	}
	if d := s.MalwareScanDetails; d != nil {
		ms := &MalwareScanDetails{ScanID: str(d.ScanId), ScanType: string(d.ScanType), ScanCategory: string(d.ScanCategory)}
		for _, t := range d.Threats {
			th := Threat{Name: str(t.Name), Source: str(t.Source), Hash: str(t.Hash)}
			if t.Count != nil {
				th.Count = Count(*t.Count)
			}
			for _, p := range t.ItemPaths {
				th.ItemPaths = append(th.ItemPaths, ItemPath{NestedItemPath: str(p.NestedItemPath), Hash: str(p.Hash)})
			}
			for _, d := range t.ItemDetails {
				th.ItemDetails = append(th.ItemDetails, ItemDetail{ResourceArn: str(d.ResourceArn), ItemPath: str(d.ItemPath), Hash: str(d.Hash)})
			}
			ms.Threats = append(ms.Threats, th)
		}
		out.MalwareScanDetails = ms
	}
	if ai := s.AdditionalInfo; ai != nil && ai.Value != nil {
		if json.Valid([]byte(*ai.Value)) {
			out.AdditionalInfo = json.RawMessage(*ai.Value)
		}
	}
	if a := s.Action; a != nil {
		act := &Action{ActionType: str(a.ActionType)}
		if c := a.AwsApiCallAction; c != nil {
			act.AwsAPICallAction = &AwsAPICallAction{API: str(c.Api), ServiceName: str(c.ServiceName), CallerType: str(c.CallerType),
				ErrorCode: str(c.ErrorCode), UserAgent: str(c.UserAgent), RemoteIPDetails: remoteFromAPI(c.RemoteIpDetails), AffectedResources: c.AffectedResources}
		}
		if c := a.NetworkConnectionAction; c != nil {
			nc := &NetworkConnectionAction{ConnectionDirection: str(c.ConnectionDirection), Protocol: str(c.Protocol), RemoteIPDetails: remoteFromAPI(c.RemoteIpDetails)}
			if c.Blocked != nil {
				nc.Blocked = Bool(*c.Blocked)
			}
			if p := c.LocalPortDetails; p != nil && p.Port != nil {
				nc.LocalPortDetails = &PortDetails{Port: Count(*p.Port), PortName: str(p.PortName)}
			}
			if p := c.RemotePortDetails; p != nil && p.Port != nil {
				nc.RemotePortDetails = &PortDetails{Port: Count(*p.Port), PortName: str(p.PortName)}
			}
			act.NetworkConnectionAction = nc
		}
		if c := a.PortProbeAction; c != nil {
			pp := &PortProbeAction{}
			if c.Blocked != nil {
				pp.Blocked = Bool(*c.Blocked)
			}
			for _, d := range c.PortProbeDetails {
				pd := PortProbeDetail{RemoteIPDetails: remoteFromAPI(d.RemoteIpDetails)}
				if p := d.LocalPortDetails; p != nil && p.Port != nil {
					pd.LocalPortDetails = &PortDetails{Port: Count(*p.Port), PortName: str(p.PortName)}
				}
				pp.PortProbeDetails = append(pp.PortProbeDetails, pd)
			}
			act.PortProbeAction = pp
		}
		if c := a.DnsRequestAction; c != nil {
			d := &DNSRequestAction{Domain: str(c.Domain), Protocol: str(c.Protocol)}
			if c.Blocked != nil {
				d.Blocked = Bool(*c.Blocked)
			}
			act.DNSRequestAction = d
		}
		if c := a.KubernetesApiCallAction; c != nil {
			k := &KubernetesAPICallAction{RequestURI: str(c.RequestUri), Verb: str(c.Verb), SourceIPs: c.SourceIps, UserAgent: str(c.UserAgent), RemoteIPDetails: remoteFromAPI(c.RemoteIpDetails)}
			if c.StatusCode != nil {
				k.StatusCode = Count(*c.StatusCode)
			}
			act.KubernetesAPICallAction = k
		}
		if c := a.RdsLoginAttemptAction; c != nil {
			rl := &RdsLoginAttemptAction{RemoteIPDetails: remoteFromAPI(c.RemoteIpDetails)}
			for _, l := range c.LoginAttributes {
				la := LoginAttribute{User: str(l.User), Application: str(l.Application)}
				if l.FailedLoginAttempts != nil {
					la.FailedLoginAttempts = Count(*l.FailedLoginAttempts)
				}
				if l.SuccessfulLoginAttempts != nil {
					la.SuccessfulLoginAttempts = Count(*l.SuccessfulLoginAttempts)
				}
				rl.LoginAttributes = append(rl.LoginAttributes, la)
			}
			act.RdsLoginAttemptAction = rl
		}
		out.Action = act
	}
	return out
}
