package pivot

import (
	"slices"
	"strings"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
)

// PrincipalsCollectorPrefix names the IAM collector's pass over the
// principals a chain derived, one per account: iam-pivot-<account>.
const PrincipalsCollectorPrefix = "iam-pivot-"

// MaxPrincipalAccounts bounds the IAM passes a chain asks for (one per
// account): the state machine's history quota is proven with it
// (infra/history_test.go). Accounts past it are named in a warning.
const MaxPrincipalAccounts = 20

// PassAccount is the account a post-pivot pass's collector name ends in
// (prefix + 12 digits); anything else is a *faults.InvalidInputError
// naming item.collector.
func PassAccount(collector, prefix string) (string, error) {
	account, ok := strings.CutPrefix(collector, prefix)
	if !ok || !finding.ValidAccountID(account) {
		return "", faults.Invalid("item.collector", "%q is not %s followed by a 12-digit account ID", collector, prefix)
	}
	return account, nil
}

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

// S3AccessCollectorPrefix names the S3 access-log collector's pass over
// the buckets the derived identities touched, one per account:
// s3access-pivot-<account>.
const S3AccessCollectorPrefix = "s3access-pivot-"

// S3FollowFile is the pass's follow list in its results folder
// (evidence.ShardFileKey(case, run, S3AccessCollectorPrefix+account,
// S3FollowFile)), written by PivotDerive.
const S3FollowFile = "follow.json"

// MaxS3Buckets bounds the buckets one S3 access-log pass reads.
const MaxS3Buckets = 50

// S3Follow is an S3 access-log pass's follow list: the buckets of one
// account the derived identities' CloudTrail records name, and the
// requesters (IAM ARNs, as server access logs name them) whose lines are
// theirs.
type S3Follow struct {
	Account    string   `json:"account"`
	Buckets    []string `json:"buckets"`
	Requesters []string `json:"requesters"`
	// Unmatched says which derived identities cannot be told apart in an
	// access log, and why.
	Unmatched []string `json:"unmatched,omitempty"`
}

// S3Requesters are the requester ARNs a server access log names the
// derived identities by, and the ones it cannot name apart. A log line
// carries the requester's ARN but no access key: a role session is its
// session ARN (exact to the session name: another session of the role
// with the same name cannot be told apart, which the chain's session
// names make rare), a user the attacker created is the user's ARN; a key
// made for an existing user is that user's ARN, the user's own calls too,
// so it is listed in Unmatched, not followed (its CloudTrail data events,
// which carry the key, are in the CloudTrail extracts).
func S3Requesters(ids []Identity) (requesters, unmatched []string) {
	whole := map[string]bool{} // users followed whole: their keys are theirs
	for _, i := range ids {
		if i.Kind == KindUser && i.Depth > 0 {
			whole[i.UserName] = true
		}
	}
	for _, i := range ids {
		if i.Depth == 0 {
			continue
		}
		switch {
		case strings.Contains(i.ARN, ":assumed-role/"):
			requesters = appendNew(requesters, i.ARN)
		case i.Kind == KindUser || i.Kind == KindConsole:
			arn := i.ARN
			if arn == "" && i.UserName != "" && len(i.AccountID) == 12 {
				arn = "arn:aws:iam::" + i.AccountID + ":user/" + i.UserName
			}
			if arn != "" && i.Kind == KindUser {
				requesters = appendNew(requesters, arn)
			} else if arn != "" {
				unmatched = appendNew(unmatched, i.ID+": console sessions of an existing user are that user's ARN in an access log")
			}
		case i.Kind == KindAccessKey && strings.HasPrefix(i.AccessKeyID, "AKIA") && !whole[i.UserName]:
			unmatched = appendNew(unmatched, i.ID+": a key of user "+i.UserName+" is the user's ARN in an access log, as the user's own keys are")
		}
	}
	slices.Sort(requesters)
	return requesters, unmatched
}
