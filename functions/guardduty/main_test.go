package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow is Triage's clock in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// corpus is the real findings this package's tests use, copied into
// testdata (see testdata/SOURCES.md for their origin and license).
const corpus = "testdata/corpus"

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeFindings stands in for GuardDuty, whose GetFindings, ListFindings and
// ListDetectors moto does not implement. It holds real findings (see
// testdata/SOURCES.md), serves GetFindings from them, computes ListFindings
// pages by applying the criteria to them (pages of pageSize real IDs:
// DERIVED, no such multi-page response was recorded), and records every
// call.
type fakeFindings struct {
	detector string
	findings map[string]json.RawMessage // finding ID -> JSON the SDK's types decode
	// otherDetectors says what ListFindings and GetFindings do for another
	// detector: nil answers nothing, as before; an error is returned.
	otherDetectors error
	// detectors is ListDetectors' answer; nil: the one detector.
	detectors []string
	pageSize  int // ListFindings page size; 0: MaxResults
	// refuseAttr is a criterion attribute ListFindings refuses, as
	// GuardDuty refuses one it does not know.
	refuseAttr string
	err        error            // every call fails with it
	errs       map[string]error // one operation fails with it

	mu            sync.Mutex
	calls         []*guardduty.GetFindingsInput
	lists         []*guardduty.ListFindingsInput
	listDetectors int
}

// newFakeFindings serves the aws-cli documentation example of
// get-findings (testdata/corpus/aws-cli-examples/guardduty_get-findings_output.json,
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
		f.add(t, raw)
	}
	return f
}

// add stores a finding, in either case (encoding/json matches the SDK's
// field names without regard to case) with its values coerced to the
// SDK's types (see sdkShape).
func (f *fakeFindings) add(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(sdkShape(v, reflect.TypeOf(gdtypes.Finding{})))
	if err != nil {
		t.Fatal(err)
	}
	var check gdtypes.Finding
	if err := json.Unmarshal(b, &check); err != nil {
		t.Fatalf("finding does not decode into the SDK's type: %v", err)
	}
	id := aws.ToString(check.Id)
	f.findings[id] = b
	return id
}

// The finding and detector of the aws-cli example.
const (
	cliFindingID  = "1ab92989eaf0e742df4a014d5example"
	cliDetectorID = "d4b040365221be2b54a6264dcexample"
)

func (f *fakeFindings) fail(op string) error {
	if f.err != nil {
		return f.err
	}
	return f.errs[op]
}

func (f *fakeFindings) otherDetector(id *string) (bool, error) {
	if aws.ToString(id) == f.detector {
		return false, nil
	}
	return true, f.otherDetectors
}

func (f *fakeFindings) decode(id string) gdtypes.Finding {
	var g gdtypes.Finding
	if err := json.Unmarshal(f.findings[id], &g); err != nil {
		panic(err) // checked by add
	}
	return g
}

func (f *fakeFindings) GetFindings(_ context.Context, in *guardduty.GetFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	f.mu.Unlock()
	if err := f.fail("GetFindings"); err != nil {
		return nil, err
	}
	if len(in.FindingIds) > 50 {
		return nil, &smithy.GenericAPIError{Code: "BadRequestException", Message: "The request is rejected because an invalid or out-of-range value is specified as an input parameter.", Fault: smithy.FaultClient}
	}
	out := &guardduty.GetFindingsOutput{}
	if other, err := f.otherDetector(in.DetectorId); other {
		return out, err
	}
	for _, id := range in.FindingIds {
		if _, ok := f.findings[id]; ok {
			out.Findings = append(out.Findings, f.decode(id))
		}
	}
	return out, nil
}

