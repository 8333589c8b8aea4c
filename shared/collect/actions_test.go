package collect_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// TestActionLogAcrossARetry: an attempt that is throttled (and retried by
// the state machine) stores the calls it made too; the attempt that stores
// the result takes the next free name, lists its own log, and each names
// only its own calls.
func TestActionLogAcrossARetry(t *testing.T) {
	ctx := context.Background()
	client := lockedBucket(t)
	d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())), Version: "v",
		Now: func() time.Time { return fixedNow }, Results: client, Bucket: testBucket, ActionLogs: true, Account: "123456789012"}
	attempt := 0
	c := &fakeCollector{name: "fake", source: evidence.SourceCloudTrail, run: func(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
		attempt++
		// One call of the collector's own, named for the attempt.
		if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("attempt-" + strconv.Itoa(attempt))}); err != nil {
			return err
		}
		if attempt == 1 {
			return &faults.ThrottledError{Op: "test", Err: context.DeadlineExceeded}
		}
		return nil
	}}
	if _, err := d.Run(ctx, c, testInput()); err == nil {
		t.Fatal("the first attempt was not throttled")
	}
	if _, err := d.Run(ctx, c, testInput()); err != nil {
		t.Fatal(err)
	}
	var r evidence.CollectorResult
	s3test.ObjectJSON(t, client, testBucket, resultKey, &r)
	const run = "cases/gd-test/runs/r20240506T070809000Z/actions/"
	if len(r.Artifacts) != 1 || r.Artifacts[0].Key != run+"fake-attempt2.jsonl" {
		t.Fatalf("result artifacts %+v, want the second attempt's log", r.Artifacts)
	}
	for key, want := range map[string]string{run + "fake.jsonl": "attempt-1", run + "fake-attempt2.jsonl": "attempt-2"} {
		body := s3test.Body(t, client, testBucket, key)
		var ops []string
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var a awsconfig.Action
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, a.Operation+" "+fmtPrefix(a.Params))
		}
		if !strings.Contains(strings.Join(ops, ","), "ListObjectsV2 "+want) || strings.Contains(string(body), map[string]string{"attempt-1": "attempt-2", "attempt-2": "attempt-1"}[want]) {
			t.Errorf("%s: calls %v, want %s's only", key, ops, want)
		}
	}
}

func fmtPrefix(p map[string]any) string {
	s, _ := p["Prefix"].(string)
	return s
}
