package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class is what an error from an AWS call means to custody. Of decides it
// for every collector, trying the classes in the order they are listed
// here (throttled, transient, denied, unimplemented, invalid); an error
// that is none of them is Failed.
type Class int

const (
	// Failed is an error that is none of the others: no answer that could
	// be read as the service's (an HTML 404 from a front end, a body that
	// does not parse), a cancelled context. The collector fails, naming
	// the call. (An EvidenceError or CollectorError is classified by the
	// error it wraps.)
	Failed Class = iota
	// Throttled is a call refused for rate: retried (the SDK first, then
	// the state machine on ThrottledError).
	Throttled
	// Transient is a failure worth retrying, exactly as the SDK's retryer
	// (with Retryables) judges it: a 500/502/503/504 whatever its body
	// (AWS front ends answer 502 and 503 in HTML), a connection reset, a
	// timeout, a server fault.
	Transient
	// Denied is the caller not being allowed the call: a gap naming the
	// permission, not a failure.
	Denied
	// Unimplemented is an endpoint that does not know the operation: HTTP
	// 501, an UnknownOperation or InvalidAction code, or an answer the
	// local emulator gave for an operation it lacks (marked by
	// MarkEmulatorAnswers, which only the local run and the tests install).
	// A gap, not a failure. Never an HTML 5xx from AWS: that is Transient.
	Unimplemented
	// InvalidRequest is the service's own refusal of this request (not found, a
	// validation error, a conflict), or an InvalidInputError: each
	// collector says what it means for its source.
	InvalidRequest
)

var classNames = [...]string{Failed: "failed", Throttled: "throttled", Transient: "transient", Denied: "denied", Unimplemented: "unimplemented", InvalidRequest: "invalid"}

// String is the class as the README names it: "throttled", "denied", ….
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("Class(%d)", int(c))
	}
	return classNames[c]
}

// Fault is one AWS call's error, classified once by Of.
type Fault struct {
	Class   Class
	Op      string // the call, e.g. "cloudtrail:LookupEvents"
	Status  int    // the HTTP status of the answer; 0 when there was none
	Code    string // the service's error code; "" when the answer was not the service's
	Message string // the service's error message
	Err     error  // the error as the SDK returned it
}

// Error names the call, the class and the SDK's error.
func (f *Fault) Error() string { return fmt.Sprintf("%s: %s: %v", f.Op, f.Class, f.Err) }

// Unwrap returns the SDK's error.
func (f *Fault) Unwrap() error { return f.Err }

// Retryable returns what a handler returns for a throttled or transient
// fault, the named error the state machine's Retry matches (the one
// already in the chain, when there is one), and nil for every other class.
func (f *Fault) Retryable() error {
	if f == nil {
		return nil
	}
	var thr *ThrottledError
	var trn *TransientError
	switch {
	case f.Class == Throttled && errors.As(f.Err, &thr):
		return thr
	case f.Class == Transient && errors.As(f.Err, &trn):
		return trn
	case f.Class == Throttled:
		return &ThrottledError{Op: f.Op, Err: f.Err}
	case f.Class == Transient:
		return &TransientError{Op: f.Op, Err: f.Err}
	}
	return nil
}

// Of classifies err, the error of call op; nil for nil. This is the one
// place that decides what an AWS error means; collectors turn its class
// into a retry, a gap or a failure.
func Of(op string, err error) *Fault {
	if err == nil {
		return nil
	}
	f := &Fault{Op: op, Err: err, Status: statusOf(err)}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && !notServiceAnswer(err) {
		f.Code, f.Message = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	f.Class = f.class()
	return f
}

// Is reports whether err, classified by Of, is of class c (false for nil).
func Is(err error, c Class) bool {
	f := Of("", err)
	return f != nil && f.Class == c
}

func (f *Fault) class() Class {
	var (
		thr *ThrottledError
		trn *TransientError
		inv *InvalidInputError
	)
	switch {
	case errors.As(f.Err, &thr):
		return Throttled
	case errors.As(f.Err, &trn):
		return Transient
	case errors.As(f.Err, &inv):
		return InvalidRequest
	case errors.Is(f.Err, context.Canceled):
		return Failed
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(f.Err).Bool():
		return Throttled
	case errors.Is(f.Err, context.DeadlineExceeded), retry.IsErrorRetryables(Retryables()).IsErrorRetryable(f.Err).Bool():
		return Transient
	}
	var apiErr smithy.APIError
	if errors.As(f.Err, &apiErr) && apiErr.ErrorFault() == smithy.FaultServer && !unimplemented(f.Err) {
		return Transient
	}
	switch {
	case deniedCodes[f.Code]:
		return Denied
	case unimplemented(f.Err):
		return Unimplemented
	case f.Code != "":
		return InvalidRequest
	}
	return Failed
}

// deniedCodes are the error codes AWS services answer when the caller may
// not make the call (each service spells it its own way).
var deniedCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "Forbidden": true, "AllAccessDisabled": true,
	"UnauthorizedOperation": true, "Client.UnauthorizedOperation": true,
	"NotAuthorized": true, "OperationNotPermittedException": true,
	// Credentials the service does not accept: no more can be read either.
	"UnrecognizedClientException": true,
}

