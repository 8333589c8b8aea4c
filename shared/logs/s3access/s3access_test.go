package s3access

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Testdata files (see testdata/SOURCES.md).
const (
	openSearchFile = "testdata/opensearch-catalog/s3_server_access_raw.log"
	otelFile       = "testdata/otel-collector-contrib/s3_access_log_multi.log"
	pantherFile    = "testdata/panther-analysis/attacker_s3_access.yml"
)

func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// pantherLines returns the raw lines of the Panther scenario (YAML list
// items under Logs:).
func pantherLines(t *testing.T) []string {
	var out []string
	for _, l := range readLines(t, pantherFile) {
		if s, ok := strings.CutPrefix(l, "  - "); ok {
			out = append(out, s)
		}
	}
	if len(out) != 3 {
		t.Fatalf("%d lines in the Panther scenario, want 3", len(out))
	}
	return out
}

func i64(v int64) *int64 { return &v }
func iv(v int) *int      { return &v }

func TestParseCorpusLines(t *testing.T) {
	os1 := readLines(t, openSearchFile)
	otel := readLines(t, otelFile)
	pan := pantherLines(t)
	cases := []struct {
		name string
		line string
		want Record
	}{
		{
			name: "opensearch line 1: PUT object, 26 fields, trailing dashes",
			line: os1[0],
			want: Record{
				BucketOwner:      "078d85edf7268fb4814b1b4fc9f4c64adfde218b6b489a38ecf1b269f14f3c7a",
				Bucket:           "centralizedlogging-webconsoleuis3bucket22191f5e-t9bxwwr3d7k",
				Time:             time.Date(2023, 1, 31, 9, 25, 21, 0, time.UTC),
				RemoteIP:         "35.89.52.162",
				Requester:        "arn:aws:sts::347283850106:assumed-role/CentralizedLogging-CustomCDKBucketDeployment8693BB-1X4DVR38SF7ZY/CentralizedLogging-CustomCDKBucketDeployment8693BB-kU6BAxSswmfp",
				RequestID:        "7ERH6MMR32AXYMKY",
				Operation:        "REST.PUT.OBJECT",
				Key:              "locales/en/cluster.json",
				RequestURI:       "PUT /locales/en/cluster.json HTTP/1.1",
				HTTPStatus:       iv(200),
				ObjectSize:       i64(9427),
				TotalTimeMs:      i64(138),
				TurnAroundTimeMs: i64(11),
				UserAgent:        "aws-cli/1.25.70 Python/3.9.13 Linux/4.14.255-296-236.539.amzn2.x86_64 exec-env/AWS_Lambda_python3.9 botocore/1.27.69",
				HostID:           "2X+mJdbKRF1u5wwyvOiS0+gMBel7tzKXNnihWszj/jiy347Vui/ky/7IeQxWz8eJ5/r3agqA3yo=",
				SignatureVersion: "SigV4",
				CipherSuite:      "ECDHE-RSA-AES128-GCM-SHA256",
				AuthType:         "AuthHeader",
				HostHeader:       "centralizedlogging-webconsoleuis3bucket22191f5e-t9bxwwr3d7k.s3.us-west-2.amazonaws.com",
				TLSVersion:       "TLSv1.2",
				Fields:           26,
			},
		},
		{
			name: "otel line 1: access point ARN and ACL required",
			line: otel[0],
			want: Record{
				BucketOwner:      "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
				Bucket:           "amzn-s3-demo-bucket1",
				Time:             time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC),
				RemoteIP:         "192.0.2.3",
				Requester:        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
				RequestID:        "3E57427F3EXAMPLE",
				Operation:        "REST.GET.VERSIONING",
				RequestURI:       "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1",
				HTTPStatus:       iv(200),
				BytesSent:        i64(113),
				TotalTimeMs:      i64(7),
				UserAgent:        "S3Console/0.4",
				HostID:           "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=",
				SignatureVersion: "SigV4",
				CipherSuite:      "ECDHE-RSA-AES128-GCM-SHA256",
				AuthType:         "AuthHeader",
				HostHeader:       "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com",
				TLSVersion:       "TLSV1.2",
				AccessPointARN:   "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP",
				ACLRequired:      "Yes",
				Fields:           26,
			},
		},
		{
			name: "otel line 3: 404 with an error code",
			line: otel[2],
			want: Record{
				BucketOwner:      "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
				Bucket:           "amzn-s3-demo-bucket1",
				Time:             time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC),
				RemoteIP:         "192.0.2.3",
				Requester:        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
				RequestID:        "A1206F460EXAMPLE",
				Operation:        "REST.GET.BUCKETPOLICY",
				RequestURI:       "GET /amzn-s3-demo-bucket1?policy HTTP/1.1",
				HTTPStatus:       iv(404),
				ErrorCode:        "NoSuchBucketPolicy",
				BytesSent:        i64(297),
				TotalTimeMs:      i64(38),
				UserAgent:        "S3Console/0.4",
				HostID:           "BNaBsXZQQDbssi6xMBdBU2sLt+Yf5kZDmeBUP35sFoKa3sLLeMC78iwEIWxs99CRUrbS4n11234=",
				SignatureVersion: "SigV4",
				CipherSuite:      "ECDHE-RSA-AES128-GCM-SHA256",
				AuthType:         "AuthHeader",
				HostHeader:       "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com",
				TLSVersion:       "TLSV1.2",
				ACLRequired:      "Yes",
				Fields:           26,
			},
		},
		{
			name: "panther line 1: older layout, 24 fields",
			line: pan[0],
			want: Record{
				BucketOwner:      "79a59df900bb44eeed96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
				Bucket:           "acme.customerdata-prod",
				Time:             time.Date(2020, 11, 1, 10, 43, 7, 0, time.UTC),
				RemoteIP:         "172.31.77.31",
				Requester:        "arn:aws:iam::493859302102:user/tracy_stone",
				RequestID:        "DD6CC733AEXAMPLE",
				Operation:        "REST.GET.OBJECT",
				Key:              "id-01.pdf",
				RequestURI:       "GET /id-01.pdf HTTP/1.1",
				HTTPStatus:       iv(200),
				ObjectSize:       i64(4406583),
				TotalTimeMs:      i64(41754),
				TurnAroundTimeMs: i64(28),
				UserAgent:        "S3Console/0.4",
				HostID:           "10S62Zv81kBW7BB6SX4XJ48o6kpcl6LPwEoizZQQxJd5qDSCTLX0TgS37kYUBKQW3+bPdrg1234=",
				SignatureVersion: "SigV4",
				CipherSuite:      "ECDHE-RSA-AES128-SHA",
				AuthType:         "AuthHeader",
				HostHeader:       "acme.customerdata-prod.s3.amazonaws.com",
				TLSVersion:       "TLSV1.1",
				Fields:           24,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.line))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(c.want, "", " ")
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// TestEveryCorpusLine: every real line parses, with its own time and bucket.
func TestEveryCorpusLine(t *testing.T) {
	files := map[string][]string{
		openSearchFile: readLines(t, openSearchFile),
		otelFile:       readLines(t, otelFile),
		pantherFile:    pantherLines(t),
	}
	wantCount := map[string]int{openSearchFile: 18, otelFile: 3, pantherFile: 3}
	for name, lines := range files {
		if len(lines) != wantCount[name] {
			t.Errorf("%s: %d lines, want %d", name, len(lines), wantCount[name])
		}
		for i, l := range lines {
			r, err := Parse([]byte(l))
			if err != nil {
				t.Errorf("%s line %d: %v", name, i+1, err)
				continue
			}
			if r.Time.IsZero() || r.Bucket == "" || r.Operation == "" || r.HTTPStatus == nil || r.Time.Location() != time.UTC {
				t.Errorf("%s line %d: %+v", name, i+1, r)
			}
		}
	}
	// The opensearch file's last line, by time.
	r, _ := Parse([]byte(files[openSearchFile][17]))
	if want := time.Date(2023, 1, 31, 9, 25, 34, 0, time.UTC); !r.Time.Equal(want) || r.RequestID != "XKXJ2GWEFMEAC40N" {
		t.Errorf("last opensearch line: %s %s", r.Time, r.RequestID)
	}
}

