package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/readiness"
	"github.com/custody-ir/custody/shared/scenario"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

// publishedTo publishes to the emulator's SNS and keeps each message, so
// the test reads what the topic was sent.
type publishedTo struct {
	sns      *sns.Client
	messages []string
}

func (p *publishedTo) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	p.messages = append(p.messages, aws.ToString(in.Message))
	return p.sns.Publish(ctx, in, opts...)
}

// TestScheduledRun runs the handler as the schedule would (schedules never
// fire in the emulator), twice: the first run keeps its report and tells
// nobody; the trail then stops logging, and the second run notifies the
// checks that turned from pass to fail.
func TestScheduledRun(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	const seed = "../../shared/readiness/testdata/seed"
	sc, err := scenario.Load(seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.Apply(ctx, cfg, emu.Endpoint, sc, seed); err != nil {
		t.Fatal(err)
	}
	store := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if err := emulator.LockedBucket(ctx, store, "custody-evidence"); err != nil {
		t.Fatal(err)
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("custody-cases")})
	if err != nil {
		t.Fatal(err)
	}
	notices := &publishedTo{sns: sns.NewFromConfig(cfg)}
	env := map[string]string{"EVIDENCE_BUCKET": "custody-evidence", "CASE_TOPIC_ARN": aws.ToString(topic.TopicArn),
		"CUSTODY_ACCOUNT_ID": "123456789012", "CUSTODY_LOOKBACK": "72h", "CUSTODY_DYNAMODB_TABLES": "orders"}
	h, err := FromEnv(func(k string) string { return env[k] }, cfg.Region, readiness.NewClients(cfg), &readiness.Scheduled{Store: store, Notifier: notices})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	h.Options.Now = func() time.Time { return clock }

	first, err := h.Handle(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Notified || len(first.NewlyFailing) != 0 || first.Key != "readiness/2026/12/02/20261202T060000Z.json" {
		t.Errorf("first run: %+v, want its report kept and no notice", first)
	}

	if _, err := cloudtrail.NewFromConfig(cfg).StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(24 * time.Hour)
	second, err := h.Handle(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"123456789012/us-east-1/cloudtrail.logsReadable", "123456789012/us-east-1/cloudtrail.managementEvents",
		"123456789012/us-east-1/cloudtrail.trail"} // s3DataEvents failed already: the seed selects none
	if !second.Notified || strings.Join(second.NewlyFailing, " ") != strings.Join(want, " ") {
		t.Errorf("second run: %+v, want a notice of %v", second, want)
	}
	if len(notices.messages) != 1 || !strings.Contains(notices.messages[0], "cloudtrail.trail (123456789012 us-east-1): no multi-region or organization trail is logging: main is not logging") {
		t.Errorf("notices: %q", notices.messages)
	}
	for _, key := range []string{first.Key, second.Key, readiness.LatestKey} {
		if _, err := store.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("custody-evidence"), Key: aws.String(key)}); err != nil {
			t.Errorf("%s not kept: %v", key, err)
		}
	}
}