// unimplementedCodes are the codes an AWS endpoint answers for an
// operation it does not know: JSON protocols say UnknownOperation(Exception),
// query protocols InvalidAction.
var unimplementedCodes = map[string]bool{
	"UnknownOperation": true, "UnknownOperationException": true, "InvalidAction": true, "NotImplemented": true,
}

// unimplemented reports an answer that means the endpoint lacks the
// operation: 501, one of unimplementedCodes, or the emulator's mark.
func unimplemented(err error) bool {
	var lacks *emulatorLacks
	if errors.As(err, &lacks) {
		return true
	}
	if statusOf(err) == http.StatusNotImplemented {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && !notServiceAnswer(err) && unimplementedCodes[apiErr.ErrorCode()]
}

// NotRetried is the first check of Retryables: an answer that means the
// endpoint lacks the operation is not retried, whatever its status (the
// emulator answers such a call with an HTML 500, which the SDK would
// otherwise retry as a server error).
var NotRetried = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if unimplemented(err) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

// Retryables is the list the SDK's retryer uses (shared/awsconfig installs
// it) and Of's Transient means: NotRetried, then the SDK's defaults.
func Retryables() []retry.IsErrorRetryable {
	return append([]retry.IsErrorRetryable{NotRetried}, retry.DefaultRetryables...)
}

// statusOf is the HTTP status of the answer behind err, or 0.
func statusOf(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// notServiceAnswer reports an error answer whose body the SDK could not
// read as the service's error format (an HTML page, say).
func notServiceAnswer(err error) bool {
	var de *smithy.DeserializationError
	return errors.As(err, &de)
}

// emulatorLacks marks an answer of the local emulator that means it does
// not implement the operation.
type emulatorLacks struct {
	status int
	err    error
}

func (e *emulatorLacks) Error() string {
	return fmt.Sprintf("the emulator does not implement the operation (HTTP %d): %v", e.status, e.err)
}
func (e *emulatorLacks) Unwrap() error { return e.err }

// MarkEmulatorAnswers is an SDK API option for clients of the local
// emulator (moto): an error answer with status 404, 500 or 501 whose body
// is not the service's error format (moto answers an operation it lacks
// with an HTML page, or an empty 404) is marked Unimplemented, so it is
// neither retried nor a failure. AWS answers an unknown operation with a
// code (UnknownOperation, InvalidAction), so this is never installed for
// AWS: shared/awsconfig installs it only with CUSTODY_EMULATOR=1, which only
// the local run sets. 502, 503 and 504 are never marked: a front end (or the
// fault drill) answering them is Transient on the emulator too.
func MarkEmulatorAnswers(stack *middleware.Stack) error {
	if _, ok := stack.Deserialize.Get(emulatorMarker{}.ID()); ok {
		return nil // installed twice (the environment and an explicit option): once is enough
	}
	return stack.Deserialize.Add(emulatorMarker{}, middleware.Before)
}

type emulatorMarker struct{}

func (emulatorMarker) ID() string { return "custody.MarkEmulatorAnswers" }

func (emulatorMarker) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err == nil {
		return out, md, nil
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp == nil {
		return out, md, err
	}
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusInternalServerError, http.StatusNotImplemented:
	default:
		return out, md, err
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && !notServiceAnswer(err) {
		return out, md, err // the emulator's own service error: classified as AWS's would be
	}
	return out, md, &emulatorLacks{status: resp.StatusCode, err: err}
}
