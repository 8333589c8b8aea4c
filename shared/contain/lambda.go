package contain

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/custody-ir/custody/shared/faults"
)

// lambdaAPI is the Lambda calls containment makes.
type lambdaAPI interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	GetFunctionConcurrency(ctx context.Context, in *lambda.GetFunctionConcurrencyInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
	PutFunctionConcurrency(ctx context.Context, in *lambda.PutFunctionConcurrencyInput, optFns ...func(*lambda.Options)) (*lambda.PutFunctionConcurrencyOutput, error)
	DeleteFunctionConcurrency(ctx context.Context, in *lambda.DeleteFunctionConcurrencyInput, optFns ...func(*lambda.Options)) (*lambda.DeleteFunctionConcurrencyOutput, error)
}

// concurrencyText is a reserved concurrency as the plan says it: nil is
// "unreserved" (the function draws on the account's pool).
func concurrencyText(c *int32) string {
	if c == nil {
		return "unreserved"
	}
	return strconv.Itoa(int(*c))
}

// planFunction reads the function's tags and reserved concurrency.
func (h *Handler) planFunction(ctx context.Context, fn string, m Mode) (Action, error) {
	a := Action{Class: ClassLambda, Mode: m, Target: fn, Status: StatusPlanned}
	if h.Lambda == nil {
		return a, &faults.ConfigurationError{Setting: EnvLambda, Reason: "no Lambda client"}
	}
	got, err := h.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	var nf *lambdatypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return a, faults.Invalid("scope.functions", "function %s not found", fn)
	}
	if err != nil {
		return a, faults.Classify("GetFunction", err, contained("GetFunction"))
	}
	if v, ok := got.Tags[h.ProtectedKey]; ok && v == h.ProtectedValue {
		a.Status, a.Reason = StatusProtected, h.protectedReason()
		return a, nil
	}
	before, err := h.reservedConcurrency(ctx, fn)
	if err != nil {
		return a, err
	}
	a.Before = &State{ReservedConcurrency: before}
	a.Change = []string{fmt.Sprintf("function %s: reserved concurrency %s -> 0 (no new invocations; running ones finish; code, versions, aliases and triggers unchanged)", fn, concurrencyText(before))}
	return a, nil
}

// reservedConcurrency is the function's reserved concurrency; nil when
// none is reserved.
func (h *Handler) reservedConcurrency(ctx context.Context, fn string) (*int32, error) {
	out, err := h.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
	if err != nil {
		return nil, faults.Classify("GetFunctionConcurrency", err, contained("GetFunctionConcurrency"))
	}
	return out.ReservedConcurrentExecutions, nil
}

// throttle reserves no concurrency for the function: every new invocation
// is throttled, whatever its trigger.
func (h *Handler) throttle(ctx context.Context, a *Action) error {
	if _, err := h.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(a.Target), ReservedConcurrentExecutions: aws.Int32(0),
	}); err != nil {
		return err
	}
	after, err := h.reservedConcurrency(ctx, a.Target)
	if err != nil {
		return err
	}
	a.After = &State{ReservedConcurrency: after}
	return nil
}

// functionDrift is a DriftError when the function's reserved concurrency
// is no longer what containment left.
func (h *Handler) functionDrift(ctx context.Context, a *Action) error {
	now, err := h.reservedConcurrency(ctx, a.Target)
	if err != nil {
		return err
	}
	if concurrencyText(now) != concurrencyText(a.After.ReservedConcurrency) {
		return &DriftError{Target: a.Target, Detail: fmt.Sprintf("reserved concurrency is %s, containment left %s", concurrencyText(now), concurrencyText(a.After.ReservedConcurrency))}
	}
	return nil
}

// restoreFunction puts the recorded reserved concurrency back, or removes
// the reservation when there was none.
func (h *Handler) restoreFunction(ctx context.Context, a *Action) error {
	if c := a.Before.ReservedConcurrency; c != nil {
		if _, err := h.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: aws.String(a.Target), ReservedConcurrentExecutions: c,
		}); err != nil {
			return err
		}
	} else if _, err := h.Lambda.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(a.Target)}); err != nil {
		return err
	}
	after, err := h.reservedConcurrency(ctx, a.Target)
	if err != nil {
		return err
	}
	a.After = &State{ReservedConcurrency: after}
	return nil
}
