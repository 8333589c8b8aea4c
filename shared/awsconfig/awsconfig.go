// Package awsconfig builds the AWS SDK configuration every function and
// command shares: the adaptive retryer, the emulator endpoint when
// AWS_ENDPOINT_URL names one, and the action log of every call
// (actionlog.go).
package awsconfig

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/custody-ir/custody/shared/faults"
)

// MaxAttempts bounds the SDK's own retries before an error reaches the state
// machine's Retry.
const MaxAttempts = 8

// EnvEmulator is set to "1" by the local run, for the CDK synth and for
// every handler it runs: the endpoint is the local emulator. Never set it
// for a real account.
const EnvEmulator = "CUSTODY_EMULATOR"

// Load returns the SDK configuration from the environment (region,
// credentials, AWS_ENDPOINT_URL) with the adaptive retry mode, which backs off
// and rate-limits the client itself when a service throttles, and retries
// what faults.Retryables does (faults.Of's Transient). With EnvEmulator
// set, the emulator's answers for operations it lacks are marked
// (faults.MarkEmulatorAnswers): not retried, and a gap, not a failure.
// Every client built from it records its calls (RecordActions) into the
// action log its caller binds to the call's context, if any.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	base := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = MaxAttempts
					so.Retryables = faults.Retryables()
				})
			})
		}),
	}
	if os.Getenv(EnvEmulator) == "1" {
		base = append(base, config.WithAPIOptions([]func(*middleware.Stack) error{faults.MarkEmulatorAnswers}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(base, opts...)...)
	if err != nil {
		return cfg, err
	}
	// Every client built from it records its calls into the action log
	// bound to the call's context (WithActionLog): one place for every
	// function, collector and command, not one per client.
	cfg.APIOptions = append(cfg.APIOptions, RecordActions)
	return cfg, nil
}

// S3Options adapts an S3 client to an emulator endpoint (path-style
// addressing, since bucket host names do not resolve on loopback) and
// quiets the SDK's note on responses without a checksum.
func S3Options(o *s3.Options) {
	// Log objects carry no checksum of their own; the SDK would log a line
	// for every read. Evidence is hashed as it streams instead.
	o.DisableLogOutputChecksumValidationSkipped = true
	if o.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" {
		o.UsePathStyle = true
	}
}
