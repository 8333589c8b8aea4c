// Package accounts turns the (account, region) a finding names into the SDK
// configuration a collector reads it with: the function's own credentials
// in the hub account, or the member account's collector role, assumed with
// a session named for the case. It is the one place that does so; every
// collector reaches other accounts and regions through it
// (shared/collect's Reach).
package accounts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
)

// Environment the stack sets on every collector.
const (
	// EnvAccountID is the hub account the functions run in.
	EnvAccountID = "CUSTODY_ACCOUNT_ID"
	// EnvMemberRole is the name of the member stack's collector role in
	// every member account (custody:memberRoleName).
	EnvMemberRole = "CUSTODY_MEMBER_ROLE"
	// EnvPartition is the hub's partition (aws, aws-cn, aws-us-gov).
	EnvPartition = "CUSTODY_PARTITION"
)

// DefaultMemberRole is the member collector role's name when
// custody:memberRoleName is not set.
const DefaultMemberRole = "CustodyMember"

// SessionTagCase is the session tag that names the case on every assumed
// session (the member's CloudTrail records it with each call).
const SessionTagCase = "custody-case"

// SourceIdentity is set on every assumed session: it follows the session
// through any role chain and is recorded in the member's CloudTrail.
const SourceIdentity = "custody"

var (
	// sessionUnsafe is what RoleSessionName refuses ([\w+=,.@-] only).
	sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)
	// tagUnsafe is what a session tag value refuses.
	tagUnsafe = regexp.MustCompile(`[^\p{L}\p{N} _.:/=+\-@]`)
)

// Access is what a collector reads one account and region with.
type Access struct {
	// Config is the SDK configuration for the account and region.
	Config aws.Config
	// ReadWith is what the manifest records of it, on every artifact.
	ReadWith evidence.ReadWith
	// Member is true when the account is not the hub's own.
	Member bool
}

// AssumeError is a member account the hub could not assume into: the
// member stack is missing there, its trust does not name the hub, or the
// region is disabled. A collector records it as a gap with Fix.
type AssumeError struct {
	AccountID, Region, RoleARN string
	// Denied is true when STS refused (AccessDenied, a region not enabled);
	// false for other failures, which are retried as the state machine
	// retries any call.
	Denied bool
	Err    error
}

func (e *AssumeError) Error() string {
	return fmt.Sprintf("assume %s in account %s (%s): %v", e.RoleARN, e.AccountID, e.Region, e.Err)
}

func (e *AssumeError) Unwrap() error { return e.Err }

// Fix is what to do so that the hub can read the account.
func (e *AssumeError) Fix() string {
	return fmt.Sprintf("deploy the custody member stack in account %s (StackSet: aws cloudformation create-stack-instances --stack-set-name CustodyMember "+
		"--deployment-targets Accounts=%s --regions <the member stack's region>; or cdk deploy CustodyMember there), so that role %s exists and trusts the hub's collector roles; "+
		"for an opt-in region, enable %s in the account", e.AccountID, e.AccountID, e.RoleARN, e.Region)
}

// Resolver gives collectors their Access per account and region. Assumed
// sessions are cached per (case, account, region) for the life of the
// function instance; the SDK refreshes them before they expire.
type Resolver struct {
	// Hub is the function's own configuration (its region is the hub's).
	Hub aws.Config
	// HubAccount is the account the function runs in.
	HubAccount string
	// Partition is the hub's partition ("aws" when empty).
	Partition string
	// MemberRole is the member collector role's name.
	MemberRole string
	// STS assumes the member roles; sts.NewFromConfig(Hub) when nil.
	STS stscreds.AssumeRoleAPIClient

	mu    sync.Mutex
	cache map[string]*Access
}

