package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// ec2Answers is an EC2 endpoint answering the snapshot calls with the
// response shapes of the EC2 API reference (the emulator does not emulate
// cross-account sharing: a shared snapshot is invisible to the hub, and
// an encrypted volume's snapshot has no key), recording each call's form.
type ec2Answers struct {
	mu        sync.Mutex
	calls     []url.Values
	encrypted bool
	fail      map[string]string // Action -> error code
	made      []string          // copies this endpoint made (the hub's)
}

func (e *ec2Answers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	e.mu.Lock()
	e.calls = append(e.calls, r.PostForm)
	e.mu.Unlock()
	action := r.PostForm.Get("Action")
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if code := e.fail[action]; code != "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>refused</Message></Error></Errors><RequestID>r-1</RequestID></Response>`, code)
		return
	}
	const ns = `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`
	switch action {
	case "DescribeSnapshots":
		id := r.PostForm.Get("SnapshotId.1")
		if id == "" { // by tags: the earlier copies (e.made)
			fmt.Fprintf(w, `<DescribeSnapshotsResponse %s><requestId>r-2</requestId><snapshotSet>`, ns)
			for _, m := range e.made {
				fmt.Fprintf(w, `<item><snapshotId>%s</snapshotId><status>pending</status><ownerId>999999999999</ownerId></item>`, m)
			}
			fmt.Fprint(w, `</snapshotSet></DescribeSnapshotsResponse>`)
			return
		}
		fmt.Fprintf(w, `<DescribeSnapshotsResponse %s><requestId>r-2</requestId><snapshotSet><item><snapshotId>%s</snapshotId><volumeId>vol-0a1b2c3d4e5f60718</volumeId>`+
			`<status>completed</status><startTime>2024-08-02T08:31:00.000Z</startTime><progress>100%%</progress><ownerId>111111111111</ownerId>`+
			`<volumeSize>8</volumeSize><encrypted>%v</encrypted><kmsKeyId>arn:aws:kms:eu-west-2:111111111111:key/aws-ebs</kmsKeyId></item></snapshotSet></DescribeSnapshotsResponse>`, ns, id, e.encrypted)
	case "CopySnapshot":
		id := fmt.Sprintf("snap-0c0c0c0c0c0c0c0c%d", len(e.calls))
		e.mu.Lock()
		e.made = append(e.made, id)
		e.mu.Unlock()
		fmt.Fprintf(w, `<CopySnapshotResponse %s><requestId>r-3</requestId><snapshotId>%s</snapshotId></CopySnapshotResponse>`, ns, id)
	case "ModifySnapshotAttribute":
		fmt.Fprintf(w, `<ModifySnapshotAttributeResponse %s><requestId>r-4</requestId><return>true</return></ModifySnapshotAttributeResponse>`, ns)
	case "LockSnapshot":
		fmt.Fprintf(w, `<LockSnapshotResponse %s><requestId>r-5</requestId><snapshotId>%s</snapshotId><lockState>governance</lockState></LockSnapshotResponse>`, ns, r.PostForm.Get("SnapshotId"))
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<Response><Errors><Error><Code>InvalidAction</Code><Message>%s</Message></Error></Errors></Response>`, action)
	}
}

func (e *ec2Answers) actions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range e.calls {
		out = append(out, c.Get("Action"))
	}
	return out
}

func ec2Client(url string) *ec2.Client {
	return ec2.New(ec2.Options{Region: "eu-west-2", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), RetryMaxAttempts: 1})
}

func TestHubCopyFromRecordedShapes(t *testing.T) {
	const key = "arn:aws:kms:eu-west-2:999999999999:key/0f0f0f0f-1111-2222-3333-444444444444"
	tests := []struct {
		name        string
		encrypted   bool
		memberFail  map[string]string
		wantMember  []string
		wantHub     []string
		wantCopy    bool
		wantGapText string
	}{
		{"an unencrypted snapshot is shared as it is", false, nil,
			[]string{"DescribeSnapshots", "ModifySnapshotAttribute"}, []string{"DescribeSnapshots", "CopySnapshot", "LockSnapshot"}, true, ""},
		{"an encrypted one is re-encrypted under custody's key first", true, nil,
			[]string{"DescribeSnapshots", "CopySnapshot", "DescribeSnapshots", "ModifySnapshotAttribute"}, []string{"DescribeSnapshots", "CopySnapshot", "LockSnapshot"}, true, ""},
		{"a share the member refuses is a gap naming the snapshot", false, map[string]string{"ModifySnapshotAttribute": "UnauthorizedOperation"},
			[]string{"DescribeSnapshots", "ModifySnapshotAttribute"}, nil, false, "snap-0123456789abcdef0 of account 111111111111 was not copied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			member := &ec2Answers{encrypted: tc.encrypted, fail: tc.memberFail}
			hub := &ec2Answers{}
			ms, hs := httptest.NewServer(member), httptest.NewServer(hub)
			defer ms.Close()
			defer hs.Close()
			h := &HubCopy{Member: ec2Client(ms.URL), Hub: ec2Client(hs.URL), HubAccount: "999999999999", KeyARN: key,
				Region: "eu-west-2", Lock: 30 * 24 * time.Hour, Wait: time.Minute}
			inc := &incident.Incident{CaseID: "gd-case", RunID: "r20240802T083100000Z"}
			out := collect.NewOutput(inc, "ec2", evidence.SourceEC2)
			s := &evidence.Snapshot{SnapshotID: "snap-0123456789abcdef0", VolumeID: "vol-0a1b2c3d4e5f60718", InstanceID: "i-0abc", AccountID: "111111111111"}
			if err := h.copy(context.Background(), inc, out, s); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(member.actions(), ","); got != strings.Join(tc.wantMember, ",") {
				t.Errorf("member calls %s, want %s", got, strings.Join(tc.wantMember, ","))
			}
			if got := strings.Join(hub.actions(), ","); got != strings.Join(tc.wantHub, ",") {
				t.Errorf("hub calls %s, want %s", got, strings.Join(tc.wantHub, ","))
			}
			if (s.HubCopyID != "") != tc.wantCopy || s.HubCopyLocked != tc.wantCopy {
				t.Errorf("snapshot %+v", s)
			}
			gaps := out.Gaps()
			if tc.wantGapText != "" {
				if len(gaps) != 1 || !strings.Contains(gaps[0].Reason, tc.wantGapText) || !strings.Contains(gaps[0].Fix, "modify-snapshot-attribute") {
					t.Errorf("gaps %+v", gaps)
				}
				return
			}
			if len(gaps) != 0 {
				t.Errorf("gaps %+v", gaps)
			}
			// What was shared, and how the hub copied it.
			for _, c := range member.calls {
				if c.Get("Action") == "ModifySnapshotAttribute" && c.Get("CreateVolumePermission.Add.1.UserId") != "999999999999" {
					t.Errorf("shared with %v, want the hub", c)
				}
				if c.Get("Action") == "CopySnapshot" && c.Get("KmsKeyId") != key {
					t.Errorf("member re-encrypted under %q, want custody's key", c.Get("KmsKeyId"))
				}
			}
			hc := hub.calls[1]
			if hc.Get("KmsKeyId") != key || hc.Get("Encrypted") != "true" || hc.Get("SourceRegion") != "eu-west-2" ||
				!strings.Contains(fmt.Sprint(hc), "custody:case-id") {
				t.Errorf("hub CopySnapshot %v: want encrypted under custody's key, tagged with the case", hc)
			}
		})
	}
}

func TestHubCopySkipsTheHubsOwnSnapshots(t *testing.T) {
	h := &HubCopy{HubAccount: "999999999999"}
	s := &evidence.Snapshot{SnapshotID: "snap-1", AccountID: "999999999999"}
	if err := h.copy(context.Background(), &incident.Incident{}, nil, s); err != nil || s.HubCopyID != "" {
		t.Errorf("copy of the hub's own snapshot: %v %+v", err, s)
	}
}

// TestHubCopyIsMadeOnce: a second attempt of the same run (a lost answer,
// a retried collector) finds the copy the first made by its tags.
func TestHubCopyIsMadeOnce(t *testing.T) {
	member, hub := &ec2Answers{}, &ec2Answers{}
	ms, hs := httptest.NewServer(member), httptest.NewServer(hub)
	defer ms.Close()
	defer hs.Close()
	h := &HubCopy{Member: ec2Client(ms.URL), Hub: ec2Client(hs.URL), HubAccount: "999999999999",
		KeyARN: "arn:aws:kms:eu-west-2:999999999999:key/k", Region: "eu-west-2", Wait: time.Minute}
	inc := &incident.Incident{CaseID: "gd-case", RunID: "r20240802T083100000Z"}
	var ids []string
	for range 2 {
		s := &evidence.Snapshot{SnapshotID: "snap-0123456789abcdef0", InstanceID: "i-0abc", AccountID: "111111111111"}
		if err := h.copy(context.Background(), inc, collect.NewOutput(inc, "ec2", evidence.SourceEC2), s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.HubCopyID)
	}
	if len(hub.made) != 1 || ids[0] == "" || ids[0] != ids[1] {
		t.Errorf("hub copies made %v, listed %v: want one, listed twice", hub.made, ids)
	}
}
