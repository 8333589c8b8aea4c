// Package contain is custody's opt-in containment, run only after a run
// is sealed: it plans (with every resource's before-state, stored in the
// case before anything changes), applies per each class's mode, asks for
// and records an approval, and rolls back from the recorded state after
// checking for drift. functions/contain runs it in Lambda; the operator's
// rollback command invokes that function.
package contain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Mode is how one class of action runs.
type Mode string

// Modes, per action class. Off is the default: nothing is planned.
const (
	ModeOff     Mode = "off"
	ModeDryRun  Mode = "dry-run"
	ModeApprove Mode = "approve"
	ModeAuto    Mode = "auto"
)

// ParseMode accepts "" (off) or one of the modes.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.TrimSpace(s)); m {
	case "":
		return ModeOff, nil
	case ModeOff, ModeDryRun, ModeApprove, ModeAuto:
		return m, nil
	default:
		return "", fmt.Errorf("%q is not a containment mode: use off, dry-run, approve or auto", s)
	}
}

// Class is a kind of containment action.
type Class string

// The action classes of this slice.
const (
	ClassEC2       Class = "ec2-isolate"
	ClassAccessKey Class = "access-key-deactivate"
	ClassRole      Class = "role-revoke-sessions"
	// ClassLambda reserves a function's concurrency at 0.
	ClassLambda Class = "lambda-zero-concurrency"
	// ClassS3Bucket blocks a bucket's public access and denies it to the
	// finding's principals.
	ClassS3Bucket Class = "s3-bucket-block"
	// ClassASGDetach and ClassTargetDeregister go with EC2 isolation (its
	// mode): the instance leaves its Auto Scaling group and its target
	// groups before it is isolated.
	ClassASGDetach        Class = "ec2-asg-detach"
	ClassTargetDeregister Class = "ec2-target-deregister"
	// ClassSubnetNACL puts a deny-all network ACL on an instance's
	// subnet: its own mode, since it cuts every instance of the subnet.
	ClassSubnetNACL Class = "ec2-subnet-nacl"
)

// Status is where an action stands.
type Status string

// Action statuses.
const (
	StatusPlanned    Status = "planned"
	StatusProtected  Status = "skipped-protected"
	StatusAwaiting   Status = "awaiting-approval"
	StatusApplied    Status = "applied"
	StatusRolledBack Status = "rolled-back"
	StatusFailed     Status = "failed"
)

// Policy names of the inline denies custody puts; rollback deletes only these.
const (
	UserDenyPolicy = "custody-deny-older-sessions"
	RoleDenyPolicy = "custody-revoke-sessions"
	// IsolationTag marks custody's isolation group; its value is the VPC.
	IsolationTag = "custody:isolation"
)

// State is a resource's containment-relevant state, before or after.
type State struct {
	// ENIGroups: for an instance, each ENI's security groups.
	ENIGroups map[string][]string `json:"eniGroups,omitempty"`
	// PrimaryENI is the instance's device-0 interface, whose groups are
	// the instance's own.
	PrimaryENI string `json:"primaryEni,omitempty"`
	// KeyStatus: for an access key, Active or Inactive.
	KeyStatus string `json:"keyStatus,omitempty"`
	// PolicyPresent: whether custody's inline deny exists.
	PolicyPresent bool `json:"policyPresent"`
	// ReservedConcurrency: for a function, its reserved concurrency; nil
	// (absent) when none was reserved, which rollback restores by
	// removing the reservation.
	ReservedConcurrency *int32 `json:"reservedConcurrency,omitempty"`
	// BucketPolicy: for a bucket, its policy; nil when it had none.
	BucketPolicy *string `json:"bucketPolicy,omitempty"`
	// PublicAccessBlock: for a bucket, its public access block; nil when
	// it had none.
	PublicAccessBlock *PublicAccessBlock `json:"publicAccessBlock,omitempty"`
	// AutoScalingGroup: the instance's Auto Scaling group ("" for none).
	AutoScalingGroup string `json:"autoScalingGroup,omitempty"`
	// Targets: the instance's target group registrations.
	Targets []Target `json:"targets,omitempty"`
	// NetworkACL and NetworkACLAssociation: a subnet's ACL and its
	// association.
	NetworkACL            string `json:"networkAcl,omitempty"`
	NetworkACLAssociation string `json:"networkAclAssociation,omitempty"`
}

