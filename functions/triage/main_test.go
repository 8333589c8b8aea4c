package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow is Triage's clock in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// corpus is the real findings copied into the project (see
// shared/finding/testdata/SOURCES.md for their origin and license).
const corpus = "../../shared/finding/testdata/corpus"

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeFindings stands in for GuardDuty GetFindings, which moto does not
// implement. It serves the findings of a recorded get-findings output and
// records every call.
type fakeFindings struct {
	detector string
	findings map[string]json.RawMessage // finding ID -> PascalCase JSON
	err      error

	mu    sync.Mutex
	calls []*guardduty.GetFindingsInput
}

// newFakeFindings serves the aws-cli documentation example of
// get-findings (corpus/aws-cli-examples/guardduty_get-findings_output.json,
// itself DERIVED: the rst's JSON block re-serialised), decoded into the
// SDK's own output type as the real client would return it.
func newFakeFindings(t testing.TB) *fakeFindings {
	t.Helper()
	var out struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(readCorpus(t, "aws-cli-examples/guardduty_get-findings_output.json"), &out); err != nil {
		t.Fatal(err)
	}
	f := &fakeFindings{detector: cliDetectorID, findings: map[string]json.RawMessage{}}
	for _, raw := range out.Findings {
		var id struct{ Id string }
		if err := json.Unmarshal(raw, &id); err != nil {
			t.Fatal(err)
		}
		f.findings[id.Id] = raw
	}
	return f
}

// The finding and detector of the aws-cli example.
const (
	cliFindingID  = "1ab92989eaf0e742df4a014d5example"
	cliDetectorID = "d4b040365221be2b54a6264dcexample"
)

func (f *fakeFindings) GetFindings(_ context.Context, in *guardduty.GetFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	// The JSON keys are the SDK's field names, so encoding/json fills
	// GetFindingsOutput as the SDK's deserializer would.
	var parts []string
	if aws.ToString(in.DetectorId) == f.detector {
		for _, id := range in.FindingIds {
			if raw, ok := f.findings[id]; ok {
				parts = append(parts, string(raw))
			}
		}
	}
	out := &guardduty.GetFindingsOutput{}
	if err := json.Unmarshal([]byte(`{"Findings":[`+strings.Join(parts, ",")+`]}`), out); err != nil {
		return nil, err
	}
	return out, nil
}

func newHandler(t testing.TB, client *s3.Client, gd findingGetter) *Handler {
	t.Helper()
	return &Handler{
		Writer:   evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow })),
		Objects:  client,
		Findings: gd,
		Bucket:   testBucket,
		Region:   emulator.Region,
		Config:   incident.DefaultConfig(),
		Version:  "test",
		Now:      func() time.Time { return fixedNow },
	}
}

// versions counts every object version in the bucket: a write that was
// refused leaves it unchanged, an overwrite would not.
func versions(t testing.TB, client *s3.Client) int {
	t.Helper()
	out, err := client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToBool(out.IsTruncated) {
		t.Fatal("too many versions for one page")
	}
	return len(out.Versions) + len(out.DeleteMarkers)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// editJSON decodes raw, applies fn to it and encodes it again.
func editJSON(t testing.TB, raw []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
