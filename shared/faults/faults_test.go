package faults_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/faults"
)

// TestNames: the state machine's Retry and Catch match the names in this
// package's constants, and aws-lambda-go reports the Go type name; they
// must be the same.
func TestNames(t *testing.T) {
	for _, c := range []struct {
		err  error
		name string
	}{
		{&faults.InvalidInputError{}, faults.NameInvalidInput},
		{&faults.ThrottledError{}, faults.NameThrottled},
		{&faults.TransientError{}, faults.NameTransient},
		{&faults.CollectorError{}, faults.NameCollector},
		{&faults.EvidenceError{}, faults.NameEvidence},
		{&faults.ConfigurationError{}, faults.NameConfiguration},
	} {
		if got := reflect.TypeOf(c.err).Elem().Name(); got != c.name {
			t.Errorf("type %s, constant %s", got, c.name)
		}
	}
}

func TestClassify(t *testing.T) {
	fallback := func(err error) error { return &faults.EvidenceError{Key: "k", Err: err} }
	inv := faults.Invalid("detail.id", "missing")
	for _, c := range []struct {
		name string
		err  error
		want any
	}{
		{"throttling code", &smithy.GenericAPIError{Code: "ThrottlingException"}, &faults.ThrottledError{}},
		{"slow down", &smithy.GenericAPIError{Code: "SlowDown"}, &faults.ThrottledError{}},
		{"server fault", &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, &faults.TransientError{}},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), &faults.TransientError{}},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}, &faults.EvidenceError{}},
		{"already named", inv, &faults.InvalidInputError{}},
	} {
		got := faults.Classify("op", c.err, fallback)
		if reflect.TypeOf(got) != reflect.TypeOf(c.want) {
			t.Errorf("%s: %T, want %T", c.name, got, c.want)
		}
		if !errors.Is(got, c.err) && got != c.err {
			t.Errorf("%s: %v does not wrap %v", c.name, got, c.err)
		}
	}
	if faults.Classify("op", nil, fallback) != nil {
		t.Error("nil error classified")
	}
	if got := faults.Classify("op", inv, fallback); got != inv {
		t.Errorf("named error changed: %v", got)
	}
	if got := inv.Error(); got != "invalid input: detail.id: missing" {
		t.Errorf("message %q", got)
	}
}
