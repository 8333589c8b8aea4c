package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
	"github.com/custody-ir/custody/shared/incident"
)

// evidenceWriter stores Triage's records; every put is conditional, so a
// key that exists is refused with evidence.ErrExists.
type evidenceWriter interface {
	Put(ctx context.Context, key string, body io.Reader, meta evidence.PutMeta) (evidence.Artifact, error)
	PutJSON(ctx context.Context, key string, v any, meta evidence.PutMeta) (evidence.Artifact, error)
}

// objectGetter reads an existing run marker.
type objectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// findingGetter fetches a finding named by {findingId, detectorId}.
type findingGetter interface {
	GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, optFns ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error)
}

// Request is Triage's payload: the execution's input as it came, and the
// execution's ID, which tells a retry of this execution from a second
// delivery of the same finding.
type Request struct {
	Input     json.RawMessage `json:"input"`
	Execution string          `json:"execution"`
}

// Response is Triage's output: the incident, or duplicate when this
// finding and updatedAt already have a run.
type Response struct {
	Duplicate bool               `json:"duplicate"`
	Incident  *incident.Incident `json:"incident"`
}

// runMarker is the first object of a run; writing it with If-None-Match: *
// decides which delivery opens the run.
type runMarker struct {
	CaseID    string    `json:"caseId"`
	RunID     string    `json:"runId"`
	Execution string    `json:"execution"`
	FindingID string    `json:"findingId,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	OpenedAt  time.Time `json:"openedAt"`
}

// caseRecord is cases/<caseId>/case.json, written by the case's first run.
type caseRecord struct {
	CaseID     string    `json:"caseId"`
	Manual     bool      `json:"manual"`
	FindingID  string    `json:"findingId,omitempty"`
	Type       string    `json:"type,omitempty"`
	AccountID  string    `json:"accountId"`
	Region     string    `json:"region"`
	Resource   string    `json:"resource,omitempty"`
	FirstRunID string    `json:"firstRunId"`
	OpenedAt   time.Time `json:"openedAt"`
}

// Handler is the Triage step.
type Handler struct {
	Writer   evidenceWriter
	Objects  objectGetter
	Findings findingGetter
	Bucket   string
	Region   string
	// Tables are the DynamoDB tables configured for every case.
	Tables  []string
	Config  incident.Config
	Version string
	Now     func() time.Time
	// ActionLogs stores each run's Triage calls as actions/triage.jsonl,
	// listed in Triage's result (every call through clients of an
	// awsconfig.Load configuration); Account names the function's own
	// account in it.
	ActionLogs bool
	Account    string
}

// Handle parses and validates the input, opens the run (or reports a
// duplicate) and records the input and the incident.
func (h *Handler) Handle(ctx context.Context, req Request) (*Response, error) {
	now := h.Now().UTC()
	var actions *awsconfig.ActionLog
	if h.ActionLogs {
		actions = awsconfig.NewActionLog()
		actions.Account = h.Account
		ctx = awsconfig.WithActionLog(ctx, actions)
	}
	raw := []byte(req.Input)
	in, err := finding.Parse(raw)
	if err != nil {
		return nil, h.reject(ctx, raw, now, err)
	}
	inc, err := h.incident(ctx, in, now)
	if err != nil {
		return nil, h.reject(ctx, raw, now, err)
	}
	inc.Warnings = append(in.Warnings, inc.Warnings...)
	if len(h.Tables) > 0 {
		// Tables the deployment names are in every case's scope: their
		// streams keep 24 hours, so they are read whatever the finding.
		inc.Scope.Tables = mergeSorted(inc.Scope.Tables, h.Tables)
		inc.Plan = incident.WithScope(inc.Plan, inc.Scope)
	}
	inc.SecondPass = incident.SecondPassFor(inc.Plan)
	h.defaultPlace(ctx, inc)

	marker := runMarker{CaseID: inc.CaseID, RunID: inc.RunID, Execution: req.Execution, OpenedAt: now}
	if inc.Finding != nil {
		marker.FindingID, marker.UpdatedAt = inc.Finding.ID, inc.Finding.UpdatedAt
	}
	var artifacts []evidence.Artifact
	markerKey, err := evidence.RunMarkerKey(inc.CaseID, inc.RunID)
	if err != nil {
		return nil, faults.Invalid("input", "%v", err)
	}
	markerMeta := h.meta("custody:OpenRun", nil)
	markerMeta.AcceptIdentical = false // the marker decides: never accept it as ours
	a, err := h.Writer.PutJSON(ctx, markerKey, marker, markerMeta)
	switch {
	case errors.Is(err, evidence.ErrExists):
		first, rerr := h.readMarker(ctx, markerKey)
		if rerr != nil {
			return nil, rerr
		}
		if first.Execution != req.Execution || req.Execution == "" {
			// Another delivery of the same finding and updatedAt opened
			// this run: one run, no second case.
			return &Response{Duplicate: true, Incident: inc}, nil
		}
		// A retry of this very execution: go on, listing what the first
		// attempt stored (the same bytes again are the same evidence).
		inc.OpenedAt = first.OpenedAt
		meta := h.meta("custody:OpenRun", nil)
		meta.AcceptIdentical = true
		if a, err := h.Writer.PutJSON(ctx, markerKey, first, meta); err == nil {
			artifacts = append(artifacts, a)
		}
	case err != nil:
		return nil, h.evidenceErr(markerKey, err)
	default:
		artifacts = append(artifacts, a)
	}

	inputKey, _ := evidence.InputKey(inc.CaseID, inc.RunID)
	inc.InputKey = inputKey
	if a, err := h.Writer.Put(ctx, inputKey, bytes.NewReader(raw), h.meta("states:StartExecution", map[string]any{"execution": req.Execution, "inputForm": string(in.Kind)})); err == nil {
		artifacts = append(artifacts, a)
	} else if !errors.Is(err, evidence.ErrExists) {
		return nil, h.evidenceErr(inputKey, err)
	}
	incKey, _ := evidence.RunFileKey(inc.CaseID, inc.RunID, "incident.json")
	if a, err := h.Writer.PutJSON(ctx, incKey, inc, h.meta("custody:Triage", nil)); err == nil {
		artifacts = append(artifacts, a)
	} else if !errors.Is(err, evidence.ErrExists) {
		return nil, h.evidenceErr(incKey, err)
	}
	caseKey, _ := evidence.CaseKey(inc.CaseID)
	if a, err := h.Writer.PutJSON(ctx, caseKey, h.caseRecord(inc, in), h.meta("custody:OpenCase", nil)); err == nil {
		artifacts = append(artifacts, a)
	} else if !errors.Is(err, evidence.ErrExists) {
		// A later run of the case finds case.json there: that is expected.
		return nil, h.evidenceErr(caseKey, err)
	}

	warnings := []string{}
	if actions != nil {
		// The log closes before the result that lists it (the result's
		// own put is not in it).
		a, err := collect.StoreActions(ctx, h.Writer, inc.CaseID, inc.RunID, "triage.jsonl", "triage", h.Version, actions.Actions())
		if err != nil {
			warnings = append(warnings, "action log not stored: "+err.Error())
		} else {
			artifacts = append(artifacts, a)
		}
	}
	resultKey, _ := evidence.ResultKey(inc.CaseID, inc.RunID, "triage")
	res := evidence.CollectorResult{
		Collector: "triage", CollectorVersion: h.Version, Status: incident.StatusOK,
		Artifacts: artifacts, Gaps: []evidence.Gap{}, Warnings: warnings, Snapshots: []evidence.Snapshot{},
		StartedAt: now, FinishedAt: h.Now().UTC(),
	}
	if _, err := h.Writer.PutJSON(ctx, resultKey, res, h.meta("custody:CollectorResult", nil)); err != nil && !errors.Is(err, evidence.ErrExists) {
		return nil, h.evidenceErr(resultKey, err)
	}
	return &Response{Incident: inc}, nil
}

// defaultPlace fills a manual start's missing account and region with this
// deployment's own: the stack answers for one account and region.
func (h *Handler) defaultPlace(ctx context.Context, inc *incident.Incident) {
	if inc.Scope.Region == "" {
		inc.Scope.Region = h.Region
	}
	if inc.Scope.AccountID == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			if a, err := arn.Parse(lc.InvokedFunctionArn); err == nil {
				inc.Scope.AccountID = a.AccountID
			}
		}
	}
}

// incident builds the run from any accepted input form.
func (h *Handler) incident(ctx context.Context, in finding.Input, now time.Time) (*incident.Incident, error) {
	switch in.Kind {
	case finding.KindManual:
		return incident.FromManual(in.Manual, h.Config, now)
	case finding.KindFindingRef:
		f, err := h.fetch(ctx, in.Ref)
		if err != nil {
			return nil, err
		}
		return incident.FromFinding(f, h.Config, now)
	default:
		return incident.FromFinding(in.Finding, h.Config, now)
	}
}

// fetch resolves {findingId, detectorId} with GetFindings.
func (h *Handler) fetch(ctx context.Context, ref *finding.FindingRef) (*finding.Finding, error) {
	out, err := h.Findings.GetFindings(ctx, &guardduty.GetFindingsInput{
		DetectorId: aws.String(ref.DetectorID), FindingIds: []string{ref.FindingID},
	})
	if err != nil {
		return nil, faults.Classify("guardduty:GetFindings", err, func(err error) error {
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode() == "BadRequestException" {
				// GuardDuty's answer to a detector or finding ID that does
				// not exist or is malformed: the input is wrong.
				return faults.Invalid("detectorId", "GetFindings for finding %s refused: %v", ref.FindingID, err)
			}
			// Denied, or anything else: this deployment cannot read
			// findings, which is no fault of the input.
			return &faults.ConfigurationError{Setting: "guardduty:GetFindings", Reason: err.Error()}
		})
	}
	if len(out.Findings) != 1 {
		return nil, faults.Invalid("findingId", "detector %s has no finding %s", ref.DetectorID, ref.FindingID)
	}
	f, _, err := finding.FromAPI(out.Findings[0])
	return f, err
}

// reject keeps a refused input as it came, with the reason, under
// rejected/, and returns the refusal. A retryable error is returned as it
// is and nothing is kept: the retry will decide.
func (h *Handler) reject(ctx context.Context, raw []byte, now time.Time, cause error) error {
	var inv *faults.InvalidInputError
	if !errors.As(cause, &inv) {
		return faults.Classify("triage", cause, func(err error) error { return faults.Invalid("", "%v", err) })
	}
	sum := sha256.Sum256(raw)
	digest := hex.EncodeToString(sum[:])
	key, err := evidence.RejectedKey(now, digest)
	if err != nil {
		return inv
	}
	if _, err := h.Writer.Put(ctx, key, bytes.NewReader(raw), h.meta("states:StartExecution", nil)); err != nil && !errors.Is(err, evidence.ErrExists) {
		return h.evidenceErr(key, err)
	}
	reasonKey, _ := evidence.RejectedReasonKey(now, digest)
	reason := map[string]any{"field": inv.Field, "reason": inv.Reason, "error": inv.Error(), "rejectedAt": now, "inputKey": key, "inputSha256": digest}
	if _, err := h.Writer.PutJSON(ctx, reasonKey, reason, h.meta("custody:Triage", nil)); err != nil && !errors.Is(err, evidence.ErrExists) {
		return h.evidenceErr(reasonKey, err)
	}
	return inv
}

func (h *Handler) readMarker(ctx context.Context, key string) (*runMarker, error) {
	out, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, h.evidenceErr(key, err)
	}
	defer out.Body.Close()
	var m runMarker
	if err := json.NewDecoder(out.Body).Decode(&m); err != nil {
		return nil, &faults.EvidenceError{Key: key, Err: fmt.Errorf("decode run marker: %w", err)}
	}
	return &m, nil
}

func (h *Handler) caseRecord(inc *incident.Incident, in finding.Input) caseRecord {
	c := caseRecord{CaseID: inc.CaseID, Manual: inc.Manual, AccountID: inc.Scope.AccountID, Region: inc.Scope.Region,
		FirstRunID: inc.RunID, OpenedAt: inc.OpenedAt}
	if inc.Finding != nil {
		c.FindingID, c.Type = inc.Finding.ID, inc.Finding.Type
	}
	if in.Manual != nil {
		c.Resource = in.Manual.ResourceType + ":" + in.Manual.ResourceID
	}
	return c
}

// meta describes a record Triage writes. AcceptIdentical lets a retry of the
// same execution list what the first attempt stored.
func (h *Handler) meta(api string, request map[string]any) evidence.PutMeta {
	return evidence.PutMeta{Source: evidence.SourceCase, API: api, Request: request, Collector: "triage", CollectorVersion: h.Version,
		AcceptIdentical: true}
}

func (h *Handler) evidenceErr(key string, err error) error {
	return faults.Classify("triage", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
}

// mergeSorted returns the sorted union of a and b.
func mergeSorted(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range append(append([]string{}, a...), b...) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
