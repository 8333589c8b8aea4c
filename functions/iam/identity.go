package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/custody-ir/custody/shared/collect"
)

// identityAPI is identity.json's API in the manifest: the artifact holds
// the answers of several iam:Get* and iam:List* calls.
const identityAPI = "iam:Get*"

// identityDoc is identity.json: each call's answer under the call's name;
// a call made once per item (policy, group) holds its answers by item.
// Policy documents are kept as IAM returns them (URL-encoded) and decoded
// beside them.
type identityDoc struct {
	Principal string `json:"Principal"` // "user NAME" or "role NAME"

	GetUser                   *userResult                         `json:"iam:GetUser,omitempty"`
	ListAttachedUserPolicies  *attachedPolicies                   `json:"iam:ListAttachedUserPolicies,omitempty"`
	ListUserPolicies          *policyNames                        `json:"iam:ListUserPolicies,omitempty"`
	GetUserPolicy             map[string]*inlinePolicy            `json:"iam:GetUserPolicy,omitempty"`
	ListGroupsForUser         *groupsResult                       `json:"iam:ListGroupsForUser,omitempty"`
	ListAttachedGroupPolicies map[string]*attachedPolicies        `json:"iam:ListAttachedGroupPolicies,omitempty"` // by group name
	ListGroupPolicies         map[string]*policyNames             `json:"iam:ListGroupPolicies,omitempty"`         // by group name
	GetGroupPolicy            map[string]map[string]*inlinePolicy `json:"iam:GetGroupPolicy,omitempty"`            // by group, then policy name

	GetRole                  *roleResult              `json:"iam:GetRole,omitempty"`
	ListAttachedRolePolicies *attachedPolicies        `json:"iam:ListAttachedRolePolicies,omitempty"`
	ListRolePolicies         *policyNames             `json:"iam:ListRolePolicies,omitempty"`
	GetRolePolicy            map[string]*inlinePolicy `json:"iam:GetRolePolicy,omitempty"`

	// GetPolicy and GetPolicyVersion (the default version) are by policy
	// ARN: every managed policy attached to the principal or its groups,
	// and its permissions boundary.
	GetPolicy        map[string]*policyResult        `json:"iam:GetPolicy,omitempty"`
	GetPolicyVersion map[string]*policyVersionResult `json:"iam:GetPolicyVersion,omitempty"`

	// Refused lists the calls that were refused (denied, not found), by
	// call and item, with IAM's error; each is a gap in the result too.
	Refused map[string]string `json:"Refused,omitempty"`

	requests map[string][]map[string]any
}

type userResult struct {
	User *iamtypes.User
}

type roleResult struct {
	Role *iamtypes.Role
	// TrustPolicyDocument is Role.AssumeRolePolicyDocument (the trust
	// policy) decoded.
	TrustPolicyDocument json.RawMessage `json:",omitempty"`
	DocumentError       string          `json:",omitempty"`
}

type attachedPolicies struct {
	AttachedPolicies []iamtypes.AttachedPolicy
}

type policyNames struct {
	PolicyNames []string
}

type groupsResult struct {
	Groups []iamtypes.Group
}

// inlinePolicy is Get{User,Group,Role}Policy's answer, and the document
// decoded.
type inlinePolicy struct {
	UserName       *string `json:",omitempty"`
	GroupName      *string `json:",omitempty"`
	RoleName       *string `json:",omitempty"`
	PolicyName     *string
	PolicyDocument *string
	Document       json.RawMessage `json:",omitempty"`
	DocumentError  string          `json:",omitempty"`
}

type policyResult struct {
	Policy *iamtypes.Policy
}

type policyVersionResult struct {
	PolicyVersion *iamtypes.PolicyVersion
	Document      json.RawMessage `json:",omitempty"`
	DocumentError string          `json:",omitempty"`
}

func newIdentityDoc(p *principal) *identityDoc {
	return &identityDoc{Principal: p.String(), requests: map[string][]map[string]any{}}
}