// Action is one planned change and, once applied, what it did.
type Action struct {
	Class  Class  `json:"class"`
	Mode   Mode   `json:"mode"`
	Target string `json:"target"`
	// User is the access key's owner.
	User   string   `json:"user,omitempty"`
	Status Status   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Change []string `json:"change,omitempty"`
	Before *State   `json:"before,omitempty"`
	After  *State   `json:"after,omitempty"`
	Error  string   `json:"error,omitempty"`
	// IsolationGroup is the group an instance was isolated with.
	IsolationGroup string `json:"isolationGroup,omitempty"`
	// IssuedBefore is the aws:TokenIssueTime bound of an inline deny.
	IssuedBefore string `json:"issuedBefore,omitempty"`
	// Deny are the principal ARNs a bucket's deny statement names.
	Deny []string `json:"deny,omitempty"`
	// Shared are the subnet's other instances, which its ACL cuts too.
	Shared []string `json:"shared,omitempty"`
	// Account and Region are where the resource is (the case's).
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
}

// Plan is what containment/plan.json holds.
type Plan struct {
	CaseID  string    `json:"caseId"`
	RunID   string    `json:"runId"`
	At      time.Time `json:"at"`
	Actions []Action  `json:"actions"`
}

// ec2API is the EC2 calls containment makes.
type ec2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
	ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error)
	ModifyInstanceAttribute(ctx context.Context, in *ec2.ModifyInstanceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error)
}

// iamAPI is the IAM calls containment makes.
type iamAPI interface {
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, optFns ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error)
	GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, optFns ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, optFns ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteUserPolicy(ctx context.Context, in *iam.DeleteUserPolicyInput, optFns ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error)
	DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

// planWriter stores the plan, the records and their signed statements
// through the evidence writer, so each is hashed and written once.
type planWriter interface {
	PutJSON(ctx context.Context, key string, v any, meta evidence.PutMeta) (evidence.Artifact, error)
	Put(ctx context.Context, key string, body io.Reader, meta evidence.PutMeta) (evidence.Artifact, error)
}

// DriftError is a rollback refused because the resource is no longer as
// containment left it: restoring would undo someone else's change.
type DriftError struct {
	Target string
	Detail string
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("contain: %s drifted since containment: %s", e.Target, e.Detail)
}

// Input is what the state machine hands the function after Seal.
type Input struct {
	// Action is one of the Action* constants ("" is ActionPlan).
	Action   string            `json:"action,omitempty"`
	Incident incident.Incident `json:"incident"`
	// Actions are the planned actions, from Contain's output: request,
	// apply and reject act on these, never on an approver's answer.
	Actions []Action `json:"actions,omitempty"`
	// Token is the task token of the AwaitApproval state (request).
	Token string `json:"token,omitempty"`
	// Approval is the approver's answer (apply).
	Approval *Decision `json:"approval,omitempty"`
	// Error is the caught rejection or timeout (reject).
	Error *StepError `json:"error,omitempty"`
	// By names who asked for a rollback (rollback).
	By string `json:"by,omitempty"`
}

// Output is the function's result: the plan with what was applied.
type Output struct {
	PlanKey string   `json:"planKey"`
	Actions []Action `json:"actions"`
	// Awaiting: some action waits for an approval (the state machine's
	// AwaitingApproval? choice reads it).
	Awaiting bool `json:"awaiting"`
	// PendingKey is the approval request's record (request).
	PendingKey string `json:"pendingKey,omitempty"`
	// RecordKey is approved.json or rejected.json (apply, reject).
	RecordKey string `json:"recordKey,omitempty"`
	// StatementKey is the signed containment statement the step wrote
	// over every record of the run so far.
	StatementKey string `json:"statementKey,omitempty"`
}

