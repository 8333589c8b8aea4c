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

	"github.com/custody-ir/custody/shared/accounts"
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
	// EnvOrgTrail is the organization trail's "bucket" or "bucket/prefix"
	// (custody:organizationTrailBucket); empty: none configured.
	EnvOrgTrail = "CUSTODY_ORG_TRAIL_BUCKET"
)

// LookupRate is LookupEvents' quota: 2 requests a second per account and
// region. The function runs with reserved concurrency 1, so this one
// in-process limiter paces every case in the account and region.
const LookupRate = 2

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
	// Build and Denied make the Collector per account (collect.ReachedOr
	// with Resolver): a pivot pass is built the same way, with its pass.
	// Nil Build: Collector is a *Collector, used as it is (tests).
	Build, Denied collect.Build
	Resolver      *accounts.Resolver
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
	reach, err := accounts.FromEnv(os.Getenv, cfg)
	if err != nil {
		log.Fatalf("cloudtrail: %v", err)
	}
	// One limiter for every account this instance reads: LookupEvents is
	// paced per account and region, and the reserved concurrency of one
	// keeps it to one case at a time.
	limiter := rate.NewLimiter(rate.Limit(LookupRate), 1)
	orgTrail, own := os.Getenv(EnvOrgTrail), reach.Own().ReadWith
	hubTrails := cloudtrail.NewFromConfig(cfg)
	h := &Handler{
		Driver: driver,
		// The trails and LookupEvents are the finding's account's; the
		// trail buckets (an organization trail's in a log archive) are read
		// and copied with the hub's own role.
		Build: func(a *accounts.Access) collect.Collector {
			trails := cloudtrail.NewFromConfig(a.Config)
			return &Collector{
				Trails: trails, Logs: objects, Lookup: trails, Limiter: limiter,
				Pad: pad, AccountID: a.ReadWith.AccountID, Region: a.Config.Region, Now: time.Now,
				OrgTrail: orgTrail, HubTrails: hubTrails, HubAccountID: own.AccountID, LogsReadWith: &own, BaselineDays: baselineDays,
			}
		},
		// A member the hub cannot assume into: its trails and LookupEvents
		// are out of reach, the organization trail is not.
		Denied: func(a *accounts.Access) collect.Collector {
			return &Collector{Logs: objects, Limiter: limiter, Pad: pad, Region: a.Config.Region, Now: time.Now,
				OrgTrail: orgTrail, HubTrails: hubTrails, HubAccountID: own.AccountID, LogsReadWith: &own, BaselineDays: baselineDays}
		},
		Resolver: reach,
		Bounds:   bounds,
	}
	h.Collector = collect.ReachedOr(reach, reach.Own(), h.Build, h.Denied)
	lambda.Start(h.Handle)
}
