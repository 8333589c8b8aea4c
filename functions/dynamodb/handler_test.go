package main

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// stored is one collector run's result, read back from the bucket.
func stored(t testing.TB, e env, name string) evidence.CollectorResult {
	t.Helper()
	var r evidence.CollectorResult
	s3test.ObjectJSON(t, e.s3, testBucket, runDir+"results/"+name+".json", &r)
	return r
}

// names is the sorted keys of the result's artifacts, relative to the run.
func artifactKeys(r evidence.CollectorResult) []string {
	var out []string
	for _, a := range r.Artifacts {
		out = append(out, strings.TrimPrefix(a.Key, runDir))
	}
	sort.Strings(out)
	return out
}

func artifact(t testing.TB, r evidence.CollectorResult, name string) evidence.Artifact {
	t.Helper()
	for _, a := range r.Artifacts {
		if a.Key == runDir+"dynamodb/"+name {
			return a
		}
	}
	t.Fatalf("no artifact dynamodb/%s in %v", name, artifactKeys(r))
	return evidence.Artifact{}
}

// eventNames reads a table's extract: its records' event names in order.
func eventNames(t testing.TB, e env, table string) []string {
	t.Helper()
	var out []string
	for _, r := range s3test.JSONLines[record](t, s3test.Body(t, e.s3, testBucket, runDir+"dynamodb/"+table+".jsonl.gz")) {
		out = append(out, r.EventName)
		if r.TableName != table || r.EventSourceARN == "" || r.ShardID == "" || r.Dynamodb == nil || r.Dynamodb.ApproximateCreationDateTime == nil {
			t.Errorf("%s: record %s lacks where it came from or when: %+v", table, r.EventID, r)
		}
	}
	return out
}