// Handler plans, applies and rolls back containment.
type Handler struct {
	EC2    ec2API
	IAM    iamAPI
	Lambda lambdaAPI
	S3     s3API
	// AutoScaling and ELB, when set, let EC2 isolation first take the
	// instance out of its Auto Scaling group and target groups.
	AutoScaling autoscalingAPI
	ELB         elbv2API
	// NACL is the EC2 client of the subnet ACL step.
	NACL naclAPI
	// Member, when set, reaches a member account's containment role: a
	// member's case is contained there instead of refused.
	Member MemberFunc
	// Partition is the stack's partition (ARNs in a bucket policy; "aws"
	// when empty).
	Partition string
	Writer    planWriter
	// Modes per class; a missing class is off.
	Modes map[Class]Mode
	// AccountID is the account this function acts in: a case of another
	// account (a member's) is not contained here, since a user or role of
	// the same name in this account is not the attacker's.
	AccountID string
	// ProtectedKey and ProtectedValue: a resource with this tag is never touched.
	ProtectedKey, ProtectedValue string
	Version                      string
	Now                          func() time.Time
	// Notifier and TopicARN send the approval notice.
	Notifier notifier
	TopicARN string
	// ApprovalTimeout is how long an approval is waited for (the state's
	// TimeoutSeconds; here for the notice's text).
	ApprovalTimeout time.Duration
	// Reader reads the stored plan and the applied records a rollback
	// restores from, in Bucket; Lister lists the run's containment folder
	// for the statement.
	Reader recordReader
	Lister recordLister
	Bucket string
	// Signer signs each step's containment statement with the containment
	// key SigningKeyARN names (never the seal key).
	Signer        signer
	SigningKeyARN string
}

// Handle runs one containment step for the sealed run: plan (the Contain
// state), request, apply or reject (the approval states).
func (h *Handler) Handle(ctx context.Context, in Input) (*Output, error) {
	inc := in.Incident
	prefix, err := evidence.RunPrefix(inc.CaseID, inc.RunID)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	if in.Action == ActionRollback {
		// A rollback acts only on what this run recorded as applied, all
		// of it in this account.
		rec, err := h.RollbackRun(ctx, h.Bucket, inc.CaseID, inc.RunID, in.By)
		if err != nil {
			return nil, err
		}
		return &Output{PlanKey: prefix + "containment/" + PlanFile, Actions: rec.Actions, RecordKey: prefix + "containment/" + RollbackFile}, nil
	}
	h, err = h.forAccount(ctx, inc.CaseID, inc.Scope.AccountID, inc.Scope.Region)
	if err != nil {
		return nil, err
	}
	switch in.Action {
	case "", ActionPlan:
		return h.plan(ctx, in, prefix)
	case ActionRequest:
		return h.request(ctx, in, prefix)
	case ActionApply:
		return h.applyApproved(ctx, in, prefix)
	case ActionReject:
		return h.reject(ctx, in, prefix)
	}
	return nil, faults.Invalid("action", "%q is not a containment action", in.Action)
}

