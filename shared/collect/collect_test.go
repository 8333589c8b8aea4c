package collect_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// lockedBucket resets the emulator and creates the evidence bucket as the
// stack does: versioning, Object Lock, default retention GOVERNANCE 1 day.
func lockedBucket(t testing.TB) *s3.Client {
	t.Helper()
	return emu.FreshLockedBucket(t, testBucket)
}

// fakeCollector is a collector whose work is a function.
type fakeCollector struct {
	name, source string
	run          func(ctx context.Context, inc *incident.Incident, out *collect.Output) error
}

func (f *fakeCollector) Name() string   { return f.name }
func (f *fakeCollector) Source() string { return f.source }
func (f *fakeCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	return f.run(ctx, inc, out)
}

func testInput() collect.Input {
	return collect.Input{
		Incident: incident.Incident{CaseID: "gd-test", RunID: "r20240506T070809000Z", OpenedAt: fixedNow},
		Item:     incident.PlanItem{Collector: "fake"},
	}
}

const resultKey = "cases/gd-test/runs/r20240506T070809000Z/results/fake.json"

func TestDriver(t *testing.T) {
	type check struct {
		status    string   // stored result's status; "" when none is stored
		errType   any      // the returned error's dynamic type, nil for none
		errHas    string   // text the stored and returned error contain
		artifacts []string // stored artifact keys
		gaps      int
		warnings  []string
	}
	put := func(ctx context.Context, out *collect.Output, name, body string) error {
		_, err := out.Put(ctx, name, strings.NewReader(body), out.Meta("test:Get", map[string]any{"name": name}, nil))
		return err
	}
	cases := []struct {
		name string
		run  func(ctx context.Context, inc *incident.Incident, out *collect.Output) error
		in   func(in *collect.Input)
		want check
	}{
		{
			name: "ok with artifacts, gaps and warnings",
			run: func(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
				if err := put(ctx, out, "b.json", `{"b":1}`); err != nil {
					return err
				}
				if _, err := out.PutJSON(ctx, "a.json", map[string]int{"a": 1}, evidence.PutMeta{API: "test:Get", Records: 3}); err != nil {
					return err
				}
				out.Gap("flow logs are off for vpc-1", "enable VPC flow logs")
				out.Warn("window capped by %s", "24h")
				return nil
			},
			want: check{status: incident.StatusOK,
				artifacts: []string{"cases/gd-test/runs/r20240506T070809000Z/cloudtrail/a.json", "cases/gd-test/runs/r20240506T070809000Z/cloudtrail/b.json"},
				gaps:      1, warnings: []string{"window capped by 24h"}},
		},
		{
			name: "panic",
			run: func(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
				if err := put(ctx, out, "before.json", `{}`); err != nil {
					return err
				}
				panic("boom: nil map")
			},
			want: check{status: incident.StatusFailed, errType: &faults.CollectorError{}, errHas: "panic: boom: nil map",
				artifacts: []string{"cases/gd-test/runs/r20240506T070809000Z/cloudtrail/before.json"}},
		},
		{
			name: "error",
			run: func(context.Context, *incident.Incident, *collect.Output) error {
				return errors.New("trail bucket unreadable")
			},
			want: check{status: incident.StatusFailed, errType: &faults.CollectorError{}, errHas: "trail bucket unreadable"},
		},
		{
			name: "throttled",
			run: func(context.Context, *incident.Incident, *collect.Output) error {
				return &faults.ThrottledError{Op: "cloudtrail:LookupEvents", Err: errors.New("Rate exceeded")}
			},
			want: check{errType: &faults.ThrottledError{}, errHas: "Rate exceeded"},
		},
		{
			// The state machine matches the Go type name of the error the
			// handler returns: a wrapped ThrottledError must still arrive
			// as ThrottledError, not as wrapError.
			name: "throttled, wrapped",
			run: func(context.Context, *incident.Incident, *collect.Output) error {
				return fmt.Errorf("page 3: %w", &faults.ThrottledError{Op: "cloudtrail:LookupEvents", Err: errors.New("Rate exceeded")})
			},
			want: check{errType: &faults.ThrottledError{}, errHas: "Rate exceeded"},
		},
		{
			name: "transient, wrapped",
			run: func(context.Context, *incident.Incident, *collect.Output) error {
				return fmt.Errorf("list: %w", &faults.TransientError{Op: "s3:ListObjectsV2", Err: errors.New("connection reset")})
			},
			want: check{errType: &faults.TransientError{}, errHas: "connection reset"},
		},
		{
			name: "missing caseId",
			run: func(context.Context, *incident.Incident, *collect.Output) error {
				panic("a collector without a case must not run")
			},
			in:   func(in *collect.Input) { in.Incident.CaseID = "" },
			want: check{errType: &faults.CollectorError{}, errHas: "caseId and runId are required"},
		},
		{
			name: "missing runId",
			run: func(context.Context, *incident.Incident, *collect.Output) error {
				panic("a collector without a run must not run")
			},
			in:   func(in *collect.Input) { in.Incident.RunID = "" },
			want: check{errType: &faults.CollectorError{}, errHas: "caseId and runId are required"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := lockedBucket(t)
			d := &collect.Driver{
				Writer:  evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow })),
				Version: "v-test",
				Now:     func() time.Time { return fixedNow },
			}
			in := testInput()
			if c.in != nil {
				c.in(&in)
			}
			col := &fakeCollector{name: "fake", source: evidence.SourceCloudTrail, run: c.run}
			res, err := d.Run(context.Background(), col, in)

			if c.want.errType == nil {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("no error, want %T", c.want.errType)
				}
				if reflect.TypeOf(err) != reflect.TypeOf(c.want.errType) {
					t.Errorf("error %v is %T, want %T", err, err, c.want.errType)
				}
				if !strings.Contains(err.Error(), c.want.errHas) {
					t.Errorf("error %q does not contain %q", err, c.want.errHas)
				}
				if !reflect.DeepEqual(res, incident.Result{}) {
					t.Errorf("failed run returned result %+v", res)
				}
				if c.in != nil && !errors.As(err, new(*faults.InvalidInputError)) {
					t.Errorf("error %v does not carry the InvalidInputError naming the incident", err)
				}
			}

			keys := s3test.Keys(t, client, testBucket, "")
			stored := false
			for _, k := range keys {
				stored = stored || k == resultKey
			}
			if c.want.status == "" {
				if stored {
					t.Errorf("a result was stored for a retryable or refused run: %q", keys)
				}
				return
			}
			if !stored {
				t.Fatalf("no result stored: %q", keys)
			}
			body, _ := s3test.Object(t, client, testBucket, resultKey)
			var r evidence.CollectorResult
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Collector != "fake" || r.CollectorVersion != "v-test" || r.Status != c.want.status {
				t.Errorf("stored result %s %s %s", r.Collector, r.CollectorVersion, r.Status)
			}
			if c.want.errHas != "" && !strings.Contains(r.Error, c.want.errHas) {
				t.Errorf("stored error %q does not contain %q", r.Error, c.want.errHas)
			}
			var got []string
			var records int64
			for _, a := range r.Artifacts {
				got = append(got, a.Key)
				records += a.Records
				b, version := s3test.Object(t, client, testBucket, a.Key)
				if a.SHA256 != sha256Hex(b) || a.VersionID != version || a.Source != evidence.SourceCloudTrail ||
					a.Collector != "fake" || a.CollectorVersion != "v-test" || a.API != "test:Get" {
					t.Errorf("artifact %+v does not match the stored object", a)
				}
			}
			if !reflect.DeepEqual(got, c.want.artifacts) {
				t.Errorf("artifacts %q, want %q (sorted by key)", got, c.want.artifacts)
			}
			if len(r.Gaps) != c.want.gaps {
				t.Errorf("gaps %+v", r.Gaps)
			}
			for _, g := range r.Gaps {
				if g.Source != evidence.SourceCloudTrail || g.Fix == "" {
					t.Errorf("gap %+v", g)
				}
			}
			if c.want.warnings == nil {
				c.want.warnings = []string{}
			}
			if !reflect.DeepEqual(r.Warnings, c.want.warnings) {
				t.Errorf("warnings %q, want %q", r.Warnings, c.want.warnings)
			}
			if r.Gaps == nil || r.Snapshots == nil || r.Artifacts == nil {
				t.Error("stored result has null lists")
			}
			if c.want.status == incident.StatusOK {
				want := incident.Result{Collector: "fake", Status: incident.StatusOK, ResultKey: resultKey,
					Artifacts: len(c.want.artifacts), Records: records, Gaps: c.want.gaps}
				if !reflect.DeepEqual(res, want) {
					t.Errorf("result %+v, want %+v", res, want)
				}
			}
		})
	}
}