// ListFindings applies the criteria GuardDuty would (each condition ANDed)
// for the attributes the collector uses.
func (f *fakeFindings) ListFindings(_ context.Context, in *guardduty.ListFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.ListFindingsOutput, error) {
	f.mu.Lock()
	f.lists = append(f.lists, in)
	f.mu.Unlock()
	if err := f.fail("ListFindings"); err != nil {
		return nil, err
	}
	out := &guardduty.ListFindingsOutput{}
	if other, err := f.otherDetector(in.DetectorId); other {
		return out, err
	}
	if _, ok := in.FindingCriteria.Criterion[f.refuseAttr]; ok && f.refuseAttr != "" {
		return nil, &smithy.GenericAPIError{Code: "BadRequestException", Message: "The request is rejected because the criterion attribute " + f.refuseAttr + " is not supported.", Fault: smithy.FaultClient}
	}
	var ids []string
	for id := range f.findings {
		ok, err := matches(f.decode(id), in.FindingCriteria)
		if err != nil {
			return nil, err
		}
		if ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	size := int(aws.ToInt32(in.MaxResults))
	if size <= 0 || size > 50 {
		size = 50
	}
	if f.pageSize > 0 && f.pageSize < size {
		size = f.pageSize
	}
	from := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil {
			return nil, &smithy.GenericAPIError{Code: "BadRequestException", Message: "bad next token", Fault: smithy.FaultClient}
		}
		from = n
	}
	to := min(from+size, len(ids))
	out.FindingIds = ids[from:to]
	if to < len(ids) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func (f *fakeFindings) ListDetectors(_ context.Context, _ *guardduty.ListDetectorsInput, _ ...func(*guardduty.Options)) (*guardduty.ListDetectorsOutput, error) {
	f.mu.Lock()
	f.listDetectors++
	f.mu.Unlock()
	if err := f.fail("ListDetectors"); err != nil {
		return nil, err
	}
	if f.detectors != nil {
		return &guardduty.ListDetectorsOutput{DetectorIds: f.detectors}, nil
	}
	return &guardduty.ListDetectorsOutput{DetectorIds: []string{f.detector}}, nil
}

// matches applies GuardDuty FindingCriteria to a finding.
func matches(g gdtypes.Finding, fc *gdtypes.FindingCriteria) (bool, error) {
	if fc == nil {
		return true, nil
	}
	var res gdtypes.Resource
	if g.Resource != nil {
		res = *g.Resource
	}
	for attr, cond := range fc.Criterion {
		var values []string
		switch attr {
		case "resource.instanceDetails.instanceId":
			if res.InstanceDetails != nil {
				values = []string{aws.ToString(res.InstanceDetails.InstanceId)}
			}
		case "resource.accessKeyDetails.accessKeyId":
			if res.AccessKeyDetails != nil {
				values = []string{aws.ToString(res.AccessKeyDetails.AccessKeyId)}
			}
		case "resource.accessKeyDetails.userName":
			if res.AccessKeyDetails != nil {
				values = []string{aws.ToString(res.AccessKeyDetails.UserName)}
			}
		case "resource.s3BucketDetails.name":
			for _, b := range res.S3BucketDetails {
				values = append(values, aws.ToString(b.Name))
			}
		case "updatedAt":
			t, err := time.Parse(time.RFC3339Nano, aws.ToString(g.UpdatedAt))
			if err != nil {
				return false, err
			}
			//lint:ignore SA1019 the deprecated members are read only to check they are not sent
			if cond.GreaterThanOrEqual == nil || len(cond.Equals) > 0 || cond.Gte != nil {
				return false, fmt.Errorf("fake: updatedAt condition %+v not supported", cond)
			}
			if t.UnixMilli() < *cond.GreaterThanOrEqual {
				return false, nil
			}
			continue
		default:
			return false, &smithy.GenericAPIError{Code: "BadRequestException", Message: "The request is rejected because the given criterion attribute " + attr + " is invalid.", Fault: smithy.FaultClient}
		}
		if len(cond.Equals) == 0 {
			return false, fmt.Errorf("fake: %s condition %+v not supported", attr, cond)
		}
		if !slices.ContainsFunc(values, func(v string) bool { return slices.Contains(cond.Equals, v) }) {
			return false, nil
		}
	}
	return true, nil
}

// sdkShape coerces a decoded JSON finding to the types of the SDK's struct
// t, which the service's own JSON has but samples written by hand do not
// always: epoch numbers or "YYYY-MM-DD hh:mm:ss" strings where the SDK
// wants an RFC 3339 time, numbers where it wants a string (an ASN),
// "true"/"false" where it wants a bool. A value that cannot be coerced is
// dropped. Only the fake's store is shaped; the findings the collector
// stores as received are not.
func sdkShape(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(time.Time{}) {
		switch x := v.(type) {
		case float64:
			ms := int64(x)
			if x < 1e11 {
				ms = int64(x * 1000)
			}
			return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
				if tm, err := time.Parse(layout, x); err == nil {
					return tm.UTC().Format(time.RFC3339Nano)
				}
			}
			return nil
		}
		return v
	}
	switch t.Kind() {
	case reflect.String:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
	case reflect.Bool:
		if s, ok := v.(string); ok {
			if b, err := strconv.ParseBool(s); err == nil {
				return b
			}
			return nil
		}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseFloat(s, 64); err == nil {
				return n
			}
			return nil
		}
	case reflect.Struct:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				if sf, ok := fieldFold(t, k); ok {
					m[k] = sdkShape(e, sf.Type)
				}
			}
		}
	case reflect.Slice:
		if l, ok := v.([]any); ok {
			for i := range l {
				l[i] = sdkShape(l[i], t.Elem())
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				m[k] = sdkShape(e, t.Elem())
			}
		}
	}
	return v
}

func fieldFold(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if sf := t.Field(i); sf.IsExported() && strings.EqualFold(sf.Name, name) {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
