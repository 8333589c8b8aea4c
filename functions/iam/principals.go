package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/incident"
)

// Kinds of IAM principal the collector describes.
const (
	kindUser = "user"
	kindRole = "role"
)

// principal is one IAM user or role in scope.
type principal struct {
	Kind string
	Name string
	// Via lists how the scope named it ("access key AKIA…", "principal
	// arn:…", "user name"), in the order found.
	Via []string
	// Folder is its folder under iam/: the name, or <name>~<kind> when a
	// user and a role in the same run share the name.
	Folder string
}

func (p *principal) String() string { return p.Kind + " " + p.Name }

// principals is the set of principals found, without duplicates.
type principals struct {
	byKey map[string]*principal
}

func (ps *principals) add(kind, name, via string) {
	if ps.byKey == nil {
		ps.byKey = map[string]*principal{}
	}
	k := kind + "/" + name
	if p, ok := ps.byKey[k]; ok {
		p.Via = append(p.Via, via)
		return
	}
	ps.byKey[k] = &principal{Kind: kind, Name: name, Via: []string{via}}
}

// list returns the principals sorted by name then kind, with their
// folders set.
func (ps *principals) list() []*principal {
	var out []*principal
	names := map[string]int{}
	for _, p := range ps.byKey {
		out = append(out, p)
		names[p.Name]++
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Kind < out[j].Kind
	})
	for _, p := range out {
		p.Folder = p.Name
		if names[p.Name] > 1 {
			p.Folder = p.Name + "~" + p.Kind
		}
	}
	return out
}

// arnPrincipal is what a principal ARN names.
type arnPrincipal struct {
	// Kind is kindUser, kindRole, "instance-profile", "root",
	// "federated-user", or "" for an ARN that names no IAM principal.
	Kind    string
	Name    string
	Account string
}

// classifyARN reads a principal ARN: an IAM user or role (any path: the
// name is the last element), an STS assumed-role session
// (assumed-role/ROLE/SESSION: the role ROLE), an instance profile, the
// account root, or an STS federated user. err is set for a string that is
// not an ARN.
func classifyARN(s string) (arnPrincipal, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return arnPrincipal{}, err
	}
	p := arnPrincipal{Account: a.AccountID}
	typ, rest, _ := strings.Cut(a.Resource, "/")
	last := rest[strings.LastIndex(rest, "/")+1:]
	switch {
	case a.Service == "iam" && a.Resource == "root":
		p.Kind = "root"
	case a.Service == "iam" && (typ == kindUser || typ == kindRole || typ == "instance-profile") && last != "":
		p.Kind, p.Name = typ, last
	case a.Service == "sts" && typ == "assumed-role":
		role, _, _ := strings.Cut(rest, "/")
		if role != "" {
			p.Kind, p.Name = kindRole, role
		}
	case a.Service == "sts" && typ == "federated-user" && rest != "":
		p.Kind, p.Name = "federated-user", rest
	}
	return p, nil
}

// accessKeyDoc is access-key-<id>-last-used.json: GetAccessKeyLastUsed's
// answer.
type accessKeyDoc struct {
	AccessKeyId       string
	UserName          *string
	AccessKeyLastUsed *iamtypes.AccessKeyLastUsed
}