// plan plans every enabled action, writes the plan into the case, then
// applies the auto-mode actions; the approve-mode ones are marked
// awaiting-approval.
func (h *Handler) plan(ctx context.Context, in Input, prefix string) (*Output, error) {
	inc := in.Incident
	actions, err := h.Plan(ctx, inc.Scope)
	if err != nil {
		return nil, err
	}
	key := prefix + "containment/plan.json"
	// Evidence first: the plan, with every before-state, is stored before
	// anything changes.
	if _, err := h.Writer.PutJSON(ctx, key, Plan{CaseID: inc.CaseID, RunID: inc.RunID, At: h.Now().UTC(), Actions: actions},
		evidence.PutMeta{Source: evidence.SourceCase, API: "custody:ContainPlan", Collector: "contain", CollectorVersion: h.Version, AcceptIdentical: true}); err != nil {
		return nil, faults.Classify("store containment plan", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	// The plan is signed before anything changes: a containment key that
	// cannot sign stops the step while nothing has changed.
	stKey, err := h.sign(ctx, inc.CaseID, inc.RunID, StepPlan)
	if err != nil {
		return nil, err
	}
	for i := range actions {
		a := &actions[i]
		switch {
		case a.Status != StatusPlanned:
		case a.Mode == ModeAuto:
			h.Apply(ctx, a)
		case a.Mode == ModeApprove:
			// Applied only once a responder approves (AwaitApproval).
			a.Status = StatusAwaiting
		}
	}
	out := &Output{PlanKey: key, Actions: actions, Awaiting: len(awaiting(actions)) > 0, StatementKey: stKey}
	if slices.ContainsFunc(actions, func(a Action) bool { return a.Status == StatusApplied || a.Status == StatusFailed }) {
		appliedKey := prefix + "containment/applied.json"
		if _, err := h.Writer.PutJSON(ctx, appliedKey, Plan{CaseID: inc.CaseID, RunID: inc.RunID, At: h.Now().UTC(), Actions: actions},
			evidence.PutMeta{Source: evidence.SourceCase, API: "custody:ContainApply", Collector: "contain", CollectorVersion: h.Version, AcceptIdentical: true}); err != nil {
			return out, faults.Classify("store containment record", err, func(err error) error { return &faults.EvidenceError{Key: appliedKey, Err: err} })
		}
		// Changed and recorded: a failed signature is reported (an
		// UnsignedError) with the output, and undoes nothing.
		if out.StatementKey, err = h.sign(ctx, inc.CaseID, inc.RunID, StepPlan); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (h *Handler) mode(c Class) Mode {
	if m, ok := h.Modes[c]; ok {
		return m
	}
	return ModeOff
}

// Plan reads the before-state of every resource in scope whose class is
// not off, and says what would change (or why nothing will).
func (h *Handler) Plan(ctx context.Context, scope incident.Scope) ([]Action, error) {
	var out []Action
	if m := h.mode(ClassEC2); m != ModeOff {
		for _, id := range scope.Instances {
			a, err := h.planInstance(ctx, id, m)
			if err != nil {
				return nil, err
			}
			if a.Status == StatusPlanned {
				// Before the isolation (apply runs in plan order).
				extra, err := h.planMemberships(ctx, id, m)
				if err != nil {
					return nil, err
				}
				out = append(out, extra...)
			}
			out = append(out, a)
		}
	}
	if m := h.mode(ClassAccessKey); m != ModeOff {
		for _, user := range scope.UserNames {
			as, err := h.planUserKeys(ctx, user, scope.AccessKeys, m)
			if err != nil {
				return nil, err
			}
			out = append(out, as...)
		}
	}
	if m := h.mode(ClassRole); m != ModeOff {
		for _, role := range scope.RoleNames {
			a, err := h.planRole(ctx, role, m)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	if m := h.mode(ClassSubnetNACL); m != ModeOff {
		as, err := h.planSubnets(ctx, scope.Instances, m)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	if m := h.mode(ClassS3Bucket); m != ModeOff {
		deny := denyPrincipals(h.partition(), scope.AccountID, scope.Principals, scope.UserNames)
		for _, b := range scope.Buckets {
			a, err := h.planBucket(ctx, b, deny, m)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	if m := h.mode(ClassLambda); m != ModeOff {
		for _, fn := range scope.Functions {
			a, err := h.planFunction(ctx, fn, m)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	if h.anyOn() {
		out = append(out, leads(scope)...)
	}
	// Rollback finds each action's account (and region) here.
	for i := range out {
		out[i].Account, out[i].Region = scope.AccountID, scope.Region
	}
	return out, nil
}

// anyOn reports whether some class plans: only then is there a plan to
// hold the leads.
func (h *Handler) anyOn() bool {
	for _, m := range h.Modes {
		if m != ModeOff {
			return true
		}
	}
	return false
}

func (h *Handler) protected(key, value *string) bool {
	return aws.ToString(key) == h.ProtectedKey && aws.ToString(value) == h.ProtectedValue
}

func (h *Handler) protectedReason() string {
	return fmt.Sprintf("tagged %s=%s: never contained", h.ProtectedKey, h.ProtectedValue)
}

func (h *Handler) planInstance(ctx context.Context, id string, m Mode) (Action, error) {
	a := Action{Class: ClassEC2, Mode: m, Target: id, Status: StatusPlanned}
	out, err := h.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return a, faults.Classify("DescribeInstances", err, contained("DescribeInstances"))
	}
	var inst *ec2types.Instance
	for _, r := range out.Reservations {
		for i := range r.Instances {
			inst = &r.Instances[i]
		}
	}
	if inst == nil {
		return a, faults.Invalid("scope.instances", "instance %s not found", id)
	}
	for _, t := range inst.Tags {
		if h.protected(t.Key, t.Value) {
			a.Status, a.Reason = StatusProtected, h.protectedReason()
			return a, nil
		}
	}
	before, err := h.eniGroups(ctx, id)
	if err != nil {
		return a, err
	}
	a.Before = &State{ENIGroups: before, PrimaryENI: primaryENI(inst)}
	vpc := aws.ToString(inst.VpcId)
	for eni := range before {
		a.Change = append(a.Change, fmt.Sprintf("%s: security groups %v -> [isolation group of %s, no rules]", eni, before[eni], vpc))
	}
	slices.Sort(a.Change)
	return a, nil
}

// primaryENI is the instance's device-0 interface.
func primaryENI(inst *ec2types.Instance) string {
	for _, n := range inst.NetworkInterfaces {
		if n.Attachment != nil && aws.ToInt32(n.Attachment.DeviceIndex) == 0 {
			return aws.ToString(n.NetworkInterfaceId)
		}
	}
	return ""
}

// setGroups makes groups the whole list of eni. On the primary ENI it is
// set through the instance too: in AWS that is the same list, and an
// emulator that keeps the instance's groups apart (moto reports an ENI's
// groups as its own plus the instance's) would otherwise show the old
// groups still there.
func (h *Handler) setGroups(ctx context.Context, instance, eni string, primary bool, groups []string) error {
	if primary {
		if _, err := h.EC2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(instance), Groups: groups}); err != nil {
			return fmt.Errorf("ModifyInstanceAttribute %s: %w", instance, err)
		}
	}
	// Groups replaces the ENI's whole list.
	if _, err := h.EC2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Groups: groups,
	}); err != nil {
		return fmt.Errorf("ModifyNetworkInterfaceAttribute %s: %w", eni, err)
	}
	return nil
}

// eniGroups is every ENI of the instance with its whole group list.
func (h *Handler) eniGroups(ctx context.Context, instance string) (map[string][]string, error) {
	out, err := h.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{instance}}},
	})
	if err != nil {
		return nil, faults.Classify("DescribeNetworkInterfaces", err, contained("DescribeNetworkInterfaces"))
	}
	groups := map[string][]string{}
	for _, n := range out.NetworkInterfaces {
		var g []string
		for _, sg := range n.Groups {
			g = append(g, aws.ToString(sg.GroupId))
		}
		slices.Sort(g)
		groups[aws.ToString(n.NetworkInterfaceId)] = g
	}
	return groups, nil
}

func (h *Handler) planUserKeys(ctx context.Context, user string, keys []string, m Mode) ([]Action, error) {
	tags, err := h.IAM.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(user)})
	if err != nil {
		return nil, faults.Classify("ListUserTags", err, contained("ListUserTags"))
	}
	isProtected := slices.ContainsFunc(tags.Tags, func(t iamtypesTag) bool { return h.protected(t.Key, t.Value) })
	listed, err := h.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return nil, faults.Classify("ListAccessKeys", err, contained("ListAccessKeys"))
	}
	present, err := h.userPolicyPresent(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []Action
	for _, k := range listed.AccessKeyMetadata {
		id := aws.ToString(k.AccessKeyId)
		// Only the keys the finding names: a user's other keys may be a
		// service's, and are the responder's call.
		if len(keys) > 0 && !slices.Contains(keys, id) {
			continue
		}
		a := Action{Class: ClassAccessKey, Mode: m, Target: id, User: user, Status: StatusPlanned}
		if isProtected {
			a.Status, a.Reason = StatusProtected, h.protectedReason()
		} else {
			a.Before = &State{KeyStatus: string(k.Status), PolicyPresent: present}
			a.Change = []string{
				fmt.Sprintf("access key %s: %s -> Inactive (never deleted)", id, k.Status),
				fmt.Sprintf("user %s: inline policy %s denies all to sessions issued before the apply time", user, UserDenyPolicy),
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func (h *Handler) planRole(ctx context.Context, role string, m Mode) (Action, error) {
	a := Action{Class: ClassRole, Mode: m, Target: role, Status: StatusPlanned}
	tags, err := h.IAM.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String(role)})
	if err != nil {
		return a, faults.Classify("ListRoleTags", err, contained("ListRoleTags"))
	}
	if slices.ContainsFunc(tags.Tags, func(t iamtypesTag) bool { return h.protected(t.Key, t.Value) }) {
		a.Status, a.Reason = StatusProtected, h.protectedReason()
		return a, nil
	}
	present, err := h.rolePolicyPresent(ctx, role)
	if err != nil {
		return a, err
	}
	a.Before = &State{PolicyPresent: present}
	a.Change = []string{fmt.Sprintf("role %s: inline policy %s denies all to sessions issued before the apply time", role, RoleDenyPolicy)}
	return a, nil
}

// ContainError is a containment call that failed for a reason that is
// neither throttling nor transient: it names the call.
type ContainError struct {
	Op  string
	Err error
}

func (e *ContainError) Error() string { return "contain: " + e.Op + ": " + e.Err.Error() }

// Unwrap gives the API error.
func (e *ContainError) Unwrap() error { return e.Err }

func contained(op string) func(error) error {
	return func(err error) error { return &ContainError{Op: op, Err: err} }
}

func notFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchEntity" || ae.ErrorCode() == "NoSuchEntityException")
}

func (h *Handler) userPolicyPresent(ctx context.Context, user string) (bool, error) {
	_, err := h.IAM.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(UserDenyPolicy)})
	if notFound(err) {
		return false, nil
	}
	return err == nil, faults.Classify("GetUserPolicy", err, contained("GetUserPolicy"))
}

