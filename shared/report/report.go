// Package report writes a case run's report, the page a responder reads
// first and can repeat after two minutes: a summary (what GuardDuty saw,
// on what, the window, the identities and addresses, what was collected
// and what could not be), the next steps for the finding type, an activity
// chart, the key events in time order with alike events collapsed and
// their ATT&CK tactic where the mapping is known, the pivot chain and the
// entities, the gaps with their fixes, and the evidence with its SHA-256.
// Write renders the same Data as report.md (GitHub flavoured Markdown) or
// as a self-contained report.html (inline CSS and SVG, no script, no
// external asset, a Content-Security-Policy that forbids both: it opens
// the same from the bucket or the disk, fits a phone and prints). Every
// value from the evidence is escaped: the HTML through html/template, the
// Markdown with backslashes and code spans, never HTML entities.
package report

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
)

// Format is an output format of Write.
type Format string

// The formats Write renders, named by their file extension.
const (
	Markdown Format = "md"
	HTML     Format = "html"
)

// File names of the report in a run folder.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// Default caps of the timeline tables, in rows (a row is one event or
// several alike), and of the count and entity tables per kind; the whole
// timeline is in timeline.jsonl.
const (
	DefaultMaxKeyEvents   = 500
	DefaultMaxOtherEvents = 200
	DefaultMaxCounts      = 25
)

// Finding is the incident summary. The caller fills it from the finding
// (Triage's incident); fields left zero are filled from the manifest's
// finding where it has them, and otherwise shown as unknown.
type Finding struct {
	ID           string    `json:"id,omitempty"`
	Type         string    `json:"type,omitempty"`
	Title        string    `json:"title,omitempty"`
	Severity     float64   `json:"severity,omitempty"`
	ResourceType string    `json:"resourceType,omitempty"`
	ResourceID   string    `json:"resourceId,omitempty"`
	AccountID    string    `json:"accountId,omitempty"`
	Region       string    `json:"region,omitempty"`
	FirstSeen    time.Time `json:"firstSeen,omitzero"`
	LastSeen     time.Time `json:"lastSeen,omitzero"`
	// RemoteIPs are the finding's remote addresses (a network connection's
	// remote IP, an API caller's IP): events from or to them are key events.
	RemoteIPs []string `json:"remoteIps,omitempty"`
}

// ScopeEntry is one kind of resource in the incident's scope and its IDs
// ("instance": ["i-0abc…"], "accessKey": ["AKIA…"], "principal": [ARN…]).
// An event whose actor, target, source IP or message names one of the IDs
// is in scope (a flow record names its ENI in the message only).
type ScopeEntry struct {
	Kind string   `json:"kind"`
	IDs  []string `json:"ids"`
}

// Event is one timeline event as shared/timeline writes it to
// timeline.jsonl (the same JSON field names); the caller converts.
// Datetime is ISO 8601 as precise as the source gave it.
type Event struct {
	Datetime      string `json:"datetime"`
	TimestampDesc string `json:"timestamp_desc"`
	Message       string `json:"message"`
	Source        string `json:"source,omitempty"`
	Action        string `json:"action,omitempty"`
	Actor         string `json:"actor,omitempty"`
	Target        string `json:"target,omitempty"`
	SrcIP         string `json:"srcIp,omitempty"`
	Outcome       string `json:"outcome,omitempty"`
	// Artifact and Record point at the extract and line the event came
	// from (not shown in the report: timeline.jsonl has them).
	Artifact string `json:"artifact,omitempty"`
	Record   int64  `json:"record,omitempty"`
}

// Counts are event counts per action and per actor over the whole
// timeline. A caller that passes only a selection of events (the ones
// around the finding) passes the counts it made while streaming them all.
type Counts struct {
	ByAction map[string]int64 `json:"byAction"`
	ByActor  map[string]int64 `json:"byActor"`
	// Events is the number of timed events counted; Untimed the records
	// with no usable time (kept in untimed.jsonl).
	Events  int64 `json:"events"`
	Untimed int64 `json:"untimed"`
}

// Data is everything a report shows.
type Data struct {
	// Manifest is the run's manifest: IDs, window, status, gaps,
	// warnings, collectors, snapshots and artifacts. Required.
	Manifest *evidence.Manifest
	Finding  Finding
	Scope    []ScopeEntry
	// Events is the timeline, or the part of it around the finding, in
	// any order: the report sorts it.
	Events []Event
	// Counts may be nil: it is then computed from Events.
	Counts *Counts
	// Chain is the identities the case followed from its own through the
	// credentials they made, and the leads past the bounds (shared/pivot).
	Chain []ChainLink
	// Entities is the entity view (entities.json): the report shows the
	// first MaxCounts of each kind.
	Entities []EntityRow
	// Activity is the chart's events per source over the window; nil: it
	// is counted from Events (a caller passing a selection of the events
	// counts them all into one: NewActivity).
	Activity *Activity
	// GeneratedAt is printed when not zero (left out of golden tests).
	GeneratedAt time.Time
	// Table caps; zero means the Default* value.
	MaxKeyEvents, MaxOtherEvents, MaxCounts int
}

