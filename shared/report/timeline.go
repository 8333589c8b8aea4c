package report

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Classify returns why e is a key event (Tag* values, in a fixed order),
// or nil. scopeIDs are the IDs of the scope (and the finding's resource);
// remoteIPs the finding's remote addresses.
func Classify(e Event, scopeIDs, remoteIPs []string) []string {
	var tags []string
	if inScope(e, scopeIDs) {
		tags = append(tags, TagScope)
	}
	verb := apiVerb(e.Action)
	if isWrite(e.Source, e.Action, verb) {
		tags = append(tags, TagWrite)
	}
	if isDenied(e.Outcome) {
		tags = append(tags, TagDenied)
	}
	if verb == "ConsoleLogin" {
		tags = append(tags, TagLogin)
	}
	if isNewCredentials(verb) {
		tags = append(tags, TagCredentials)
	}
	if touchesIP(e, remoteIPs) {
		tags = append(tags, TagRemoteIP)
	}
	return tags
}

// apiVerb is the action without its service prefix: "iam:CreateAccessKey"
// and "iam.amazonaws.com:CreateAccessKey" -> "CreateAccessKey".
func apiVerb(action string) string {
	if i := strings.LastIndexByte(action, ':'); i >= 0 {
		return action[i+1:]
	}
	return action
}

var readPrefixes = []string{"Get", "List", "Describe", "Head", "Lookup"}

// isWrite: an API call (CloudTrail, S3 access log, DynamoDB stream record)
// that is not a read. S3 access log operations ("REST.PUT.OBJECT") are
// writes when their HTTP verb is not GET or HEAD; every DynamoDB stream
// record (INSERT, MODIFY, REMOVE) is a write. Flow records, log lines and
// findings are not API calls.
func isWrite(source, action, verb string) bool {
	if action == "" {
		return false
	}
	switch source {
	case "dynamodb":
		return true
	case "s3access":
		parts := strings.Split(action, ".")
		if len(parts) >= 2 && strings.EqualFold(parts[0], "REST") {
			m := strings.ToUpper(parts[1])
			return m != "GET" && m != "HEAD" && m != "OPTIONS"
		}
	case "cloudtrail", "":
		if source == "" && !strings.Contains(action, ":") {
			return false
		}
		for _, p := range readPrefixes {
			if strings.HasPrefix(verb, p) {
				return false
			}
		}
		return verb != "ConsoleLogin" // a login is its own category
	}
	return false
}

var deniedWords = []string{"denied", "unauthorized", "forbidden", "reject", "error", "fail", "exception", "invalid", "notfound", "nosuch", "throttl", "expired"}

// isDenied: the outcome says refused or failed: AccessDenied and other
// error codes, a flow's REJECT, ConsoleLogin's Failure, HTTP 4xx/5xx.
func isDenied(outcome string) bool {
	o := strings.ToLower(strings.TrimSpace(outcome))
	if o == "" {
		return false
	}
	if n, err := strconv.Atoi(o); err == nil {
		return n >= 400 && n < 600
	}
	for _, w := range deniedWords {
		if strings.Contains(o, w) {
			return true
		}
	}
	return false
}

func isNewCredentials(verb string) bool {
	switch verb {
	case "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "GetSessionToken", "GetFederationToken":
		return true
	}
	return strings.HasPrefix(verb, "AssumeRole")
}

func inScope(e Event, ids []string) bool {
	for _, id := range ids {
		if len(id) < 4 {
			continue // too short to mean anything inside an ARN
		}
		if strings.Contains(e.Actor, id) || strings.Contains(e.Target, id) || e.SrcIP == id || strings.Contains(e.Message, id) {
			return true
		}
	}
	return false
}

// touchesIP: a network flow (VPC flow record) from or to one of the
// finding's remote IPs. API calls from those IPs are not tagged: a stolen
// key's every read would flood the key events; they show as in scope.
func touchesIP(e Event, ips []string) bool {
	if e.Source != "vpcflow" {
		return false
	}
	for _, ip := range ips {
		if ip == "" {
			continue
		}
		if e.SrcIP == ip || e.Target == ip || strings.HasPrefix(e.Target, ip+":") || strings.HasPrefix(e.Target, "["+ip+"]:") {
			return true
		}
	}
	return false
}

// eventTime parses an event's ISO 8601 datetime; ok is false for one that
// does not parse (it sorts last).
func eventTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// group is one row of a timeline table: the events alike in source,
// action, actor, target, source IP, outcome and tags, collapsed, with
// their count and first and last times. The fields shown are the first
// event's (its message stands for the others').
type group struct {
	eventRow
	Count       int
	First, Last string
	// Mapping is the ATT&CK tactic when it is known.
	Mapping  *mapping
	t, tLast time.Time
	ok       bool
	idx      int
}