func hasText(list []string, want string) bool {
	for _, s := range list {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

func gapReasons(r evidence.CollectorResult) []string {
	var out []string
	for _, g := range r.Gaps {
		out = append(out, g.Reason)
	}
	return out
}

func TestCollect(t *testing.T) {
	all := []string{"INSERT", "INSERT", "MODIFY", "REMOVE"}
	cases := []struct {
		name       string
		tables     []string // Scope.Tables
		configured []string
		window     func(now time.Time) incident.Window
		opened     func(now time.Time) time.Time // the run's OpenedAt; nil: after the writes
		view       ddbtypes.StreamViewType       // orders' view type; "" NEW_AND_OLD_IMAGES
		want       map[string][]string           // table -> event names in its extract
		gaps       []string                      // each a substring of one gap, all gaps named
		warnings   []string                      // substrings of warnings
		getRecords int                           // exact GetRecords calls; 0: not checked
	}{
		{
			name:   "window around now: every change, the open shard read to the present",
			tables: []string{"orders"},
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
			},
			want: map[string][]string{"orders": all},
			// One page with the four records, then MaxEmptyPolls empty ones.
			getRecords: 1 + 3,
		},
		{
			name:   "window in the past: nothing kept, the shard left at its first later record",
			tables: []string{"orders"},
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour)}
			},
			want:       map[string][]string{"orders": nil},
			warnings:   []string{"0 stream records before the window and 1 after it", "no records in the window"},
			getRecords: 1,
		},
		{
			name:   "window after the changes: records before its start skipped",
			tables: []string{"orders"},
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(time.Minute), End: now.Add(time.Hour)}
			},
			want:     map[string][]string{"orders": nil},
			warnings: []string{"4 stream records before the window and 0 after it"},
		},
		{
			name:   "records written after the run was opened end an open shard",
			tables: []string{"orders"},
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
			},
			opened:   func(now time.Time) time.Time { return now.Add(-10 * time.Minute) },
			want:     map[string][]string{"orders": nil},
			warnings: []string{"when the run was opened; later records are left to a later run"},
			// The first record is past the run's opening: no more polls.
			getRecords: 1,
		},
		{
			name:       "finding and config name the same table (by ARN and name); a table without a stream and a missing table are gaps",
			tables:     []string{"arn:aws:dynamodb:us-east-1:123456789012:table/orders", "plain", "missing"},
			configured: []string{"orders", "audit"},
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
			},
			want: map[string][]string{"orders": all, "audit": {"INSERT"}},
			gaps: []string{"table plain has no stream: enable DynamoDB Streams (NEW_AND_OLD_IMAGES)", "table missing does not exist"},
		},
		{
			name:   "a keys-only stream is collected, with a gap for the images it leaves out",
			tables: []string{"orders"},
			view:   ddbtypes.StreamViewTypeKeysOnly,
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
			},
			want: map[string][]string{"orders": all},
			gaps: []string{"records KEYS_ONLY"},
		},
		{
			name:   "tables in another region or account, and a name that is no table, are gaps",
			tables: []string{"arn:aws:dynamodb:eu-west-1:123456789012:table/orders", "arn:aws:dynamodb:us-east-1:210987654321:table/orders", "x"},
			window: func(now time.Time) incident.Window {
				return incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
			},
			want: map[string][]string{},
			gaps: []string{"region eu-west-1", "account 210987654321", `"x" is not a DynamoDB table name`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			view := tc.view
			if view == "" {
				view = ddbtypes.StreamViewTypeNewAndOldImages
			}
			createTable(t, e, "orders", view)
			createTable(t, e, "audit", ddbtypes.StreamViewTypeNewAndOldImages)
			createTable(t, e, "plain", "")
			createTable(t, e, "noise", ddbtypes.StreamViewTypeNewAndOldImages)
			apply(t, e, "orders", ordersChanges...)
			apply(t, e, "audit", change{"put", "a-1", "login"})
			apply(t, e, "plain", change{"put", "p-1", "never seen"})
			apply(t, e, "noise", change{"put", "n-1", "not in scope"})
			now := time.Now().UTC()

			calls := &counting{ddb: e.ddb, streams: e.streams}
			c := e.collector(PassFirst, tc.configured...)
			c.Tables, c.Streams, c.MaxEmptyPolls = calls, calls, 3
			in := newIncident(tc.window(now), tc.tables...)
			if tc.opened != nil {
				in.Incident.OpenedAt = tc.opened(now)
			}
			res, err := e.handler(t, c, nil).Handle(context.Background(), in)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Status != incident.StatusOK || res.Collector != collectorName {
				t.Fatalf("result %+v", res)
			}
			r := stored(t, e, collectorName)

			wantKeys := []string{"dynamodb/" + inventoryFirst}
			var records int64
			for table, names := range tc.want {
				wantKeys = append(wantKeys, "dynamodb/"+table+".jsonl.gz")
				got := eventNames(t, e, table)
				if !reflect.DeepEqual(got, names) {
					t.Errorf("%s: events %v, want %v", table, got, names)
				}
				a := artifact(t, r, table+".jsonl.gz")
				if a.Records != int64(len(names)) || a.API != apiArtifact || a.Source != evidence.SourceDynamoDB ||
					a.Origin == nil || a.Origin.Table != table || a.Origin.Shard != "1 shards" || a.Request["streamArn"] == "" {
					t.Errorf("%s: artifact %+v (origin %+v)", table, a, a.Origin)
				}
				if len(names) > 0 && (a.FirstEvent == nil || a.LastEvent == nil || a.FirstEvent.Before(now.Add(-time.Minute)) || a.LastEvent.After(now.Add(time.Second))) {
					t.Errorf("%s: first %v last %v, around %v", table, a.FirstEvent, a.LastEvent, now)
				}
				records += int64(len(names))
			}
			sort.Strings(wantKeys)
			if got := artifactKeys(r); !reflect.DeepEqual(got, wantKeys) {
				t.Errorf("artifacts %v, want %v", got, wantKeys)
			}
			// records: the extracts' plus the inventory's one per table.
			var inv inventory
			s3test.ObjectJSON(t, e.s3, testBucket, runDir+"dynamodb/"+inventoryFirst, &inv)
			if res.Records != records+int64(len(inv.Tables)) {
				t.Errorf("result records %d, want %d + %d tables", res.Records, records, len(inv.Tables))
			}
			gaps := gapReasons(r)
			if len(gaps) != len(tc.gaps) || res.Gaps != len(tc.gaps) {
				t.Errorf("gaps %q, want %d", gaps, len(tc.gaps))
			}
			for _, g := range tc.gaps {
				if !hasText(gaps, g) {
					t.Errorf("no gap with %q in %q", g, gaps)
				}
			}
			for _, g := range r.Gaps {
				if g.Source != evidence.SourceDynamoDB || g.Fix == "" {
					t.Errorf("gap %+v", g)
				}
			}
			for _, w := range append([]string{"the extract was not ready; run a second pass"}, tc.warnings...) {
				if !hasText(r.Warnings, w) {
					t.Errorf("no warning with %q in %q", w, r.Warnings)
				}
			}
			if tc.getRecords > 0 && calls.n("GetRecords") != tc.getRecords {
				t.Errorf("%d GetRecords calls, want %d", calls.n("GetRecords"), tc.getRecords)
			}
			if inv.Pass != "first" || inv.CloudTrailExtract == nil || inv.CloudTrailExtract.Status != extractNotReady {
				t.Errorf("inventory %+v", inv)
			}
			if calls.n("DescribeTable") != len(inv.Tables)-countStatus(inv, statusInvalid, statusElsewhere) {
				t.Errorf("%d DescribeTable calls for %d tables", calls.n("DescribeTable"), len(inv.Tables))
			}
		})
	}
}