// resolve finds the users and roles the scope names: the owner of each
// access key (storing the key's last use), the user or role of each
// principal ARN (the role of an assumed-role session, the roles of an
// instance profile), and the user and role names. A principal of another
// account, or one that is not an IAM user or role, is a gap.
func (c *PrincipalCollector) resolve(ctx context.Context, inc *incident.Incident, out *collect.Output, home string) ([]*principal, error) {
	var ps principals
	sc := inc.Scope
	for _, key := range sc.AccessKeys {
		user, err := c.accessKey(ctx, out, key)
		if err != nil {
			return nil, err
		}
		if user != "" {
			ps.add(kindUser, user, "access key "+key)
		}
	}
	federated := map[string]bool{}
	for _, s := range sc.Principals {
		p, err := classifyARN(s)
		if err != nil {
			out.Warn("principal %q is not an ARN: left out", s)
			continue
		}
		if home != "" && p.Account != "" && p.Account != home {
			out.Gap(fmt.Sprintf("principal %s is in account %s; this invocation reads account %s only: its Access Advisor data and policies were not collected", s, p.Account, home),
				"deploy custody in account "+p.Account+" (or deploy the member stack, CustodyMember, there: the hub reads a member account through its collector role), or read the principal there by hand")
			continue
		}
		switch p.Kind {
		case kindUser, kindRole:
			ps.add(p.Kind, p.Name, "principal "+s)
		case "instance-profile":
			roles, err := c.instanceProfile(ctx, out, p.Name, s)
			if err != nil {
				return nil, err
			}
			for _, r := range roles {
				ps.add(kindRole, r, "instance profile "+s)
			}
		case "root":
			out.Gap(fmt.Sprintf("principal %s is the account root user: it has no IAM policies, and Access Advisor reports on IAM users, groups, roles and policies only", s),
				"review the root user's activity in CloudTrail (userIdentity.type Root) and its credentials in the IAM credential report")
		case "federated-user":
			federated[p.Name] = true
			out.Gap(fmt.Sprintf("principal %s is an STS federated user: it is no IAM entity, and its ARN does not name the IAM user that called GetFederationToken", s),
				"find the GetFederationToken call for "+p.Name+" in CloudTrail; its caller is the IAM user to investigate")
		default:
			out.Warn("principal %s is not an IAM user, role, assumed-role session or instance profile: left out", s)
		}
	}
	for _, u := range sc.UserNames {
		if federated[u] {
			continue // the federated user's gap says why
		}
		ps.add(kindUser, u, "user name")
	}
	for _, r := range sc.RoleNames {
		ps.add(kindRole, r, "role name")
	}
	return ps.list(), nil
}

// temporaryKey reports whether id is an STS session key (ASIA…):
// GetAccessKeyLastUsed knows long-term keys only.
func temporaryKey(id string) bool { return strings.HasPrefix(id, "ASIA") }

// accessKey stores the key's last use and returns its owner ("" when the
// key could not be read: a gap or warning says why).
func (c *PrincipalCollector) accessKey(ctx context.Context, out *collect.Output, id string) (string, error) {
	if temporaryKey(id) {
		out.Warn("access key %s is a temporary (STS session) key: IAM keeps no last use for it and it has no owning user; its role is collected where the scope names it (role names, assumed-role ARN)", id)
		return "", nil
	}
	in := &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)}
	resp, err := c.IAM.GetAccessKeyLastUsed(ctx, in)
	if err != nil {
		if notFound(err) {
			out.Gap(fmt.Sprintf("access key %s not found in this account: deleted, or another account's key", id),
				"look for its DeleteAccessKey event in CloudTrail; a key of another account is read there (sts:GetAccessKeyInfo names its account)")
			return "", nil
		}
		return "", refused(out, "iam:GetAccessKeyLastUsed", "access key "+id, err)
	}
	doc := accessKeyDoc{AccessKeyId: id, UserName: resp.UserName, AccessKeyLastUsed: resp.AccessKeyLastUsed}
	meta := out.Meta("iam:GetAccessKeyLastUsed", map[string]any{"AccessKeyId": id}, originOf("access key "+id))
	meta.Records = 1
	if resp.AccessKeyLastUsed != nil && resp.AccessKeyLastUsed.LastUsedDate != nil {
		t := resp.AccessKeyLastUsed.LastUsedDate.UTC()
		meta.FirstEvent, meta.LastEvent = &t, &t
	}
	if _, err := out.PutJSON(ctx, c.artifact("access-key-"+id+"-last-used.json"), doc, meta); err != nil {
		return "", err
	}
	return aws.ToString(resp.UserName), nil
}

// instanceProfile returns the roles of an instance profile.
func (c *PrincipalCollector) instanceProfile(ctx context.Context, out *collect.Output, name, profileArn string) ([]string, error) {
	resp, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			out.Gap(fmt.Sprintf("instance profile %s not found: deleted since the finding?", profileArn),
				"look for its DeleteInstanceProfile and RemoveRoleFromInstanceProfile events in CloudTrail")
			return nil, nil
		}
		return nil, refused(out, "iam:GetInstanceProfile", "instance profile "+profileArn, err)
	}
	var roles []string
	if resp.InstanceProfile != nil {
		for _, r := range resp.InstanceProfile.Roles {
			roles = append(roles, aws.ToString(r.RoleName))
		}
	}
	if len(roles) == 0 {
		out.Warn("instance profile %s has no role", profileArn)
	}
	return roles, nil
}
