package contain

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/emulator"
)

const otherPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadForApp","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::data-1/*"}]}`

// newBucket creates a bucket with the given policy and public access
// block (nil: none) and tags.
func (w *world) newBucket(t *testing.T, name string, policy *string, pab *PublicAccessBlock, tags []s3types.Tag) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if policy != nil {
		if _, err := w.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: policy}); err != nil {
			t.Fatal(err)
		}
	}
	if pab != nil {
		if _, err := w.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(name), PublicAccessBlockConfiguration: pab.config()}); err != nil {
			t.Fatal(err)
		}
	}
	if tags != nil {
		if _, err := w.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{TagSet: tags}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestContainBucket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    *string
		pab       *PublicAccessBlock
		protected bool
	}{
		{"policy and a partial block: both put back", aws.String(otherPolicy), &PublicAccessBlock{BlockPublicAcls: true}, false},
		{"neither: both deleted on rollback", nil, nil, false},
		{"protected: never touched", aws.String(otherPolicy), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, map[Class]Mode{ClassS3Bucket: ModeAuto})
			w.h.S3, w.h.Bucket = w.s3, testBucket
			var tags []s3types.Tag
			if tc.protected {
				tags = []s3types.Tag{{Key: aws.String("custody:protected"), Value: aws.String("true")}}
			}
			w.newBucket(t, "data-1", tc.policy, tc.pab, tags)
			inc := w.incident()
			inc.Scope.Buckets = []string{"data-1", testBucket}
			inc.Scope.Principals = []string{"arn:aws:sts::" + emulator.AccountID + ":assumed-role/app/i-0abc"}
			out, err := w.h.Handle(ctx, Input{Incident: inc})
			if err != nil {
				t.Fatal(err)
			}
			got := byTarget(out.Actions)
			if a := got[testBucket]; a.Status != StatusProtected {
				t.Errorf("the evidence bucket: %+v, want %s", a, StatusProtected)
			}
			a := got["data-1"]
			state := func() *State {
				st, err := w.h.bucketState(ctx, "data-1")
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			if tc.protected {
				if st := state(); a.Status != StatusProtected || !samePolicy(st.BucketPolicy, tc.policy) || st.PublicAccessBlock != nil {
					t.Fatalf("protected: status %q, state %+v", a.Status, st)
				}
				return
			}
			if a.Status != StatusApplied {
				t.Fatalf("action %+v", a)
			}
			if !samePolicy(a.Before.BucketPolicy, tc.policy) || !samePAB(a.Before.PublicAccessBlock, tc.pab) {
				t.Errorf("before %+v, want policy %v block %v", a.Before, tc.policy, tc.pab)
			}
			want := []string{"arn:aws:iam::" + emulator.AccountID + ":role/app",
				"arn:aws:iam::" + emulator.AccountID + ":user/*/breakglass", "arn:aws:iam::" + emulator.AccountID + ":user/*/mallory",
				"arn:aws:iam::" + emulator.AccountID + ":user/breakglass", "arn:aws:iam::" + emulator.AccountID + ":user/mallory"}
			if !slices.Equal(a.Deny, want) {
				t.Errorf("deny %v, want %v", a.Deny, want)
			}
			st := state()
			if !samePAB(st.PublicAccessBlock, &blockAll) {
				t.Errorf("block after apply: %+v", st.PublicAccessBlock)
			}
			pol := aws.ToString(st.BucketPolicy)
			if !containsAll(pol, BucketDenySid, "aws:PrincipalArn", "role/app", `"Deny"`) || (tc.policy != nil && !strings.Contains(pol, "ReadForApp")) {
				t.Errorf("policy after apply: %s", pol)
			}
			if p := byTarget(w.storedPlan(t, "plan.json").Actions)["data-1"]; !samePolicy(p.Before.BucketPolicy, tc.policy) {
				t.Errorf("stored plan's before: %+v", p.Before)
			}
			if err := w.h.Rollback(ctx, &a); err != nil {
				t.Fatal(err)
			}
			if st := state(); !samePolicy(st.BucketPolicy, tc.policy) || !samePAB(st.PublicAccessBlock, tc.pab) {
				t.Errorf("after rollback: policy %v block %+v, want %v %+v", aws.ToString(st.BucketPolicy), st.PublicAccessBlock, tc.policy, tc.pab)
			}
		})
	}
}

func TestContainBucketRefusesDrift(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassS3Bucket: ModeApprove})
	w.h.S3 = w.s3
	w.newBucket(t, "data-1", aws.String(otherPolicy), nil, nil)
	inc := w.incident()
	inc.Scope.Buckets = []string{"data-1"}
	out, err := w.h.Handle(ctx, Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	a := byTarget(out.Actions)["data-1"]
	// The policy changed between the plan and the approval: applying would
	// record a before-state that is no longer true.
	if _, err := w.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("data-1")}); err != nil {
		t.Fatal(err)
	}
	w.h.Apply(ctx, &a)
	if a.Status != StatusFailed || !strings.Contains(a.Error, "changed since the plan") {
		t.Fatalf("apply after a change: %+v", a)
	}
	if st, _ := w.h.bucketState(ctx, "data-1"); st.PublicAccessBlock != nil {
		t.Errorf("a refused apply blocked public access: %+v", st.PublicAccessBlock)
	}
	// Applied, then changed by hand: rollback must not undo that.
	if _, err := w.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("data-1"), Policy: aws.String(otherPolicy)}); err != nil {
		t.Fatal(err)
	}
	a.Status, a.Error = StatusPlanned, ""
	w.h.Apply(ctx, &a)
	if a.Status != StatusApplied {
		t.Fatalf("apply: %+v", a)
	}
	if _, err := w.s3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String("data-1")}); err != nil {
		t.Fatal(err)
	}
	var drift *DriftError
	if err := w.h.Rollback(ctx, &a); !errors.As(err, &drift) {
		t.Fatalf("rollback after drift: %v, want a DriftError", err)
	}
}

func TestMergeDeny(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *string
		stmts  int
	}{
		{"none", nil, 1},
		{"one statement as an object", aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`), 2},
		{"custody's earlier statement replaced", aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"` + BucketDenySid + `","Effect":"Deny"}]}`), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := mergeDeny(tc.policy, "aws", "b", []string{"arn:aws:iam::1:user/u"})
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(doc, `"Effect"`); n != tc.stmts {
				t.Errorf("%d statements, want %d: %s", n, tc.stmts, doc)
			}
		})
	}
	if _, err := mergeDeny(aws.String("{not json"), "aws", "b", nil); err == nil {
		t.Error("a policy that is not JSON was merged")
	}
}
