package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"

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

func TestUnimplemented(t *testing.T) {
	resp := func(status int) *smithyhttp.Response {
		return &smithyhttp.Response{Response: &http.Response{StatusCode: status}}
	}
	respErr := func(status int, err error) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: resp(status), Err: err}}
	}
	tests := []struct {
		name   string
		err    error
		want   bool
		status int
	}{
		{name: "an HTML 404", err: respErr(404, errors.New("not json")), want: true, status: 404},
		{name: "a 501", err: respErr(501, errors.New("x")), want: true, status: 501},
		{name: "a 500 whose body is not the service's", err: respErr(500, &smithy.DeserializationError{Err: errors.New("XML syntax error")}), want: true, status: 500},
		{name: "a service's own 404", err: respErr(404, &smithy.GenericAPIError{Code: "ResourceNotFoundException"})},
		{name: "a service's 500", err: respErr(500, &smithy.GenericAPIError{Code: "InternalFailure"})},
		{name: "not an HTTP error", err: errors.New("dial tcp: refused")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, ok := faults.Unimplemented(tc.err)
			if ok != tc.want || status != tc.status {
				t.Fatalf("Unimplemented = %d, %v; want %d, %v", status, ok, tc.status, tc.want)
			}
		})
	}
}

func TestDenied(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"AccessDenied", true}, {"AccessDeniedException", true}, {"UnauthorizedOperation", true},
		{"Client.UnauthorizedOperation", true}, {"Forbidden", true}, {"AllAccessDisabled", true},
		{"UnrecognizedClientException", true},
		{"ThrottlingException", false}, {"NoSuchBucket", false}, {"ResourceNotFoundException", false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &smithy.GenericAPIError{Code: tc.code})
			if got := faults.Denied(err); got != tc.want {
				t.Fatalf("Denied(%s) = %v, want %v", tc.code, got, tc.want)
			}
		})
	}
	if faults.Denied(errors.New("no API error")) {
		t.Fatal("a plain error is not a denial")
	}
}
