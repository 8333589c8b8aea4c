package contain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/faults"
)

// BucketDenySid is the Sid of the statement custody merges into a
// bucket's policy; apply replaces only a statement of this Sid.
const BucketDenySid = "CustodyContainDenyFindingPrincipals"

// s3API is the S3 calls bucket containment makes.
type s3API interface {
	GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	PutBucketPolicy(ctx context.Context, in *s3.PutBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	DeleteBucketPolicy(ctx context.Context, in *s3.DeleteBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.DeleteBucketPolicyOutput, error)
	GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	DeletePublicAccessBlock(ctx context.Context, in *s3.DeletePublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error)
}

// PublicAccessBlock is a bucket's four public access settings.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"blockPublicAcls"`
	IgnorePublicAcls      bool `json:"ignorePublicAcls"`
	BlockPublicPolicy     bool `json:"blockPublicPolicy"`
	RestrictPublicBuckets bool `json:"restrictPublicBuckets"`
}

// blockAll is what containment sets.
var blockAll = PublicAccessBlock{true, true, true, true}

func (p PublicAccessBlock) config() *s3types.PublicAccessBlockConfiguration {
	return &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(p.BlockPublicAcls), IgnorePublicAcls: aws.Bool(p.IgnorePublicAcls),
		BlockPublicPolicy: aws.Bool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.Bool(p.RestrictPublicBuckets),
	}
}

func s3Code(err error, codes ...string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(codes, ae.ErrorCode())
}

