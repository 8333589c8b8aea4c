package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/incident"
)

// recorded is a loopback DynamoDB and DynamoDB Streams endpoint that
// answers GetRecords with a recorded response body, so the SDK's own
// deserializer turns the real sample into its types. The table has one
// shard; the first GetRecords returns the sample (its NextShardIterator
// kept), the next an empty page with no iterator: the shard is closed.
type recorded struct {
	table, streamArn string
	body             []byte

	mu      sync.Mutex
	targets []string
	pages   int
}

func (f *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	f.targets = append(f.targets, target)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	switch target {
	case "DynamoDB_20120810.DescribeTable":
		json.NewEncoder(w).Encode(map[string]any{"Table": map[string]any{
			"TableName": f.table, "TableStatus": "ACTIVE", "LatestStreamArn": f.streamArn,
			"StreamSpecification": map[string]any{"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
		}})
	case "DynamoDBStreams_20120810.DescribeStream":
		json.NewEncoder(w).Encode(map[string]any{"StreamDescription": map[string]any{
			"StreamArn": f.streamArn, "StreamStatus": "ENABLED", "StreamViewType": "NEW_AND_OLD_IMAGES", "TableName": f.table,
			"Shards": []any{map[string]any{"ShardId": "shardId-00000001571780995058-40810d86",
				"SequenceNumberRange": map[string]any{"StartingSequenceNumber": "100000000013256296913"}}},
		}})
	case "DynamoDBStreams_20120810.GetShardIterator":
		if in["ShardIteratorType"] != "TRIM_HORIZON" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"want TRIM_HORIZON"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ShardIterator": "iterator-1"})
	case "DynamoDBStreams_20120810.GetRecords":
		f.mu.Lock()
		f.pages++
		page := f.pages
		f.mu.Unlock()
		if page == 1 {
			w.Write(f.body)
			return
		}
		io.WriteString(w, `{"Records":[]}`)
	default:
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"UnknownOperationException","message":"`+target+`"}`)
	}
}

// recordedCollector is a collector whose DynamoDB and Streams clients talk
// to f.
func recordedCollector(t testing.TB, f *recorded) *StreamsCollector {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-west-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &StreamsCollector{Tables: ddb, Streams: streams, PollWait: -1}
}

// sampleRecords is a sample's Records as generic JSON.
func sampleRecords(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	var s struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	return s.Records
}

// TestCorpusRecords: the recorded GetRecords responses, decoded by the
// SDK, are stored so that each line is the sample's record again (every
// attribute type, DynamoDB JSON, the API's member names), plus the stream,
// table and shard it was read from; each line also decodes as an
// aws-lambda-go DynamoDB event record.
func TestCorpusRecords(t *testing.T) {
	cases := []struct {
		name      string
		file      string
		table     string
		streamArn string
		window    incident.Window
		keep      []int // the sample's records kept, by index
		after     int   // records after the window's end (the read stops at the first)
	}{
		{
			name: "aws-cli get-records: every record", file: "corpus/aws-cli-examples/dynamodbstreams_get-records_output.json",
			table: "Music", streamArn: "arn:aws:dynamodb:us-west-1:123456789012:table/Music/stream/2019-10-23T16:41:08.740",
			window: incident.Window{Start: time.Unix(1571849028, 0).UTC(), End: time.Unix(1571849734, 0).UTC()},
			keep:   []int{0, 1, 2},
		},
		{
			name: "aws-cli get-records: the window ends before the MODIFY", file: "corpus/aws-cli-examples/dynamodbstreams_get-records_output.json",
			table: "Music", streamArn: "arn:aws:dynamodb:us-west-1:123456789012:table/Music/stream/2019-10-23T16:41:08.740",
			window: incident.Window{Start: time.Unix(1571849028, 0).UTC(), End: time.Unix(1571849500, 0).UTC()},
			keep:   []int{0, 1}, after: 1,
		},
		{
			name: "aws-cli get-records: the window starts after the first INSERT", file: "corpus/aws-cli-examples/dynamodbstreams_get-records_output.json",
			table: "Music", streamArn: "arn:aws:dynamodb:us-west-1:123456789012:table/Music/stream/2019-10-23T16:41:08.740",
			window: incident.Window{Start: time.Unix(1571849029, 0).UTC(), End: time.Unix(1571849800, 0).UTC()},
			keep:   []int{1, 2},
		},
		{
			name: "aws-lambda-go event: every attribute type", file: "corpus/aws-lambda-go/dynamodb-event.json",
			table: "Example-Table", streamArn: "arn:aws:dynamodb:us-east-1:123456789012:table/Example-Table/stream/2016-12-01T00:00:00.000",
			window: incident.Window{Start: time.Unix(1480642020, 0).UTC(), End: time.Unix(1480642020, 0).UTC()},
			keep:   []int{0, 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			sampleBody := readTestdata(t, tc.file)
			// The Lambda event spells userIdentity's members as Lambda does
			// (type, principalId); the API names them Type and PrincipalId.
			// They are served under the API's names, and stored under
			// Lambda's: the stored record is the sample's again.
			body := []byte(strings.NewReplacer(`"type":`, `"Type":`, `"principalId":`, `"PrincipalId":`).Replace(string(sampleBody)))
			f := &recorded{table: tc.table, streamArn: tc.streamArn, body: body}
			c := recordedCollector(t, f)
			c.Objects, c.Bucket = e.s3, testBucket
			// The collection runs an hour after the window: every record is
			// in the past, so none ends the read as "written after it began".
			c.Now = func() time.Time { return tc.window.End.Add(time.Hour) }
			in := newIncident(tc.window, tc.table)
			in.Incident.Scope.AccountID, in.Incident.Scope.Region = "", ""
			if _, err := e.handler(t, c, nil).Handle(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			gz := s3test.Body(t, e.s3, testBucket, runDir+"dynamodb/"+tc.table+".jsonl.gz")
			got := s3test.JSONLines[map[string]any](t, gz)
			sample := sampleRecords(t, sampleBody)
			if len(got) != len(tc.keep) {
				t.Fatalf("%d records, want %d", len(got), len(tc.keep))
			}
			for i, idx := range tc.keep {
				g := got[i]
				if g["tableName"] != tc.table || g["eventSourceARN"] != tc.streamArn || g["shardId"] != "shardId-00000001571780995058-40810d86" {
					t.Errorf("record %d: where it was read: %v %v %v", i, g["tableName"], g["eventSourceARN"], g["shardId"])
				}
				delete(g, "tableName")
				delete(g, "shardId")
				want := sample[idx]
				if _, ok := want["eventSourceARN"]; !ok {
					delete(g, "eventSourceARN") // the API's records do not carry it
				}
				if !reflect.DeepEqual(g, want) {
					gb, _ := json.Marshal(g)
					wb, _ := json.Marshal(want)
					t.Errorf("record %d:\n got %s\nwant %s", i, gb, wb)
				}
			}
			// Each stored line is a Lambda DynamoDB event record too.
			for i, rec := range s3test.JSONLines[events.DynamoDBEventRecord](t, gz) {
				want := sample[tc.keep[i]]
				if u, ok := want["userIdentity"].(map[string]any); ok && (rec.UserIdentity == nil || rec.UserIdentity.Type != u["type"] || rec.UserIdentity.PrincipalID != u["principalId"]) {
					t.Errorf("record %d: userIdentity %+v, want %v", i, rec.UserIdentity, u)
				}
				if rec.EventName != want["eventName"] || rec.EventSourceArn != tc.streamArn ||
					rec.Change.ApproximateCreationDateTime.Unix() != int64(want["dynamodb"].(map[string]any)["ApproximateCreationDateTime"].(float64)) ||
					len(rec.Change.Keys) == 0 || len(rec.Change.NewImage) == 0 {
					t.Errorf("record %d as a Lambda event record: %+v", i, rec)
				}
			}
			r := stored(t, e, collectorName)
			a := artifact(t, r, tc.table+".jsonl.gz")
			first := time.Unix(int64(sample[tc.keep[0]]["dynamodb"].(map[string]any)["ApproximateCreationDateTime"].(float64)), 0).UTC()
			last := time.Unix(int64(sample[tc.keep[len(tc.keep)-1]]["dynamodb"].(map[string]any)["ApproximateCreationDateTime"].(float64)), 0).UTC()
			if a.Records != int64(len(tc.keep)) || a.FirstEvent == nil || !a.FirstEvent.Equal(first) || !a.LastEvent.Equal(last) {
				t.Errorf("artifact records %d first %v last %v, want %v %v", a.Records, a.FirstEvent, a.LastEvent, first, last)
			}
			// One page of records; a second only when the first ended inside
			// the window (the shard is then closed, with no iterator).
			wantPages := 1
			if bytes.Contains(body, []byte(`"NextShardIterator"`)) && tc.after == 0 {
				wantPages = 2
			}
			if f.pages != wantPages {
				t.Errorf("%d GetRecords calls, want %d", f.pages, wantPages)
			}
			if tc.after > 0 && !hasText(r.Warnings, "and 1 after it") {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
}

func TestEpochSeconds(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1571849028, 0), "1571849028"},
		{time.Unix(1571849028, 500_000_000), "1571849028.5"},
		{time.Unix(1571849028, 123_456_000), "1571849028.123456"},
		{time.Unix(0, 0), "0"},
		{time.Unix(-2, 250_000_000), "-1.75"},
		{time.Unix(-1, 250_000_000), "-0.75"},
	} {
		b, err := epochSeconds(tc.t).MarshalJSON()
		if err != nil || string(b) != tc.want {
			t.Errorf("%v: %s %v, want %s", tc.t, b, err, tc.want)
		}
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			t.Errorf("%s: not a JSON number: %v", b, err)
		}
	}
}

// TestScanExtract: lines that are not records are skipped and counted; an
// extract cut short gives the tables named before the cut and an error.
func TestScanExtract(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range []string{
		`{"eventSource":"dynamodb.amazonaws.com","requestParameters":{"tableName":"a"}}`,
		`not json`,
		`[1,2]`,
		``,
		`{"eventSource":"dynamodb.amazonaws.com","requestParameters":{"tableName":{"nested":"no"},"tableArn":"arn:aws:dynamodb:us-east-1:123456789012:table/b"}}`,
		`{"eventSource":"s3.amazonaws.com","requestParameters":{"tableName":"c"},"resources":[{"type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:us-east-1:123456789012:table/d"},{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::x/y"}]}`,
		`{"eventSource":"dynamodb.amazonaws.com","requestParameters":null}`,
	} {
		zw.Write([]byte(l + "\n"))
	}
	zw.Close()
	var names []string
	bad, err := scanExtract(bytes.NewReader(buf.Bytes()), func(s string) { names = append(names, s) })
	if err != nil || bad != 2 || !reflect.DeepEqual(names, []string{"a", "arn:aws:dynamodb:us-east-1:123456789012:table/b", "arn:aws:dynamodb:us-east-1:123456789012:table/d"}) {
		t.Errorf("bad %d err %v names %q", bad, err, names)
	}
	names = nil
	cut := buf.Bytes()[:len(buf.Bytes())*2/3]
	_, err = scanExtract(bytes.NewReader(cut), func(s string) { names = append(names, s) })
	if err == nil || !strings.Contains(err.Error(), "after") {
		t.Errorf("truncated: err %v names %q", err, names)
	}
	if _, err := scanExtract(strings.NewReader("plain text"), func(string) {}); err == nil {
		t.Error("not gzip: no error")
	}
}
