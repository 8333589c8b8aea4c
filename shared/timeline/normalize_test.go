package timeline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// firstLine is line n (0-based) of a testdata extract.
func extractLine(t *testing.T, file string, n int) []byte {
	t.Helper()
	f, err := os.Open("testdata/extracts/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for i := 0; sc.Scan(); i++ {
		if i == n {
			return append([]byte(nil), sc.Bytes()...)
		}
	}
	t.Fatalf("%s has no line %d", file, n)
	return nil
}

func TestNormalizers(t *testing.T) {
	type want struct {
		datetime, desc, message, action, actor, target, srcIP, outcome string
	}
	tests := []struct {
		name   string
		source string
		line   []byte
		idx    int // which event of the line
		n      int // events the line makes
		want   want
	}{
		{"cloudtrail S3 data event denied (doc example shape)", "cloudtrail",
			[]byte(`{"eventTime":"2024-08-02T08:23:10.123456Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"alice"},"sourceIPAddress":"198.51.100.7","errorCode":"AccessDenied","errorMessage":"Access Denied","requestParameters":{"bucketName":"bucket","key":"key"}}`), 0, 1,
			want{"2024-08-02T08:23:10.123456Z", "Event Time", "AKIAIOSFODNN7EXAMPLE (arn:aws:iam::123456789012:user/alice) called s3:GetObject on bucket/key from 198.51.100.7: AccessDenied (Access Denied)",
				"s3:GetObject", "arn:aws:iam::123456789012:user/alice", "bucket/key", "198.51.100.7", "AccessDenied"}},
		{"cloudtrail stratus StopLogging", "cloudtrail", extractLine(t, "cloudtrail_stratus.derived.jsonl", 0), 0, 1,
			want{"2024-07-31T13:06:24.000000Z", "Event Time", "AKIAGGWFBBHBE7D3M9WI (arn:aws:iam::143434273843:user/christophe) called cloudtrail:StopLogging on stratus-red-team-ct-stop-trail-buykxbqejv from 86.245.153.234",
				"cloudtrail:StopLogging", "arn:aws:iam::143434273843:user/christophe", "stratus-red-team-ct-stop-trail-buykxbqejv", "86.245.153.234", "Success"}},
		{"cloudtrail LookupEvents (plaso), +11:00 EventTime, inner eventTime wins", "cloudtrail", extractLine(t, "cloudtrail_lookupevents_plaso.jsonl", 0), 0, 1,
			want{"2022-02-07T22:23:37.000000Z", "Event Time", "0123456789ABCDEFGHIJ (arn:aws:iam::012345678901:user/fakeusername) called ec2:DescribeInstances on i-01234567890123456 from 1.2.3.4",
				"ec2:DescribeInstances", "arn:aws:iam::012345678901:user/fakeusername", "i-01234567890123456", "1.2.3.4", "Success"}},
		{"cloudtrail LookupEvents response (aws-cli), assumed role console login", "cloudtrail", extractLine(t, "cloudtrail_lookupevents_awscli.derived.jsonl", 0), 0, 1,
			want{"2016-01-26T21:42:12.000000Z", "Event Time", "arn:aws:sts::123456789012:assumed-role/my-role/my-session-name called signin:ConsoleLogin from 72.21.198.70",
				"signin:ConsoleLogin", "arn:aws:sts::123456789012:assumed-role/my-role/my-session-name", "", "72.21.198.70", "Success"}},
		{"cloudtrail LookupEvents without the inner record's time", "cloudtrail",
			[]byte(`{"EventTime":"2021-11-18T09:41:02-08:00","EventName":"ConsoleLogin","EventSource":"signin.amazonaws.com","Username":"bob","CloudTrailEvent":"{}"}`), 0, 1,
			want{"2021-11-18T17:41:02.000000Z", "Event Time", "bob called signin:ConsoleLogin", "signin:ConsoleLogin", "bob", "", "", "Success"}},
		{"vpcflow v2 REJECT (RDP)", "vpcflow", extractLine(t, "vpcflow.derived.jsonl", 1), 0, 1,
			want{"2014-12-14T04:06:50.000000Z", "Flow Start", "eni-1235b8ca123456789 172.31.9.69:49761 -> 172.31.9.12:3389 TCP 20 packets 4249 bytes REJECT",
				"flow", "172.31.9.69", "172.31.9.12:3389/tcp", "172.31.9.69", "REJECT"}},
		{"vpcflow NODATA", "vpcflow", extractLine(t, "vpcflow.derived.jsonl", 2), 0, 1,
			want{"2025-03-21T15:14:49.000000Z", "Flow Start", "eni-0eb1e4178af74336c: NODATA, no flow recorded", "flow", "", "", "", "NODATA"}},
		{"vpcflow camelCase, string epochs", "vpcflow",
			[]byte(`{"record":{"interfaceId":"eni-1","srcAddr":"203.0.113.12","dstAddr":"10.0.0.5","srcPort":"443","dstPort":"51000","protocol":"17","start":"1722586990","end":"1722587050","action":"ACCEPT","logStatus":"OK"}}`), 0, 1,
			want{"2024-08-02T08:23:10.000000Z", "Flow Start", "eni-1 203.0.113.12:443 -> 10.0.0.5:51000 UDP ACCEPT", "flow", "203.0.113.12", "10.0.0.5:51000/udp", "203.0.113.12", "ACCEPT"}},
		{"s3access snake_case, 404", "s3access", extractLine(t, "s3access.derived.jsonl", 2), 0, 1,
			want{"2019-02-06T00:00:38.000000Z", "Request Time", "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be REST.GET.BUCKETPOLICY on amzn-s3-demo-bucket1 from 192.0.2.3: 404 NoSuchBucketPolicy, 297 bytes sent",
				"REST.GET.BUCKETPOLICY", "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", "amzn-s3-demo-bucket1", "192.0.2.3", "404 NoSuchBucketPolicy"}},
		{"s3access camelCase PUT", "s3access", extractLine(t, "s3access_camel.derived.jsonl", 0), 0, 1,
			want{"2023-01-31T09:25:23.000000Z", "Request Time", "arn:aws:sts::347283850106:assumed-role/CentralizedLogging-CustomCDKBucketDeployment8693BB-1X4DVR38SF7ZY/CentralizedLogging-CustomCDKBucketDeployment8693BB-kU6BAxSswmfp REST.PUT.OBJECT on centralizedlogging-webconsoleuis3bucket22191f5e-t9bxwwr3d7k/locales/zh/servicelog.json from 35.89.52.162: 200",
				"REST.PUT.OBJECT", "arn:aws:sts::347283850106:assumed-role/CentralizedLogging-CustomCDKBucketDeployment8693BB-1X4DVR38SF7ZY/CentralizedLogging-CustomCDKBucketDeployment8693BB-kU6BAxSswmfp",
				"centralizedlogging-webconsoleuis3bucket22191f5e-t9bxwwr3d7k/locales/zh/servicelog.json", "35.89.52.162", "200"}},
		{"s3access anonymous, RFC 3339 time", "s3access",
			[]byte(`{"bucket":"b","time":"2024-08-02T08:23:10Z","remoteIp":"198.51.100.7","requester":"-","operation":"REST.GET.OBJECT","key":"k","httpStatus":"403","errorCode":"AccessDenied"}`), 0, 1,
			want{"2024-08-02T08:23:10.000000Z", "Request Time", "anonymous REST.GET.OBJECT on b/k from 198.51.100.7: 403 AccessDenied", "REST.GET.OBJECT", "anonymous", "b/k", "198.51.100.7", "403 AccessDenied"}},
		{"cloudwatch event, ms kept", "cloudwatch", extractLine(t, "cloudwatch.derived.jsonl", 2), 0, 1,
			want{"2015-06-01T20:23:04.358000Z", "Event Time", "my-logs/20150601: Example Event 2", "log", "20150601", "my-logs", "", ""}},
		{"cloudwatch GetLogEvents response: 3 events", "cloudwatch", extractLine(t, "cloudwatch.derived.jsonl", 3), 2, 3,
			want{"2015-06-01T20:23:04.358000Z", "Event Time", "Example Event 2", "log", "", "", "", ""}},
		{"cloudwatch without timestamp: ingestion time", "cloudwatch",
			[]byte(`{"ingestionTime":1433190494190,"logStream":"s","message":"multi\nline\tmessage"}`), 0, 1,
			want{"2015-06-01T20:28:14.190000Z", "Ingestion Time", "s: multi line message", "log", "s", "", "", ""}},
		{"dynamodb GetRecords INSERT, float seconds", "dynamodb", extractLine(t, "dynamodb_getrecords.derived.jsonl", 0), 0, 1,
			want{"2019-10-23T16:43:48.000000Z", "Approximate Creation Time", "INSERT on a table key {Artist=No One You Know, SongTitle=Call Me Today} (sequence 700000000013256296913)",
				"dynamodb:INSERT", "", "{Artist=No One You Know, SongTitle=Call Me Today}", "", ""}},
		{"dynamodb Lambda record wrapped, TTL service identity", "dynamodb", extractLine(t, "dynamodb_lambda_wrapped.derived.jsonl", 0), 0, 1,
			want{"2016-12-02T01:27:00.000000Z", "Approximate Creation Time", "INSERT on Example-Table key {key=binary, val=data} by dynamodb.amazonaws.com (sequence 1405400000000002063282832)",
				"dynamodb:INSERT", "dynamodb.amazonaws.com", "Example-Table {key=binary, val=data}", "", ""}},
		{"guardduty GetFindings PascalCase response: activity first seen", "guardduty", extractLine(t, "guardduty_pascal.derived.jsonl", 0), 2, 4,
			want{"2020-05-26T22:02:24.000000Z", "Activity First Seen", "GuardDuty finding Recon:IAMUser/UserPermissions severity 5 (Medium) on AccessKey ASIASZ4SI7REEEXAMPLE from 52.94.36.7: Unusual user permission reconnaissance activity by testuser.",
				"Recon:IAMUser/UserPermissions", "testuser", "AccessKey ASIASZ4SI7REEEXAMPLE", "52.94.36.7", "Medium"}},
		{"guardduty camelCase EventBridge envelope: updated", "guardduty", extractLine(t, "guardduty_camel.derived.jsonl", 3), 0, 2,
			want{"2017-12-08T15:32:49.862000Z", "Finding Updated", "", "UnauthorizedAccess:IAMUser/TorIPCaller", "GeneratedFindingUserName", "AccessKey GeneratedFindingAccessKeyId", "198.51.100.0", "Medium"}},
		{"inspector finding, micros from the API", "inspector", extractLine(t, "inspector.derived.jsonl", 0), 0, 1,
			want{"2023-09-08T20:07:30.366000Z", "Finding Updated", "Inspector MEDIUM PACKAGE_VULNERABILITY on AWS_EC2_INSTANCE i-07b035550fa86717d: CVE-2022-40982 - intel-microcode, linux-image-aws (ACTIVE)",
				"inspector:PACKAGE_VULNERABILITY", "", "AWS_EC2_INSTANCE i-07b035550fa86717d", "", "ACTIVE"}},
		{"iam services last accessed", "iam", extractLine(t, "iam.derived.jsonl", 0), 0, 6,
			want{"2019-02-08T14:55:00.000000Z", "Last Accessed", "arn:aws:iam::644160558196:user/kapil last accessed acm (AWS Certificate Manager)",
				"iam:LastAccessed", "arn:aws:iam::644160558196:user/kapil", "acm", "", ""}},
		{"iam tracked action", "iam",
			[]byte(`{"ServiceNamespace":"s3","ServiceName":"Amazon S3","LastAuthenticated":"2024-08-01T10:00:00Z","LastAuthenticatedEntity":"arn:aws:iam::123456789012:user/alice","TrackedActionsLastAccessed":[{"ActionName":"GetObject","LastAccessedEntity":"arn:aws:iam::123456789012:role/r","LastAccessedRegion":"eu-west-1","LastAccessedTime":"2024-08-01T09:00:00Z"}]}`), 1, 2,
			want{"2024-08-01T09:00:00.000000Z", "Last Accessed", "arn:aws:iam::123456789012:role/r last called s3:GetObject in eu-west-1", "iam:LastAccessed", "arn:aws:iam::123456789012:role/r", "s3:GetObject", "", ""}},
		{"iam with entities", "iam", extractLine(t, "iam.derived.jsonl", 1), 0, 2,
			want{"2019-09-30T23:02:00.000000Z", "Last Accessed", "arn:aws:iam::123456789012:user/admin last accessed the service", "iam:LastAccessed", "arn:aws:iam::123456789012:user/admin", "", "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, un := Normalize(tc.source, "a/key.jsonl.gz", 7, tc.line, testNow)
			if len(evs) != tc.n {
				t.Fatalf("%d events, want %d (untimed %+v)", len(evs), tc.n, un)
			}
			e := evs[tc.idx]
			got := want{e.Datetime, e.TimestampDesc, e.Message, e.Action, e.Actor, e.Target, e.SrcIP, e.Outcome}
			w := tc.want
			if w.message == "" {
				got.message = ""
			}
			if got != w {
				t.Errorf("\n got %#v\nwant %#v", got, w)
			}
			if e.Source != tc.source || e.Artifact != "a/key.jsonl.gz" || e.Record != 7 {
				t.Errorf("pointer %s %s %d", e.Source, e.Artifact, e.Record)
			}
			if strings.ContainsAny(e.Message, "\n\r\t") {
				t.Errorf("message is not one line: %q", e.Message)
			}
		})
	}
}

