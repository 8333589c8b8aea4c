package contain

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// newFunction creates a function in the emulator (never invoked, so no
// runtime is needed) with the given reserved concurrency (nil: none).
func (w *world) newFunction(t *testing.T, name string, reserved *int32, tags map[string]string) *lambda.Client {
	t.Helper()
	ctx := context.Background()
	cfg, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lc := lambda.NewFromConfig(cfg)
	role, err := w.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("bootstrap")
	f.Write([]byte("#!/bin/sh\n"))
	zw.Close()
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: role.Role.Arn, Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: zb.Bytes()}, Tags: tags,
	}); err != nil {
		t.Fatal(err)
	}
	if reserved != nil {
		if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: reserved}); err != nil {
			t.Fatal(err)
		}
	}
	return lc
}

func TestContainLambda(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reserved  *int32
		protected bool
	}{
		{"unreserved: rollback removes the reservation", nil, false},
		{"reserved 5: rollback puts 5 back", aws.Int32(5), false},
		{"protected: never touched", aws.Int32(3), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, map[Class]Mode{ClassLambda: ModeAuto})
			var tags map[string]string
			if tc.protected {
				tags = map[string]string{"custody:protected": "true"}
			}
			lc := w.newFunction(t, "worker", tc.reserved, tags)
			w.h.Lambda = lc
			inc := w.incident()
			inc.Scope.Functions = []string{"worker"}
			out, err := w.h.Handle(ctx, Input{Incident: inc})
			if err != nil {
				t.Fatal(err)
			}
			a := byTarget(out.Actions)["worker"]
			now := func() *int32 {
				c, err := w.h.reservedConcurrency(ctx, "worker")
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			if tc.protected {
				if a.Status != StatusProtected || concurrencyText(now()) != "3" {
					t.Fatalf("protected: status %q, concurrency %s", a.Status, concurrencyText(now()))
				}
				return
			}
			if a.Status != StatusApplied || concurrencyText(a.Before.ReservedConcurrency) != concurrencyText(tc.reserved) {
				t.Fatalf("action %+v, want applied with before %s", a, concurrencyText(tc.reserved))
			}
			if c := now(); c == nil || *c != 0 {
				t.Fatalf("after apply: %s, want 0", concurrencyText(c))
			}
			if p := byTarget(w.storedPlan(t, "plan.json").Actions)["worker"]; concurrencyText(p.Before.ReservedConcurrency) != concurrencyText(tc.reserved) {
				t.Errorf("stored plan's before: %s", concurrencyText(p.Before.ReservedConcurrency))
			}
			if err := w.h.Rollback(ctx, &a); err != nil {
				t.Fatal(err)
			}
			if c := now(); concurrencyText(c) != concurrencyText(tc.reserved) {
				t.Errorf("after rollback: %s, want %s", concurrencyText(c), concurrencyText(tc.reserved))
			}
		})
	}
}

func TestContainLambdaRollbackRefusesDrift(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassLambda: ModeAuto})
	lc := w.newFunction(t, "worker", nil, nil)
	w.h.Lambda = lc
	inc := w.incident()
	inc.Scope.Functions = []string{"worker"}
	out, err := w.h.Handle(ctx, Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	a := byTarget(out.Actions)["worker"]
	// A responder raised it by hand after containment: rollback must not
	// undo that.
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("worker"), ReservedConcurrentExecutions: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	var drift *DriftError
	if err := w.h.Rollback(ctx, &a); !errors.As(err, &drift) {
		t.Fatalf("rollback after drift: %v, want a DriftError", err)
	}
	if c, _ := w.h.reservedConcurrency(ctx, "worker"); concurrencyText(c) != "2" {
		t.Errorf("a refused rollback changed the concurrency to %s", concurrencyText(c))
	}
}
