package main

// The entity view (entities.json): for every principal, access key, source
// address, user agent and resource in the case, when it was first and last
// seen, in how many events, in which sources, and whether it is new in the
// window compared with the baseline period before it. Principals,
// addresses and resources come from the timeline (every source); access
// keys and user agents, which the timeline does not carry, from the
// CloudTrail extracts (each record once, by eventID). The baseline is the
// CloudTrail collector's baseline summary (baseline.json: what the scoped
// records of the days before the window name, counted): an entity
// CloudTrail records of the window name is new when the baseline does not
// name it; with no baseline, or for an entity only other sources name,
// newInWindow is left out (unknown).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/pivot"
	"github.com/custody-ir/custody/shared/report"
	"github.com/custody-ir/custody/shared/s3logs"
)

// Entity kinds.
const (
	EntityPrincipal = ctlog.EntityPrincipal
	EntityAccessKey = ctlog.EntityAccessKey
	EntityAddress   = ctlog.EntityAddress
	EntityUserAgent = ctlog.EntityUserAgent
	EntityResource  = ctlog.EntityResource
)

// entitiesFile is the entity view's name in the run folder.
const entitiesFile = "entities.json"

// maxEntities bounds the entities kept (the view's memory); past it, new
// entities are counted in Dropped.
const maxEntities = 200000

// Entity is one row of the view.
type Entity struct {
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Events    int64     `json:"events"`
	Sources   []string  `json:"sources"`
	// NewInWindow is true when the baseline names it nowhere; nil without
	// a baseline.
	NewInWindow *bool `json:"newInWindow,omitempty"`
	// BaselineEvents counts the baseline's records naming it.
	BaselineEvents int64 `json:"baselineEvents,omitempty"`

	sources map[string]bool
}

// EntityView is entities.json.
type EntityView struct {
	Window incident.Window `json:"window"`
	// Baseline names the baseline summaries read; empty: none, so no
	// entity says whether it is new.
	Baseline []string `json:"baseline"`
	Entities []Entity `json:"entities"`
	// Dropped counts entities past maxEntities (not listed).
	Dropped int64 `json:"dropped,omitempty"`
}

// entities accumulates the view.
type entities struct {
	byKey    map[string]*Entity
	baseline map[string]int64
	dropped  int64
}

func newEntities() *entities {
	return &entities{byKey: map[string]*Entity{}, baseline: map[string]int64{}}
}

// add counts one sighting of kind/value at t in source.
func (es *entities) add(kind, value, source string, t time.Time) {
	value = strings.TrimSpace(value)
	if value == "" || value == "-" {
		return
	}
	k := kind + "\x00" + value
	e := es.byKey[k]
	if e == nil {
		if len(es.byKey) >= maxEntities {
			es.dropped++
			return
		}
		e = &Entity{Kind: kind, Value: value, FirstSeen: t, LastSeen: t, sources: map[string]bool{}}
		es.byKey[k] = e
	}
	e.Events++
	if t.Before(e.FirstSeen) {
		e.FirstSeen = t
	}
	if t.After(e.LastSeen) {
		e.LastSeen = t
	}
	e.sources[source] = true
}

// addBaseline counts the entities of one baseline summary.
func (es *entities) addBaseline(b *ctlog.Baseline) {
	for _, e := range b.Entities {
		es.baseline[e.Kind+"\x00"+e.Value] += e.Events
	}
}