func TestParseMalformed(t *testing.T) {
	good := readLines(t, otelFile)[0]
	fields, err := Split([]byte(good))
	if err != nil || len(fields) != 26 {
		t.Fatalf("Split: %d fields, %v", len(fields), err)
	}
	cases := []struct {
		name, line, reason string
	}{
		{"too few fields", strings.Join(strings.Fields(good)[:12], " "), "fields, want at least 17"},
		{"bad time", strings.Replace(good, "06/Feb/2019:00:00:38 +0000", "2019-02-06T00:00:38Z", 1), `time "2019-02-06T00:00:38Z"`},
		{"bad month", strings.Replace(good, "06/Feb/2019", "06/Fev/2019", 1), "time"},
		{"unclosed bracket", strings.Replace(good, "+0000]", "+0000", 1), "unclosed bracket"},
		{"unclosed quote", good[:strings.Index(good, `"S3Console`)+5], "unclosed quote"},
		{"status not a number", strings.Replace(good, " 200 ", " OK ", 1), `HTTP status "OK"`},
		{"bytes not a number", strings.Replace(good, " 113 ", " 11x ", 1), `bytes sent "11x"`},
		// moto_server's own log lines: the request-URI is not quoted, so
		// every later field is shifted.
		{"moto's unquoted request line", `0a1b originbucket [27/Nov/2026:12:00:00 +0000] 0.0.0.0 - 9f8e REST.GET.BUCKET - GET /data HTTP/1.1 200 - - 1 2 "-" Go-http-client/1.1 prompt/off - c29t SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader localhost TLSv1.2 - -`, `HTTP status "/data"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.line))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse: %v, want ErrMalformed", err)
			}
			var me *MalformedError
			if !errors.As(err, &me) || !strings.Contains(me.Reason, c.reason) {
				t.Errorf("reason %q, want it to contain %q", err, c.reason)
			}
		})
	}
}

func TestParseEdges(t *testing.T) {
	good := readLines(t, otelFile)[1]
	// A field AWS may append later is kept, not refused.
	r, err := Parse([]byte(good + " newfield"))
	if err != nil || !reflect.DeepEqual(r.Extra, []string{"newfield"}) || r.Fields != 27 {
		t.Errorf("appended field: %v %v %d", err, r.Extra, r.Fields)
	}
	// A quote inside a quoted user agent, not followed by a space, does
	// not end the field.
	line := strings.Replace(good, `"S3Console/0.4"`, `"Mozilla/5.0 (a"b) c"`, 1)
	if r, err = Parse([]byte(line)); err != nil || r.UserAgent != `Mozilla/5.0 (a"b) c` || r.AccessPointARN != "" || r.HostHeader != "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com" {
		t.Errorf("inner quote: %v %q", err, r.UserAgent)
	}
	// A time in another zone is converted to UTC.
	line = strings.Replace(good, "[06/Feb/2019:00:00:38 +0000]", "[06/Feb/2019:02:00:38 +0200]", 1)
	if r, err = Parse([]byte(line)); err != nil || !r.Time.Equal(time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC)) || r.Time.Location() != time.UTC {
		t.Errorf("zone: %v %v", err, r.Time)
	}
	// Exactly MinFields fields (up to the user agent) is a record.
	f := strings.SplitN(good, ` "S3Console/0.4"`, 2)[0] + ` "S3Console/0.4"`
	if r, err = Parse([]byte(f)); err != nil || r.Fields != MinFields || r.UserAgent != "S3Console/0.4" || r.HostID != "" {
		t.Errorf("17 fields: %v %+v", err, r)
	}
}