func countStatus(inv inventory, statuses ...string) int {
	n := 0
	for _, e := range inv.Tables {
		for _, s := range statuses {
			if e.Status == s {
				n++
			}
		}
	}
	return n
}

// TestRecordContent pins what one stored record holds: the API's members,
// images in DynamoDB JSON, and where it was read.
func TestRecordContent(t *testing.T) {
	e := newEnv(t)
	createTable(t, e, "orders", ddbtypes.StreamViewTypeNewAndOldImages)
	apply(t, e, "orders", change{"put", "o-1", "first"}, change{"put", "o-1", "changed"})
	now := time.Now().UTC()
	c := e.collector(PassFirst)
	if _, err := e.handler(t, c, nil).Handle(context.Background(), newIncident(incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}, "orders")); err != nil {
		t.Fatal(err)
	}
	recs := s3test.JSONLines[map[string]any](t, s3test.Body(t, e.s3, testBucket, runDir+"dynamodb/orders.jsonl.gz"))
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	m := recs[1]
	d := m["dynamodb"].(map[string]any)
	if m["eventName"] != "MODIFY" || m["tableName"] != "orders" || !strings.Contains(m["eventSourceARN"].(string), ":table/orders/stream/") ||
		m["eventID"] == "" || m["shardId"] == "" {
		t.Errorf("record %v", m)
	}
	if !reflect.DeepEqual(d["Keys"], map[string]any{"id": map[string]any{"S": "o-1"}}) ||
		!reflect.DeepEqual(d["NewImage"].(map[string]any)["note"], map[string]any{"S": "changed"}) ||
		!reflect.DeepEqual(d["OldImage"].(map[string]any)["note"], map[string]any{"S": "first"}) ||
		!reflect.DeepEqual(d["NewImage"].(map[string]any)["count"], map[string]any{"N": "1"}) ||
		d["StreamViewType"] != "NEW_AND_OLD_IMAGES" || d["SequenceNumber"] == "" {
		t.Errorf("dynamodb %v", d)
	}
	sec, ok := d["ApproximateCreationDateTime"].(float64)
	if !ok || time.Unix(int64(sec), 0).Before(now.Add(-time.Minute)) || time.Unix(int64(sec), 0).After(now.Add(time.Second)) {
		t.Errorf("ApproximateCreationDateTime %v (%T), around %v", d["ApproximateCreationDateTime"], d["ApproximateCreationDateTime"], now.Unix())
	}
}