func (h *Handler) rolePolicyPresent(ctx context.Context, role string) (bool, error) {
	_, err := h.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(RoleDenyPolicy)})
	if notFound(err) {
		return false, nil
	}
	return err == nil, faults.Classify("GetRolePolicy", err, contained("GetRolePolicy"))
}

// denyOlderSessions denies everything to credentials issued before t: the
// sessions an attacker already holds, not those minted afterwards.
func denyOlderSessions(t time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Deny", "Action": "*", "Resource": "*",
			"Condition": map[string]any{"DateLessThan": map[string]any{"aws:TokenIssueTime": t.UTC().Format(time.RFC3339)}},
		}},
	})
	return string(b)
}

// Apply carries out one planned action, recording its after-state; a
// failure is recorded on the action, never returned: one failed action
// does not stop the others.
func (h *Handler) Apply(ctx context.Context, a *Action) {
	var err error
	switch a.Class {
	case ClassEC2:
		err = h.isolate(ctx, a)
	case ClassAccessKey:
		err = h.deactivate(ctx, a)
	case ClassRole:
		err = h.revokeRole(ctx, a)
	case ClassLambda:
		err = h.throttle(ctx, a)
	case ClassS3Bucket:
		err = h.blockBucket(ctx, a)
	case ClassSubnetNACL:
		err = h.denySubnet(ctx, a)
	case ClassASGDetach:
		err = h.detach(ctx, a)
	case ClassTargetDeregister:
		err = h.deregister(ctx, a)
	default:
		err = fmt.Errorf("unknown class %q", a.Class)
	}
	if err != nil {
		a.Status, a.Error = StatusFailed, err.Error()
		return
	}
	a.Status = StatusApplied
}