// The Timesketch import fixtures' time edge cases, read from the fixtures
// themselves: each row's datetime either parses (UTC, at DatetimePrecision) or is
// refused with the reason a responder would want.
func TestTimesketchTimeEdgeCases(t *testing.T) {
	want := map[string]struct{ datetime, reason string }{ // by data_type
		"csv_very_old_event":                  {"", ReasonOutOfRange},
		"csv_very_future_event":               {"", ReasonOutOfRange},
		"timestamptest1":                      {"2024-07-24T10:57:02.877297Z", ""},
		"timestamptest2":                      {"2015-07-24T19:01:01.000000Z", ""},
		"Missing_timezone_info":               {"", ReasonUnparseableTime},
		"wrong_timestamp":                     {"", ReasonUnparseableTime},
		"long_timestamp":                      {"", ReasonUnparseableTime},
		"wrong_datetime_1":                    {"", ReasonUnparseableTime},
		"No_datetime":                         {"", ReasonMissingTime},
		"Whitespace_datetime":                 {"", ReasonMissingTime},
		"No timestamp1":                       {"2015-07-25T02:01:01.000000Z", ""},
		"No timestamp2":                       {"2014-07-25T02:01:01.000000Z", ""},
		"Whitespace timestamp":                {"2016-07-25T02:01:01.000000Z", ""},
		"This event has timestamp":            {"", ""}, // two rows, checked below
		"This data_type should stay the same": {"2015-07-25T02:01:01.000000Z", ""},
	}
	seen := 0
	for _, f := range []string{"validate_time_out_of_range.csv", "validate_time_precision.csv", "invalid_datetime.csv",
		"validate_no_datetime_timestamps.csv", "validate_timestamp_conversion.csv"} {
		fh, err := os.Open("testdata/timesketch/" + f)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		for _, r := range rows[1:] {
			dt, typ := r[col["datetime"]], r[col["data_type"]]
			w, ok := want[typ]
			if !ok {
				t.Errorf("%s: no expectation for %q", f, typ)
				continue
			}
			seen++
			line, _ := json.Marshal(map[string]any{"eventTime": dt, "eventName": typ})
			evs, un := Normalize("cloudtrail", f, 0, line, testNow)
			switch {
			case typ == "This event has timestamp":
				if len(evs) != 1 || (evs[0].Datetime != "2012-03-14T04:17:38.000000Z" && evs[0].Datetime != "2022-07-24T19:01:01.000000Z") {
					t.Errorf("%s %q: %+v %+v", f, dt, evs, un)
				}
			case w.reason == "":
				if len(evs) != 1 || evs[0].Datetime != w.datetime {
					t.Errorf("%s %q: got %+v %+v, want %s", f, dt, evs, un, w.datetime)
				}
			default:
				if len(evs) != 0 || len(un) != 1 || un[0].Reason != w.reason {
					t.Errorf("%s %q: got %+v %+v, want untimed %q", f, dt, evs, un, w.reason)
				}
			}
		}
	}
	if seen != 16 {
		t.Errorf("%d fixture rows checked, want 16", seen)
	}
	// The JSONL fixture: sub-second precision in datetime kept exactly.
	b, _ := os.ReadFile("testdata/timesketch/validate_time_precision_jsonl.jsonl")
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		tm, prec, err := ParseTime(m["datetime"])
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatTime(tm, prec); !strings.HasPrefix(m["datetime"].(string), strings.TrimSuffix(got, "Z")) {
			t.Errorf("%s -> %s", m["datetime"], got)
		}
	}
}

