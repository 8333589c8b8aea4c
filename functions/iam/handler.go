package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/pivot"
)

// collectorName is the collector's name in the Plan, the state machine and
// the manifest.
const collectorName = "iam"

// iamReader is the read-only IAM calls the collector makes on identities.
type iamReader interface {
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	GetInstanceProfile(ctx context.Context, in *iam.GetInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)

	GetUser(ctx context.Context, in *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
	ListAttachedUserPolicies(ctx context.Context, in *iam.ListAttachedUserPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedUserPoliciesOutput, error)
	ListUserPolicies(ctx context.Context, in *iam.ListUserPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListUserPoliciesOutput, error)
	GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, optFns ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	ListGroupsForUser(ctx context.Context, in *iam.ListGroupsForUserInput, optFns ...func(*iam.Options)) (*iam.ListGroupsForUserOutput, error)

	ListAttachedGroupPolicies(ctx context.Context, in *iam.ListAttachedGroupPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedGroupPoliciesOutput, error)
	ListGroupPolicies(ctx context.Context, in *iam.ListGroupPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListGroupPoliciesOutput, error)
	GetGroupPolicy(ctx context.Context, in *iam.GetGroupPolicyInput, optFns ...func(*iam.Options)) (*iam.GetGroupPolicyOutput, error)

	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)

	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// advisor is IAM Access Advisor: a job is generated, then read when done.
type advisor interface {
	GenerateServiceLastAccessedDetails(ctx context.Context, in *iam.GenerateServiceLastAccessedDetailsInput, optFns ...func(*iam.Options)) (*iam.GenerateServiceLastAccessedDetailsOutput, error)
	GetServiceLastAccessedDetails(ctx context.Context, in *iam.GetServiceLastAccessedDetailsInput, optFns ...func(*iam.Options)) (*iam.GetServiceLastAccessedDetailsOutput, error)
}

// PrincipalCollector collects the IAM evidence of every principal in
// scope: the last use of each access key, and for each user or role its
// Access Advisor report (action level) and its identity (policies, groups,
// permissions boundary, trust policy). It only reads.
type PrincipalCollector struct {
	IAM     iamReader
	Advisor advisor
	// AdvisorTimeout bounds the wait for one Access Advisor job (default
	// DefaultAdvisorTimeout).
	AdvisorTimeout time.Duration
	// Now and Sleep are the clock the polling runs on (default time.Now
	// and a context-aware sleep); tests inject their own.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// AccountID is the account this deployment collects in. Empty: read
	// from the Lambda context; where neither is known, the incident's.
	AccountID string
	// Pass, when set, is the pass over the principals a pivot chain
	// derived (pivot.go): the collector's name in the manifest
	// (iam-pivot-<account>) and the folder under iam/ its artifacts go
	// to, so nothing of the first pass is written again.
	Pass *PivotPass
}

// Name implements collect.Collector: "iam", or the pivot pass's name.
func (c *PrincipalCollector) Name() string {
	if c.Pass != nil {
		return c.Pass.Name
	}
	return collectorName
}

// artifact is an artifact's name for this pass: unchanged in the first,
// under the pass's folder in a pivot pass.
func (c *PrincipalCollector) artifact(name string) string {
	if c.Pass != nil {
		return c.Pass.Folder + "/" + name
	}
	return name
}

// Source implements collect.Collector.
func (c *PrincipalCollector) Source() string { return evidence.SourceIAM }

// Collect implements collect.Collector: iam/access-key-<id>-last-used.json
// per access key, and iam/<principal>/identity.json and
// access-advisor.json (with its extract access-advisor.jsonl.gz) per user
// or role.
func (c *PrincipalCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	sc := inc.Scope
	if len(sc.AccessKeys)+len(sc.Principals)+len(sc.UserNames)+len(sc.RoleNames) == 0 {
		out.Warn("no IAM principal or access key in scope: nothing to describe")
		return nil
	}
	home := c.account(ctx)
	if home != "" && sc.AccountID != "" && sc.AccountID != home {
		out.Gap(fmt.Sprintf("the principals in scope are in account %s; this invocation reads account %s only", sc.AccountID, home),
			"deploy custody in account "+sc.AccountID+" (or deploy the member stack, CustodyMember, there: the hub reads a member account through its collector role)")
		return nil
	}
	if home == "" {
		home = sc.AccountID
	}
	ps, err := c.resolve(ctx, inc, out, home)
	if err != nil {
		return err
	}
	// Each principal's job starts as soon as its ARN is known, and runs
	// while the rest is read; the jobs are awaited last.
	var jobs []*job
	for _, p := range ps {
		j, err := c.principal(ctx, out, p)
		if err != nil {
			return err
		}
		if j != nil {
			jobs = append(jobs, j)
		}
	}
	for _, j := range jobs {
		if err := c.await(ctx, inc, out, j); err != nil {
			return err
		}
	}
	return nil
}

// principal reads one principal's identity, starting its Access Advisor
// job on the way; it returns the job (nil when none was started).
func (c *PrincipalCollector) principal(ctx context.Context, out *collect.Output, p *principal) (*job, error) {
	doc := newIdentityDoc(p)
	principalArn, err := c.describe(ctx, out, p, doc)
	if err != nil || principalArn == "" {
		return nil, err
	}
	j, err := c.generate(ctx, out, p, principalArn)
	if err != nil {
		return nil, err
	}
	if err := c.identity(ctx, out, p, doc); err != nil {
		return nil, err
	}
	return j, nil
}

// account is this deployment's account: AccountID, or the Lambda's own.
func (c *PrincipalCollector) account(ctx context.Context) string {
	if c.AccountID != "" {
		return c.AccountID
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		if a, err := arn.Parse(lc.InvokedFunctionArn); err == nil {
			return a.AccountID
		}
	}
	return ""
}

func (c *PrincipalCollector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *PrincipalCollector) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *PrincipalCollector) timeout() time.Duration {
	if c.AdvisorTimeout > 0 {
		return c.AdvisorTimeout
	}
	return DefaultAdvisorTimeout
}