// ChainLink is one identity of the pivot chain.
type ChainLink struct {
	Identity string `json:"identity"`
	Kind     string `json:"kind"`
	Depth    int    `json:"depth"`
	// Path is the chain from a starting identity: "AKIA… → AssumeRole
	// admin-role → ASIA… → CreateAccessKey → AKIA…".
	Path      string    `json:"path"`
	EventID   string    `json:"eventId,omitempty"`
	EventTime time.Time `json:"eventTime,omitzero"`
	Region    string    `json:"region,omitempty"`
	// Lead is an identity not followed; Reason says why.
	Lead   bool   `json:"lead,omitempty"`
	Reason string `json:"reason,omitempty"`
	Note   string `json:"note,omitempty"`
}

// EntityRow is one principal, key, address, user agent or resource.
type EntityRow struct {
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Events    int64     `json:"events"`
	Sources   []string  `json:"sources"`
	// New is "yes" or "no" against the baseline; "" without one.
	New string `json:"new,omitempty"`
}

// Write renders d as format to w.
func Write(w io.Writer, d Data, format Format) error {
	v, err := build(d)
	if err != nil {
		return err
	}
	switch format {
	case Markdown:
		return mdTemplate.ExecuteTemplate(w, "report.md.tmpl", v)
	case HTML:
		return htmlTemplate.ExecuteTemplate(w, "report.html.tmpl", v)
	default:
		return fmt.Errorf("report: unknown format %q (want %q or %q)", format, Markdown, HTML)
	}
}

//go:embed templates
var templates embed.FS

var (
	funcs = map[string]any{
		"when":  when,
		"bytes": humanBytes,
		"num":   num,
		"plural": func(n int64, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"join": strings.Join,
		"sev":  severity,
	}
	mdTemplate = texttemplate.Must(texttemplate.New("md").Funcs(funcs).Funcs(texttemplate.FuncMap{
		"md": mdEscape, "code": mdCode,
	}).ParseFS(templates, "templates/report.md.tmpl"))
	htmlTemplate = htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).ParseFS(templates, "templates/report.html.tmpl"))
)

// num groups the digits of an int or int64 ("50,000").
func num(n any) string {
	switch x := n.(type) {
	case int:
		return groupDigits(int64(x))
	case int64:
		return groupDigits(x)
	}
	return fmt.Sprint(n)
}

// Event categories: why an event is a key event.
const (
	TagScope       = "scope"       // actor, target or source IP is in the scope
	TagWrite       = "write"       // an API call that is not Get/List/Describe/Head/Lookup
	TagDenied      = "denied"      // refused or failed: AccessDenied, an error code, REJECT, HTTP 4xx/5xx
	TagLogin       = "login"       // ConsoleLogin
	TagCredentials = "credentials" // CreateAccessKey, CreateLoginProfile, AssumeRole*, GetSessionToken, GetFederationToken
	TagRemoteIP    = "remote-ip"   // a network flow from or to one of the finding's remote IPs
)

// view is what the templates render.
type view struct {
	M            *evidence.Manifest
	F            Finding
	Status       string
	Scope        []ScopeEntry
	Sources      []sourceRow
	Totals       sourceRow
	Artifacts    []evidence.Artifact
	Failed       []evidence.CollectorStatus
	TL           timelineView
	ByAction     []countRow
	ByActor      []countRow
	Counts       Counts
	GeneratedAt  time.Time
	Chain        []ChainLink
	Entities     []EntityRow
	EntitiesMore int
	// ChainFromTimeline and EntitiesFromTimeline say the table was made
	// from the timeline: the run had no pivot chain or entity view.
	ChainFromTimeline, EntitiesFromTimeline bool
	Chart                                   *chartView
	Steps                                   family
	// Identities and Addresses are the summary's: the scope's and the
	// in-scope key events', the most frequent first.
	Identities, Addresses         []string
	IdentitiesMore, AddressesMore int
	// Tactics are the ATT&CK tactics of the key events, in the order they
	// first appear; FindingTactic the finding type's.
	Tactics       []Tactic
	FindingTactic *Tactic
	// MappingFinding and MappingEvents cite the mappings' sources.
	MappingFinding, MappingEvents string
}

type sourceRow struct {
	Source    string
	Artifacts int
	Records   int64
	Bytes     int64
	Gaps      int
}

type eventRow struct {
	Event
	Tags []string
}

type countRow struct {
	Name  string
	Count int64
}

