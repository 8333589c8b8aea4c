// Package faults owns the named error types that cross the Lambda boundary.
//
// aws-lambda-go reports an error's Go type name as the Lambda error type, and
// Step Functions matches Retry and Catch on that name. An error wrapped with
// fmt.Errorf arrives as "wrapError" and matches nothing, so every handler
// returns one of the types below, and the state machine names them.
package faults

import (
	"errors"
	"fmt"
)

// Error type names as the state machine sees them. Keep them equal to the Go
// type names below: a test checks it.
const (
	NameInvalidInput  = "InvalidInputError"
	NameThrottled     = "ThrottledError"
	NameTransient     = "TransientError"
	NameCollector     = "CollectorError"
	NameEvidence      = "EvidenceError"
	NameConfiguration = "ConfigurationError"
)

// InvalidInputError is a refused input: Triage names the field that is wrong.
// It is never retried.
type InvalidInputError struct {
	Field  string // JSON path of the offending field, e.g. "detail.severity"
	Reason string
}

func (e *InvalidInputError) Error() string {
	if e.Field == "" {
		return "invalid input: " + e.Reason
	}
	return fmt.Sprintf("invalid input: %s: %s", e.Field, e.Reason)
}

// Invalid returns an InvalidInputError for field.
func Invalid(field, format string, args ...any) *InvalidInputError {
	return &InvalidInputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ThrottledError is an AWS call refused for rate; the state machine retries it
// with backoff after the SDK's own retryer has given up.
type ThrottledError struct {
	Op  string
	Err error
}

func (e *ThrottledError) Error() string { return fmt.Sprintf("%s: throttled: %v", e.Op, e.Err) }
func (e *ThrottledError) Unwrap() error { return e.Err }

// TransientError is a failure worth retrying: a timeout, a 5xx, a reset.
type TransientError struct {
	Op  string
	Err error
}

func (e *TransientError) Error() string { return fmt.Sprintf("%s: transient: %v", e.Op, e.Err) }
func (e *TransientError) Unwrap() error { return e.Err }

// CollectorError is a collector that failed for good (not a gap: a gap is a
// source that is off, empty or denied and is reported in the result).
type CollectorError struct {
	Collector string
	Err       error
}

func (e *CollectorError) Error() string { return fmt.Sprintf("collector %s: %v", e.Collector, e.Err) }
func (e *CollectorError) Unwrap() error { return e.Err }

// EvidenceError is a failure to write or read the evidence bucket.
type EvidenceError struct {
	Key string
	Err error
}

func (e *EvidenceError) Error() string { return fmt.Sprintf("evidence %s: %v", e.Key, e.Err) }
func (e *EvidenceError) Unwrap() error { return e.Err }

// ConfigurationError is a function started without the settings it needs.
type ConfigurationError struct {
	Setting string
	Reason  string
}

func (e *ConfigurationError) Error() string {
	return fmt.Sprintf("configuration %s: %s", e.Setting, e.Reason)
}

// Classify turns an error from an AWS call into ThrottledError or
// TransientError where Of classes it so, and otherwise returns
// fallback(err). An error that already is one of this package's types is
// returned unchanged.
func Classify(op string, err error, fallback func(error) error) error {
	if err == nil {
		return nil
	}
	// A named error inside a wrapper is returned itself: the wrapper would
	// reach the state machine as "wrapError" and match no Retry or Catch.
	if named := Named(err); named != nil {
		return named
	}
	if r := Of(op, err).Retryable(); r != nil {
		return r
	}
	return fallback(err)
}

// Named returns the first of this package's error types in err's chain, or
// nil when there is none.
func Named(err error) error {
	var (
		inv *InvalidInputError
		thr *ThrottledError
		trn *TransientError
		col *CollectorError
		evi *EvidenceError
		cfg *ConfigurationError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &inv):
		return inv
	case errors.As(err, &thr):
		return thr
	case errors.As(err, &trn):
		return trn
	case errors.As(err, &col):
		return col
	case errors.As(err, &evi):
		return evi
	case errors.As(err, &cfg):
		return cfg
	}
	return nil
}