// view sorts the entities (by kind, then first seen) and marks the new
// ones when there is a baseline.
func (es *entities) view(w incident.Window, baseline []string) EntityView {
	v := EntityView{Window: w, Baseline: baseline, Entities: []Entity{}, Dropped: es.dropped}
	if v.Baseline == nil {
		v.Baseline = []string{}
	}
	for k, e := range es.byKey {
		for s := range e.sources {
			e.Sources = append(e.Sources, s)
		}
		sort.Strings(e.Sources)
		// The baseline is CloudTrail's: an entity no CloudTrail record of
		// the window names (a finding's user name, a flow's ENI) cannot be
		// compared with it.
		if len(baseline) > 0 && e.sources[evidence.SourceCloudTrail] {
			e.BaselineEvents = es.baseline[k]
			isNew := e.BaselineEvents == 0
			e.NewInWindow = &isNew
		}
		v.Entities = append(v.Entities, *e)
	}
	sort.Slice(v.Entities, func(i, j int) bool {
		a, b := v.Entities[i], v.Entities[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.Value < b.Value
	})
	return v
}

// isBaseline reports the CloudTrail baseline summary (baseline.json).
func isBaseline(a evidence.Artifact) bool {
	return a.Source == evidence.SourceCloudTrail && path.Base(a.Key) == ctlog.BaselineName
}

// entityView builds the view from the timeline (r: timeline.jsonl) and
// the manifest's CloudTrail extracts.
func (h *Handler) entityView(ctx context.Context, inc incident.Incident, m *evidence.Manifest, timelineFile io.Reader) (EntityView, error) {
	es := newEntities()
	sc := bufio.NewScanner(timelineFile)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e struct {
			Datetime string `json:"datetime"`
			Source   string `json:"source"`
			Actor    string `json:"actor"`
			Target   string `json:"target"`
			SrcIP    string `json:"srcIp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return EntityView{}, fmt.Errorf("timeline line: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, e.Datetime)
		if err != nil {
			continue
		}
		es.add(EntityPrincipal, e.Actor, e.Source, t)
		es.add(EntityAddress, e.SrcIP, e.Source, t)
		es.add(EntityResource, e.Target, e.Source, t)
	}
	if err := sc.Err(); err != nil {
		return EntityView{}, err
	}
	seen := map[string]bool{}
	var baseline []string
	for _, a := range m.Artifacts {
		if isBaseline(a) {
			var b ctlog.Baseline
			if err := h.readArtifactJSON(ctx, a, &b); err != nil {
				return EntityView{}, fmt.Errorf("%s: %w", a.Key, err)
			}
			es.addBaseline(&b)
			baseline = append(baseline, a.Key)
			continue
		}
		if a.Source != evidence.SourceCloudTrail || a.API == "s3:CopyObject" || !strings.HasSuffix(a.Key, ".jsonl.gz") {
			continue
		}
		err := h.eachCloudTrail(ctx, a, func(e *ctlog.Event) {
			if e.EventID != "" {
				if seen[e.EventID] {
					return
				}
				seen[e.EventID] = true
			}
			es.add(EntityAccessKey, e.UserIdentity.AccessKeyID, evidence.SourceCloudTrail, e.Time)
			es.add(EntityUserAgent, e.UserAgent, evidence.SourceCloudTrail, e.Time)
		})
		if err != nil {
			return EntityView{}, fmt.Errorf("%s: %w", a.Key, err)
		}
	}
	return es.view(inc.Window, baseline), nil
}

// readArtifactJSON decodes one JSON artifact (a baseline summary: small,
// bounded by ctlog.MaxBaselineEntities).
func (h *Handler) readArtifactJSON(ctx context.Context, a evidence.Artifact, v any) error {
	body, err := h.opener(ctx, a)()
	if err != nil {
		return err
	}
	defer body.Close()
	return json.NewDecoder(io.LimitReader(body, 256<<20)).Decode(v)
}

// eachCloudTrail streams one CloudTrail extract's records to fn.
func (h *Handler) eachCloudTrail(ctx context.Context, a evidence.Artifact, fn func(*ctlog.Event)) error {
	body, err := h.opener(ctx, a)()
	if err != nil {
		return err
	}
	defer body.Close()
	r, err := s3logs.Decompressed(body)
	if err != nil {
		return err
	}
	return s3logs.Lines(func(line []byte) (s3logs.Record, error) {
		e, err := ctlog.Parse(line)
		if err != nil {
			return s3logs.Record{}, err
		}
		return s3logs.Record{Time: e.Time, Value: e}, nil
	})(r, func(rec s3logs.Record) error {
		fn(rec.Value.(*ctlog.Event))
		return nil
	}, func(error) {})
}

// reportEntities is the view as the report shows it.
func reportEntities(v EntityView) []report.EntityRow {
	rows := make([]report.EntityRow, 0, len(v.Entities))
	for _, e := range v.Entities {
		r := report.EntityRow{Kind: e.Kind, Value: e.Value, FirstSeen: e.FirstSeen, LastSeen: e.LastSeen, Events: e.Events, Sources: e.Sources}
		if e.NewInWindow != nil {
			r.New = "no"
			if *e.NewInWindow {
				r.New = "yes"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// reportChain reads the pivot chain (cloudtrail/pivot/identities.json)
// for the report: each identity's path from a starting identity, and the
// leads. None when the run has no chain.
func (h *Handler) reportChain(ctx context.Context, m *evidence.Manifest) ([]report.ChainLink, error) {
	var art *evidence.Artifact
	for i, a := range m.Artifacts {
		if a.Source == evidence.SourceCloudTrail && strings.HasSuffix(a.Key, "/pivot/identities.json") {
			art = &m.Artifacts[i]
		}
	}
	if art == nil {
		return nil, nil
	}
	body, err := h.opener(ctx, *art)()
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var ch pivot.Chain
	if err := json.NewDecoder(body).Decode(&ch); err != nil {
		return nil, err
	}
	byID := map[string]pivot.Identity{}
	for _, i := range ch.Identities {
		byID[i.ID] = i
	}
	// path is "seed → call → identity → …", the chain from a starting
	// identity to i.
	var path func(i pivot.Identity, depth int) string
	path = func(i pivot.Identity, depth int) string {
		name := chainName(i)
		p, ok := byID[i.Parent]
		if i.Via == nil || !ok || depth > pivot.MaxDepth+1 {
			return name
		}
		call := i.Via.EventName
		if i.Role != "" {
			call += " " + i.Role[strings.LastIndex(i.Role, "/")+1:]
		} else if i.Kind != pivot.KindAccessKey && i.UserName != "" {
			call += " " + i.UserName
		}
		return path(p, depth+1) + " → " + call + " → " + name
	}
	var links []report.ChainLink
	link := func(i pivot.Identity, lead bool, reason string) report.ChainLink {
		l := report.ChainLink{Identity: chainName(i), Kind: i.Kind, Depth: i.Depth, Path: path(i, 0), Lead: lead, Reason: reason, Note: i.Note}
		if i.Via != nil {
			l.EventID, l.EventTime, l.Region = i.Via.EventID, i.Via.EventTime, i.Via.Region
		}
		return l
	}
	for _, i := range ch.Identities {
		if i.Depth > 0 {
			links = append(links, link(i, false, ""))
		}
	}
	for _, l := range ch.Leads {
		links = append(links, link(l.Identity, true, l.Reason))
	}
	return links, nil
}

// chainName is how the report names an identity: its key, session ARN or
// user.
func chainName(i pivot.Identity) string {
	switch {
	case i.AccessKeyID != "":
		return i.AccessKeyID
	case i.ARN != "":
		return i.ARN
	case i.UserName != "":
		return i.Kind + " " + i.UserName
	}
	return i.ID
}