// TestCloudTrailTables: the tables the run's CloudTrail extract names are
// collected after those the finding names, in the first pass when the
// extract is there, else in the second pass; never twice.
func TestCloudTrailTables(t *testing.T) {
	extract := func(t testing.TB, e env) {
		putExtract(t, e.s3,
			ctEvent("GetItem", "payments"),
			ctEvent("PutItem", "orders", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
			ctEvent("BatchWriteItem", "", "arn:aws:dynamodb:us-east-1:123456789012:table/ledger"),
			ctEvent("Scan", "payments"),
			ctEvent("DescribeTable", "arn:aws:dynamodb:us-east-1:210987654321:table/partner"),
			ctEvent("DeleteTable", "gone"),
			// Not DynamoDB: a tableName in another service's call is not a table.
			map[string]any{"eventSource": "glue.amazonaws.com", "eventName": "GetTable", "eventTime": "2024-05-06T06:31:00Z", "requestParameters": map[string]any{"tableName": "glue_table"}},
		)
	}
	seed := func(t testing.TB, e env) {
		for _, tb := range []string{"orders", "payments", "ledger", "noise"} {
			createTable(t, e, tb, ddbtypes.StreamViewTypeNewAndOldImages)
			apply(t, e, tb, change{"put", tb + "-1", "x"})
		}
		apply(t, e, "payments", change{"delete", "payments-1", ""})
	}
	window := func() incident.Window {
		now := time.Now().UTC()
		return incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
	}
	ctGaps := []string{"account 210987654321", "table gone does not exist"}

	t.Run("first pass with the extract ready", func(t *testing.T) {
		e := newEnv(t)
		seed(t, e)
		extract(t, e)
		calls := &counting{ddb: e.ddb, streams: e.streams}
		c := e.collector(PassFirst)
		c.Tables, c.Streams = calls, calls
		if _, err := e.handler(t, c, nil).Handle(context.Background(), newIncident(window(), "orders")); err != nil {
			t.Fatal(err)
		}
		r := stored(t, e, collectorName)
		want := []string{"dynamodb/ledger.jsonl.gz", "dynamodb/orders.jsonl.gz", "dynamodb/payments.jsonl.gz", "dynamodb/" + inventoryFirst}
		if got := artifactKeys(r); !reflect.DeepEqual(got, want) {
			t.Errorf("artifacts %v, want %v", got, want)
		}
		if got := eventNames(t, e, "payments"); !reflect.DeepEqual(got, []string{"INSERT", "REMOVE"}) {
			t.Errorf("payments %v", got)
		}
		var inv inventory
		s3test.ObjectJSON(t, e.s3, testBucket, runDir+"dynamodb/"+inventoryFirst, &inv)
		var order []string
		for _, x := range inv.Tables {
			order = append(order, x.Table+":"+strings.Join(x.From, "+")+":"+x.Status)
		}
		wantOrder := []string{"orders:finding:collected", "payments:cloudtrail:collected", "ledger:cloudtrail:collected",
			"partner:cloudtrail:" + statusElsewhere, "gone:cloudtrail:" + statusNotFound}
		if !reflect.DeepEqual(order, wantOrder) {
			t.Errorf("inventory order %v, want %v", order, wantOrder)
		}
		if inv.CloudTrailExtract == nil || inv.CloudTrailExtract.Status != extractRead ||
			!reflect.DeepEqual(inv.CloudTrailExtract.Tables, []string{"payments", "orders", "arn:aws:dynamodb:us-east-1:123456789012:table/orders", "arn:aws:dynamodb:us-east-1:123456789012:table/ledger", "arn:aws:dynamodb:us-east-1:210987654321:table/partner", "gone"}) {
			t.Errorf("extract %+v", inv.CloudTrailExtract)
		}
		gaps := gapReasons(r)
		if len(gaps) != len(ctGaps) {
			t.Errorf("gaps %q", gaps)
		}
		for _, g := range ctGaps {
			if !hasText(gaps, g) {
				t.Errorf("no gap %q in %q", g, gaps)
			}
		}
		if hasText(r.Warnings, "not ready") {
			t.Errorf("warnings %q", r.Warnings)
		}
		if n := calls.n("DescribeTable"); n != 4 { // orders, payments, ledger, gone
			t.Errorf("%d DescribeTable calls", n)
		}

		// A second pass after this one has nothing to do.
		c2 := e.collector(PassCloudTrail)
		in := newIncident(window(), "orders")
		in.Item.Collector = collectorNameCloudTrail
		res, err := e.handler(t, c, c2).Handle(context.Background(), in)
		if err != nil || res.Collector != collectorNameCloudTrail {
			t.Fatalf("second pass: %+v %v", res, err)
		}
		r2 := stored(t, e, collectorNameCloudTrail)
		if got := artifactKeys(r2); !reflect.DeepEqual(got, []string{"dynamodb/" + inventoryCloudTrail}) || !hasText(r2.Warnings, "nothing left for this pass") || len(r2.Gaps) != 0 {
			t.Errorf("second pass: artifacts %v, warnings %q, gaps %v", got, r2.Warnings, r2.Gaps)
		}
	})

	t.Run("first pass before the extract, second pass after it", func(t *testing.T) {
		e := newEnv(t)
		seed(t, e)
		first := e.collector(PassFirst)
		calls := &counting{ddb: e.ddb, streams: e.streams}
		second := e.collector(PassCloudTrail)
		second.Tables, second.Streams = calls, calls
		h := e.handler(t, first, second)
		if _, err := h.Handle(context.Background(), newIncident(window(), "orders")); err != nil {
			t.Fatal(err)
		}
		r1 := stored(t, e, collectorName)
		if got := artifactKeys(r1); !reflect.DeepEqual(got, []string{"dynamodb/orders.jsonl.gz", "dynamodb/" + inventoryFirst}) {
			t.Errorf("first pass artifacts %v", got)
		}
		if !hasText(r1.Warnings, "CloudTrail-named tables: the extract was not ready; run a second pass") {
			t.Errorf("first pass warnings %q", r1.Warnings)
		}

		extract(t, e)
		in := newIncident(window(), "orders")
		in.Item.Collector = collectorNameCloudTrail
		res, err := h.Handle(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Collector != collectorNameCloudTrail || res.ResultKey != runDir+"results/"+collectorNameCloudTrail+".json" || res.Gaps != 2 {
			t.Errorf("second pass result %+v", res)
		}
		r2 := stored(t, e, collectorNameCloudTrail)
		want := []string{"dynamodb/ledger.jsonl.gz", "dynamodb/payments.jsonl.gz", "dynamodb/" + inventoryCloudTrail}
		if got := artifactKeys(r2); !reflect.DeepEqual(got, want) {
			t.Errorf("second pass artifacts %v, want %v", got, want)
		}
		if got := eventNames(t, e, "ledger"); !reflect.DeepEqual(got, []string{"INSERT"}) {
			t.Errorf("ledger %v", got)
		}
		for _, g := range ctGaps {
			if !hasText(gapReasons(r2), g) {
				t.Errorf("no gap %q in %q", g, gapReasons(r2))
			}
		}
		// orders was the first pass's: not described again.
		if n := calls.n("DescribeTable"); n != 3 { // payments, ledger, gone
			t.Errorf("%d DescribeTable calls in the second pass", n)
		}
		// The first pass's result is untouched.
		if again := stored(t, e, collectorName); !reflect.DeepEqual(artifactKeys(again), artifactKeys(r1)) {
			t.Errorf("first pass result changed")
		}
	})

	t.Run("second pass reads every extract the cloudtrail result lists", func(t *testing.T) {
		e := newEnv(t)
		seed(t, e)
		// A fanned-out CloudTrail collector: one extract a shard, and a
		// LookupEvents extract; the copies are not read.
		putExtractAs(t, e.s3, "extract-shard0001.jsonl.gz", ctEvent("GetItem", "payments"))
		putExtractAs(t, e.s3, "extract-shard0002.jsonl.gz", ctEvent("BatchWriteItem", "", "arn:aws:dynamodb:us-east-1:123456789012:table/ledger"))
		putExtractAs(t, e.s3, "lookup-events.jsonl.gz", ctEvent("PutItem", "noise"))
		putExtractAs(t, e.s3, "extract.jsonl.gz", ctEvent("PutItem", "orders")) // not listed: not read
		art := func(name, api string) evidence.Artifact {
			return evidence.Artifact{Key: runDir + "cloudtrail/" + name, Source: evidence.SourceCloudTrail, API: api}
		}
		putJSON(t, e.s3, runDir+"results/cloudtrail.json", evidence.CollectorResult{Collector: "cloudtrail", Status: incident.StatusOK,
			Artifacts: []evidence.Artifact{art("extract-shard0001.jsonl.gz", "s3:GetObject"), art("extract-shard0002.jsonl.gz", "s3:GetObject"),
				art("lookup-events.jsonl.gz", "cloudtrail:LookupEvents"), art("logs/a.jsonl.gz", "s3:CopyObject")}})
		in := newIncident(window(), "orders")
		in.Item.Collector = collectorNameCloudTrail
		if _, err := e.handler(t, e.collector(PassFirst), e.collector(PassCloudTrail)).Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		r := stored(t, e, collectorNameCloudTrail)
		want := []string{"dynamodb/ledger.jsonl.gz", "dynamodb/noise.jsonl.gz", "dynamodb/payments.jsonl.gz", "dynamodb/" + inventoryCloudTrail}
		if got := artifactKeys(r); !reflect.DeepEqual(got, want) {
			t.Errorf("artifacts %v, want %v", got, want)
		}
		var inv inventory
		s3test.ObjectJSON(t, e.s3, testBucket, runDir+"dynamodb/"+inventoryCloudTrail, &inv)
		if ex := inv.CloudTrailExtract; ex == nil || ex.Status != extractRead || len(ex.Parts) != 3 || ex.Key != ex.Parts[0] {
			t.Errorf("extract %+v", ex)
		}
	})

	t.Run("second pass without an extract is a gap", func(t *testing.T) {
		e := newEnv(t)
		seed(t, e)
		in := newIncident(window(), "orders")
		in.Item.Collector = collectorNameCloudTrail
		if _, err := e.handler(t, e.collector(PassFirst), e.collector(PassCloudTrail)).Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		r := stored(t, e, collectorNameCloudTrail)
		if len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0].Reason, "CloudTrail extract") || !hasText(r.Warnings, "inventory") {
			t.Errorf("gaps %v warnings %q", r.Gaps, r.Warnings)
		}
		if exists(t, e.s3, runDir+"dynamodb/orders.jsonl.gz") {
			t.Error("the second pass collected a table the finding names")
		}
	})
}

