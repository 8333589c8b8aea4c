package pivot

import (
	"slices"
	"strings"

	"github.com/custody-ir/custody/shared/incident"
)

// PrincipalsCollectorPrefix names the IAM collector's pass over the
// principals a chain derived, one per account: iam-pivot-<account>.
const PrincipalsCollectorPrefix = "iam-pivot-"

// MaxPrincipalAccounts bounds the IAM passes a chain asks for (one per
// account): the state machine's history quota is proven with it
// (infra/history_test.go). Accounts past it are named in a warning.
const MaxPrincipalAccounts = 20

// ChainArtifact is the chain's artifact name in the run's CloudTrail
// folder (evidence.ArtifactKey(case, run, "cloudtrail", ChainArtifact)).
const ChainArtifact = "pivot/identities.json"

// PrincipalAccounts lists the accounts (sorted) in which the chain
// derived an IAM principal the case's own scope sc does not name: where
// the IAM collector describes the attacker's new users, keys and roles.
func PrincipalAccounts(ch Chain, sc incident.Scope) []string {
	var out []string
	for _, i := range ch.Identities {
		if _, ok := principalOf(i, sc); ok && len(i.AccountID) == 12 && !slices.Contains(out, i.AccountID) {
			out = append(out, i.AccountID)
		}
	}
	slices.Sort(out)
	return out
}

// PrincipalScope is the scope of the IAM principals the chain derived in
// account that sc does not name: an access key the attacker created (its
// user is found from the key), a user it created or set a password for,
// and the role of a session it assumed (by the session's ARN: the IAM
// collector describes the role it names). A starting identity, a lead, a
// federated user and a session token of a user already followed are not
// IAM principals of their own.
func PrincipalScope(ch Chain, account, region string, sc incident.Scope) incident.Scope {
	out := incident.Scope{AccountID: account, Region: region}
	for _, i := range ch.Identities {
		if i.AccountID != account {
			continue
		}
		p, ok := principalOf(i, sc)
		if !ok {
			continue
		}
		switch p.kind {
		case "key":
			out.AccessKeys = appendNew(out.AccessKeys, p.value)
		case "user":
			out.UserNames = appendNew(out.UserNames, p.value)
		case "arn":
			out.Principals = appendNew(out.Principals, p.value)
		}
	}
	return out
}

type principalRef struct{ kind, value string }

// principalOf is the IAM principal a derived identity is, if any, and not
// one sc already names.
func principalOf(i Identity, sc incident.Scope) (principalRef, bool) {
	if i.Depth == 0 || Covered(sc, i) {
		return principalRef{}, false
	}
	switch i.Kind {
	case KindAccessKey:
		if strings.HasPrefix(i.AccessKeyID, "AKIA") {
			return principalRef{"key", i.AccessKeyID}, true
		}
		if strings.Contains(i.ARN, ":assumed-role/") && !sessionOfScope(sc, i.ARN) {
			return principalRef{"arn", i.ARN}, true
		}
	case KindSession:
		if !sessionOfScope(sc, i.ARN) {
			return principalRef{"arn", i.ARN}, true
		}
	case KindUser, KindConsole:
		if i.UserName != "" && !slices.Contains(sc.UserNames, i.UserName) {
			return principalRef{"user", i.UserName}, true
		}
	}
	return principalRef{}, false
}

// sessionOfScope reports a session of a role sc names already (its role
// is described by the first pass).
func sessionOfScope(sc incident.Scope, sessionARN string) bool {
	_, role, _ := splitSession(sessionARN)
	return role != "" && (slices.Contains(sc.RoleNames, role) || slices.Contains(sc.Principals, sessionARN))
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