// call records a call's parameters for the artifact's request.
func (d *identityDoc) call(api string, params map[string]any) {
	d.requests[api] = append(d.requests[api], params)
}

// decodeDocument decodes a policy document as IAM returns it (URL-encoded
// JSON, RFC 3986) into JSON, or says why it could not.
func decodeDocument(s *string) (json.RawMessage, string) {
	if s == nil {
		return nil, ""
	}
	plain, err := url.PathUnescape(*s)
	if err != nil {
		if json.Valid([]byte(*s)) {
			return json.RawMessage(*s), "" // not encoded
		}
		return nil, "not URL-encoded JSON: " + err.Error()
	}
	if !json.Valid([]byte(plain)) {
		return nil, "not JSON once URL-decoded: kept as returned only"
	}
	return json.RawMessage(plain), ""
}

// describe reads the user or role itself and returns its ARN; "" when it
// is not there (a gap says so) or could not be read.
func (c *PrincipalCollector) describe(ctx context.Context, out *collect.Output, p *principal, doc *identityDoc) (string, error) {
	var (
		principalArn string
		err          error
		op           string
	)
	switch p.Kind {
	case kindUser:
		op = "iam:GetUser"
		doc.call(op, map[string]any{"UserName": p.Name})
		var resp *iam.GetUserOutput
		if resp, err = c.IAM.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(p.Name)}); err == nil {
			doc.GetUser = &userResult{User: resp.User}
			if resp.User != nil {
				principalArn = aws.ToString(resp.User.Arn)
			}
		}
	case kindRole:
		op = "iam:GetRole"
		doc.call(op, map[string]any{"RoleName": p.Name})
		var resp *iam.GetRoleOutput
		if resp, err = c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.Name)}); err == nil {
			r := &roleResult{Role: resp.Role}
			if resp.Role != nil {
				principalArn = aws.ToString(resp.Role.Arn)
				r.TrustPolicyDocument, r.DocumentError = decodeDocument(resp.Role.AssumeRolePolicyDocument)
			}
			doc.GetRole = r
		}
	}
	if err != nil {
		if notFound(err) {
			out.Gap(fmt.Sprintf("%s (from %s) not found: deleted, or never in this account", p, joinVia(p)),
				fmt.Sprintf("look for its Delete%s event in CloudTrail and its history in AWS Config; collect sooner next time (a lower severity threshold)", titleKind(p.Kind)))
			return "", nil
		}
		return "", refused(out, op, p.String(), err)
	}
	if principalArn == "" {
		out.Gap(fmt.Sprintf("%s: %s returned no ARN", p, op), "read the principal by hand")
	}
	return principalArn, nil
}

func titleKind(k string) string {
	if k == kindRole {
		return "Role"
	}
	return "User"
}

// refusedCall is refused for one call of the identity: the gap, and the
// error kept in the document.
func (c *PrincipalCollector) refusedCall(out *collect.Output, doc *identityDoc, op, item string, p *principal, err error) error {
	what := p.String()
	if item != "" {
		what += " (" + item + ")"
	}
	if rerr := refused(out, op, what, err); rerr != nil {
		return rerr
	}
	if doc.Refused == nil {
		doc.Refused = map[string]string{}
	}
	key := op
	if item != "" {
		key += " " + item
	}
	doc.Refused[key] = err.Error()
	return nil
}

// identity reads the rest of the principal's identity and stores
// identity.json.
func (c *PrincipalCollector) identity(ctx context.Context, out *collect.Output, p *principal, doc *identityDoc) error {
	var (
		managed []string // policy ARNs whose default version is read
		err     error
	)
	switch p.Kind {
	case kindUser:
		managed, err = c.userPolicies(ctx, out, p, doc)
	case kindRole:
		managed, err = c.rolePolicies(ctx, out, p, doc)
	}
	if err != nil {
		return err
	}
	if err := c.managedPolicies(ctx, out, p, doc, managed); err != nil {
		return err
	}
	req := map[string]any{}
	for api, calls := range doc.requests {
		req[api] = calls
	}
	meta := out.Meta(identityAPI, req, originOf(p.String()+" (from "+joinVia(p)+")"))
	meta.Records = 1
	_, err = out.PutJSON(ctx, c.artifact(p.Folder+"/identity.json"), doc, meta)
	return err
}

