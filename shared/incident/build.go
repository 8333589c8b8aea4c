package incident

import (
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
)

// FromFinding builds the incident for a parsed finding: the case ID from the
// finding ID (CaseIDForFinding), the run ID from updatedAt (RunIDFor), the
// summary, the Scope, the Window from the activity's first and last sighting
// (service.eventFirstSeen/eventLastSeen, else createdAt/updatedAt; see
// WindowFor) and the Plan for the resource type (PlanFor). now is when
// Triage accepted it. A nil finding, or one without ID or updatedAt, is an
// InvalidInputError.
func FromFinding(f *finding.Finding, cfg Config, now time.Time) (*Incident, error) {
	if f == nil {
		return nil, faults.Invalid("", "no finding")
	}
	if f.ID == "" {
		return nil, faults.Invalid("id", "missing")
	}
	if f.UpdatedAt.IsZero() {
		return nil, faults.Invalid("updatedAt", "missing")
	}
	first, last := f.FirstSeen().Time, f.LastSeen().Time
	if first.IsZero() && last.IsZero() {
		return nil, faults.Invalid("service.eventFirstSeen", "missing, with no createdAt or updatedAt to take its place")
	}
	inc := &Incident{
		CaseID: CaseIDForFinding(f.ID),
		RunID:  RunIDFor(f.UpdatedAt.Time),
		Finding: &FindingSummary{
			ID:           f.ID,
			DetectorID:   f.DetectorID(),
			Type:         f.Type,
			Title:        f.Title,
			Severity:     float64(f.Severity),
			AccountID:    f.AccountID,
			Region:       f.Region,
			ResourceType: f.ResourceType(),
			CreatedAt:    f.CreatedAt.Time,
			UpdatedAt:    f.UpdatedAt.Time,
			FirstSeen:    first,
			LastSeen:     last,
		},
		Scope:    ScopeOf(f),
		OpenedAt: now.UTC(),
	}
	var warns []string
	inc.Window, warns = WindowFor(first, last, cfg)
	inc.Warnings = append(inc.Warnings, warns...)
	inc.Plan, warns = PlanFor(f.ResourceType(), reasonFinding)
	inc.Plan = WithScope(inc.Plan, inc.Scope)
	inc.Warnings = append(inc.Warnings, warns...)
	return inc, nil
}

// FromManual builds the incident for a manual start: the case ID from
// resource and window as asked (CaseIDForManual), the run ID from the
// window's end as asked (RunIDFor), no finding summary, the Scope of the one
// resource, the window asked for capped to MaxSpan (ManualWindow), and the
// Plan for the resource type. The caller fills m.AccountID and m.Region from
// its own account and region where the request left them out.
func FromManual(m *finding.ManualStart, cfg Config, now time.Time) (*Incident, error) {
	if m == nil {
		return nil, faults.Invalid("", "no manual start")
	}
	if m.ResourceID == "" {
		return nil, faults.Invalid("resource.id", "missing")
	}
	if m.Start.IsZero() || m.End.IsZero() {
		return nil, faults.Invalid("window", "missing start or end")
	}
	if !m.End.After(m.Start) {
		return nil, faults.Invalid("window.end", "is not after window.start")
	}
	asked := Window{Start: m.Start.UTC(), End: m.End.UTC()}
	inc := &Incident{
		CaseID:   CaseIDForManual(m.ResourceType, m.ResourceID, asked),
		RunID:    RunIDFor(asked.End),
		Manual:   true,
		Scope:    ManualScope(m),
		OpenedAt: now.UTC(),
	}
	var warns []string
	inc.Window, warns = ManualWindow(asked.Start, asked.End, cfg)
	inc.Warnings = append(inc.Warnings, warns...)
	inc.Plan, warns = PlanFor(m.ResourceType, reasonManual)
	inc.Plan = WithScope(inc.Plan, inc.Scope)
	inc.Warnings = append(inc.Warnings, warns...)
	return inc, nil
}

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