// TestRefusedCalls: a refused call on a table is a gap for that table and
// the others are still collected; a throttled call is retried by the state
// machine (nothing is recorded); any other error fails the collector.
func TestRefusedCalls(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized", Fault: smithy.FaultClient}
	cases := []struct {
		name    string
		op      string
		err     error
		gap     string
		wantErr any
	}{
		{name: "DescribeTable denied", op: "DescribeTable", err: denied, gap: "access denied (AccessDeniedException): not authorized"},
		{name: "DescribeStream denied", op: "DescribeStream", err: denied, gap: "stream"},
		{name: "GetRecords denied", op: "GetRecords", err: denied, gap: "stream"},
		{name: "GetRecords throttled", op: "GetRecords", err: &smithy.GenericAPIError{Code: "LimitExceededException", Fault: smithy.FaultClient}, wantErr: &faults.ThrottledError{}},
		{name: "DescribeTable throttled", op: "DescribeTable", err: &smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}, wantErr: &faults.ThrottledError{}},
		{name: "GetShardIterator server error", op: "GetShardIterator", err: &smithy.GenericAPIError{Code: "InternalServerError", Fault: smithy.FaultServer}, wantErr: &faults.TransientError{}},
		{name: "GetRecords validation error", op: "GetRecords", err: &smithy.GenericAPIError{Code: "ValidationException", Fault: smithy.FaultClient}, wantErr: &faults.CollectorError{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			createTable(t, e, "orders", ddbtypes.StreamViewTypeNewAndOldImages)
			apply(t, e, "orders", ordersChanges...)
			calls := &counting{ddb: e.ddb, streams: e.streams, fail: map[string]error{tc.op: tc.err}}
			c := e.collector(PassFirst)
			c.Tables, c.Streams = calls, calls
			now := time.Now().UTC()
			res, err := e.handler(t, c, nil).Handle(context.Background(), newIncident(incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}, "orders"))
			if tc.wantErr != nil {
				if err == nil || reflect.TypeOf(err) != reflect.TypeOf(tc.wantErr) {
					t.Fatalf("error %T %v, want %T", err, err, tc.wantErr)
				}
				retried := !errors.As(err, new(*faults.CollectorError))
				if got := exists(t, e.s3, runDir+"results/"+collectorName+".json"); got == retried {
					t.Errorf("result stored: %v (a retried error stores none, a failure stores one)", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			r := stored(t, e, collectorName)
			if res.Gaps != 1 || len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0].Reason, tc.gap) || !strings.Contains(r.Gaps[0].Reason, "orders") {
				t.Errorf("gaps %+v", r.Gaps)
			}
			if exists(t, e.s3, runDir+"dynamodb/orders.jsonl.gz") {
				t.Error("a refused table left an extract")
			}
		})
	}
}