// TestOutputRefusesBadNames: a collector cannot write outside its folder.
func TestOutputRefusesBadNames(t *testing.T) {
	client := lockedBucket(t)
	d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())), Version: "v"}
	var errs []error
	col := &fakeCollector{name: "fake", source: evidence.SourceCloudTrail, run: func(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
		for _, name := range []string{"../../../other/x.json", "", "a//b"} {
			_, err := out.Put(ctx, name, strings.NewReader("x"), evidence.PutMeta{})
			errs = append(errs, err)
		}
		return nil
	}}
	if _, err := d.Run(context.Background(), col, testInput()); err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if !errors.Is(err, evidence.ErrBadKeyPart) {
			t.Errorf("name %d: %v, want ErrBadKeyPart", i, err)
		}
	}
	if keys := s3test.Keys(t, client, testBucket, ""); !reflect.DeepEqual(keys, []string{resultKey}) {
		t.Errorf("keys %q", keys)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestDriverAnswersAgainFromStoredResult: a collector invoked again for a run
// it finished (a lost response, a retry after the result was stored) is not
// run a second time; its stored result answers, failed ones as failed.
func TestDriverAnswersAgainFromStoredResult(t *testing.T) {
	tests := []struct {
		name    string
		fail    bool
		wantErr bool
	}{
		{name: "ok result"},
		{name: "failed result", fail: true, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := lockedBucket(t)
			d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())),
				Version: "v", Results: client, Bucket: testBucket}
			runs := 0
			col := &fakeCollector{name: "fake", source: evidence.SourceCloudTrail, run: func(ctx context.Context, _ *incident.Incident, out *collect.Output) error {
				runs++
				if _, err := out.Put(ctx, "a.json", strings.NewReader("{}"), evidence.PutMeta{}); err != nil {
					return err
				}
				if tc.fail {
					return errors.New("source broke")
				}
				return nil
			}}
			first, err1 := d.Run(context.Background(), col, testInput())
			second, err2 := d.Run(context.Background(), col, testInput())
			if runs != 1 {
				t.Fatalf("collector ran %d times, want 1", runs)
			}
			if !reflect.DeepEqual(first, second) {
				t.Fatalf("second answer %+v differs from the first %+v", second, first)
			}
			var ce1, ce2 *faults.CollectorError
			if tc.wantErr != errors.As(err1, &ce1) || tc.wantErr != errors.As(err2, &ce2) {
				t.Fatalf("errors %v, %v; want CollectorError: %v", err1, err2, tc.wantErr)
			}
			if tc.wantErr && !strings.Contains(err2.Error(), "source broke") {
				t.Fatalf("second error %q lost the cause", err2)
			}
		})
	}
}