func (h *Handler) isolate(ctx context.Context, a *Action) error {
	desc, err := h.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{a.Target}}},
	})
	if err != nil {
		return err
	}
	for _, n := range desc.NetworkInterfaces {
		sg, err := h.isolationGroup(ctx, aws.ToString(n.VpcId))
		if err != nil {
			return err
		}
		a.IsolationGroup = sg
		eni := aws.ToString(n.NetworkInterfaceId)
		if err := h.setGroups(ctx, a.Target, eni, eni == a.Before.PrimaryENI, []string{sg}); err != nil {
			return err
		}
	}
	after, err := h.eniGroups(ctx, a.Target)
	if err != nil {
		return err
	}
	a.After = &State{ENIGroups: after}
	return nil
}

// isolationGroup finds or creates the VPC's isolation group: tagged, no
// inbound rule, and its default allow-all egress revoked.
func (h *Handler) isolationGroup(ctx context.Context, vpc string) (string, error) {
	found, err := h.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
		{Name: aws.String("tag:" + IsolationTag), Values: []string{vpc}},
	}})
	if err != nil {
		return "", err
	}
	if len(found.SecurityGroups) > 0 {
		return aws.ToString(found.SecurityGroups[0].GroupId), nil
	}
	created, err := h.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:   aws.String("custody-isolation-" + vpc),
		Description: aws.String("custody containment: no inbound or outbound rules"),
		VpcId:       aws.String(vpc),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeSecurityGroup,
			Tags:         []ec2types.Tag{{Key: aws.String(IsolationTag), Value: aws.String(vpc)}},
		}},
	})
	if err != nil {
		return "", err
	}
	// A new group allows all egress; isolation allows nothing.
	if _, err := h.EC2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{
		GroupId: created.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}},
	}); err != nil {
		return "", err
	}
	return aws.ToString(created.GroupId), nil
}

func (h *Handler) deactivate(ctx context.Context, a *Action) error {
	now := h.Now().UTC()
	if _, err := h.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(a.User), AccessKeyId: aws.String(a.Target), Status: iamtypesInactive,
	}); err != nil {
		return err
	}
	if _, err := h.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(a.User), PolicyName: aws.String(UserDenyPolicy), PolicyDocument: aws.String(denyOlderSessions(now)),
	}); err != nil {
		return err
	}
	a.IssuedBefore = now.Format(time.RFC3339)
	a.After = &State{KeyStatus: string(iamtypesInactive), PolicyPresent: true}
	return nil
}

