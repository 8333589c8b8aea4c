package scenario

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/custody-ir/custody/shared/emulator/s3test"
)

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestShifterForms(t *testing.T) {
	aug2 := Shifter{Days: 1, Anchor: utcDay(2024, 8, 2), WithinDays: 60}
	year := Shifter{Days: 1, Anchor: utcDay(2024, 12, 31), WithinDays: 60}
	leap := Shifter{Days: 1, Anchor: utcDay(2024, 2, 28), WithinDays: 60}
	back := Shifter{Days: -3, Anchor: utcDay(2024, 3, 1), WithinDays: 60}
	long := Shifter{Days: 846, Anchor: utcDay(2024, 8, 2), WithinDays: 60} // 2024-08-02 -> 2026-11-26
	for _, tc := range []struct {
		name string
		sh   Shifter
		in   string
		want string
	}{
		// ISO 8601 / RFC 3339
		{"rfc3339", aug2, `"eventTime":"2024-08-02T08:23:10Z"`, `"eventTime":"2024-08-03T08:23:10Z"`},
		{"fraction", aug2, `"createdAt": "2024-08-02T08:31:12.824Z"`, `"createdAt": "2024-08-03T08:31:12.824Z"`},
		{"offset", aug2, `2024-08-02T08:23:10+00:00 2024-08-02T23:59:59.999999-05:00`, `2024-08-03T08:23:10+00:00 2024-08-03T23:59:59.999999-05:00`},
		{"month rollover", aug2, `2024-07-31T23:00:00Z`, `2024-08-01T23:00:00Z`},
		{"month end", aug2, `2024-08-31T10:00:00Z`, `2024-09-01T10:00:00Z`},
		{"year rollover", year, `2024-12-31T23:59:59Z`, `2025-01-01T23:59:59Z`},
		{"leap day", leap, `2024-02-28T12:00:00Z`, `2024-02-29T12:00:00Z`},
		{"leap day backwards", back, `2024-03-01 and 2024-03-02`, `2024-02-27 and 2024-02-28`},
		{"long shift", long, `2024-08-02T08:22:39Z`, `2026-11-26T08:22:39Z`},
		{"siem", aug2, `2024-08-02 08:23:10`, `2024-08-03 08:23:10`},
		// keys and folders
		{"compact key", aug2, `123_CloudTrail_us-east-1_20240802T0825Z_Qm3x.json.gz`, `123_CloudTrail_us-east-1_20240803T0825Z_Qm3x.json.gz`},
		{"compact seconds", year, `X-Amz-Date=20241231T235959Z`, `X-Amz-Date=20250101T235959Z`},
		{"date folder", year, `CloudTrail/us-east-1/2024/12/31/x`, `CloudTrail/us-east-1/2025/01/01/x`},
		{"hive", aug2, `AWSLogs/aws-account-id=1/year=2024/month=08/day=02/hour=08/`, `AWSLogs/aws-account-id=1/year=2024/month=08/day=03/hour=08/`},
		{"s3 access log key", aug2, `custody-demo-data/2024-08-02-08-35-41-7D4E3A1F9C2B6E50`, `custody-demo-data/2024-08-03-08-35-41-7D4E3A1F9C2B6E50`},
		{"s3 access log line", year, `bucket [31/Dec/2024:23:10:02 +0000] 192.0.2.3`, `bucket [01/Jan/2025:23:10:02 +0000] 192.0.2.3`},
		{"cloudtrail english", aug2, `"expiresAfter":"Aug 2, 2024, 10:23:24 AM","x":"Jul 31, 2024, 8:00:00 PM"`, `"expiresAfter":"Aug 3, 2024, 10:23:24 AM","x":"Aug 1, 2024, 8:00:00 PM"`},
		{"english padded", long, `Aug 02, 2024`, `Nov 26, 2026`},
		{"rfc1123 weekday", aug2, `Fri, 02 Aug 2024 08:23:10 GMT`, `Sat, 03 Aug 2024 08:23:10 GMT`},
		{"rfc1123 no weekday", leap, `28 Feb 2024 10:00`, `29 Feb 2024 10:00`},
		// epoch numbers
		{"epoch s", aug2, `1722586950 1722587010`, `1722673350 1722673410`},
		{"epoch ms", aug2, `"timestamp": 1722587010000,`, `"timestamp": 1722673410000,`},
		{"epoch fraction", aug2, `1722586950.25`, `1722673350.25`},
		{"flow log line", aug2,
			`2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1722586950 1722587010 ACCEPT OK`,
			`2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1722673350 1722673410 ACCEPT OK`},
		// not times
		{"ports bytes packets", aug2, `20641 22 6 20 4249 3048576 65535`, `20641 22 6 20 4249 3048576 65535`},
		{"big byte count", aug2, `bytes 4406583123`, `bytes 4406583123`},
		{"epoch too far", aug2, `1700000000 1433190184356`, `1700000000 1433190184356`},
		{"epoch ms in 60 days", aug2, `1727700000000`, `1727786400000`},
		{"account id", aug2, `123456789012 017622104382`, `123456789012 017622104382`},
		{"digits glued", aug2, `AKIA1722586950XYZ i-1722586950a 11722586950 1722586950123456`, `AKIA1722586950XYZ i-1722586950a 11722586950 1722586950123456`},
		{"policy version", aug2, `"Version":"2012-10-17" xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`, `"Version":"2012-10-17" xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`},
		{"old file", aug2, `2021-12-02T22:11:17Z 20211202T2215Z 2021/12/02 Dec 3, 2021`, `2021-12-02T22:11:17Z 20211202T2215Z 2021/12/02 Dec 3, 2021`},
		{"not a date", aug2, `2024-02-30 2024-13-01 2024/08/32 v2024-08-02 2024-08-021 20240802 awslambda_248_20240802221117529`, `2024-02-30 2024-13-01 2024/08/32 v2024-08-02 2024-08-021 20240802 awslambda_248_20240802221117529`},
		{"uuid", aug2, `ff024f6e-78cd-4f36-95cf-7179c6421e32`, `ff024f6e-78cd-4f36-95cf-7179c6421e32`},
		{"placeholders", aug2, `{{epochms:-50m}} {{accesskey:alice:2}}`, `{{epochms:-50m}} {{accesskey:alice:2}}`},
		{"zero shift", Shifter{}, `2024-08-02T08:23:10Z 1722586950`, `2024-08-02T08:23:10Z 1722586950`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.sh.String(tc.in); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestShifterWithin(t *testing.T) {
	sh := Shifter{Days: 10, Anchor: utcDay(2024, 8, 2), WithinDays: 60}
	for _, tc := range []struct {
		in    string
		moves bool
	}{
		{"2024-06-03", true},  // 60 days before
		{"2024-06-02", false}, // 61 days before
		{"2024-10-01", true},  // 60 days after
		{"2024-10-02", false}, // 61 days after
		{strconv.FormatInt(utcDay(2024, 6, 3).Unix(), 10), true},
		{strconv.FormatInt(utcDay(2024, 6, 3).Unix()-1, 10), false},
		{strconv.FormatInt(utcDay(2024, 10, 2).UnixMilli()-1, 10), true},
		{strconv.FormatInt(utcDay(2024, 10, 2).UnixMilli(), 10), false},
	} {
		if got := sh.String(tc.in) != tc.in; got != tc.moves {
			t.Errorf("%s: moved %v, want %v", tc.in, got, tc.moves)
		}
	}
}

func TestTimeShiftDays(t *testing.T) {
	for _, tc := range []struct {
		ts   TimeShift
		now  time.Time
		days int
	}{
		{TimeShift{Anchor: "2024-08-02", DaysAgo: 1}, time.Date(2026, 11, 27, 12, 50, 0, 0, time.UTC), 846},
		{TimeShift{Anchor: "2024-08-02T08:22:39Z", DaysAgo: 1}, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), 846},
		// now's UTC date counts, not its local one
		{TimeShift{Anchor: "2024-08-02", DaysAgo: 0}, time.Date(2024, 8, 2, 22, 0, 0, 0, time.FixedZone("x", -5*3600)), 1},
		{TimeShift{Anchor: "2024-08-02T23:00:00-05:00", DaysAgo: 0}, time.Date(2024, 8, 3, 1, 0, 0, 0, time.UTC), 0},
		{TimeShift{Anchor: "2024-03-01", DaysAgo: 2}, time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC), -2},
	} {
		sh, err := tc.ts.Shifter(tc.now)
		if err != nil {
			t.Fatal(err)
		}
		if sh.Days != tc.days || sh.WithinDays != DefaultShiftWithinDays {
			t.Errorf("%+v at %s: %+v, want %d days", tc.ts, tc.now, sh, tc.days)
		}
	}
	for _, bad := range []TimeShift{{Anchor: "Aug 2"}, {Anchor: "2024-08-02", DaysAgo: -1}, {Anchor: "2024-08-02", WithinDays: -1}} {
		if _, err := bad.Shifter(time.Now()); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	sh := Shifter{Days: 846}
	if got := sh.Time(time.Date(2024, 8, 2, 8, 22, 39, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 26, 8, 22, 39, 0, time.UTC)) {
		t.Errorf("Time: %s", got)
	}
}

// A seed folder with a timeShift: its 2024 CloudWatch events are accepted
// and land in the shifted window; gzip contents, keys, stream names, items
// and the finding move by the same days; a file with nothing to shift is
// uploaded unchanged.
func TestApplyTimeShift(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "scenario.json"), []byte(`{
  "timeShift": {"anchor": "2024-08-02T00:00:00Z", "daysAgo": 1},
  "tables": [{"name": "t", "hashKey": "id", "items": [{"id": "a", "at": "2024-08-02T08:00:00Z"}]}]
}`))
	writeFile(t, filepath.Join(dir, "logs", "app", "2024-08-02-web.jsonl"), []byte(
		"{\"timestamp\": 1722587010000, \"message\": \"2024-08-02 08:23:30 in\"}\n"+
			"{\"timestamp\": 1722500000000, \"message\": \"the day before\"}\n"+
			"{\"timestamp\": {{epochms:-1m}}, \"message\": \"now\"}\n"))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n" +
		"2 {{account}} eni-1 10.0.0.1 10.0.0.2 443 22 6 20 4249 1722586950 1722587010 ACCEPT OK\n"))
	zw.Close()
	writeFile(t, filepath.Join(dir, "s3", "flow", "AWSLogs", "{{account}}", "vpcflowlogs", "us-east-1", "2024", "08", "02", "x_20240802T0825Z_a.log.gz"), buf.Bytes())
	writeFile(t, filepath.Join(dir, "s3", "flow", "plain.txt"), []byte("no time here: 22 443\n"))

	cfg, s := applyDir(t, dir)
	if s.Shift.Days < 800 {
		t.Fatalf("shift %+v", s.Shift)
	}
	at := func(sec int64) time.Time { return s.Shift.Time(time.Unix(sec, 0).UTC()) }
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	if got := at(1722587010).Format("2006-01-02"); got != yesterday {
		t.Fatalf("the anchor day lands on %s, want %s", got, yesterday)
	}
	day := at(1722587010).Format("2006/01/02")
	compact := at(1722587010).Format("20060102")

	out, err := s.Rewrite([]byte(`{"eventFirstSeen":"2024-08-02T08:22:39Z","launchTime":1722586780000,"port":22,"acct":"{{account}}"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventFirstSeen":"` + at(1722586959).Format(time.RFC3339) + `","launchTime":` + strconv.FormatInt(at(1722586780).UnixMilli(), 10) + `,"port":22,"acct":"` + s.Account + `"}`
	if string(out) != want {
		t.Errorf("finding\n got %s\nwant %s", out, want)
	}

	key := "AWSLogs/" + s.Account + "/vpcflowlogs/us-east-1/" + day + "/x_" + compact + "T0825Z_a.log.gz"
	flow := string(gunzip(t, s3test.Body(t, s3client(cfg), "flow", key)))
	wantLine := "2 " + s.Account + " eni-1 10.0.0.1 10.0.0.2 443 22 6 20 4249 " + strconv.FormatInt(at(1722586950).Unix(), 10) + " " + strconv.FormatInt(at(1722587010).Unix(), 10) + " ACCEPT OK\n"
	if !strings.HasSuffix(flow, wantLine) {
		t.Errorf("flow log\n%s\nwant last line %s", flow, wantLine)
	}
	plain := s3test.Body(t, s3client(cfg), "flow", "plain.txt")
	if string(plain) != "no time here: 22 443\n" {
		t.Errorf("plain.txt %q", plain)
	}
	wantRewritten := []string{"logs/app/2024-08-02-web.jsonl", "s3/flow/AWSLogs/{{account}}/vpcflowlogs/us-east-1/2024/08/02/x_20240802T0825Z_a.log.gz"}
	if strings.Join(s.Rewritten, " ") != strings.Join(wantRewritten, " ") {
		t.Errorf("rewritten %q, want %q", s.Rewritten, wantRewritten)
	}

	// CloudWatch Logs accepted the 2024 events, at their shifted times.
	stream := at(1722587010).Format("2006-01-02") + "-web"
	ev, err := cloudwatchlogs.NewFromConfig(cfg).GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String("app"), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	if len(ev.Events) != 3 {
		t.Fatalf("%d events, want 3", len(ev.Events))
	}
	if got, want := aws.ToInt64(ev.Events[0].Timestamp), at(1722500000).UnixMilli(); got != want {
		t.Errorf("first event at %d, want %d (the day before, shifted)", got, want)
	}
	if got, want := aws.ToInt64(ev.Events[1].Timestamp), at(1722587010).UnixMilli(); got != want {
		t.Errorf("second event at %d, want %d", got, want)
	}
	if got, want := aws.ToString(ev.Events[1].Message), at(1722587010).Format("2006-01-02 15:04:05")+" in"; got != want {
		t.Errorf("second message %q, want %q", got, want)
	}
	if got := time.UnixMilli(aws.ToInt64(ev.Events[2].Timestamp)); time.Since(got) > 5*time.Minute || time.Since(got) < 0 {
		t.Errorf("{{epochms:-1m}} landed at %s, want relative to now", got)
	}

	// Items move too.
	items, err := json.Marshal(s.Shift.String("2024-08-02T08:00:00Z"))
	if err != nil || !strings.Contains(string(items), at(1722585600).Format("2006-01-02")) {
		t.Errorf("item time %s", items)
	}
}