// FromEnv is a Resolver for a collector Lambda: the hub account and the
// member role's name from the stack's environment.
func FromEnv(getenv func(string) string, hub aws.Config) (*Resolver, error) {
	account := getenv(EnvAccountID)
	if account != "" && !finding.ValidAccountID(account) {
		return nil, &faults.ConfigurationError{Setting: EnvAccountID, Reason: fmt.Sprintf("%q is not a twelve-digit account ID", account)}
	}
	role := getenv(EnvMemberRole)
	if role == "" {
		role = DefaultMemberRole
	}
	return &Resolver{Hub: hub, HubAccount: account, Partition: getenv(EnvPartition), MemberRole: role}, nil
}

// RoleARN is the member collector role in account.
func (r *Resolver) RoleARN(account string) string {
	p := r.Partition
	if p == "" {
		p = "aws"
	}
	return "arn:" + p + ":iam::" + account + ":role/" + r.MemberRole
}

// SessionName is the role session name for a case: the case ID as STS
// accepts it (at most 64 characters of [\w+=,.@-]).
func SessionName(caseID string) string {
	s := sessionUnsafe.ReplaceAllString(caseID, "-")
	if len(s) < 2 {
		s = "custody-" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// For returns the Access for account and region in the case caseID. An
// empty account or the hub's own is the function's own credentials; an
// empty region is the hub's. Another account is its member role, assumed
// now (so that a missing member stack is known before any read): a
// refusal is an *AssumeError with Denied set.
func (r *Resolver) For(ctx context.Context, caseID, account, region string) (*Access, error) {
	if region == "" {
		region = r.Hub.Region
	}
	if !finding.ValidRegion(region) {
		return nil, faults.Invalid("scope.region", "%q is not an AWS region", region)
	}
	if account == "" || account == r.HubAccount || r.HubAccount == "" {
		cfg := r.Hub.Copy()
		cfg.Region = region
		acct := account
		if acct == "" {
			acct = r.HubAccount
		}
		return &Access{Config: cfg, ReadWith: evidence.ReadWith{AccountID: acct, Region: region}}, nil
	}
	if !finding.ValidAccountID(account) {
		return nil, faults.Invalid("scope.accountId", "%q is not a twelve-digit account ID", account)
	}
	key := caseID + "/" + account + "/" + region
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.cache[key]; ok {
		return a, nil
	}
	client := r.STS
	if client == nil {
		client = sts.NewFromConfig(r.Hub)
	}
	roleARN, session := r.RoleARN(account), SessionName(caseID)
	provider := stscreds.NewAssumeRoleProvider(client, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = session
		o.SourceIdentity = aws.String(SourceIdentity)
		o.Tags = []ststypes.Tag{{Key: aws.String(SessionTagCase), Value: aws.String(tagValue(caseID))}}
		o.Duration = time.Hour
	})
	creds := aws.NewCredentialsCache(provider)
	if _, err := creds.Retrieve(ctx); err != nil {
		return nil, &AssumeError{AccountID: account, Region: region, RoleARN: roleARN, Denied: faults.Is(err, faults.Denied) || regionDisabled(err), Err: err}
	}
	// Its calls are the member's in the action log.
	cfg := awsconfig.InAccount(r.Hub.Copy(), account)
	cfg.Region = region
	cfg.Credentials = creds
	a := &Access{Config: cfg, Member: true,
		ReadWith: evidence.ReadWith{AccountID: account, Region: region, RoleARN: roleARN, SessionName: session}}
	if r.cache == nil {
		r.cache = map[string]*Access{}
	}
	r.cache[key] = a
	return a, nil
}

// regionDisabled is STS's answer for an opt-in region the account has not
// enabled.
func regionDisabled(err error) bool {
	var rd *ststypes.RegionDisabledException
	return errors.As(err, &rd)
}

// tagValue is a session tag value as STS accepts it (at most 256
// characters of letters, digits, spaces and _.:/=+-@).
func tagValue(s string) string {
	s = tagUnsafe.ReplaceAllString(s, "-")
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.TrimSpace(s)
}

// Own is the function's own Access: the hub account in its region.
func (r *Resolver) Own() *Access {
	return &Access{Config: r.Hub.Copy(), ReadWith: evidence.ReadWith{AccountID: r.HubAccount, Region: r.Hub.Region}}
}