// userPolicies reads a user's attached and inline policies and its groups'
// (GetUser is already in doc), and returns the managed policies to read:
// attached to the user or its groups, and its permissions boundary.
func (c *PrincipalCollector) userPolicies(ctx context.Context, out *collect.Output, p *principal, doc *identityDoc) ([]string, error) {
	var managed []string
	name := aws.String(p.Name)
	if u := doc.GetUser.User; u != nil && u.PermissionsBoundary != nil {
		managed = append(managed, aws.ToString(u.PermissionsBoundary.PermissionsBoundaryArn))
	}

	doc.call("iam:ListAttachedUserPolicies", map[string]any{"UserName": p.Name})
	attached, err := listAttached(ctx, c, out, doc, p, "iam:ListAttachedUserPolicies", "",
		iam.NewListAttachedUserPoliciesPaginator(c.IAM, &iam.ListAttachedUserPoliciesInput{UserName: name}),
		func(o *iam.ListAttachedUserPoliciesOutput) []iamtypes.AttachedPolicy { return o.AttachedPolicies })
	if err != nil {
		return nil, err
	}
	doc.ListAttachedUserPolicies = attached
	if attached != nil {
		managed = append(managed, policyArns(attached.AttachedPolicies)...)
	}

	doc.call("iam:ListUserPolicies", map[string]any{"UserName": p.Name})
	names, err := listNames(ctx, c, out, doc, p, "iam:ListUserPolicies", "",
		iam.NewListUserPoliciesPaginator(c.IAM, &iam.ListUserPoliciesInput{UserName: name}),
		func(o *iam.ListUserPoliciesOutput) []string { return o.PolicyNames })
	if err != nil {
		return nil, err
	}
	doc.ListUserPolicies = names
	if names != nil {
		doc.GetUserPolicy = map[string]*inlinePolicy{}
		for _, pn := range names.PolicyNames {
			doc.call("iam:GetUserPolicy", map[string]any{"UserName": p.Name, "PolicyName": pn})
			resp, err := c.IAM.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(pn)})
			if err != nil {
				if err := c.refusedCall(out, doc, "iam:GetUserPolicy", pn, p, err); err != nil {
					return nil, err
				}
				continue
			}
			ip := &inlinePolicy{UserName: resp.UserName, PolicyName: resp.PolicyName, PolicyDocument: resp.PolicyDocument}
			ip.Document, ip.DocumentError = decodeDocument(resp.PolicyDocument)
			doc.GetUserPolicy[pn] = ip
		}
	}

	doc.call("iam:ListGroupsForUser", map[string]any{"UserName": p.Name})
	groups, err := drain(ctx, iam.NewListGroupsForUserPaginator(c.IAM, &iam.ListGroupsForUserInput{UserName: name}),
		func(o *iam.ListGroupsForUserOutput) []iamtypes.Group { return o.Groups })
	if err != nil {
		return managed, c.refusedCall(out, doc, "iam:ListGroupsForUser", "", p, err)
	}
	doc.ListGroupsForUser = &groupsResult{Groups: groups}
	if len(groups) == 0 {
		return managed, nil
	}
	doc.ListAttachedGroupPolicies = map[string]*attachedPolicies{}
	doc.ListGroupPolicies = map[string]*policyNames{}
	doc.GetGroupPolicy = map[string]map[string]*inlinePolicy{}
	for _, g := range groups {
		arns, err := c.groupPolicies(ctx, out, p, doc, aws.ToString(g.GroupName))
		if err != nil {
			return nil, err
		}
		managed = append(managed, arns...)
	}
	return managed, nil
}

