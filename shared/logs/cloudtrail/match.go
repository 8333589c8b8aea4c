package cloudtrail

import (
	"bytes"
	"strings"

	"github.com/custody-ir/custody/shared/incident"
)

// Matcher decides whether a CloudTrail record is about an incident's
// scope. A record matches when any of these holds:
//
//   - userIdentity.accessKeyId is one of Scope.AccessKeys;
//   - userIdentity.arn or its sessionIssuer.arn is one of Scope.Principals;
//     an assumed-role session (arn:aws:sts::ACCT:assumed-role/ROLE/SESSION)
//     also matches its role's ARN (arn:aws:iam::ACCT:role[/path]/ROLE);
//   - userIdentity.principalId or the sessionIssuer's is one of
//     Scope.PrincipalIDs;
//   - the role of an assumed-role session (or the sessionIssuer's userName)
//     is one of Scope.RoleNames;
//   - userIdentity.userName (or an IAM user ARN's name) is one of
//     Scope.UserNames;
//   - the role session name is one of Scope.Instances (an instance
//     profile's credentials are sessions named after the instance);
//   - an instance, ENI, bucket, table, function, cluster or DB instance of
//     the scope appears, as a whole token, in requestParameters or in a
//     resources ARN (and, for RunInstances, in responseElements: the launch
//     of the instance names it only there);
//   - sourceIPAddress is one of Scope.RemoteIPs or Scope.PublicIPs.
type Matcher struct {
	keys, principals, principalIDs, roles, users, instances, ips map[string]bool
	// roleKeys holds "ACCOUNT/ROLE" for each role ARN in Principals.
	roleKeys map[string]bool
	// ids are searched for in requestParameters and resources.
	ids [][]byte
}

// NewMatcher builds the matcher for sc.
func NewMatcher(sc incident.Scope) *Matcher {
	m := &Matcher{
		keys: set(sc.AccessKeys), principals: set(sc.Principals), principalIDs: set(sc.PrincipalIDs),
		roles: set(sc.RoleNames), users: set(sc.UserNames), instances: set(sc.Instances),
		ips: set(sc.RemoteIPs, sc.PublicIPs), roleKeys: map[string]bool{},
	}
	for _, p := range sc.Principals {
		if acct, name, ok := roleARN(p); ok {
			m.roleKeys[acct+"/"+name] = true
		}
	}
	seen := map[string]bool{}
	add := func(vals ...string) {
		for _, v := range vals {
			v = strings.TrimSpace(v)
			if v == "" || seen[v] {
				continue
			}
			seen[v] = true
			m.ids = append(m.ids, []byte(v))
		}
	}
	add(sc.Instances...)
	add(sc.ENIs...)
	add(sc.Buckets...)
	add(sc.Tables...)
	add(sc.DBInstances...)
	for _, v := range append(append([]string(nil), sc.Functions...), sc.Clusters...) {
		add(v)
		// An ARN's resource name is what request parameters often carry
		// (functionName, name).
		if i := strings.LastIndexAny(v, ":/"); strings.HasPrefix(v, "arn:") && i >= 0 {
			add(v[i+1:])
		}
	}
	return m
}

// Empty reports a scope that names nothing a record could match.
func (m *Matcher) Empty() bool {
	return len(m.keys)+len(m.principals)+len(m.principalIDs)+len(m.roles)+len(m.users)+
		len(m.instances)+len(m.ips)+len(m.ids) == 0
}

// Match reports whether e is in scope.
func (m *Matcher) Match(e *Event) bool {
	id := &e.UserIdentity
	if id.AccessKeyID != "" && m.keys[id.AccessKeyID] {
		return true
	}
	if id.ARN != "" && m.principals[id.ARN] {
		return true
	}
	if id.PrincipalID != "" && m.principalIDs[id.PrincipalID] {
		return true
	}
	if id.UserName != "" && m.users[id.UserName] {
		return true
	}
	if name, ok := userARN(id.ARN); ok && m.users[name] {
		return true
	}
	if acct, role, session := assumedRole(id.ARN); role != "" {
		if m.roles[role] || m.roleKeys[acct+"/"+role] || m.instances[session] {
			return true
		}
	}
	if sc := id.SessionContext; sc != nil {
		is := &sc.SessionIssuer
		if is.ARN != "" && m.principals[is.ARN] {
			return true
		}
		if is.PrincipalID != "" && m.principalIDs[is.PrincipalID] {
			return true
		}
		if acct, name, ok := roleARN(is.ARN); ok && m.roleKeys[acct+"/"+name] {
			return true
		}
		if is.UserName != "" && strings.EqualFold(is.Type, "Role") && m.roles[is.UserName] {
			return true
		}
	}
	if e.SourceIPAddress != "" && m.ips[e.SourceIPAddress] {
		return true
	}
	for _, v := range m.ids {
		if containsToken(e.RequestParameters, v) {
			return true
		}
		for _, r := range e.Resources {
			if containsToken([]byte(r.ARN), v) {
				return true
			}
		}
		if e.EventName == "RunInstances" && containsToken(e.ResponseElements, v) {
			return true
		}
	}
	return false
}

// containsToken reports whether id occurs in b as a whole token: not
// preceded or followed by a character an identifier could continue with.
// So "i-0abc" is found in {"instanceId":"i-0abc"} and in
// "arn:aws:ec2:r:a:instance/i-0abc", never inside "i-0abcd".
func containsToken(b, id []byte) bool {
	for len(b) >= len(id) {
		i := bytes.Index(b, id)
		if i < 0 {
			return false
		}
		end := i + len(id)
		if (i == 0 || !idChar(b[i-1])) && (end == len(b) || !idChar(b[end])) {
			return true
		}
		b = b[i+1:]
	}
	return false
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func set(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, v := range l {
			if v = strings.TrimSpace(v); v != "" {
				m[v] = true
			}
		}
	}
	return m
}

// roleARN splits arn:aws:iam::ACCT:role[/path]/NAME into account and name.
func roleARN(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "role/")
	if !ok || rest == "" {
		return "", "", false
	}
	return parts[4], rest[strings.LastIndex(rest, "/")+1:], true
}

// userARN returns the user name of arn:aws:iam::ACCT:user[/path]/NAME.
func userARN(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" {
		return "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "user/")
	if !ok || rest == "" {
		return "", false
	}
	return rest[strings.LastIndex(rest, "/")+1:], true
}
