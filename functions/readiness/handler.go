package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/readiness"
)

// Handler runs one audit and records it.
type Handler struct {
	Options   readiness.Options
	Target    readiness.Target
	Scheduled *readiness.Scheduled
}

// FromEnv builds the handler from the stack's environment.
func FromEnv(getenv func(string) string, region string, clients readiness.Clients, sched *readiness.Scheduled) (*Handler, error) {
	sched.Bucket, sched.TopicARN = getenv("EVIDENCE_BUCKET"), getenv("CASE_TOPIC_ARN")
	if sched.Bucket == "" || sched.TopicARN == "" {
		return nil, &faults.ConfigurationError{Setting: "EVIDENCE_BUCKET, CASE_TOPIC_ARN", Reason: "both are required"}
	}
	lookback := 6 * time.Hour
	if v := getenv("CUSTODY_LOOKBACK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, &faults.ConfigurationError{Setting: "CUSTODY_LOOKBACK", Reason: fmt.Sprintf("%q is not a positive Go duration", v)}
		}
		lookback = d
	}
	var tables []string
	for _, t := range strings.Split(getenv("CUSTODY_DYNAMODB_TABLES"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tables = append(tables, t)
		}
	}
	return &Handler{
		Options:   readiness.Options{Lookback: lookback, Tables: tables, EvidenceBucket: sched.Bucket},
		Target:    readiness.Target{Account: getenv(accounts.EnvAccountID), Region: region, Buckets: true, Clients: clients},
		Scheduled: sched,
	}, nil
}

// Handle ignores the schedule's event: every run audits the same targets.
func (h *Handler) Handle(ctx context.Context, _ json.RawMessage) (*readiness.Outcome, error) {
	r := readiness.Audit(ctx, h.Options, []readiness.Target{h.Target})
	return h.Scheduled.Record(ctx, r)
}
