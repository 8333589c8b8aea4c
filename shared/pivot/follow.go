package pivot

import (
	"slices"
	"sort"
	"strings"

	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
)

// Follow decides which records belong to a set of followed identities:
// a pivot pass keeps exactly these. A record belongs to an identity when
// its caller is it: the access key (userIdentity.accessKeyId), the session
// ARN of a session whose key is unknown (userIdentity.arn), every record
// of a followed user, or a console identity's ConsoleLogin and
// temporary-key records from its Since on. A record also belongs to the
// key it handed out: the AssumeRole, GetSessionToken, GetFederationToken
// or CreateAccessKey whose response names a followed key. That is how the
// role owner's copy of a cross-account AssumeRole is kept: the role's
// account logs the call too, under another eventID, with the calling
// account (not its key) as userIdentity and the same response.
type Follow struct {
	keys, arns, users map[string]bool
	consoles          map[string]Identity
}

// NewFollow is the Follow of ids.
func NewFollow(ids []Identity) *Follow {
	f := &Follow{keys: map[string]bool{}, arns: map[string]bool{}, users: map[string]bool{}, consoles: map[string]Identity{}}
	for _, i := range ids {
		switch i.Kind {
		case KindAccessKey:
			f.keys[i.AccessKeyID] = true
		case KindSession:
			f.arns[i.ARN] = true
		case KindUser:
			f.users[i.UserName] = true
		case KindConsole:
			f.consoles[i.UserName] = i
		}
	}
	return f
}

// mintedKey is the access key a response handed out: a session's
// (credentials.accessKeyId) or a user's (accessKey.accessKeyId).
func mintedKey(resp []byte) string {
	return firstOf(clean(field(resp, "credentials", "accessKeyId")), clean(field(resp, "accessKey", "accessKeyId")))
}

// Empty reports a Follow of nothing.
func (f *Follow) Empty() bool {
	return len(f.keys)+len(f.arns)+len(f.users)+len(f.consoles) == 0
}

// Match reports whether e's caller is a followed identity.
func (f *Follow) Match(e *ctlog.Event) bool {
	u := &e.UserIdentity
	if u.AccessKeyID != "" && f.keys[u.AccessKeyID] {
		return true
	}
	if u.ARN != "" && f.arns[u.ARN] {
		return true
	}
	if derivingEvents[e.EventName] && e.ErrorCode == "" && len(f.keys) > 0 {
		if k := mintedKey(e.ResponseElements); k != "" && f.keys[k] {
			return true
		}
	}
	name := userOf(u)
	if name == "" {
		return false
	}
	if f.users[name] {
		return true
	}
	if c, ok := f.consoles[name]; ok && consoleCall(u, e.EventName) && !e.Time.Before(c.Since) {
		return true
	}
	return false
}

// Scope is a Scope naming the followed identities (keys, session ARNs,
// user names): every record Match keeps is one a cloudtrail.Matcher of it
// keeps, so it serves the extract's byte-level prefilter and the
// LookupEvents fallback; Match then decides.
func (f *Follow) Scope(account, region string) incident.Scope {
	sc := incident.Scope{AccountID: account, Region: region}
	for k := range f.keys {
		sc.AccessKeys = append(sc.AccessKeys, k)
	}
	for a := range f.arns {
		sc.Principals = append(sc.Principals, a)
	}
	for u := range f.users {
		sc.UserNames = append(sc.UserNames, u)
	}
	for u := range f.consoles {
		sc.UserNames = append(sc.UserNames, u)
	}
	for _, l := range [][]string{sc.AccessKeys, sc.Principals, sc.UserNames} {
		sortStrings(l)
	}
	return sc
}

// Accounts lists the accounts of ids other than skip (sorted): where a
// pivot pass reads trail folders besides the case's own.
func Accounts(ids []Identity, skip string) []string {
	seen := map[string]bool{skip: true}
	var out []string
	for _, i := range ids {
		a := strings.TrimSpace(i.AccountID)
		if len(a) == 12 && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

// Covered reports an identity whose records the case's own scope already
// matches, so a pivot pass need not collect them again: a key or a user
// the scope names, or a session of an instance in scope (an instance
// profile's sessions are named after the instance).
func Covered(sc incident.Scope, i Identity) bool {
	switch i.Kind {
	case KindAccessKey:
		if slices.Contains(sc.AccessKeys, i.AccessKeyID) {
			return true
		}
		if _, _, session := splitSession(i.ARN); session != "" && slices.Contains(sc.Instances, session) {
			return true
		}
	case KindSession:
		return slices.Contains(sc.Principals, i.ARN)
	case KindUser:
		return slices.Contains(sc.UserNames, i.UserName) || (i.ARN != "" && slices.Contains(sc.Principals, i.ARN))
	}
	return false
}
