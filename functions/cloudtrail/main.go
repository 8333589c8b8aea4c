// Command cloudtrail is the CloudTrail collector: the trails' log files and
// digests for the window copied unchanged, a filtered extract of the
// records in scope, and LookupEvents where no trail bucket can be read.
// main wires; handler.go thinks.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/time/rate"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/pivot"
)

// Environment variables main reads (besides collect.DriverFromEnv's).
const (
	// EnvPad is the delivery pad for listing log keys (a Go duration,
	// default 15m).
	EnvPad = "CUSTODY_CLOUDTRAIL_PAD"
)

// LookupRate is LookupEvents' quota: 2 requests a second per account and
// region. The function runs with reserved concurrency 1, so this one
// in-process limiter paces every case in the account and region.
const LookupRate = 2

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
	// Bounds limit the pivot passes (pivot.go).
	Bounds pivot.Bounds
}

// Handle runs the collector through the shared driver: the first pass, a
// pivot pass, or the pivot loop's derive step (pivot.go).
func (h *Handler) Handle(ctx context.Context, in Input) (any, error) {
	return h.route(ctx, in)
}

// padFromEnv reads EnvPad: unset or empty is DefaultPad.
func padFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv(EnvPad)
	if v == "" {
		return DefaultPad, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &faults.ConfigurationError{Setting: EnvPad, Reason: v + " is not a non-negative Go duration (e.g. 15m)"}
	}
	return d, nil
}

func main() {
	pad, err := padFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("cloudtrail: %v", err)
	}
	bounds, err := pivot.BoundsFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("cloudtrail: %v", err)
	}
	baselineDays, err := BaselineDaysFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("cloudtrail: %v", err)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		log.Fatalf("cloudtrail: aws config: %v", err)
	}
	objects := s3.NewFromConfig(cfg, awsconfig.S3Options)
	driver, err := collect.DriverFromEnv(os.Getenv, objects)
	if err != nil {
		log.Fatalf("cloudtrail: %v", err)
	}
	trails := cloudtrail.NewFromConfig(cfg)
	h := &Handler{
		Driver: driver,
		Collector: &Collector{
			Trails: trails, Logs: objects, Lookup: trails,
			Limiter: rate.NewLimiter(rate.Limit(LookupRate), 1),
			Pad:     pad, Region: cfg.Region, Now: time.Now, BaselineDays: baselineDays,
		},
		Bounds: bounds,
	}
	lambda.Start(h.Handle)
}
