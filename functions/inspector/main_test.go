package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow is the collector's clock in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// world is one fresh emulator: the locked evidence bucket and an
// Inspector2 client.
type world struct {
	s3        *s3.Client
	inspector *inspector2.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if err := emulator.LockedBucket(ctx, client, testBucket); err != nil {
		t.Fatal(err)
	}
	return &world{s3: client, inspector: inspector2.NewFromConfig(cfg)}
}

// placeboFindings reads a recorded inspector2 ListFindings response
// (testdata/cloud-custodian, see testdata/SOURCES.md): placebo wraps it as
// {status_code, data} and writes each datetime as {"__class__": "datetime",
// "year": …}; those become epoch seconds, as the API sends them.
func placeboFindings(t testing.TB, name string) []any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cloud-custodian", name))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Data struct {
			Findings []any `json:"findings"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for i, f := range rec.Data.Findings {
		rec.Data.Findings[i] = epochDatetimes(f)
	}
	return rec.Data.Findings
}

func epochDatetimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["__class__"] == "datetime" {
			n := func(k string) int { f, _ := x[k].(float64); return int(f) }
			t := time.Date(n("year"), time.Month(n("month")), n("day"), n("hour"), n("minute"), n("second"), n("microsecond")*1000, time.UTC)
			return float64(t.UnixMicro()) / 1e6
		}
		for k, e := range x {
			x[k] = epochDatetimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = epochDatetimes(e)
		}
	}
	return v
}

// queue queues ListFindings pages in the emulator: moto answers the first
// call with a new parameter set with the next page (whatever its filter)
// and the same call again with the same page.
func queue(t testing.TB, pages ...[]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"results": pages, "account_id": "123456789012", "region": emulator.Region})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(emu.Endpoint+"/moto-api/static/inspector2/findings-results", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("queue findings: %s", resp.Status)
	}
}

// recorder wraps the emulator's client: it records every ListFindings
// input (the emulator ignores the filter, so the test checks what was
// sent) and fails the calls fail names (by 0-based call number).
type recorder struct {
	inner findingLister
	fail  map[int]error

	mu    sync.Mutex
	calls []*inspector2.ListFindingsInput
}

func (r *recorder) ListFindings(ctx context.Context, in *inspector2.ListFindingsInput, optFns ...func(*inspector2.Options)) (*inspector2.ListFindingsOutput, error) {
	r.mu.Lock()
	n := len(r.calls)
	r.calls = append(r.calls, in)
	r.mu.Unlock()
	if err := r.fail[n]; err != nil {
		return nil, err
	}
	return r.inner.ListFindings(ctx, in, optFns...)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
