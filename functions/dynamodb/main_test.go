package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const (
	testBucket = "custody-evidence-test"
	testCase   = "gd-dynamodbtest"
	testRun    = "r20240506T070809000Z"
	runDir     = "cases/" + testCase + "/runs/" + testRun + "/"
)

// fixedNow stamps CollectedAt. The stream records themselves carry the
// emulator's clock (it stamps ApproximateCreationDateTime with now).
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// env is one test's emulator: the locked evidence bucket and clients.
type env struct {
	s3      *s3.Client
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
}

// newEnv resets the emulator, creates the locked evidence bucket as the
// stack does (emulator.LockedBucket) and returns the clients.
func newEnv(t testing.TB) env {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if err := emulator.LockedBucket(ctx, client, testBucket); err != nil {
		t.Fatal(err)
	}
	return env{s3: client, ddb: dynamodb.NewFromConfig(cfg), streams: dynamodbstreams.NewFromConfig(cfg)}
}

func newWriter(t testing.TB, client *s3.Client) *evidence.Writer {
	return evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
}

// collector is a collector for e with no pause between empty polls.
func (e env) collector(p Pass, configured ...string) *StreamsCollector {
	return &StreamsCollector{Tables: e.ddb, Streams: e.streams, Objects: e.s3, Bucket: testBucket,
		Configured: configured, Pass: p, PollWait: -1}
}

func (e env) handler(t testing.TB, first, ct collect.Collector) *Handler {
	return &Handler{
		Driver: &collect.Driver{Writer: newWriter(t, e.s3), Version: "test", Now: func() time.Time { return fixedNow },
			Results: e.s3, Bucket: testBucket},
		First: first, CloudTrail: ct,
	}
}

func newIncident(w incident.Window, tables ...string) collect.Input {
	return collect.Input{
		Incident: incident.Incident{
			CaseID: testCase, RunID: testRun, Window: w, OpenedAt: time.Now().UTC(),
			Scope: incident.Scope{AccountID: emulator.AccountID, Region: emulator.Region, Tables: tables},
			Plan:  []incident.PlanItem{{Collector: collectorName}},
		},
		Item: incident.PlanItem{Collector: collectorName},
	}
}

// createTable makes a table keyed by "id" (S), with a stream of view type
// view unless view is "".
func createTable(t testing.TB, e env, name string, view ddbtypes.StreamViewType) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}
	if view != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view}
	}
	if _, err := e.ddb.CreateTable(context.Background(), in); err != nil {
		// The emulator was reset before: a table that exists is this
		// call's own, created by an attempt whose answer was lost and
		// then retried by the SDK.
		var inUse *ddbtypes.ResourceInUseException
		if !errors.As(err, &inUse) {
			t.Fatalf("CreateTable %s: %v", name, err)
		}
	}
}

// change is one write to a table.
type change struct {
	op   string // put | delete
	id   string
	attr string // "note" attribute on put
}

// apply makes the writes in order.
func apply(t testing.TB, e env, table string, changes ...change) {
	t.Helper()
	ctx := context.Background()
	for _, c := range changes {
		key := map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: c.id}}
		var err error
		switch c.op {
		case "put":
			item := map[string]ddbtypes.AttributeValue{
				"id":    &ddbtypes.AttributeValueMemberS{Value: c.id},
				"note":  &ddbtypes.AttributeValueMemberS{Value: c.attr},
				"count": &ddbtypes.AttributeValueMemberN{Value: "1"},
			}
			_, err = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		case "delete":
			_, err = e.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key})
		default:
			t.Fatalf("unknown op %q", c.op)
		}
		if err != nil {
			t.Fatalf("%s %s/%s: %v", c.op, table, c.id, err)
		}
	}
}

// ordersChanges gives INSERT, INSERT, MODIFY, REMOVE.
var ordersChanges = []change{{"put", "o-1", "first"}, {"put", "o-2", "second"}, {"put", "o-1", "changed"}, {"delete", "o-2", ""}}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(t testing.TB, client *s3.Client, key string) bool {
	t.Helper()
	_, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err == nil {
		return true
	}
	if missing(err) {
		return false
	}
	t.Fatalf("HeadObject %s: %v", key, err)
	return false
}

// putExtract stores a CloudTrail extract (gzip JSONL) for the run, as the
// cloudtrail collector does.
func putExtract(t testing.TB, client *s3.Client, records ...map[string]any) {
	t.Helper()
	putExtractAs(t, client, extractName, records...)
}

// putExtractAs stores a CloudTrail extract named name in the run's
// cloudtrail folder.
func putExtractAs(t testing.TB, client *s3.Client, name string, records ...map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(append(b, '\n'))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(runDir + "cloudtrail/" + name),
		Body: bytes.NewReader(buf.Bytes()), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatalf("put extract: %v", err)
	}
}

// ctEvent is a CloudTrail record of a DynamoDB call on table (data event
// shape: requestParameters.tableName and the table in resources).
func ctEvent(name, table string, resources ...string) map[string]any {
	r := map[string]any{
		"eventVersion": "1.09", "eventTime": "2024-05-06T06:30:00Z", "eventSource": "dynamodb.amazonaws.com",
		"eventName": name, "awsRegion": emulator.Region, "sourceIPAddress": "198.51.100.7",
		"userIdentity":       map[string]any{"type": "AssumedRole", "accountId": emulator.AccountID},
		"eventID":            "0f3c6e6e-0000-4000-8000-" + name,
		"eventType":          "AwsApiCall",
		"recipientAccountId": emulator.AccountID,
	}
	if table != "" {
		r["requestParameters"] = map[string]any{"tableName": table, "key": map[string]any{"id": map[string]any{"S": "o-1"}}}
	}
	var res []map[string]any
	for _, arn := range resources {
		res = append(res, map[string]any{"accountId": emulator.AccountID, "type": "AWS::DynamoDB::Table", "ARN": arn})
	}
	if res != nil {
		r["resources"] = res
	}
	return r
}

// counting passes calls to the emulator's clients and counts them, or
// fails the ones named in fail.
type counting struct {
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
	fail    map[string]error // operation -> error
	// failRecords, when set, may fail a GetRecords call by its iterator
	// (the emulator's iterators start with the stream's ARN).
	failRecords func(iterator string) error

	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
	return c.fail[op]
}

func (c *counting) n(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *counting) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if err := c.count("DescribeTable"); err != nil {
		return nil, err
	}
	return c.ddb.DescribeTable(ctx, in, opts...)
}

func (c *counting) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	if err := c.count("DescribeStream"); err != nil {
		return nil, err
	}
	return c.streams.DescribeStream(ctx, in, opts...)
}

func (c *counting) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if err := c.count("GetShardIterator"); err != nil {
		return nil, err
	}
	return c.streams.GetShardIterator(ctx, in, opts...)
}

func (c *counting) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	if err := c.count("GetRecords"); err != nil {
		return nil, err
	}
	if c.failRecords != nil {
		if err := c.failRecords(aws.ToString(in.ShardIterator)); err != nil {
			return nil, err
		}
	}
	return c.streams.GetRecords(ctx, in, opts...)
}

// putJSON stores v as JSON at key in the evidence bucket.
func putJSON(t testing.TB, client *s3.Client, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(b), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}
