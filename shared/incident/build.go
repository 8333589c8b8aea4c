package incident

import (
	"time"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/finding"
)

// FromFinding builds the incident for a parsed finding: the case ID from the
// finding ID (CaseIDForFinding), the run ID from updatedAt (RunIDFor), the
// summary, the Scope, the Window from the activity's first and last sighting
// (service.eventFirstSeen/eventLastSeen, else createdAt/updatedAt; see
// WindowFor) and the Plan (PlanOf). now is when
// Triage accepted it. A nil finding, or one without ID or updatedAt, is an
// InvalidInputError.
func FromFinding(f *finding.Finding, cfg Config, now time.Time) (*Incident, error) {
	if f == nil {
		return nil, faults.Invalid("", "no finding")
	}
	if f.ID == "" {
		return nil, faults.Invalid("id", "missing")
	}
	if f.UpdatedAt.IsZero() {
		return nil, faults.Invalid("updatedAt", "missing")
	}
	first, last := f.FirstSeen().Time, f.LastSeen().Time
	if first.IsZero() && last.IsZero() {
		return nil, faults.Invalid("service.eventFirstSeen", "missing, with no createdAt or updatedAt to take its place")
	}
	inc := &Incident{
		CaseID: CaseIDForFinding(f.ID),
		RunID:  RunIDFor(f.UpdatedAt.Time),
		Finding: &FindingSummary{
			ID:           f.ID,
			DetectorID:   f.DetectorID(),
			Type:         f.Type,
			Title:        f.Title,
			Severity:     float64(f.Severity),
			AccountID:    f.AccountID,
			Region:       f.Region,
			ResourceType: f.ResourceType(),
			CreatedAt:    f.CreatedAt.Time,
			UpdatedAt:    f.UpdatedAt.Time,
			FirstSeen:    first,
			LastSeen:     last,
		},
		Scope:    ScopeOf(f),
		OpenedAt: now.UTC(),
	}
	var warns []string
	inc.Window, warns = WindowFor(first, last, cfg)
	inc.Warnings = append(inc.Warnings, warns...)
	inc.Plan, warns = PlanOf(f, inc.Scope)
	inc.Warnings = append(inc.Warnings, warns...)
	return inc, nil
}

// PlanOf is the plan of a finding whose Scope is scope (ScopeOf): Plan for
// its resource type and, for an AttackSequence, the types of the resources
// of its sequence. An AttackSequence without a sequence (a SIEM export that
// dropped it) is planned on what it names, with a warning.
func PlanOf(f *finding.Finding, scope Scope) ([]PlanItem, []string) {
	var also []string
	var warns []string
	if q := f.Sequence(); q != nil {
		for _, r := range q.Resources {
			also = append(also, r.ResourceType)
		}
	} else if normType(f.ResourceType()) == "attacksequence" {
		warns = append(warns, "the attack sequence finding has no service.detection.sequence: planned on what else it names only")
	}
	plan, w := Plan(reasonFinding, scope, f.ResourceType(), also...)
	return plan, append(warns, w...)
}

// FromManual builds the incident for a manual start: the case ID from
// resource and window as asked (CaseIDForManual), the run ID from the
// window's end as asked (RunIDFor), no finding summary, the Scope of the one
// resource, the window asked for capped to MaxSpan (ManualWindow), and the
// Plan for the resource type. The caller fills m.AccountID and m.Region from
// its own account and region where the request left them out.
func FromManual(m *finding.ManualStart, cfg Config, now time.Time) (*Incident, error) {
	if m == nil {
		return nil, faults.Invalid("", "no manual start")
	}
	if m.ResourceID == "" {
		return nil, faults.Invalid("resource.id", "missing")
	}
	if m.Start.IsZero() || m.End.IsZero() {
		return nil, faults.Invalid("window", "missing start or end")
	}
	if !m.End.After(m.Start) {
		return nil, faults.Invalid("window.end", "is not after window.start")
	}
	asked := Window{Start: m.Start.UTC(), End: m.End.UTC()}
	inc := &Incident{
		CaseID:   CaseIDForManual(m.ResourceType, m.ResourceID, asked),
		RunID:    RunIDFor(asked.End),
		Manual:   true,
		Scope:    ManualScope(m),
		OpenedAt: now.UTC(),
	}
	var warns []string
	inc.Window, warns = ManualWindow(asked.Start, asked.End, cfg)
	inc.Warnings = append(inc.Warnings, warns...)
	inc.Plan, warns = Plan(reasonManual, inc.Scope, m.ResourceType)
	inc.Warnings = append(inc.Warnings, warns...)
	return inc, nil
}