func TestParseTimePrecision(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"2024-08-02T08:23:10Z", "2024-08-02T08:23:10Z"},
		{"2024-08-02T08:23:10.123456Z", "2024-08-02T08:23:10.123456Z"},
		{"2024-08-02T08:23:10.120Z", "2024-08-02T08:23:10.120Z"},
		{"2024-08-02T08:23:10.123456789Z", "2024-08-02T08:23:10.123456789Z"},
		{"2024-08-02 10:23:10.5+02:00", "2024-08-02T08:23:10.5Z"},
		{"2022-07-24T19:01:01+0000", "2022-07-24T19:01:01Z"},
		{"[06/Feb/2019:00:00:38 +0000]", "2019-02-06T00:00:38Z"},
		{"06/Feb/2019:01:00:38 +0100", "2019-02-06T00:00:38Z"},
		{json.Number("1418530010"), "2014-12-14T04:06:50Z"},
		{json.Number("1571849028.0"), "2019-10-23T16:43:48Z"},
		{json.Number("1571849028.25"), "2019-10-23T16:43:48.25Z"},
		{json.Number("1.57184902825E9"), "2019-10-23T16:43:48.25Z"},
		{json.Number("1433190184356"), "2015-06-01T20:23:04.356Z"},
		{json.Number("1658689261123456"), "2022-07-24T19:01:01.123456Z"},
		{json.Number("1658689261123456789"), "2022-07-24T19:01:01.123456789Z"},
		{"1658689261", "2022-07-24T19:01:01Z"},
		{float64(1480642020), "2016-12-02T01:27:00Z"},
	}
	for _, tc := range tests {
		tm, prec, err := ParseTime(tc.in)
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if got := FormatTime(tm, prec); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []any{nil, "", " ", "-", "yesterday", "2017-09-24 19:01:01", true, map[string]any{}} {
		if _, _, err := ParseTime(bad); err == nil {
			t.Errorf("%v: parsed", bad)
		}
	}
	_ = time.Now
}

