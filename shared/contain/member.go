package contain

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/faults"
)

// EnvMemberRole is the member stack's containment role's name; unset, a
// member account's case is refused.
const EnvMemberRole = "CUSTODY_MEMBER_CONTAIN_ROLE"

// Clients are the service clients containment changes one account with.
type Clients struct {
	EC2         ec2API
	IAM         iamAPI
	Lambda      lambdaAPI
	S3          s3API
	AutoScaling autoscalingAPI
	ELB         elbv2API
	NACL        naclAPI
}

// NewClients are every containment client of cfg's account and region.
func NewClients(cfg aws.Config) *Clients {
	e := ec2.NewFromConfig(cfg)
	return &Clients{EC2: e, NACL: e, IAM: iam.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, awsconfig.S3Options), AutoScaling: autoscaling.NewFromConfig(cfg), ELB: elbv2.NewFromConfig(cfg)}
}

// Use makes c the handler's clients.
func (h *Handler) Use(c *Clients) {
	h.EC2, h.IAM, h.Lambda, h.S3, h.AutoScaling, h.ELB, h.NACL = c.EC2, c.IAM, c.Lambda, c.S3, c.AutoScaling, c.ELB, c.NACL
}

// MemberFunc gives the clients of a member account's containment role,
// assumed with a session named for the case.
type MemberFunc func(ctx context.Context, caseID, account, region string) (*Clients, error)

// forAccount is the handler that acts in account: this one for its own
// account, a copy with the member role's clients for another (the
// evidence writer and reader stay the hub's), or a ContainError when
// member containment is off: a user or role of the same name here is not
// the attacker's.
func (h *Handler) forAccount(ctx context.Context, caseID, account, region string) (*Handler, error) {
	if account == h.AccountID {
		return h, nil
	}
	if h.Member == nil || account == "" {
		return nil, &ContainError{Op: "plan", Err: fmt.Errorf("the case is account %q's, this function acts in %q only (member containment is off): not contained", account, h.AccountID)}
	}
	c, err := h.Member(ctx, caseID, account, region)
	if err != nil {
		return nil, faults.Classify("assume the member containment role", err, contained("AssumeRole "+account))
	}
	m := *h
	m.Use(c)
	m.AccountID = account
	return &m, nil
}

// accessResolver is shared/accounts' Resolver, as MemberVia uses it.
type accessResolver interface {
	For(ctx context.Context, caseID, account, region string) (*accounts.Access, error)
}

// MemberVia is a MemberFunc through r, whose MemberRole is the member
// stack's containment role (not the collectors' read-only one).
func MemberVia(r accessResolver) MemberFunc {
	return func(ctx context.Context, caseID, account, region string) (*Clients, error) {
		a, err := r.For(ctx, caseID, account, region)
		if err != nil {
			return nil, err
		}
		return NewClients(a.Config), nil
	}
}
