package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
)

// objectGetter reads the input Triage stored.
type objectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// findingGetter fetches a finding named by reference.
type findingGetter interface {
	GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, optFns ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error)
}

// FindingCollector stores the GuardDuty finding the run answers: the
// finding exactly as it was received (or as GetFindings returned it, for a
// {findingId, detectorId} start) and the parsed summary custody acted on;
// then the related findings: the detector's other findings for the same
// instances, access keys, users and buckets, updated in the window.
type FindingCollector struct {
	Objects  objectGetter
	Findings guardDutyAPI
	Bucket   string
	// MaxRelated bounds the related findings fetched (0: 1000).
	MaxRelated int
	// Batch is the finding IDs per GetFindings call (0: the API's
	// maximum, 50).
	Batch int
}

// Name implements collect.Collector.
func (c *FindingCollector) Name() string { return incident.CollectorGuardDuty }

// Source implements collect.Collector.
func (c *FindingCollector) Source() string { return evidence.SourceGuardDuty }

// summary is the parsed view of the finding stored beside it.
type summary struct {
	Finding   *incident.FindingSummary `json:"finding"`
	Scope     incident.Scope           `json:"scope"`
	Window    incident.Window          `json:"window"`
	InputForm string                   `json:"inputForm"`
}

// Collect implements collect.Collector.
func (c *FindingCollector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	if inc.InputKey == "" {
		return faults.Invalid("incident.inputKey", "Triage recorded no input for this run")
	}
	raw, whole, err := c.read(ctx, inc.InputKey)
	if err != nil {
		return err
	}
	if !whole {
		return c.unparsed(ctx, inc, out)
	}
	in, err := finding.Parse(raw)
	if err != nil {
		return fmt.Errorf("re-parse the stored input %s: %w", inc.InputKey, err)
	}
	if in.Kind == finding.KindManual {
		out.Warn("manual start on %s %s: there is no GuardDuty finding to store", in.Manual.ResourceType, in.Manual.ResourceID)
		// The region's detector is looked up.
		return c.relatedFindings(ctx, inc, out, "", "")
	}
	var first, last *time.Time
	if f := inc.Finding; f != nil {
		first, last = &f.FirstSeen, &f.LastSeen
	}
	origin := &evidence.Origin{Bucket: c.Bucket, Key: inc.InputKey}
	meta := out.Meta("states:StartExecution", map[string]any{"inputKey": inc.InputKey, "inputForm": string(in.Kind)}, origin)
	body := []byte(nil)
	switch in.Kind {
	case finding.KindFindingRef:
		resp, err := c.Findings.GetFindings(ctx, &guardduty.GetFindingsInput{
			DetectorId: aws.String(in.Ref.DetectorID), FindingIds: []string{in.Ref.FindingID},
		})
		if err != nil {
			return faults.Classify("guardduty:GetFindings", err, func(err error) error { return err })
		}
		// The SDK's structs marshal with the API's member names
		// (PascalCase), as the CLI prints them.
		if body, err = json.MarshalIndent(resp.Findings, "", "  "); err != nil {
			return err
		}
		meta = out.Meta("guardduty:GetFindings", map[string]any{"DetectorId": in.Ref.DetectorID, "FindingIds": []string{in.Ref.FindingID}},
			&evidence.Origin{FindingID: in.Ref.FindingID, Description: "detector " + in.Ref.DetectorID})
	default:
		body = in.Finding.Raw
		meta.Origin.FindingID = in.Finding.ID
	}
	meta.Records, meta.FirstEvent, meta.LastEvent = 1, first, last
	meta.ContentType = evidence.ContentTypeJSON
	if _, err := out.Put(ctx, "finding.json", bytes.NewReader(body), meta); err != nil {
		return err
	}
	sm := out.Meta("custody:ParseFinding", nil, &evidence.Origin{Bucket: c.Bucket, Key: inc.InputKey})
	sm.Records, sm.FirstEvent, sm.LastEvent = 1, first, last
	if _, err := out.PutJSON(ctx, "summary.json", summary{Finding: inc.Finding, Scope: inc.Scope, Window: inc.Window, InputForm: string(in.Kind)}, sm); err != nil {
		return err
	}
	detectorID, self := "", ""
	if in.Kind == finding.KindFindingRef {
		detectorID, self = in.Ref.DetectorID, in.Ref.FindingID
	}
	if f := inc.Finding; f != nil {
		detectorID, self = or(f.DetectorID, detectorID), or(f.ID, self)
	}
	return c.relatedFindings(ctx, inc, out, detectorID, self)
}

// MaxParsedInput bounds the stored input the collector reads into memory
// to parse again: above the 6 MB a Lambda invocation carries (Step
// Functions passes at most 256 KiB), so only an input that reached Triage
// some other way is past it. Such an input is copied, never cut.
const MaxParsedInput = 8 << 20

// read returns the stored input, and whole: false when it is longer than
// MaxParsedInput (raw is then not all of it and must not be parsed).
func (c *FindingCollector) read(ctx context.Context, key string) (raw []byte, whole bool, _ error) {
	obj, err := c.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, false, faults.Classify("read input", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	defer obj.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(obj.Body, MaxParsedInput+1))
	if err != nil {
		return nil, false, faults.Classify("read input", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	return raw, len(raw) <= MaxParsedInput, nil
}

// unparsed stores an input past MaxParsedInput: finding.json is the stored
// input copied unchanged by S3 (no byte of it passes through here, none
// is cut), summary.json is what Triage made of it, and the related
// findings are looked up from Triage's summary.
func (c *FindingCollector) unparsed(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	out.Warn("the stored input %s is longer than the %d bytes the collector parses again: finding.json is that input copied unchanged (an EventBridge event whole, not only its detail), and summary.json is Triage's", inc.InputKey, MaxParsedInput)
	var first, last *time.Time
	detectorID, self := "", ""
	meta := out.Meta("states:StartExecution", map[string]any{"inputKey": inc.InputKey, "inputForm": "unparsed"}, &evidence.Origin{Bucket: c.Bucket, Key: inc.InputKey})
	if f := inc.Finding; f != nil {
		first, last = &f.FirstSeen, &f.LastSeen
		detectorID, self = f.DetectorID, f.ID
		meta.Origin.FindingID = f.ID
	}
	meta.Records, meta.FirstEvent, meta.LastEvent = 1, first, last
	meta.ContentType = evidence.ContentTypeJSON
	if _, err := out.Copy(ctx, c.Bucket, inc.InputKey, "", "finding.json", meta); err != nil {
		return err
	}
	sm := out.Meta("custody:ParseFinding", nil, &evidence.Origin{Bucket: c.Bucket, Key: inc.InputKey, Description: "Triage's incident: the input was not parsed again"})
	sm.Records, sm.FirstEvent, sm.LastEvent = 1, first, last
	if _, err := out.PutJSON(ctx, "summary.json", summary{Finding: inc.Finding, Scope: inc.Scope, Window: inc.Window, InputForm: "unparsed"}, sm); err != nil {
		return err
	}
	return c.relatedFindings(ctx, inc, out, detectorID, self)
}

// Handler is the collector Lambda.
type Handler struct {
	Driver    *collect.Driver
	Collector collect.Collector
}

// Handle runs the collector through the shared driver.
func (h *Handler) Handle(ctx context.Context, in collect.Input) (incident.Result, error) {
	return h.Driver.Run(ctx, h.Collector, in)
}