// TestRead: a malformed line is counted and the rest of the input read.
func TestRead(t *testing.T) {
	lines := readLines(t, openSearchFile)
	var in bytes.Buffer
	in.WriteString(lines[0] + "\n")
	in.WriteString(strings.Join(strings.Fields(lines[1])[:10], " ") + "\n") // truncated
	in.WriteString("\n")
	in.WriteString(lines[2] + "\r\n")
	in.WriteString(strings.Replace(lines[3], "31/Jan/2023", "31/Jan/23", 1) + "\n") // bad time
	in.WriteString(lines[4])                                                        // no final newline
	var got []int
	st, err := Read(&in, func(n int, r Record) error {
		got = append(got, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []int{1, 4, 6}) {
		t.Errorf("records at lines %v, want [1 4 6]", got)
	}
	if st.Lines != 5 || st.Records != 3 || st.Malformed != 2 || len(st.Problems) != 2 ||
		!strings.HasPrefix(st.Problems[0], "line 2: ") || !strings.HasPrefix(st.Problems[1], "line 5: ") {
		t.Errorf("stats %+v", st)
	}
	stop := errors.New("stop")
	st, err = Read(strings.NewReader(lines[0]+"\n"+lines[1]+"\n"), func(int, Record) error { return stop })
	if !errors.Is(err, stop) || st.Records != 1 {
		t.Errorf("emit error: %v %+v", err, st)
	}
}

func TestRecordJSON(t *testing.T) {
	r, err := Parse([]byte(readLines(t, openSearchFile)[0]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["time"] != "2023-01-31T09:25:21Z" || m["httpStatus"] != 200.0 || m["objectSize"] != 9427.0 || m["operation"] != "REST.PUT.OBJECT" {
		t.Errorf("JSON %s", b)
	}
	for _, absent := range []string{"bytesSent", "errorCode", "referer", "versionId", "accessPointArn", "aclRequired", "extra"} {
		if _, ok := m[absent]; ok {
			t.Errorf("%s present in %s", absent, b)
		}
	}
}

// TestReadLongLine: a line past MaxLine is counted as malformed, named,
// and the lines after it are read (a scanner once stopped there, and the
// rest of the object was lost).
func TestReadLongLine(t *testing.T) {
	lines := readLines(t, openSearchFile)
	in := lines[0] + "\n" + strings.Repeat("x", 2*MaxLine) + "\n" + lines[1] + "\n"
	var got []int
	st, err := Read(strings.NewReader(in), func(n int, r Record) error { got = append(got, n); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []int{1, 3}) || st.Lines != 3 || st.Malformed != 1 ||
		len(st.Problems) != 1 || !strings.HasPrefix(st.Problems[0], "line 2: ") {
		t.Errorf("records at lines %v, stats %+v", got, st)
	}
}