// FormatTime writes what Format writes with the same layout, in and out
// of the years written by hand.
func TestFormatTimeMatchesFormat(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2024, 8, 2, 8, 23, 10, 123456789, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 3, 4, 5, 6, 7, 8, time.UTC),
		time.Date(2024, 8, 2, 8, 23, 10, 5, time.FixedZone("x", -7*3600)),
		time.Unix(0, 0),
	} {
		for _, prec := range []int{0, 3, 6, 9} {
			layout := "2006-01-02T15:04:05"
			if prec > 0 {
				layout += "." + strings.Repeat("0", prec)
			}
			if got, want := FormatTime(tm, prec), tm.UTC().Format(layout+"Z"); got != want {
				t.Errorf("%v at %d: %s, want %s", tm, prec, got, want)
			}
		}
	}
}

// oneLine finds a control character wherever it is in the text, in the
// eight-byte words and in the tail.
func TestOneLineControl(t *testing.T) {
	for n := range 20 {
		for _, c := range []byte{0, '\n', 0x1f, 0x7f} {
			for at := range n {
				s := []byte(strings.Repeat("a", n))
				s[at] = c
				if got := oneLine(string(s)); strings.ContainsAny(got, "\x00\n\x1f\x7f") {
					t.Errorf("%q: %q keeps the control character", s, got)
				}
			}
		}
		clean := strings.Repeat("é~ ", n)
		if got := oneLine(clean); got != clean {
			t.Errorf("%q: changed to %q", clean, got)
		}
	}
}