// ScopeOf lists what a finding touches. Identifiers are taken as the
// finding gives them (GuardDuty sample findings carry placeholders such as
// "GeneratedFindingSubnetId": collectors find nothing for them and report a
// gap). Where they come from:
//
//   - Instances, ENIs, PrivateIPs, PublicIPs, VPCs, Subnets, SecurityGroups:
//     resource.instanceDetails and its networkInterfaces;
//   - Principals (ARNs): the instance profile ARN, the Lambda function's role;
//   - PrincipalIDs, AccessKeys: resource.accessKeyDetails;
//   - UserNames / RoleNames: accessKeyDetails.userName, a role name when
//     userType is AssumedRole, a user name otherwise;
//   - Buckets: s3BucketDetails names (from the ARN when the name is absent);
//   - Clusters: EKS and ECS cluster ARNs (names when there is no ARN);
//   - Functions: the Lambda function ARN (name when there is no ARN);
//   - DBInstances: the RDS instance identifier;
//   - LogGroups: /aws/lambda/<function> and /aws/eks/<cluster>/cluster;
//   - RemoteIPs: service.action's remote addresses; Domains: its DNS queries.
func ScopeOf(f *finding.Finding) Scope {
	sc := Scope{AccountID: f.AccountID, Region: f.Region}
	var inst, enis, priv, pub, vpcs, subnets, sgs, principals, pids, keys, users, roles,
		buckets, clusters, funcs, dbs, logGroups, remote, domains = set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}
	if r := f.Resource; r != nil {
		if d := r.InstanceDetails; d != nil {
			inst.add(d.InstanceID)
			if d.IamInstanceProfile != nil {
				principals.add(d.IamInstanceProfile.Arn)
			}
			for _, n := range d.NetworkInterfaces {
				enis.add(n.NetworkInterfaceID)
				priv.add(n.PrivateIPAddress)
				for _, p := range n.PrivateIPAddresses {
					priv.add(p.PrivateIPAddress)
				}
				pub.add(n.PublicIP)
				vpcs.add(n.VpcID)
				subnets.add(n.SubnetID)
				for _, g := range n.SecurityGroups {
					sgs.add(g.GroupID)
				}
			}
		}
		if k := r.AccessKeyDetails; k != nil {
			keys.add(k.AccessKeyID)
			pids.add(k.PrincipalID)
			if strings.EqualFold(k.UserType, "AssumedRole") {
				roles.add(k.UserName)
			} else {
				users.add(k.UserName)
			}
		}
		for _, b := range r.S3BucketDetails {
			name := b.Name
			if name == "" {
				name = b.Arn[strings.LastIndex(b.Arn, ":")+1:]
			}
			buckets.add(name)
		}
		if e := r.EksClusterDetails; e != nil {
			clusters.add(firstOf(e.Arn, e.Name))
			if e.Name != "" {
				logGroups.add("/aws/eks/" + e.Name + "/cluster")
			}
			vpcs.add(e.VpcID)
		}
		if e := r.EcsClusterDetails; e != nil {
			clusters.add(firstOf(e.Arn, e.Name))
		}
		if l := r.LambdaDetails; l != nil {
			funcs.add(firstOf(l.FunctionArn, l.FunctionName))
			name := l.FunctionName
			if name == "" {
				name = lambdaNameFromArn(l.FunctionArn)
			}
			if name != "" {
				logGroups.add("/aws/lambda/" + name)
			}
			principals.add(l.Role)
		}
		if d := r.RdsDbInstanceDetails; d != nil {
			dbs.add(d.DBInstanceIdentifier)
		}
	}
	remote.add(f.RemoteIPs()...)
	if f.Service != nil && f.Service.Action != nil && f.Service.Action.DNSRequestAction != nil {
		domains.add(f.Service.Action.DNSRequestAction.Domain)
	}
	sc.Instances, sc.ENIs, sc.PrivateIPs, sc.PublicIPs = inst.list(), enis.list(), priv.list(), pub.list()
	sc.VPCs, sc.Subnets, sc.SecurityGroups = vpcs.list(), subnets.list(), sgs.list()
	sc.Principals, sc.PrincipalIDs, sc.AccessKeys = principals.list(), pids.list(), keys.list()
	sc.UserNames, sc.RoleNames = users.list(), roles.list()
	sc.Buckets, sc.Clusters, sc.Functions, sc.DBInstances = buckets.list(), clusters.list(), funcs.list(), dbs.list()
	sc.LogGroups, sc.RemoteIPs, sc.Domains = logGroups.list(), remote.list(), domains.list()
	return sc
}

var principalArnRe = regexp.MustCompile(`^arn:[a-z-]+:(iam|sts)::[0-9]{12}:(user|role|assumed-role|federated-user)/(.+)$`)

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
		if sub := principalArnRe.FindStringSubmatch(m.ResourceID); sub != nil {
			path := strings.Split(sub[3], "/")
			switch sub[2] {
			case "user":
				sc.UserNames = []string{path[len(path)-1]}
			case "role":
				sc.RoleNames = []string{path[len(path)-1]}
			case "assumed-role":
				sc.RoleNames = []string{path[0]}
			case "federated-user":
				sc.UserNames = []string{path[0]}
			}
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

// lambdaNameFromArn returns the function name of a Lambda ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]).
func lambdaNameFromArn(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return ""
}