func (h *Handler) revokeRole(ctx context.Context, a *Action) error {
	now := h.Now().UTC()
	if _, err := h.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(a.Target), PolicyName: aws.String(RoleDenyPolicy), PolicyDocument: aws.String(denyOlderSessions(now)),
	}); err != nil {
		return err
	}
	a.IssuedBefore = now.Format(time.RFC3339)
	a.After = &State{PolicyPresent: true}
	return nil
}

// Rollback restores an applied action's before-state, after checking the
// resource is still as containment left it (a DriftError if not).
func (h *Handler) Rollback(ctx context.Context, a *Action) error {
	if err := h.drift(ctx, a); err != nil {
		return err
	}
	return h.restore(ctx, a)
}

// drift is a DriftError when the resource of an applied action is no
// longer as containment left it; it changes nothing.
func (h *Handler) drift(ctx context.Context, a *Action) error {
	if a.Status != StatusApplied || a.Before == nil || a.After == nil {
		return faults.Invalid("action", "%s %s was not applied: nothing to roll back", a.Class, a.Target)
	}
	switch a.Class {
	case ClassEC2:
		now, err := h.eniGroups(ctx, a.Target)
		if err != nil {
			return err
		}
		for eni, want := range a.After.ENIGroups {
			if !slices.Equal(now[eni], want) {
				return &DriftError{Target: a.Target, Detail: fmt.Sprintf("%s has groups %v, containment left %v", eni, now[eni], want)}
			}
		}
	case ClassAccessKey:
		listed, err := h.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(a.User)})
		if err != nil {
			return err
		}
		for _, k := range listed.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == a.Target && string(k.Status) != a.After.KeyStatus {
				return &DriftError{Target: a.Target, Detail: fmt.Sprintf("status is %s, containment left %s", k.Status, a.After.KeyStatus)}
			}
		}
	case ClassLambda:
		return h.functionDrift(ctx, a)
	case ClassS3Bucket:
		return h.bucketDrift(ctx, a)
	case ClassASGDetach, ClassTargetDeregister:
		return h.membershipDrift(ctx, a)
	case ClassSubnetNACL:
		return h.subnetDrift(ctx, a)
	}
	return nil
}

// restore puts an applied action's recorded before-state back.
func (h *Handler) restore(ctx context.Context, a *Action) error {
	switch a.Class {
	case ClassEC2:
		for eni, groups := range a.Before.ENIGroups {
			if err := h.setGroups(ctx, a.Target, eni, eni == a.Before.PrimaryENI, groups); err != nil {
				return err
			}
		}
		after, err := h.eniGroups(ctx, a.Target)
		if err != nil {
			return err
		}
		a.After = &State{ENIGroups: after}
	case ClassAccessKey:
		if _, err := h.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
			UserName: aws.String(a.User), AccessKeyId: aws.String(a.Target), Status: iamtypesStatus(a.Before.KeyStatus),
		}); err != nil {
			return err
		}
		if !a.Before.PolicyPresent {
			if _, err := h.IAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(a.User), PolicyName: aws.String(UserDenyPolicy)}); err != nil && !notFound(err) {
				return err
			}
		}
		a.After = &State{KeyStatus: a.Before.KeyStatus, PolicyPresent: a.Before.PolicyPresent}
	case ClassRole:
		if !a.Before.PolicyPresent {
			if _, err := h.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(a.Target), PolicyName: aws.String(RoleDenyPolicy)}); err != nil && !notFound(err) {
				return err
			}
		}
		a.After = &State{PolicyPresent: a.Before.PolicyPresent}
	case ClassLambda:
		if err := h.restoreFunction(ctx, a); err != nil {
			return err
		}
	case ClassS3Bucket:
		if err := h.restoreBucket(ctx, a); err != nil {
			return err
		}
	case ClassASGDetach, ClassTargetDeregister:
		if err := h.restoreMembership(ctx, a); err != nil {
			return err
		}
	case ClassSubnetNACL:
		if err := h.restoreSubnet(ctx, a); err != nil {
			return err
		}
	}
	a.Status = StatusRolledBack
	return nil
}