func build(d Data) (*view, error) {
	m := d.Manifest
	if m == nil {
		return nil, errors.New("report: no manifest")
	}
	v := &view{M: m, F: d.Finding, Scope: d.Scope, Status: m.Status, GeneratedAt: d.GeneratedAt.UTC()}
	if d.GeneratedAt.IsZero() {
		v.GeneratedAt = time.Time{}
	}
	if mf := m.Finding; mf != nil {
		fill(&v.F.ID, mf.ID)
		fill(&v.F.Type, mf.Type)
		fill(&v.F.AccountID, mf.AccountID)
		fill(&v.F.Region, mf.Region)
		if v.F.Severity == 0 {
			v.F.Severity = mf.Severity
		}
	}
	v.Sources, v.Totals = perSource(m)
	v.Artifacts = append([]evidence.Artifact(nil), m.Artifacts...)
	sort.SliceStable(v.Artifacts, func(i, j int) bool { return v.Artifacts[i].Key < v.Artifacts[j].Key })
	for _, c := range m.Collectors {
		if c.Status == evidence.CollectorFailed {
			v.Failed = append(v.Failed, c)
		}
	}
	v.TL = timeline(d, v.F)
	c := d.Counts
	if c == nil {
		c = countEvents(d.Events)
	}
	v.Counts = *c
	maxCounts := orDefault(d.MaxCounts, DefaultMaxCounts)
	v.ByAction = top(c.ByAction, maxCounts)
	v.ByActor = top(c.ByActor, maxCounts)
	v.Chain = d.Chain
	if len(v.Chain) == 0 {
		v.Chain = chainOf(v.TL.Key)
		v.ChainFromTimeline = len(v.Chain) > 0
	}
	ents := d.Entities
	if len(ents) == 0 {
		ents = entitiesOf(d.Events)
		v.EntitiesFromTimeline = len(ents) > 0
	}
	perKind := map[string]int{}
	for _, e := range ents {
		if perKind[e.Kind] < maxCounts {
			v.Entities = append(v.Entities, e)
		} else {
			v.EntitiesMore++
		}
		perKind[e.Kind]++
	}
	act := d.Activity
	if act == nil {
		act = activityOf(d.Events, m.Window.Start, m.Window.End)
	}
	v.Chart = chart(act, v.F.FirstSeen)
	v.Steps = nextSteps(v.F.Type)
	if t, ok := FindingTactic(v.F.Type); ok {
		v.FindingTactic = &t
	}
	v.MappingFinding, v.MappingEvents = MappingSourceFinding, MappingSourceEvents
	seen := map[string]bool{}
	for _, g := range v.TL.Key {
		if g.Mapping != nil && !seen[g.Mapping.Tactic.ID] {
			seen[g.Mapping.Tactic.ID] = true
			v.Tactics = append(v.Tactics, g.Mapping.Tactic)
		}
	}
	v.Identities, v.IdentitiesMore, v.Addresses, v.AddressesMore = involved(d.Scope, v.F, v.TL.Key)
	return v, nil
}

func fill(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// perSource counts the artifacts, records and bytes of every source that
// has artifacts or gaps, in the manifest schema's source order.
func perSource(m *evidence.Manifest) ([]sourceRow, sourceRow) {
	rows := map[string]*sourceRow{}
	get := func(s string) *sourceRow {
		if rows[s] == nil {
			rows[s] = &sourceRow{Source: s}
		}
		return rows[s]
	}
	total := sourceRow{Source: "total"}
	for _, a := range m.Artifacts {
		r := get(a.Source)
		r.Artifacts++
		r.Records += a.Records
		r.Bytes += a.Size
		total.Artifacts++
		total.Records += a.Records
		total.Bytes += a.Size
	}
	for _, g := range m.Gaps {
		get(g.Source).Gaps++
		total.Gaps++
	}
	order := map[string]int{}
	for i, s := range evidence.Sources {
		order[s] = i
	}
	out := make([]sourceRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		oi, iok := order[out[i].Source]
		oj, jok := order[out[j].Source]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return out[i].Source < out[j].Source
	})
	return out, total
}

func countEvents(evs []Event) *Counts {
	c := &Counts{ByAction: map[string]int64{}, ByActor: map[string]int64{}, Events: int64(len(evs))}
	for _, e := range evs {
		c.ByAction[orNone(e.Action)]++
		c.ByActor[orNone(e.Actor)]++
	}
	return c
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// top is the n largest counts, ties by name; the rest are summed in a last
// row.
func top(m map[string]int64, n int) []countRow {
	rows := make([]countRow, 0, len(m))
	for k, c := range m {
		rows = append(rows, countRow{k, c})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Count != rows[j].Count {
			return rows[i].Count > rows[j].Count
		}
		return rows[i].Name < rows[j].Name
	})
	if len(rows) > n {
		var rest int64
		for _, r := range rows[n:] {
			rest += r.Count
		}
		rows = append(rows[:n:n], countRow{fmt.Sprintf("(%d more)", len(rows)-n), rest})
	}
	return rows
}
