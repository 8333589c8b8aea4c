package finding

import (
	"encoding/json"
	"errors"

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
		out.S3BucketDetails = append(out.S3BucketDetails, S3BucketDetail{Name: str(b.Name), Arn: str(b.Arn), Type: str(b.Type)})
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
		out.EcsClusterDetails = &EcsClusterDetails{Name: str(e.Name), Arn: str(e.Arn)}
	}
	if k := r.KubernetesDetails; k != nil {
		kd := &KubernetesDetails{}
		if u := k.KubernetesUserDetails; u != nil {
			kd.KubernetesUserDetails = &KubernetesUserDetails{Username: str(u.Username), UID: str(u.Uid), Groups: u.Groups}
		}
		if w := k.KubernetesWorkloadDetails; w != nil {
			kd.KubernetesWorkloadDetails = &KubernetesWorkloadDetails{Name: str(w.Name), Type: str(w.Type), UID: str(w.Uid), Namespace: str(w.Namespace)}
		}
		out.KubernetesDetails = kd
	}
	if c := r.ContainerDetails; c != nil {
		out.ContainerDetails = &ContainerDetails{ID: str(c.Id), Name: str(c.Name), Image: str(c.Image)}
	}
	return out
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
			act.RdsLoginAttemptAction = &RdsLoginAttemptAction{RemoteIPDetails: remoteFromAPI(c.RemoteIpDetails)}
		}
		out.Action = act
	}
	return out
}