// groupPolicies reads one group's attached and inline policies and returns
// its managed policies.
func (c *PrincipalCollector) groupPolicies(ctx context.Context, out *collect.Output, p *principal, doc *identityDoc, group string) ([]string, error) {
	gname := aws.String(group)
	var managed []string
	doc.call("iam:ListAttachedGroupPolicies", map[string]any{"GroupName": group})
	attached, err := listAttached(ctx, c, out, doc, p, "iam:ListAttachedGroupPolicies", "group "+group,
		iam.NewListAttachedGroupPoliciesPaginator(c.IAM, &iam.ListAttachedGroupPoliciesInput{GroupName: gname}),
		func(o *iam.ListAttachedGroupPoliciesOutput) []iamtypes.AttachedPolicy { return o.AttachedPolicies })
	if err != nil {
		return nil, err
	}
	if attached != nil {
		doc.ListAttachedGroupPolicies[group] = attached
		managed = policyArns(attached.AttachedPolicies)
	}

	doc.call("iam:ListGroupPolicies", map[string]any{"GroupName": group})
	names, err := listNames(ctx, c, out, doc, p, "iam:ListGroupPolicies", "group "+group,
		iam.NewListGroupPoliciesPaginator(c.IAM, &iam.ListGroupPoliciesInput{GroupName: gname}),
		func(o *iam.ListGroupPoliciesOutput) []string { return o.PolicyNames })
	if err != nil || names == nil {
		return managed, err
	}
	doc.ListGroupPolicies[group] = names
	inline := map[string]*inlinePolicy{}
	for _, pn := range names.PolicyNames {
		doc.call("iam:GetGroupPolicy", map[string]any{"GroupName": group, "PolicyName": pn})
		resp, err := c.IAM.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: gname, PolicyName: aws.String(pn)})
		if err != nil {
			if err := c.refusedCall(out, doc, "iam:GetGroupPolicy", "group "+group+" policy "+pn, p, err); err != nil {
				return nil, err
			}
			continue
		}
		ip := &inlinePolicy{GroupName: resp.GroupName, PolicyName: resp.PolicyName, PolicyDocument: resp.PolicyDocument}
		ip.Document, ip.DocumentError = decodeDocument(resp.PolicyDocument)
		inline[pn] = ip
	}
	doc.GetGroupPolicy[group] = inline
	return managed, nil
}

// rolePolicies reads a role's attached and inline policies (GetRole, with
// the trust policy, is already in doc) and returns the managed policies to
// read: attached, and its permissions boundary.
func (c *PrincipalCollector) rolePolicies(ctx context.Context, out *collect.Output, p *principal, doc *identityDoc) ([]string, error) {
	var managed []string
	name := aws.String(p.Name)
	if r := doc.GetRole.Role; r != nil && r.PermissionsBoundary != nil {
		managed = append(managed, aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn))
	}

	doc.call("iam:ListAttachedRolePolicies", map[string]any{"RoleName": p.Name})
	attached, err := listAttached(ctx, c, out, doc, p, "iam:ListAttachedRolePolicies", "",
		iam.NewListAttachedRolePoliciesPaginator(c.IAM, &iam.ListAttachedRolePoliciesInput{RoleName: name}),
		func(o *iam.ListAttachedRolePoliciesOutput) []iamtypes.AttachedPolicy { return o.AttachedPolicies })
	if err != nil {
		return nil, err
	}
	doc.ListAttachedRolePolicies = attached
	if attached != nil {
		managed = append(managed, policyArns(attached.AttachedPolicies)...)
	}

	doc.call("iam:ListRolePolicies", map[string]any{"RoleName": p.Name})
	names, err := listNames(ctx, c, out, doc, p, "iam:ListRolePolicies", "",
		iam.NewListRolePoliciesPaginator(c.IAM, &iam.ListRolePoliciesInput{RoleName: name}),
		func(o *iam.ListRolePoliciesOutput) []string { return o.PolicyNames })
	if err != nil {
		return nil, err
	}
	doc.ListRolePolicies = names
	if names != nil {
		doc.GetRolePolicy = map[string]*inlinePolicy{}
		for _, pn := range names.PolicyNames {
			doc.call("iam:GetRolePolicy", map[string]any{"RoleName": p.Name, "PolicyName": pn})
			resp, err := c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: aws.String(pn)})
			if err != nil {
				if err := c.refusedCall(out, doc, "iam:GetRolePolicy", pn, p, err); err != nil {
					return nil, err
				}
				continue
			}
			ip := &inlinePolicy{RoleName: resp.RoleName, PolicyName: resp.PolicyName, PolicyDocument: resp.PolicyDocument}
			ip.Document, ip.DocumentError = decodeDocument(resp.PolicyDocument)
			doc.GetRolePolicy[pn] = ip
		}
	}
	return managed, nil
}

