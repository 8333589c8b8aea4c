package readiness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Keys of the scheduled run's reports in the evidence bucket: one per run,
// by time, and the latest, which the next run compares with. They are
// outside cases/: a readiness report is not a case's evidence.
const (
	ReportsPrefix = "readiness/"
	LatestKey     = ReportsPrefix + "latest.json"
)

// ReportKey is where the report of a run at r.GeneratedAt is kept:
// readiness/YYYY/MM/DD/<RFC 3339 basic>.json.
func ReportKey(r *Report) string {
	return ReportsPrefix + r.GeneratedAt.UTC().Format("2006/01/02/20060102T150405Z") + ".json"
}

// ReportStore is the part of S3 the scheduled run calls.
type ReportStore interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Notifier is the part of SNS the scheduled run calls.
type Notifier interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Scheduled keeps each audit in the bucket and tells the topic when a
// check turns from pass to fail.
type Scheduled struct {
	Store    ReportStore
	Bucket   string
	Notifier Notifier
	TopicARN string
}

// Outcome is what one scheduled run did.
type Outcome struct {
	// Key is the report's key; NewlyFailing the checks that passed in the
	// previous report and fail now ("<account>/<region>/<check>").
	Key          string   `json:"key"`
	NewlyFailing []string `json:"newlyFailing"`
	Failing      int      `json:"failing"`
	Notified     bool     `json:"notified"`
}

// Record stores r (by time, and as the latest), compares it with the
// previous latest and publishes a notice naming each check that turned
// from pass to fail. A first run has nothing to compare with: it notifies
// nobody (its failing checks are in its report).
func (s *Scheduled) Record(ctx context.Context, r *Report) (*Outcome, error) {
	prev, err := s.previous(ctx)
	if err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	out := &Outcome{Key: ReportKey(r), Failing: r.Count(Fail)}
	for _, key := range []string{out.Key, LatestKey} {
		if _, err := s.Store.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
			ContentType: aws.String("application/json"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
			return nil, fmt.Errorf("s3:PutObject s3://%s/%s: %w", s.Bucket, key, err)
		}
	}
	if prev == nil {
		return out, nil
	}
	passed := map[string]bool{}
	for _, x := range prev.Results {
		if x.Status == Pass {
			passed[x.Account+"/"+x.Region+"/"+x.ID] = true
		}
	}
	byKey := map[string]Result{}
	for _, x := range r.Results {
		byKey[x.Account+"/"+x.Region+"/"+x.ID] = x
	}
	for _, k := range r.Failing() {
		if passed[k] {
			out.NewlyFailing = append(out.NewlyFailing, k)
		}
	}
	if len(out.NewlyFailing) == 0 || s.Notifier == nil {
		return out, nil
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "custody readiness: %d check(s) turned from pass to fail (report s3://%s/%s)\n", len(out.NewlyFailing), s.Bucket, out.Key)
	for _, k := range out.NewlyFailing {
		x := byKey[k]
		fmt.Fprintf(&msg, "\n%s (%s %s): %s\n  lacks: %s\n  fix:   %s\n", x.ID, x.Account, x.Region, x.Detail, x.Lacks, x.FixCLI)
	}
	if _, err := s.Notifier.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(s.TopicARN),
		Subject: aws.String("custody readiness: a check turned from pass to fail"), Message: aws.String(msg.String())}); err != nil {
		return out, fmt.Errorf("sns:Publish: %w", err)
	}
	out.Notified = true
	return out, nil
}

// previous reads the latest report; none yet is nil.
func (s *Scheduled) previous(ctx context.Context) (*Report, error) {
	obj, err := s.Store.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(LatestKey)})
	if err != nil {
		var nk *s3types.NoSuchKey
		if errors.As(err, &nk) {
			return nil, nil
		}
		return nil, fmt.Errorf("s3:GetObject s3://%s/%s: %w", s.Bucket, LatestKey, err)
	}
	defer obj.Body.Close()
	var r Report
	if err := json.NewDecoder(io.LimitReader(obj.Body, 64<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", s.Bucket, LatestKey, err)
	}
	return &r, nil
}