// TestRetryWritesTheSameRecords: a collector retried after a throttled
// call (nothing recorded) writes again the tables it had stored, with the
// same records, although the tables changed since: an open shard is read
// up to the moment the run was opened, the same for every attempt.
func TestRetryWritesTheSameRecords(t *testing.T) {
	e := newEnv(t)
	createTable(t, e, "orders", ddbtypes.StreamViewTypeNewAndOldImages)
	createTable(t, e, "payments", ddbtypes.StreamViewTypeNewAndOldImages)
	apply(t, e, "orders", ordersChanges...)
	apply(t, e, "payments", change{"put", "p-1", "x"})
	time.Sleep(10 * time.Millisecond)
	now := time.Now().UTC()
	in := newIncident(incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}, "orders", "payments")
	throttled := &smithy.GenericAPIError{Code: "LimitExceededException", Fault: smithy.FaultClient}
	calls := &counting{ddb: e.ddb, streams: e.streams, failRecords: func(it string) error {
		if strings.Contains(it, ":table/payments/") {
			return throttled
		}
		return nil
	}}
	c := e.collector(PassFirst)
	c.Tables, c.Streams = calls, calls
	h := e.handler(t, c, nil)
	if _, err := h.Handle(context.Background(), in); !errors.As(err, new(*faults.ThrottledError)) {
		t.Fatalf("first attempt: %T %v", err, err)
	}
	if !exists(t, e.s3, runDir+"dynamodb/orders.jsonl.gz") || exists(t, e.s3, runDir+"results/"+collectorName+".json") {
		t.Fatal("the first attempt should have stored orders and no result")
	}
	time.Sleep(10 * time.Millisecond)
	apply(t, e, "orders", change{"put", "o-3", "after the run opened"})

	calls.failRecords = nil
	res, err := h.Handle(context.Background(), in)
	if err != nil || res.Status != incident.StatusOK {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if got := eventNames(t, e, "orders"); !reflect.DeepEqual(got, []string{"INSERT", "INSERT", "MODIFY", "REMOVE"}) {
		t.Errorf("orders %v", got)
	}
	if got := eventNames(t, e, "payments"); !reflect.DeepEqual(got, []string{"INSERT"}) {
		t.Errorf("payments %v", got)
	}
	if r := stored(t, e, collectorName); !hasText(r.Warnings, "table orders: read up to") {
		t.Errorf("warnings %q", r.Warnings)
	}
}

