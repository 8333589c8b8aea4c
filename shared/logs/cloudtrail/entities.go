package cloudtrail

import (
	"sort"
	"time"
)

// Entity kinds a record names: the case's entity view (Seal's
// entities.json) counts them, and the CloudTrail collector's baseline
// summary counts the same ones before the window.
const (
	EntityPrincipal = "principal"
	EntityAccessKey = "accessKey"
	EntityAddress   = "address"
	EntityUserAgent = "userAgent"
	EntityResource  = "resource"
)

// Entities lists what e names, as (kind, value) pairs: its caller's key
// and ARN, its user agent, its source address and the ARNs of its
// resources. Empty values are listed too; callers skip them.
func (e *Event) Entities() [][2]string {
	u := &e.UserIdentity
	out := [][2]string{{EntityAccessKey, u.AccessKeyID}, {EntityUserAgent, e.UserAgent},
		{EntityPrincipal, u.ARN}, {EntityAddress, e.SourceIPAddress}}
	for _, r := range e.Resources {
		out = append(out, [2]string{EntityResource, r.ARN})
	}
	return out
}

// BaselineName is the baseline summary's name in a run's CloudTrail
// folder.
const BaselineName = "baseline.json"

// MaxBaselineEntities bounds the entities a Baseline lists (its memory
// and size); past it, new entities are counted in Dropped.
const MaxBaselineEntities = 100000

// Baseline is what the scope's CloudTrail records of the days before the
// window name, counted per entity: the entity view's "new in the window"
// compares with it. It holds counts, not the records: the case's
// CloudTrail extracts then hold only records of the window, so whoever
// reads every extract (a reviewer, a recall check) meets no record from
// outside it; the log files it was counted from are named by the
// artifact's request (bucket, prefixes, count) and stay in the trail's
// bucket, so the count can be made again.
type Baseline struct {
	Start    time.Time        `json:"start"`
	End      time.Time        `json:"end"`
	Days     int              `json:"baselineDays"`
	Records  int64            `json:"records"`
	Entities []BaselineEntity `json:"entities"`
	Dropped  int64            `json:"dropped,omitempty"`
}

// BaselineEntity is one entity's count in the baseline.
type BaselineEntity struct {
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	Events    int64     `json:"events"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// BaselineCounter counts records into a Baseline.
type BaselineCounter struct {
	b     Baseline
	byKey map[[2]string]*BaselineEntity
}

// NewBaselineCounter starts a Baseline of the days before a window.
func NewBaselineCounter(start, end time.Time, days int) *BaselineCounter {
	return &BaselineCounter{b: Baseline{Start: start.UTC(), End: end.UTC(), Days: days}, byKey: map[[2]string]*BaselineEntity{}}
}

// Add counts one record.
func (c *BaselineCounter) Add(e *Event) {
	c.b.Records++
	for _, kv := range e.Entities() {
		if kv[1] == "" || kv[1] == "-" {
			continue
		}
		n := c.byKey[kv]
		if n == nil {
			if len(c.byKey) >= MaxBaselineEntities {
				c.b.Dropped++
				continue
			}
			n = &BaselineEntity{Kind: kv[0], Value: kv[1], FirstSeen: e.Time, LastSeen: e.Time}
			c.byKey[kv] = n
		}
		n.Events++
		if e.Time.Before(n.FirstSeen) {
			n.FirstSeen = e.Time
		}
		if e.Time.After(n.LastSeen) {
			n.LastSeen = e.Time
		}
	}
}

// Baseline is the count so far, its entities by kind and value.
func (c *BaselineCounter) Baseline() Baseline {
	b := c.b
	b.Entities = make([]BaselineEntity, 0, len(c.byKey))
	for _, n := range c.byKey {
		b.Entities = append(b.Entities, *n)
	}
	sort.Slice(b.Entities, func(i, j int) bool {
		x, y := b.Entities[i], b.Entities[j]
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		return x.Value < y.Value
	})
	return b
}