func byTime(a, b *group) bool {
	if a.ok != b.ok {
		return a.ok
	}
	if !a.t.Equal(b.t) {
		return a.t.Before(b.t)
	}
	return a.idx < b.idx
}

// priority orders key events for the cap: the scope's writes, denials,
// logins, new credentials and flows first, then the scope's other actions,
// then the rest of the account's writes, denials, logins, credentials and
// flows.
func priority(tags []string) int {
	scope := len(tags) > 0 && tags[0] == TagScope
	switch {
	case scope && len(tags) > 1:
		return 0
	case scope:
		return 1
	default:
		return 2
	}
}

// collapse groups rows alike (groupKey) in the order of their first
// event.
func collapse(rows []eventRow) []*group {
	byKey := map[string]*group{}
	var out []*group
	for i, r := range rows {
		t, ok := eventTime(r.Datetime)
		k := groupKey(r)
		g := byKey[k]
		if g == nil {
			g = &group{eventRow: r, First: r.Datetime, Last: r.Datetime, t: t, tLast: t, ok: ok, idx: i}
			if m, ok := eventMapping(r.Event); ok {
				g.Mapping = &m
			}
			byKey[k] = g
			out = append(out, g)
		}
		g.Count++
		if !ok {
			continue
		}
		if !g.ok || t.Before(g.t) {
			// The earliest event is the one the row shows.
			g.eventRow, g.First, g.t, g.ok = r, r.Datetime, t, true
			if !g.tLast.After(t) {
				g.tLast, g.Last = t, r.Datetime
			}
		}
		if t.After(g.tLast) {
			g.tLast, g.Last = t, r.Datetime
		}
	}
	return out
}

func groupKey(r eventRow) string {
	return strings.Join([]string{r.Source, r.Action, r.Actor, r.Target, r.SrcIP, r.Outcome, strings.Join(r.Tags, ",")}, "\x00")
}

// timelineView is the two timeline tables.
type timelineView struct {
	Key, Other []*group
	// KeyEvents and OtherEvents count the events the rows stand for;
	// KeyMore and OtherMore the rows left out, KeyMoreEvents and
	// OtherMoreEvents their events.
	KeyEvents, OtherEvents         int
	KeyMore, OtherMore             int
	KeyMoreEvents, OtherMoreEvents int
}

// timeline splits the events into key events (any tag makes one) and the
// others, collapses each, and caps them: the key rows kept are the
// highest priority (then earliest), the other rows kept the nearest the
// finding's first seen time. Both tables are shown in time order.
func timeline(d Data, f Finding) timelineView {
	var keyR, otherR []eventRow
	ids := scopeIDs(d, f)
	for _, e := range d.Events {
		row := eventRow{Event: e, Tags: Classify(e, ids, f.RemoteIPs)}
		if len(row.Tags) > 0 {
			keyR = append(keyR, row)
		} else {
			otherR = append(otherR, row)
		}
	}
	var tv timelineView
	key := collapse(keyR)
	sort.SliceStable(key, func(i, j int) bool {
		pi, pj := priority(key[i].Tags), priority(key[j].Tags)
		if pi != pj {
			return pi < pj
		}
		return byTime(key[i], key[j])
	})
	maxKey := orDefault(d.MaxKeyEvents, DefaultMaxKeyEvents)
	if len(key) > maxKey {
		for _, g := range key[maxKey:] {
			tv.KeyMore++
			tv.KeyMoreEvents += g.Count
		}
		key = key[:maxKey]
	}
	sort.SliceStable(key, func(i, j int) bool { return byTime(key[i], key[j]) })
	other := collapse(otherR)
	maxOther := orDefault(d.MaxOtherEvents, DefaultMaxOtherEvents)
	if len(other) > maxOther {
		// Keep the ones nearest the finding (its first seen time, else the
		// window's start).
		ref := f.FirstSeen
		if ref.IsZero() {
			ref = d.Manifest.Window.Start
		}
		sort.SliceStable(other, func(i, j int) bool {
			if other[i].ok != other[j].ok {
				return other[i].ok
			}
			return absDur(other[i].t.Sub(ref)) < absDur(other[j].t.Sub(ref))
		})
		for _, g := range other[maxOther:] {
			tv.OtherMore++
			tv.OtherMoreEvents += g.Count
		}
		other = other[:maxOther]
	}
	sort.SliceStable(other, func(i, j int) bool { return byTime(other[i], other[j]) })
	for _, g := range key {
		tv.KeyEvents += g.Count
	}
	for _, g := range other {
		tv.OtherEvents += g.Count
	}
	tv.Key, tv.Other = key, other
	return tv
}

// scopeIDs are the IDs an event must name to be in scope: the scope's and
// the finding's resource.
func scopeIDs(d Data, f Finding) []string {
	var ids []string
	for _, s := range d.Scope {
		ids = append(ids, s.IDs...)
	}
	if f.ResourceID != "" {
		ids = append(ids, f.ResourceID)
	}
	return ids
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