// pager is one of the SDK's IAM paginators.
type pager[T any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*iam.Options)) (T, error)
}

// drain reads every page of p and returns the items pick takes from each.
func drain[T, E any](ctx context.Context, p pager[T], pick func(T) []E) ([]E, error) {
	items := []E{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, pick(page)...)
	}
	return items, nil
}

// listNames reads a List{User,Group,Role}Policies paginator; nil when the
// call was refused (a gap says so).
func listNames[T any](ctx context.Context, c *PrincipalCollector, out *collect.Output, doc *identityDoc, p *principal, op, item string,
	pg pager[T], pick func(T) []string) (*policyNames, error) {
	names, err := drain(ctx, pg, pick)
	if err != nil {
		return nil, c.refusedCall(out, doc, op, item, p, err)
	}
	return &policyNames{PolicyNames: names}, nil
}

// listAttached reads a ListAttached{User,Group,Role}Policies paginator;
// nil when the call was refused (a gap says so).
func listAttached[T any](ctx context.Context, c *PrincipalCollector, out *collect.Output, doc *identityDoc, p *principal, op, item string,
	pg pager[T], pick func(T) []iamtypes.AttachedPolicy) (*attachedPolicies, error) {
	pols, err := drain(ctx, pg, pick)
	if err != nil {
		return nil, c.refusedCall(out, doc, op, item, p, err)
	}
	return &attachedPolicies{AttachedPolicies: pols}, nil
}

func policyArns(ps []iamtypes.AttachedPolicy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, aws.ToString(p.PolicyArn))
	}
	return out
}

// managedPolicies reads each managed policy (once, sorted by ARN) and its
// default version's document.
func (c *PrincipalCollector) managedPolicies(ctx context.Context, out *collect.Output, p *principal, doc *identityDoc, arns []string) error {
	seen := map[string]bool{}
	var list []string
	for _, a := range arns {
		if a != "" && !seen[a] {
			seen[a] = true
			list = append(list, a)
		}
	}
	sort.Strings(list)
	if len(list) == 0 {
		return nil
	}
	doc.GetPolicy = map[string]*policyResult{}
	doc.GetPolicyVersion = map[string]*policyVersionResult{}
	for _, a := range list {
		doc.call("iam:GetPolicy", map[string]any{"PolicyArn": a})
		resp, err := c.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(a)})
		if err != nil {
			if err := c.refusedCall(out, doc, "iam:GetPolicy", a, p, err); err != nil {
				return err
			}
			continue
		}
		doc.GetPolicy[a] = &policyResult{Policy: resp.Policy}
		if resp.Policy == nil || aws.ToString(resp.Policy.DefaultVersionId) == "" {
			out.Warn("%s: policy %s has no default version to read", p, a)
			continue
		}
		version := aws.ToString(resp.Policy.DefaultVersionId)
		doc.call("iam:GetPolicyVersion", map[string]any{"PolicyArn": a, "VersionId": version})
		vresp, err := c.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(a), VersionId: aws.String(version)})
		if err != nil {
			if err := c.refusedCall(out, doc, "iam:GetPolicyVersion", a+" "+version, p, err); err != nil {
				return err
			}
			continue
		}
		r := &policyVersionResult{PolicyVersion: vresp.PolicyVersion}
		if vresp.PolicyVersion != nil {
			r.Document, r.DocumentError = decodeDocument(vresp.PolicyVersion.Document)
		}
		doc.GetPolicyVersion[a] = r
	}
	return nil
}