// TestDeadline: reading stops before the Lambda's deadline, stores what it
// read and says what is missing.
func TestDeadline(t *testing.T) {
	e := newEnv(t)
	createTable(t, e, "orders", ddbtypes.StreamViewTypeNewAndOldImages)
	apply(t, e, "orders", ordersChanges...)
	c := e.collector(PassFirst)
	c.Reserve = time.Hour // the deadline below is already inside the reserve
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	now := time.Now().UTC()
	if _, err := e.handler(t, c, nil).Handle(ctx, newIncident(incident.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}, "orders")); err != nil {
		t.Fatal(err)
	}
	r := stored(t, e, collectorName)
	if !hasText(gapReasons(r), "stopped at the Lambda's deadline after 0 records") {
		t.Errorf("gaps %q", gapReasons(r))
	}
	if a := artifact(t, r, "orders.jsonl.gz"); a.Records != 0 {
		t.Errorf("records %d", a.Records)
	}
}

// TestRetentionGap: a window that starts more than 24 hours before the
// collection is a gap for the part streams no longer hold.
func TestRetentionGap(t *testing.T) {
	e := newEnv(t)
	createTable(t, e, "orders", ddbtypes.StreamViewTypeNewAndOldImages)
	apply(t, e, "orders", ordersChanges...)
	now := time.Now().UTC()
	if _, err := e.handler(t, e.collector(PassFirst), nil).Handle(context.Background(), newIncident(incident.Window{Start: now.Add(-30 * time.Hour), End: now.Add(time.Hour)}, "orders")); err != nil {
		t.Fatal(err)
	}
	r := stored(t, e, collectorName)
	if len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0].Reason, "keep records 24 hours: for orders") {
		t.Errorf("gaps %v", r.Gaps)
	}
	if got := eventNames(t, e, "orders"); len(got) != 4 {
		t.Errorf("events %v", got)
	}
}