// bucketState is the bucket's policy and public access block, each nil
// when absent.
func (h *Handler) bucketState(ctx context.Context, bucket string) (*State, error) {
	st := &State{}
	pol, err := h.S3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	switch {
	case s3Code(err, "NoSuchBucketPolicy"):
	case err != nil:
		return nil, faults.Classify("GetBucketPolicy", err, contained("GetBucketPolicy"))
	default:
		st.BucketPolicy = pol.Policy
	}
	pab, err := h.S3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	switch {
	case s3Code(err, "NoSuchPublicAccessBlockConfiguration"):
	case err != nil:
		return nil, faults.Classify("GetPublicAccessBlock", err, contained("GetPublicAccessBlock"))
	default:
		c := pab.PublicAccessBlockConfiguration
		st.PublicAccessBlock = &PublicAccessBlock{
			BlockPublicAcls: aws.ToBool(c.BlockPublicAcls), IgnorePublicAcls: aws.ToBool(c.IgnorePublicAcls),
			BlockPublicPolicy: aws.ToBool(c.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(c.RestrictPublicBuckets),
		}
	}
	return st, nil
}

// denyPrincipals are the IAM ARNs the bucket statement denies, as
// aws:PrincipalArn gives them: a session's role, not the session (a new
// session of the same role would pass), and a user whatever its path.
func denyPrincipals(partition, account string, principals, users []string) []string {
	var out []string
	for _, p := range principals {
		// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION -> the role.
		if parts := strings.SplitN(p, ":", 6); len(parts) == 6 && parts[2] == "sts" && strings.HasPrefix(parts[5], "assumed-role/") {
			role, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
			p = "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
		}
		out = append(out, p)
	}
	for _, u := range users {
		out = append(out, "arn:"+partition+":iam::"+account+":user/"+u, "arn:"+partition+":iam::"+account+":user/*/"+u)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// planBucket reads the bucket's tags, policy and public access block.
func (h *Handler) planBucket(ctx context.Context, bucket string, deny []string, m Mode) (Action, error) {
	a := Action{Class: ClassS3Bucket, Mode: m, Target: bucket, Status: StatusPlanned}
	if h.S3 == nil {
		return a, &faults.ConfigurationError{Setting: EnvS3Bucket, Reason: "no S3 client"}
	}
	if bucket == h.Bucket {
		// Denying the evidence bucket would be containing the evidence.
		a.Status, a.Reason = StatusProtected, "the evidence bucket: never contained"
		return a, nil
	}
	tags, err := h.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	switch {
	case s3Code(err, "NoSuchTagSet"):
	case s3Code(err, "NoSuchBucket"):
		return a, faults.Invalid("scope.buckets", "bucket %s not found", bucket)
	case err != nil:
		return a, faults.Classify("GetBucketTagging", err, contained("GetBucketTagging"))
	default:
		if slices.ContainsFunc(tags.TagSet, func(t s3types.Tag) bool { return h.protected(t.Key, t.Value) }) {
			a.Status, a.Reason = StatusProtected, h.protectedReason()
			return a, nil
		}
	}
	before, err := h.bucketState(ctx, bucket)
	if err != nil {
		return a, err
	}
	a.Before, a.Deny = before, deny
	pab := "absent"
	if before.PublicAccessBlock != nil {
		b, _ := json.Marshal(before.PublicAccessBlock)
		pab = string(b)
	}
	a.Change = []string{fmt.Sprintf("bucket %s: public access block %s -> all four true", bucket, pab)}
	if len(deny) > 0 {
		a.Change = append(a.Change, fmt.Sprintf("bucket %s: policy statement %s denies s3:* to %v (merged; the other statements kept)", bucket, BucketDenySid, deny))
	} else {
		a.Change = append(a.Change, fmt.Sprintf("bucket %s: no principal in the finding, so no deny statement", bucket))
	}
	return a, nil
}

// mergeDeny is policy (nil: none) with custody's deny statement in place
// of any earlier one of the same Sid.
func mergeDeny(policy *string, partition, bucket string, deny []string) (string, error) {
	doc := map[string]any{"Version": "2012-10-17"}
	var stmts []any
	if policy != nil {
		if err := json.Unmarshal([]byte(*policy), &doc); err != nil {
			return "", fmt.Errorf("bucket %s: the policy is not JSON: %w", bucket, err)
		}
		switch s := doc["Statement"].(type) {
		case []any:
			stmts = s
		case map[string]any:
			stmts = []any{s}
		}
	}
	stmts = slices.DeleteFunc(stmts, func(s any) bool {
		m, _ := s.(map[string]any)
		return m["Sid"] == BucketDenySid
	})
	arn := "arn:" + partition + ":s3:::" + bucket
	stmts = append(stmts, map[string]any{
		"Sid": BucketDenySid, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
		"Resource":  []string{arn, arn + "/*"},
		"Condition": map[string]any{"ArnLike": map[string]any{"aws:PrincipalArn": deny}},
	})
	doc["Statement"] = stmts
	b, err := json.Marshal(doc)
	return string(b), err
}

// samePolicy compares two policies as JSON (nil is absent).
func samePolicy(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal([]byte(*a), &x) != nil || json.Unmarshal([]byte(*b), &y) != nil {
		return *a == *b
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

func samePAB(a, b *PublicAccessBlock) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// blockBucket blocks public access and merges the deny. The bucket must
// still be as planned: the recorded before-state is what rollback puts
// back, so a policy changed since the plan (an approval may come hours
// later) is refused rather than later overwritten.
func (h *Handler) blockBucket(ctx context.Context, a *Action) error {
	now, err := h.bucketState(ctx, a.Target)
	if err != nil {
		return err
	}
	if !samePolicy(now.BucketPolicy, a.Before.BucketPolicy) || !samePAB(now.PublicAccessBlock, a.Before.PublicAccessBlock) {
		return &DriftError{Target: a.Target, Detail: "the policy or public access block changed since the plan"}
	}
	if _, err := h.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: aws.String(a.Target), PublicAccessBlockConfiguration: blockAll.config(),
	}); err != nil {
		return err
	}
	if len(a.Deny) > 0 {
		doc, err := mergeDeny(a.Before.BucketPolicy, h.partition(), a.Target, a.Deny)
		if err != nil {
			return err
		}
		if _, err := h.S3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(a.Target), Policy: aws.String(doc)}); err != nil {
			return err
		}
	}
	a.After, err = h.bucketState(ctx, a.Target)
	return err
}

func (h *Handler) partition() string {
	if h.Partition == "" {
		return "aws"
	}
	return h.Partition
}

func (h *Handler) bucketDrift(ctx context.Context, a *Action) error {
	now, err := h.bucketState(ctx, a.Target)
	if err != nil {
		return err
	}
	if !samePolicy(now.BucketPolicy, a.After.BucketPolicy) {
		return &DriftError{Target: a.Target, Detail: "the bucket policy is not the one containment left"}
	}
	if !samePAB(now.PublicAccessBlock, a.After.PublicAccessBlock) {
		return &DriftError{Target: a.Target, Detail: "the public access block is not the one containment left"}
	}
	return nil
}

// restoreBucket puts the recorded public access block back first (a
// blocked public policy could not be put back under BlockPublicPolicy),
// then the recorded policy; each absent one is deleted.
func (h *Handler) restoreBucket(ctx context.Context, a *Action) error {
	b := aws.String(a.Target)
	if p := a.Before.PublicAccessBlock; p != nil {
		if _, err := h.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: p.config()}); err != nil {
			return err
		}
	} else if _, err := h.S3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		return err
	}
	if p := a.Before.BucketPolicy; p != nil {
		if _, err := h.S3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: p}); err != nil {
			return err
		}
	} else if _, err := h.S3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: b}); err != nil {
		return err
	}
	var err error
	a.After, err = h.bucketState(ctx, a.Target)
	return err
}