// The events Normalize returns are their own: the strings a normalizer
// reads are the line's bytes (unquote), and a caller that reuses its line
// (a bufio.Scanner's buffer) must not change them.
func TestNormalizeOwnsItsStrings(t *testing.T) {
	for _, c := range []struct {
		file   string
		source string
	}{
		{"cloudtrail_stratus.derived.jsonl", "cloudtrail"},
		{"cloudtrail_lookupevents_awscli.derived.jsonl", "cloudtrail"},
		{"vpcflow.derived.jsonl", "vpcflow"},
		{"vpcflow_camel.derived.jsonl", "vpcflow"},
		{"s3access.derived.jsonl", "s3access"},
		{"cloudwatch.derived.jsonl", "cloudwatch"},
		{"dynamodb_getrecords.derived.jsonl", "dynamodb"},
		{"guardduty_camel.derived.jsonl", "guardduty"},
		{"inspector.derived.jsonl", "inspector"},
		{"iam.derived.jsonl", "iam"},
	} {
		line := extractLine(t, c.file, 0)
		want, wantUn := Normalize(c.source, "a", 0, bytes.Clone(line), testNow)
		got, gotUn := Normalize(c.source, "a", 0, line, testNow)
		for i := range line {
			line[i] = 'x'
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotUn, wantUn) {
			t.Errorf("%s: the events changed with their line:\n got %+v\nwant %+v", c.file, got, want)
		}
	}
}
