package main

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Buckets of the test account.
const (
	dataBucket  = "custody-data"        // in scope, logged, configured
	otherBucket = "custody-other"       // in scope, logged to the same target and prefix
	noLogBucket = "custody-nolog"       // in scope, no logging
	goneBucket  = "custody-gone"        // in scope, does not exist
	logBucket   = "custody-access-logs" // the log target
	logPrefix   = "data/"
)

// The window: the real lines of the OpenSearch sample run from 09:25:21 to
// 09:25:34 on 31 Jan 2023; the window ends at 09:25:30, so 12 of its 18
// lines fall inside. With the 3 h pad, keys may name 06:25:00 to 12:25:30.
var window = incident.Window{
	Start: time.Date(2023, 1, 31, 9, 25, 0, 0, time.UTC),
	End:   time.Date(2023, 1, 31, 9, 25, 30, 0, time.UTC),
}

func at(hms string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", "2023-01-31 "+hms)
	if err != nil {
		panic(err)
	}
	return t
}

// seeded is one log object the test puts in the log bucket.
type seeded struct {
	key    string
	lines  []string
	copied bool // the collector must copy it
	// want lists the line numbers (from 1) the extract of bucket keeps.
	want   map[string][]int
	reason string
}

func (s seeded) body() []byte { return []byte(strings.Join(s.lines, "\n") + "\n") }

const partData = logPrefix + emulator.AccountID + "/us-east-1/" + dataBucket + "/2023/01/31/"
const partOther = logPrefix + emulator.AccountID + "/us-east-1/" + otherBucket + "/2023/01/31/"

// seedObjects builds the log objects from real lines (DERIVED: bucket
// names and, where said, times rewritten).
func seedObjects(t *testing.T) []seeded {
	os1 := corpusLines(t, "opensearch-catalog/s3_server_access_raw.log")
	otel := corpusLines(t, "otel-collector-contrib/s3_access_log_multi.log")
	pan := corpusLines(t, "panther-analysis/attacker_s3_access.yml")
	data := func(lines ...string) []string {
		var out []string
		for _, l := range lines {
			out = append(out, derive(t, l, dataBucket, time.Time{}))
		}
		return out
	}
	var a []string
	a = append(a, data(os1[:9]...)...) // 09:25:21..09:25:28: all in the window
	for _, l := range os1[:3] {        // another bucket's lines in the same object
		a = append(a, derive(t, l, otherBucket, time.Time{}))
	}
	a = append(a, otel...) // a third bucket, 2019
	var b []string
	b = append(b, data(os1[9:]...)...)                                                     // 09:25:28..09:25:34: the first 3 in the window
	b = append(b, strings.Join(strings.Fields(b[0])[:12], " "))                            // truncated: too few fields
	b = append(b, strings.Replace(b[1], "31/Jan/2023:09:25:29", "2023-01-31T09:25:29", 1)) // bad time
	return []seeded{
		{key: logPrefix + "2023-01-31-09-30-12-0A1B2C3D4E5F6A7B", lines: a, copied: true, reason: "simple key, delivered 5 min after",
			want: map[string][]int{dataBucket: {1, 2, 3, 4, 5, 6, 7, 8, 9}, otherBucket: {10, 11, 12}}},
		{key: logPrefix + "2023-01-31-12-20-00-1B2C3D4E5F6A7B8C", lines: b, copied: true, reason: "simple key, in the pad",
			want: map[string][]int{dataBucket: {1, 2, 3}}},
		{key: logPrefix + "2023-01-31-12-30-00-2C3D4E5F6A7B8C9D", lines: data(os1[0]), reason: "simple key after the pad"},
		{key: logPrefix + "2023-01-31-06-20-00-3D4E5F6A7B8C9D0E", lines: data(os1[1]), reason: "simple key before the pad"},
		{key: logPrefix + "2023-01-30-23-59-59-4E5F6A7B8C9D0E1F", lines: data(os1[2]), reason: "simple key, the day before (not listed)"},
		{key: partData + "2023-01-31-00-00-00-5F6A7B8C9D0E1F2A", copied: true, reason: "partitioned by event time: the whole day",
			lines: []string{
				derive(t, pan[0], dataBucket, at("09:25:10")),
				derive(t, pan[1], dataBucket, at("09:25:11")),
				derive(t, pan[2], dataBucket, at("09:26:00")), // after the window
			},
			want: map[string][]int{dataBucket: {1, 2}}},
		{key: partData + "2023-01-31-09-40-00-6A7B8C9D0E1F2A3B", copied: true, reason: "partitioned by delivery time, in the pad",
			lines: []string{
				derive(t, otel[0], dataBucket, at("09:25:15")),
				derive(t, os1[0], dataBucket, at("09:24:59")), // a second before the window
				derive(t, os1[0], dataBucket, at("09:25:31")), // a second after it
			},
			want: map[string][]int{dataBucket: {1}}},
		{key: partData + "2023-01-31-13-00-00-7B8C9D0E1F2A3B4C", lines: data(os1[3]), reason: "partitioned, after the pad"},
		{key: logPrefix + emulator.AccountID + "/us-east-1/" + dataBucket + "/2023/01/30/2023-01-30-00-00-00-8C9D0E1F2A3B4C5D", lines: data(os1[4]),
			reason: "event day before the window (not listed)"},
		{key: partOther + "2023-01-31-09-40-00-9D0E1F2A3B4C5D6E", copied: true, reason: "the other bucket's partition",
			lines: []string{derive(t, os1[3], otherBucket, time.Time{})}, want: map[string][]int{otherBucket: {1}}},
		{key: "elsewhere/2023-01-31-09-30-00-0E1F2A3B4C5D6E7F", lines: data(os1[5]), reason: "another prefix"},
	}
}