func TestParseTables(t *testing.T) {
	got, err := ParseTables(" orders, ,arn:aws:dynamodb:us-east-1:123456789012:table/payments/stream/2024-05-06T00:00:00.000,orders ")
	if err != nil || !reflect.DeepEqual(got, []string{"orders", "arn:aws:dynamodb:us-east-1:123456789012:table/payments/stream/2024-05-06T00:00:00.000"}) {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range []string{"a", "orders,b@d", "arn:aws:s3:::bucket", "arn:aws:dynamodb:us-east-1:123456789012:global-table/x"} {
		if _, err := ParseTables(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := ParseTables(""); err != nil || got != nil {
		t.Errorf("empty: %q %v", got, err)
	}
}

func TestParseTable(t *testing.T) {
	sc := incident.Scope{AccountID: "123456789012", Region: "us-east-1"}
	for _, tc := range []struct {
		in, name, arn, status string
	}{
		{"orders", "orders", "", ""},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/orders", "orders", "arn:aws:dynamodb:us-east-1:123456789012:table/orders", ""},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/byDate", "orders", "arn:aws:dynamodb:us-east-1:123456789012:table/orders", ""},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-05-06T00:00:00.000", "orders", "arn:aws:dynamodb:us-east-1:123456789012:table/orders", ""},
		{"arn:aws:dynamodb:us-west-2:123456789012:table/orders", "orders", "arn:aws:dynamodb:us-west-2:123456789012:table/orders", statusElsewhere},
		{"arn:aws-us-gov:dynamodb:us-east-1:999999999999:table/orders", "orders", "arn:aws-us-gov:dynamodb:us-east-1:999999999999:table/orders", statusElsewhere},
		{"no", "no", "", statusInvalid},
		{"arn:aws:dynamodb:us-east-1:123456789012:backup/x", "", "", statusInvalid},
	} {
		r := parseTable(tc.in, sc)
		if (tc.name != "" && r.name != tc.name) || r.arn != tc.arn || r.badStatus != tc.status {
			t.Errorf("%q: %+v", tc.in, r)
		}
	}
}

func TestSortShards(t *testing.T) {
	ids := []string{"c", "a", "b", "d", "e"}
	start := map[string]string{"a": "900", "b": "1000", "c": "", "d": "99", "e": "1000"}
	sortShards(ids, start)
	if want := []string{"d", "a", "b", "e", "c"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("%v, want %v", ids, want)
	}
}

var _ collect.Collector = (*StreamsCollector)(nil)