func originOf(what string) *evidence.Origin { return &evidence.Origin{Description: what} }

// notFound reports whether err is IAM's NoSuchEntity.
func notFound(err error) bool {
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchEntity"
}

// refused turns an error from op into what the collector does with it, by
// its class (faults.Of): throttled or transient is returned (the state
// machine retries the collector); denied, unimplemented (the emulator lacks
// Access Advisor) and the service's own refusal (not found, invalid) become
// a gap and nil, so the rest of the evidence is still collected; anything
// else (no answer that could be read) is returned and fails the collector.
func refused(out *collect.Output, op, what string, err error) error {
	f := faults.Of(op, err)
	if r := f.Retryable(); r != nil {
		return r
	}
	switch {
	case f.Class == faults.Unimplemented:
		out.Gap(fmt.Sprintf("%s for %s: the endpoint does not implement it (HTTP %d)", op, what, f.Status),
			"collect against AWS IAM; the local emulator does not implement Access Advisor (GenerateServiceLastAccessedDetails)")
	case f.Class == faults.Denied:
		out.Gap(fmt.Sprintf("%s for %s denied: %s", op, what, f.Message),
			"grant "+op+" to the iam collector's role (and check SCPs and permissions boundaries that deny it)")
	case f.Class == faults.InvalidRequest && notFound(err):
		out.Gap(fmt.Sprintf("%s for %s: not found: %s", op, what, f.Message),
			"it was deleted while it was read: look for its Delete* or Detach* event in CloudTrail")
	case f.Class == faults.InvalidRequest:
		out.Gap(fmt.Sprintf("%s for %s refused: %s: %s", op, what, f.Code, f.Message),
			"see the error; the call can be made by hand with the same parameters (the collector's role is read-only)")
	default:
		return fmt.Errorf("%s for %s: %w", op, what, err)
	}
	return nil
}

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
	// Pivot builds the pass over the principals a pivot chain derived
	// (pivot.go); nil: such an item fails naming it.
	Pivot func(*PivotPass) collect.Collector
}

// Handle runs the collector through the shared driver: the first pass, or
// a pivot pass (item iam-pivot-<account>).
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	if strings.HasPrefix(in.Item.Collector, pivot.PrincipalsCollectorPrefix) {
		c, err := h.pivotPass(ctx, &in)
		if err != nil {
			return incident.Result{}, err
		}
		return h.Driver.Run(ctx, c, in)
	}
	return h.Driver.Run(ctx, h.Collector, in)
}

// joinVia is how a principal was found, for texts.
func joinVia(p *principal) string { return strings.Join(p.Via, ", ") }
