package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/s3logs"
)

// Real records (see testdata/SOURCES.md).
const (
	steal    = "stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.json"
	userData = "stratus-red-team/aws.execution.ec2-user-data.json"
	leaveOrg = "stratus-red-team/aws.defense-evasion.organizations-leave.json"
	launch   = "stratus-red-team/aws.execution.ec2-launch-unusual-instances.json"
	gzLog    = "opensearch-catalog/347283850106_CloudTrail_eu-west-1_20211202T2215Z_DERIVEDfromOpenSearchCatalog.json.gz"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// records returns a Stratus file's records (a JSON array).
func records(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	var rs []json.RawMessage
	if err := json.Unmarshal(read(t, name), &rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// logFile wraps records as CloudTrail delivers them: {"Records":[...]}.
func logFile(rs []json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"Records": rs})
	return b
}

func readAll(t testing.TB, r io.Reader) (evs []*Event, bad []error, err error) {
	t.Helper()
	err = Read(r, func(e *Event) error { evs = append(evs, e); return nil }, func(e error) { bad = append(bad, e) })
	return evs, bad, err
}

func TestReadShapes(t *testing.T) {
	stratus := records(t, steal)
	for _, tc := range []struct {
		name string
		body func(t *testing.T) io.Reader
		want int
	}{
		{"bare array (Stratus)", func(t *testing.T) io.Reader { return bytes.NewReader(read(t, steal)) }, 45},
		{"S3 delivery object", func(t *testing.T) io.Reader { return bytes.NewReader(logFile(stratus)) }, 45},
		{"other members around Records", func(t *testing.T) io.Reader {
			return strings.NewReader(`{"version":1,"Records":[` + string(stratus[0]) + `],"trailer":{"a":[1,2]}}`)
		}, 1},
		{"AWS .json.gz (opensearch)", func(t *testing.T) io.Reader {
			r, err := s3logs.Decompressed(bytes.NewReader(read(t, gzLog)))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 840},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, bad, err := readAll(t, tc.body(t))
			if err != nil || len(bad) != 0 || len(evs) != tc.want {
				t.Fatalf("got %d events, bad %v, err %v; want %d", len(evs), bad, err, tc.want)
			}
			for _, e := range evs {
				if e.Time.IsZero() || e.EventID == "" || !json.Valid(e.Raw) {
					t.Fatalf("event not filled: %+v", e)
				}
			}
		})
	}
}

func TestReadFields(t *testing.T) {
	evs, _, err := readAll(t, bytes.NewReader(read(t, steal)))
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	want := Event{EventTime: "2024-08-02T08:23:24Z", EventName: "SendCommand", EventSource: "ssm.amazonaws.com",
		EventID: "2a5178c8-b4c7-44ba-b066-1ecc79b7087c", SourceIPAddress: "18.236.253.47", RecipientAccountID: "017622104382", AWSRegion: "us-north-2r"}
	if e.EventTime != want.EventTime || e.EventName != want.EventName || e.EventSource != want.EventSource || e.EventID != want.EventID ||
		e.SourceIPAddress != want.SourceIPAddress || e.RecipientAccountID != want.RecipientAccountID || e.AWSRegion != want.AWSRegion {
		t.Fatalf("got %+v", e)
	}
	if e.UserIdentity.ARN != "arn:aws:iam::017622104382:user/christophe" || e.UserIdentity.AccessKeyID != "AKIAAM80VXLJF8NPK4VC" || e.UserIdentity.UserName != "christophe" {
		t.Fatalf("identity %+v", e.UserIdentity)
	}
	if !e.Time.Equal(time.Date(2024, 8, 2, 8, 23, 24, 0, time.UTC)) || !bytes.Contains(e.RequestParameters, []byte("i-786a3A8B5C0d92eF4")) {
		t.Fatalf("time %v params %s", e.Time, e.RequestParameters)
	}
	// The event encodes as the original record.
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var orig, got any
	json.Unmarshal(records(t, steal)[0], &orig)
	json.Unmarshal(b, &got)
	ob, _ := json.Marshal(orig)
	gb, _ := json.Marshal(got)
	if !bytes.Equal(ob, gb) {
		t.Fatalf("encoded event differs from the record:\n%s\n%s", gb, ob)
	}
	var last *Event
	for _, e := range evs {
		if e.UserIdentity.Type == "AssumedRole" {
			last = e
		}
	}
	if last == nil || last.UserIdentity.SessionContext == nil ||
		last.UserIdentity.SessionContext.SessionIssuer.ARN != "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role" {
		t.Fatalf("session issuer not read: %+v", last)
	}
	lo := records(t, leaveOrg)
	le, err := Parse(lo[0])
	if err != nil || len(le.Resources) != 1 || le.Resources[0].Type != "AWS::IAM::Role" || le.Resources[0].ARN != "arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role" {
		t.Fatalf("resources: %+v %v", le, err)
	}
}

