package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow stamps CollectedAt in every test. The log events themselves are
// relative to the real clock: the emulator, like CloudWatch Logs, refuses
// events older than 14 days.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// env is one test's emulator: the locked evidence bucket and a logs client.
type env struct {
	s3   *s3.Client
	logs *cloudwatchlogs.Client
}

// newEnv resets the emulator, creates the evidence bucket as the stack does
// (versioning, Object Lock, default retention GOVERNANCE 1 day) and returns
// the clients.
func newEnv(t testing.TB) env {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if err := emulator.LockedBucket(ctx, client, testBucket); err != nil {
		t.Fatal(err)
	}
	return env{s3: client, logs: cloudwatchlogs.NewFromConfig(cfg)}
}

func newWriter(t testing.TB, client *s3.Client) *evidence.Writer {
	return evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
}

// event is one log event to seed.
type event struct {
	at  time.Time
	msg string
}

// seed puts events into group/stream, creating both as needed, in
// chronological batches as PutLogEvents wants them. An event the emulator
// rejects (too old, too new) fails the test.
func seed(t testing.TB, logs *cloudwatchlogs.Client, group, stream string, evs ...event) {
	t.Helper()
	ctx := context.Background()
	var exists *logtypes.ResourceAlreadyExistsException
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil && !errors.As(err, &exists) {
		t.Fatalf("CreateLogGroup %s: %v", group, err)
	}
	if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil && !errors.As(err, &exists) {
		t.Fatalf("CreateLogStream %s/%s: %v", group, stream, err)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	const batch = 5000
	for len(evs) > 0 {
		n := min(batch, len(evs))
		in := make([]logtypes.InputLogEvent, n)
		for i, e := range evs[:n] {
			in[i] = logtypes.InputLogEvent{Timestamp: aws.Int64(e.at.UnixMilli()), Message: aws.String(e.msg)}
		}
		out, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: in})
		if err != nil {
			t.Fatalf("PutLogEvents %s/%s: %v", group, stream, err)
		}
		if r := out.RejectedLogEventsInfo; r != nil {
			t.Fatalf("PutLogEvents %s/%s rejected events: too old up to %v, too new from %v", group, stream, aws.ToInt32(r.TooOldLogEventEndIndex), aws.ToInt32(r.TooNewLogEventStartIndex))
		}
		evs = evs[n:]
	}
}

// corpusStream is a real sample's events, their times shifted (see
// testdata/SOURCES.md) to start at a given instant.
type corpusStream struct {
	stream string
	events []event
}

// cliEvents is the aws-cli get-log-events example's three events, moved to
// start at at (offsets kept). The example names no stream.
func cliEvents(t testing.TB, at time.Time) corpusStream {
	t.Helper()
	var out struct {
		Events []struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		} `json:"events"`
	}
	if err := json.Unmarshal(readTestdata(t, "corpus/aws-cli-examples/logs_get-log-events_output.json"), &out); err != nil {
		t.Fatal(err)
	}
	cs := corpusStream{stream: "aws-cli-get-log-events-example"}
	for _, e := range out.Events {
		cs.events = append(cs.events, event{at: at.Add(time.Duration(e.Timestamp-out.Events[0].Timestamp) * time.Millisecond), msg: e.Message})
	}
	if len(cs.events) != 3 {
		t.Fatalf("%d events in the aws-cli example, want 3", len(cs.events))
	}
	return cs
}

// subscriptionEvents is the aws-lambda-go CloudWatch Logs subscription
// event's log events (base64 of gzip JSON), in their own stream, moved to
// start at at.
func subscriptionEvents(t testing.TB, at time.Time) corpusStream {
	t.Helper()
	var env struct {
		AWSLogs struct {
			Data string `json:"data"`
		} `json:"awslogs"`
	}
	if err := json.Unmarshal(readTestdata(t, "corpus/aws-lambda-go/cloudwatch-logs-event.json"), &env); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(env.AWSLogs.Data)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		LogStream string `json:"logStream"`
		LogEvents []struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		} `json:"logEvents"`
	}
	if err := json.NewDecoder(zr).Decode(&data); err != nil {
		t.Fatal(err)
	}
	cs := corpusStream{stream: data.LogStream}
	for _, e := range data.LogEvents {
		cs.events = append(cs.events, event{at: at.Add(time.Duration(e.Timestamp-data.LogEvents[0].Timestamp) * time.Millisecond), msg: e.Message})
	}
	if cs.stream != "testLogStream" || len(cs.events) != 2 {
		t.Fatalf("subscription sample: stream %q, %d events", cs.stream, len(cs.events))
	}
	return cs
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// countingLogs passes calls to the emulator's client and counts them, or
// fails them with err.
type countingLogs struct {
	next *cloudwatchlogs.Client
	err  error

	mu       sync.Mutex
	filters  map[string]int // FilterLogEvents calls by group
	describe int
}

func (c *countingLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	c.mu.Lock()
	if c.filters == nil {
		c.filters = map[string]int{}
	}
	c.filters[aws.ToString(in.LogGroupName)]++
	c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	return c.next.FilterLogEvents(ctx, in, opts...)
}

func (c *countingLogs) DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	c.mu.Lock()
	c.describe++
	c.mu.Unlock()
	return c.next.DescribeLogGroups(ctx, in, opts...)
}