// setup creates the logged buckets and the log bucket (the evidence bucket
// is emu.FreshLockedBucket's), their configuration, and seeds the logs.
func setup(t *testing.T, client *s3.Client) []seeded {
	ctx := context.Background()
	for _, b := range []string{dataBucket, otherBucket, noLogBucket, logBucket} {
		createBucket(t, client, b)
	}
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(logBucket), Policy: aws.String(loggingPolicy(logBucket))}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{dataBucket, otherBucket} {
		if _, err := client.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(b), BucketLoggingStatus: &types.BucketLoggingStatus{
			LoggingEnabled: &types.LoggingEnabled{TargetBucket: aws.String(logBucket), TargetPrefix: aws.String(logPrefix)},
		}}); err != nil {
			t.Fatalf("PutBucketLogging %s: %v", b, err)
		}
	}
	// custody-data's configuration, for the snapshot.
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(dataBucket), Policy: aws.String(dataPolicy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(dataBucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(dataBucket),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
		}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(dataBucket),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String(dataBucket),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}}); err != nil {
		t.Fatal(err)
	}
	objs := seedObjects(t)
	for _, o := range objs {
		putObject(t, client, logBucket, o.key, o.body())
	}
	return objs
}

const dataPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::custody-data","arn:aws:s3:::custody-data/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`

func newIncident(buckets ...string) *incident.Incident {
	return &incident.Incident{
		CaseID: "mn-s3accesstest", RunID: "20230131T092530Z",
		Scope:  incident.Scope{AccountID: emulator.AccountID, Region: emulator.Region, Buckets: buckets},
		Window: window,
		Plan:   []incident.PlanItem{{Collector: CollectorName}},
	}
}

func newHandler(t testing.TB, client *s3.Client, pad time.Duration) *Handler {
	return &Handler{
		Driver:    &collect.Driver{Writer: newWriter(t, client), Version: "test", Now: func() time.Time { return fixedNow }},
		Collector: &Collector{S3: client, Config: Config{Pad: pad}},
	}
}

func TestCollect(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	objs := setup(t, client)
	// moto writes its own access log objects (simple keys, the server's
	// clock) into custody-access-logs/data/ for every request to a logged
	// bucket, the collector's included. Their days are far outside the
	// 2023 window: their day prefix is never listed, so none may be copied.
	inc := newIncident(dataBucket, goneBucket, noLogBucket, otherBucket)
	res, err := newHandler(t, client, DefaultPad).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	run := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
	var stored evidence.CollectorResult
	s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
	if stored.Status != incident.StatusOK {
		t.Fatalf("status %s: %s", stored.Status, stored.Error)
	}

	// Exactly these artifacts.
	wantKeys := []string{
		run + "s3access/config-" + dataBucket + ".json",
		run + "s3access/config-" + noLogBucket + ".json",
		run + "s3access/config-" + otherBucket + ".json",
		run + "s3access/extract-" + dataBucket + ".jsonl.gz",
		run + "s3access/extract-" + otherBucket + ".jsonl.gz",
	}
	for _, o := range objs {
		if o.copied {
			wantKeys = append(wantKeys, run+"s3access/logs/"+logBucket+"/"+o.key)
		}
	}
	sort.Strings(wantKeys)
	var gotKeys []string
	arts := map[string]evidence.Artifact{}
	for _, a := range stored.Artifacts {
		gotKeys = append(gotKeys, a.Key)
		arts[a.Key] = a
		if a.Source != evidence.SourceS3Access || a.Collector != CollectorName {
			t.Errorf("%s: source %s collector %s", a.Key, a.Source, a.Collector)
		}
	}
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Fatalf("artifacts\n%s\nwant\n%s", strings.Join(gotKeys, "\n"), strings.Join(wantKeys, "\n"))
	}
	if keys := s3test.Keys(t, client, testBucket, run+"s3access/"); !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("stored under s3access/: %q", keys)
	}

	// Copies: byte-identical, with the original's origin.
	for _, o := range objs {
		if !o.copied {
			continue
		}
		key := run + "s3access/logs/" + logBucket + "/" + o.key
		got := s3test.Body(t, client, testBucket, key)
		if !bytes.Equal(got, o.body()) {
			t.Errorf("%s (%s): copy differs from the original", o.key, o.reason)
		}
		a := arts[key]
		if a.API != "s3:CopyObject" || a.Origin == nil || a.Origin.Bucket != logBucket || a.Origin.Key != o.key || a.Size != int64(len(o.body())) {
			t.Errorf("%s: api %s origin %+v size %d", key, a.API, a.Origin, a.Size)
		}
	}

	// moto's own log objects exist (keys of the server's clock, not
	// 2023) and were left alone.
	seededKey := map[string]bool{}
	for _, o := range objs {
		seededKey[o.key] = true
	}
	var motoKeys []string
	for _, k := range s3test.Keys(t, client, logBucket, logPrefix) {
		if !seededKey[k] {
			if _, ok := nameTime(strings.TrimPrefix(k, logPrefix)); !ok || strings.HasPrefix(k, logPrefix+"2023-") {
				t.Errorf("unexpected object %s in the log bucket", k)
			}
			motoKeys = append(motoKeys, k)
		}
	}
	if len(motoKeys) == 0 {
		t.Errorf("moto wrote no access log objects of its own under %s: the test no longer proves they are excluded", logPrefix)
	}
	for _, k := range motoKeys {
		if _, ok := arts[run+"s3access/logs/"+logBucket+"/"+k]; ok {
			t.Errorf("moto's own log object %s was copied", k)
		}
	}

	// Extracts: exactly the lines of each bucket in the window.
	for _, bucket := range []string{dataBucket, otherBucket} {
		key := run + "s3access/extract-" + bucket + ".jsonl.gz"
		recs := gunzipLines(t, s3test.Body(t, client, testBucket, key))
		var got, want []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s#%v", r["object"], r["line"]))
			ts, _ := time.Parse(time.RFC3339, r["time"].(string))
			if r["bucket"] != bucket || !window.Contains(ts) {
				t.Errorf("%s: record of bucket %v at %v", key, r["bucket"], r["time"])
			}
		}
		first, last := time.Time{}, time.Time{}
		byKey := append([]seeded(nil), objs...)
		sort.Slice(byKey, func(i, j int) bool { return byKey[i].key < byKey[j].key }) // the collector reads them in key order
		for _, o := range byKey {
			for _, n := range o.want[bucket] {
				want = append(want, fmt.Sprintf("s3://%s/%s#%d", logBucket, o.key, n))
				f := strings.Fields(o.lines[n-1])
				ts, _ := time.Parse("[02/Jan/2006:15:04:05", f[2])
				if first.IsZero() || ts.Before(first) {
					first = ts
				}
				if ts.After(last) {
					last = ts
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s records\n%s\nwant\n%s", key, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		a := arts[key]
		wantReq := canon(t, `{"Bucket":"custody-access-logs","Prefixes":["data/2023-01-31-","data/123456789012/us-east-1/`+bucket+`/2023/01/31/"],`+
			`"objects":`+fmt.Sprint(map[string]int{dataBucket: 4, otherBucket: 3}[bucket])+`,"sourceBucket":"`+bucket+`",`+
			`"window":{"start":"2023-01-31T09:25:00Z","end":"2023-01-31T09:25:30Z"},"pad":"3h0m0s"}`)
		if got := canon(t, a.Request); got != wantReq {
			t.Errorf("%s request %s, want %s", key, got, wantReq)
		}
		if a.Records != int64(len(want)) || a.FirstEvent == nil || !a.FirstEvent.Equal(first) || !a.LastEvent.Equal(last) || a.API != "s3:GetObject" {
			t.Errorf("%s: records %d first %v last %v api %s; want %d %v %v", key, a.Records, a.FirstEvent, a.LastEvent, a.API, len(want), first, last)
		}
	}
	if n := arts[run+"s3access/extract-"+dataBucket+".jsonl.gz"].Records; n != 15 {
		t.Errorf("custody-data extract has %d records, want 15", n)
	}
	if n := arts[run+"s3access/extract-"+otherBucket+".jsonl.gz"].Records; n != 4 {
		t.Errorf("custody-other extract has %d records, want 4", n)
	}

	// One extract record in full: the Panther line (24 fields, derived).
	recs := gunzipLines(t, s3test.Body(t, client, testBucket, run+"s3access/extract-"+dataBucket+".jsonl.gz"))
	var pan map[string]any
	for _, r := range recs {
		if r["object"] == "s3://"+logBucket+"/"+objs[5].key && r["line"] == 1.0 {
			pan = r
		}
	}
	wantPan := map[string]any{
		"object": "s3://" + logBucket + "/" + objs[5].key, "line": 1.0,
		"bucketOwner": "79a59df900bb44eeed96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", "bucket": dataBucket,
		"time": "2023-01-31T09:25:10Z", "remoteIp": "172.31.77.31", "requester": "arn:aws:iam::493859302102:user/tracy_stone",
		"requestId": "DD6CC733AEXAMPLE", "operation": "REST.GET.OBJECT", "key": "id-01.pdf", "requestUri": "GET /id-01.pdf HTTP/1.1",
		"httpStatus": 200.0, "objectSize": 4406583.0, "totalTimeMs": 41754.0, "turnAroundTimeMs": 28.0, "userAgent": "S3Console/0.4",
		"hostId": "10S62Zv81kBW7BB6SX4XJ48o6kpcl6LPwEoizZQQxJd5qDSCTLX0TgS37kYUBKQW3+bPdrg1234=", "signatureVersion": "SigV4",
		"cipherSuite": "ECDHE-RSA-AES128-SHA", "authType": "AuthHeader", "hostHeader": dataBucket + ".s3.amazonaws.com", "tlsVersion": "TLSV1.1",
		"fields": 24.0,
	}
	if !reflect.DeepEqual(pan, wantPan) {
		t.Errorf("extract record\n%v\nwant\n%v", pan, wantPan)
	}

	// Gaps: the missing bucket and the one without logging.
	wantGaps := []evidence.Gap{
		{Source: "s3access", Reason: "bucket custody-gone does not exist (NoSuchBucket): no configuration or server access logs to collect", Fix: fixMissing},
		{Source: "s3access", Reason: "server access logging is off for bucket custody-nolog; CloudTrail S3 data events, if enabled, are in the cloudtrail extract",
			Fix: "enable server access logging to a log bucket, or S3 data events on a trail"},
	}
	if !reflect.DeepEqual(stored.Gaps, wantGaps) {
		t.Errorf("gaps\n%+v\nwant\n%+v", stored.Gaps, wantGaps)
	}
	// The malformed lines: counted, named, the rest collected.
	if len(stored.Warnings) != 1 || !strings.HasPrefix(stored.Warnings[0],
		"bucket custody-data: 2 malformed access log lines in 4 objects under s3://custody-access-logs/data/ (the rest collected): "+
			"s3://custody-access-logs/"+objs[1].key+": line 10: malformed S3 access log line: 9 fields, want at least 17; "+
			"s3://custody-access-logs/"+objs[1].key+": line 11: malformed S3 access log line: time ") {
		t.Errorf("warnings %q", stored.Warnings)
	}
	if want := (incident.Result{Collector: CollectorName, Status: incident.StatusOK, ResultKey: run + "results/s3access.json",
		Artifacts: len(wantKeys), Records: 15 + 4 + 3, Gaps: 2}); !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}

	// The configuration snapshots.
	var snap map[string]map[string]any
	getSnap := func(bucket string) {
		var raw map[string]any
		s3test.ObjectJSON(t, client, testBucket, run+"s3access/config-"+bucket+".json", &raw)
		if raw["bucket"] != bucket {
			t.Errorf("config-%s.json names bucket %v", bucket, raw["bucket"])
		}
		snap = map[string]map[string]any{}
		for k, v := range raw {
			if m, ok := v.(map[string]any); ok {
				snap[k] = m
			}
		}
	}
	getSnap(dataBucket)
	for name, status := range map[string]string{"location": "ok", "logging": "ok", "policy": "ok", "acl": "ok",
		"publicAccessBlock": "ok", "ownershipControls": "ok", "versioning": "ok", "encryption": "ok"} {
		if snap[name]["status"] != status {
			t.Errorf("config-%s.json %s: %v", dataBucket, name, snap[name])
		}
	}
	checks := map[string]string{
		"policy":            `{"Policy":` + dataPolicy + `}`,
		"versioning":        `{"MFADelete":"","Status":"Enabled"}`,
		"publicAccessBlock": `{"PublicAccessBlockConfiguration":{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}}`,
		"ownershipControls": `{"OwnershipControls":{"Rules":[{"ObjectOwnership":"BucketOwnerEnforced"}]}}`,
		"logging":           `{"LoggingEnabled":{"TargetBucket":"custody-access-logs","TargetGrants":null,"TargetObjectKeyFormat":null,"TargetPrefix":"data/"}}`,
		"location":          `{"LocationConstraint":"","Region":"us-east-1"}`,
	}
	for name, want := range checks {
		if got := canon(t, snap[name]["value"]); got != canon(t, want) {
			t.Errorf("config %s value %s, want %s", name, got, canon(t, want))
		}
	}
	if enc := canon(t, snap["encryption"]["value"]); !strings.Contains(enc, `"SSEAlgorithm":"AES256"`) {
		t.Errorf("encryption %s", enc)
	}
	if acl := canon(t, snap["acl"]["value"]); !strings.Contains(acl, `"Permission":"FULL_CONTROL"`) {
		t.Errorf("acl %s", acl)
	}
	ca := arts[run+"s3access/config-"+dataBucket+".json"]
	if ca.API != "s3:GetBucket*" || ca.Records != 1 || ca.Origin == nil || ca.Origin.Bucket != dataBucket {
		t.Errorf("config artifact %+v", ca)
	}

	getSnap(noLogBucket)
	for name, want := range map[string]string{
		// moto has no default encryption (S3 has answered SSE-S3 for
		// every bucket since January 2023): "none" is still recorded.
		"policy": "none/NoSuchBucketPolicy", "encryption": "none/ServerSideEncryptionConfigurationNotFoundError", "logging": "ok/", "versioning": "ok/",
		"publicAccessBlock": "none/NoSuchPublicAccessBlockConfiguration", "ownershipControls": "none/OwnershipControlsNotFoundError",
	} {
		got := fmt.Sprintf("%v/%v", snap[name]["status"], snap[name]["errorCode"])
		if got == fmt.Sprintf("%v/<nil>", snap[name]["status"]) {
			got = fmt.Sprintf("%v/", snap[name]["status"])
		}
		if got != want {
			t.Errorf("config-%s.json %s: %s, want %s (%v)", noLogBucket, name, got, want, snap[name])
		}
	}
	if v := canon(t, snap["logging"]["value"]); v != `{"LoggingEnabled":null}` {
		t.Errorf("no-logging bucket's logging value %s", v)
	}
}

// TestCollectNoLogs: logging on, but nothing delivered for the window.
func TestCollectNoLogs(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	ctx := context.Background()
	createBucket(t, client, dataBucket)
	createBucket(t, client, logBucket)
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(logBucket), Policy: aws.String(loggingPolicy(logBucket))}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(dataBucket), BucketLoggingStatus: &types.BucketLoggingStatus{
		LoggingEnabled: &types.LoggingEnabled{TargetBucket: aws.String(logBucket), TargetPrefix: aws.String(logPrefix)},
	}}); err != nil {
		t.Fatal(err)
	}
	putObject(t, client, logBucket, logPrefix+"2023-01-31-13-00-00-0A1B2C3D4E5F6A7B", []byte(derive(t, corpusLines(t, "opensearch-catalog/s3_server_access_raw.log")[0], dataBucket, time.Time{})+"\n"))
	inc := newIncident(dataBucket)
	res, err := newHandler(t, client, DefaultPad).Handle(ctx, collect.Input{Incident: *inc, Item: inc.Plan[0]})
	if err != nil {
		t.Fatal(err)
	}
	var stored evidence.CollectorResult
	s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
	want := []evidence.Gap{{Source: "s3access",
		Reason: "no server access log objects for bucket custody-data under s3://custody-access-logs/data/ for the window widened by 3h0m0s (1 listed, 1 outside it): S3 delivers access logs best effort",
		Fix:    fixLogging}}
	if !reflect.DeepEqual(stored.Gaps, want) || len(stored.Artifacts) != 1 || res.Artifacts != 1 {
		t.Errorf("gaps %+v artifacts %d", stored.Gaps, len(stored.Artifacts))
	}
}

// TestCollectLogBucketGone: the log target was deleted after logging was
// set up: a gap, not a failure.
func TestCollectLogBucketGone(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	ctx := context.Background()
	createBucket(t, client, dataBucket)
	createBucket(t, client, logBucket)
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(logBucket), Policy: aws.String(loggingPolicy(logBucket))}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(dataBucket), BucketLoggingStatus: &types.BucketLoggingStatus{
		LoggingEnabled: &types.LoggingEnabled{TargetBucket: aws.String(logBucket), TargetPrefix: aws.String(logPrefix)},
	}}); err != nil {
		t.Fatal(err)
	}
	// moto has written log objects for the calls above: empty the bucket.
	for _, k := range s3test.Keys(t, client, logBucket, "") {
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(logBucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(logBucket)}); err != nil {
		t.Fatal(err)
	}
	inc := newIncident(dataBucket)
	res, err := newHandler(t, client, DefaultPad).Handle(ctx, collect.Input{Incident: *inc, Item: inc.Plan[0]})
	if err != nil {
		t.Fatal(err)
	}
	var stored evidence.CollectorResult
	s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
	want := []evidence.Gap{{Source: "s3access",
		Reason: "bucket custody-data logs to s3://custody-access-logs/data/, which the collector cannot list (NoSuchBucket); a log bucket in another account needs its own grant",
		Fix:    "grant the collector role s3:ListBucket on arn:aws:s3:::custody-access-logs and s3:GetObject on arn:aws:s3:::custody-access-logs/data/*"}}
	if !reflect.DeepEqual(stored.Gaps, want) || len(stored.Artifacts) != 1 {
		t.Errorf("gaps %+v artifacts %d", stored.Gaps, len(stored.Artifacts))
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvPad {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]time.Duration{"": DefaultPad, "90m": 90 * time.Minute, "0s": 0} {
		cfg, err := ConfigFromEnv(env(v))
		if err != nil || cfg.Pad != want {
			t.Errorf("%q: %v %v", v, cfg.Pad, err)
		}
	}
	for _, v := range []string{"3", "-1h", "soon"} {
		if _, err := ConfigFromEnv(env(v)); err == nil || !strings.Contains(err.Error(), EnvPad) {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// refusing wraps the emulator's client and answers some calls with an
// error (moto enforces no IAM).
type refusing struct {
	*s3.Client
	errs map[string]error
}

func (r *refusing) GetBucketLogging(ctx context.Context, in *s3.GetBucketLoggingInput, opt ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error) {
	if err := r.errs["GetBucketLogging"]; err != nil {
		return nil, err
	}
	return r.Client.GetBucketLogging(ctx, in, opt...)
}

func (r *refusing) GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, opt ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	if err := r.errs["GetBucketPolicy"]; err != nil {
		return nil, err
	}
	return r.Client.GetBucketPolicy(ctx, in, opt...)
}

func (r *refusing) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opt ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := r.errs["ListObjectsV2"]; err != nil {
		return nil, err
	}
	return r.Client.ListObjectsV2(ctx, in, opt...)
}

// TestCollectRefused: a denied call is a gap that names the permission; a
// throttled one reaches the state machine as ThrottledError.
func TestCollectRefused(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied", Fault: smithy.FaultClient}
	throttled := &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate.", Fault: smithy.FaultServer}
	cases := []struct {
		name   string
		errs   map[string]error
		gaps   []evidence.Gap
		errTyp any
		arts   int
	}{
		{name: "logging and policy denied", errs: map[string]error{"GetBucketLogging": denied, "GetBucketPolicy": denied}, arts: 1,
			gaps: []evidence.Gap{{Source: "s3access", Reason: "bucket custody-data: may not read s3:GetBucketLogging, s3:GetBucketPolicy",
				Fix: "grant the collector role s3:GetBucketLogging, s3:GetBucketPolicy on arn:aws:s3:::custody-data (and let the bucket policy allow it)"}}},
		{name: "log bucket denied", errs: map[string]error{"ListObjectsV2": denied}, arts: 1,
			gaps: []evidence.Gap{{Source: "s3access",
				Reason: "bucket custody-data logs to s3://custody-access-logs/data/, which the collector cannot list (AccessDenied); a log bucket in another account needs its own grant",
				Fix:    "grant the collector role s3:ListBucket on arn:aws:s3:::custody-access-logs and s3:GetObject on arn:aws:s3:::custody-access-logs/data/*"}}},
		{name: "logging throttled", errs: map[string]error{"GetBucketLogging": throttled}, errTyp: &faults.ThrottledError{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := emu.FreshLockedBucket(t, testBucket)
			setup(t, client)
			h := newHandler(t, client, DefaultPad)
			h.Collector = &Collector{S3: &refusing{Client: client, errs: c.errs}, Config: Config{Pad: DefaultPad}}
			inc := newIncident(dataBucket)
			res, err := h.Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
			if c.errTyp != nil {
				if reflect.TypeOf(err) != reflect.TypeOf(c.errTyp) {
					t.Fatalf("error %T %v, want %T", err, err, c.errTyp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var stored evidence.CollectorResult
			s3test.ObjectJSON(t, client, testBucket, res.ResultKey, &stored)
			if !reflect.DeepEqual(stored.Gaps, c.gaps) || len(stored.Artifacts) != c.arts {
				t.Errorf("gaps %+v artifacts %d", stored.Gaps, len(stored.Artifacts))
			}
			var snap map[string]any
			s3test.ObjectJSON(t, client, testBucket, stored.Artifacts[0].Key, &snap)
			if p := snap["policy"].(map[string]any); c.errs["GetBucketPolicy"] != nil && (p["status"] != "denied" || p["errorCode"] != "AccessDenied") {
				t.Errorf("policy %v", p)
			}
		})
	}
}