func TestReadBadRecords(t *testing.T) {
	rs := records(t, steal)
	var broken map[string]any
	json.Unmarshal(rs[1], &broken)
	broken["eventTime"] = "yesterday"
	bt, _ := json.Marshal(broken)
	mixed := []json.RawMessage{rs[0], json.RawMessage(`"not a record"`), bt, json.RawMessage(`{"eventID":"x"}`), json.RawMessage(`[1]`), rs[2]}
	evs, bad, err := readAll(t, bytes.NewReader(logFile(mixed)))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || len(bad) != 4 {
		t.Fatalf("got %d events and %d bad (%v), want 2 and 4", len(evs), len(bad), bad)
	}
	for i, want := range []string{"record 2: record is not a JSON object", "record 3", "record 4", "record 5"} {
		if !strings.Contains(bad[i].Error(), want) {
			t.Errorf("bad[%d] = %v, want %q", i, bad[i], want)
		}
	}
	if !strings.Contains(bad[1].Error(), `"yesterday"`) || !strings.Contains(bad[2].Error(), "no eventTime") {
		t.Errorf("bad = %v", bad)
	}
}

func TestReadTruncated(t *testing.T) {
	whole := logFile(records(t, steal))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(whole)
	zw.Close()
	// A cut between records: the 10 records before it are read.
	cut := bytes.Index(whole, []byte(`"eventID":"`+string(mustID(t, records(t, steal)[10]))))
	cut = bytes.LastIndex(whole[:cut], []byte(`,{`)) + 1
	for _, tc := range []struct {
		name    string
		body    func() io.Reader
		atLeast int
		atMost  int
	}{
		{"JSON cut after 10 records", func() io.Reader { return bytes.NewReader(whole[:cut]) }, 10, 10},
		{"JSON cut inside a record", func() io.Reader { return bytes.NewReader(whole[:cut+200]) }, 10, 10},
		{"gzip cut in half", func() io.Reader {
			r, err := s3logs.Decompressed(bytes.NewReader(gz.Bytes()[:gz.Len()/2]))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 1, 44},
		{"opensearch malformed sample (stray braces)", func() io.Reader {
			return bytes.NewReader(read(t, "opensearch-catalog/cloudtrail_samples-large.ORIGINAL_malformed.head8k.json"))
		}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, bad, err := readAll(t, tc.body())
			if err == nil {
				t.Fatal("no error for a truncated file")
			}
			if n := len(evs) + len(bad); n < tc.atLeast || n > tc.atMost {
				t.Fatalf("read %d records (%d bad) before %v; want %d..%d", n, len(bad), err, tc.atLeast, tc.atMost)
			}
		})
	}
	// The error is io.ErrUnexpectedEOF where the file simply ends.
	_, _, err := readAll(t, bytes.NewReader(whole[:cut]))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func mustID(t testing.TB, raw json.RawMessage) string {
	var v struct{ EventID string }
	if err := json.Unmarshal(raw, &v); err != nil || v.EventID == "" {
		t.Fatal("no eventID")
	}
	return v.EventID
}

func TestReadNotCloudTrail(t *testing.T) {
	for _, body := range []string{``, `42`, `{"logFiles":[]}`, `{"Records":{}}`} {
		if _, _, err := readAll(t, strings.NewReader(body)); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

func TestDecodeIsAnS3logsDecoder(t *testing.T) {
	var got []s3logs.Record
	err := Decode(bytes.NewReader(read(t, steal)), func(r s3logs.Record) error { got = append(got, r); return nil }, func(error) { t.Error("bad") })
	if err != nil || len(got) != 45 {
		t.Fatalf("%d records, %v", len(got), err)
	}
	if e, ok := got[0].Value.(*Event); !ok || !got[0].Time.Equal(e.Time) {
		t.Fatalf("value %T", got[0].Value)
	}
}
