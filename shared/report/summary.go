package report

import (
	"sort"
	"strings"
	"time"
)

// maxInvolved bounds the identities and addresses the summary names; the
// entity table has them all.
const maxInvolved = 6

// involved is the summary's identities and addresses: the scope's
// principals, keys and user names and the finding's remote IPs, then the
// actors and source addresses of the in-scope key events, the most events
// first. The ints are how many more there are.
func involved(scope []ScopeEntry, f Finding, key []*group) (ids []string, idsMore int, addrs []string, addrsMore int) {
	idCount, addrCount := map[string]int{}, map[string]int{}
	var idOrder, addrOrder []string
	addID := func(s string, n int) {
		if s == "" {
			return
		}
		if _, ok := idCount[s]; !ok {
			idOrder = append(idOrder, s)
		}
		idCount[s] += n
	}
	addAddr := func(s string, n int) {
		if s == "" {
			return
		}
		if _, ok := addrCount[s]; !ok {
			addrOrder = append(addrOrder, s)
		}
		addrCount[s] += n
	}
	for _, s := range scope {
		k := strings.ToLower(strings.ReplaceAll(s.Kind, " ", ""))
		switch {
		case strings.Contains(k, "principal"), strings.Contains(k, "accesskey"), strings.Contains(k, "username"):
			for _, id := range s.IDs {
				addID(id, 0)
			}
		case strings.Contains(k, "publicip"), strings.Contains(k, "remoteip"):
			for _, id := range s.IDs {
				addAddr(id, 0)
			}
		}
	}
	for _, ip := range f.RemoteIPs {
		if ip != "0.0.0.0" { // GuardDuty's placeholder for no address
			addAddr(ip, 0)
		}
	}
	for _, g := range key {
		if len(g.Tags) == 0 || g.Tags[0] != TagScope {
			continue
		}
		// A flow's actor is its source address and a log line's its log
		// stream: neither is an identity.
		if g.Source != "vpcflow" && g.Source != "cloudwatch" && g.Actor != g.SrcIP {
			addID(g.Actor, g.Count)
		}
		addAddr(g.SrcIP, g.Count)
	}
	ids, idsMore = topNames(idOrder, idCount)
	addrs, addrsMore = topNames(addrOrder, addrCount)
	return ids, idsMore, addrs, addrsMore
}

// topNames keeps the first maxInvolved names, the most counted first (the
// scope's, counted 0 but listed first, keep their place among equals).
func topNames(order []string, count map[string]int) ([]string, int) {
	sort.SliceStable(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })
	if len(order) > maxInvolved {
		return order[:maxInvolved], len(order) - maxInvolved
	}
	return order, 0
}

// maxTimelineChain bounds the chain made from the timeline.
const maxTimelineChain = 20

// chainOf is the chain as the timeline shows it, for a run with no pivot
// artifact: every key event that made credentials (CreateAccessKey,
// AssumeRole*, CreateLoginProfile, GetSessionToken…), the scope's first,
// as "actor → call target". The timeline does not hold the credential a
// call returned: cloudtrail/ extracts do.
func chainOf(key []*group) []ChainLink {
	var scoped, rest []ChainLink
	for _, g := range key {
		if !hasTag(g.Tags, TagCredentials) {
			continue
		}
		l := ChainLink{Identity: g.Actor, Kind: "principal", Depth: 1, Path: chainPath(g), EventTime: timeOrZero(g.First)}
		if g.Tags[0] == TagScope {
			scoped = append(scoped, l)
		} else {
			rest = append(rest, l)
		}
	}
	out := append(scoped, rest...)
	if len(out) > maxTimelineChain {
		out = out[:maxTimelineChain]
	}
	return out
}

func chainPath(g *group) string {
	p := orNone(g.Actor) + " → " + apiVerb(g.Action)
	if g.Target != "" {
		p += " " + g.Target
	}
	if g.Count > 1 {
		p += " (×" + groupDigits(int64(g.Count)) + ")"
	}
	return p
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func timeOrZero(s string) time.Time {
	t, _ := eventTime(s)
	return t
}

// entitiesOf is the entity view as the timeline shows it, for a run with
// no entities.json: principals (actors), source addresses and resources
// (targets), first and last seen, events and sources. Access keys and user
// agents are not on the timeline; nothing is new or not without a
// baseline.
func entitiesOf(evs []Event) []EntityRow {
	type acc struct {
		row     EntityRow
		sources map[string]bool
	}
	byKey := map[string]*acc{}
	add := func(kind, value, source string, t time.Time) {
		value = strings.TrimSpace(value)
		if value == "" || value == "-" {
			return
		}
		k := kind + "\x00" + value
		a := byKey[k]
		if a == nil {
			a = &acc{row: EntityRow{Kind: kind, Value: value, FirstSeen: t, LastSeen: t}, sources: map[string]bool{}}
			byKey[k] = a
		}
		a.row.Events++
		if t.Before(a.row.FirstSeen) {
			a.row.FirstSeen = t
		}
		if t.After(a.row.LastSeen) {
			a.row.LastSeen = t
		}
		a.sources[source] = true
	}
	for _, e := range evs {
		t, ok := eventTime(e.Datetime)
		if !ok {
			continue
		}
		// A flow's actor is its source address and a log line's its log
		// stream: neither is a principal.
		if e.Actor != e.SrcIP && e.Source != "cloudwatch" {
			add("principal", e.Actor, e.Source, t)
		}
		add("address", e.SrcIP, e.Source, t)
		add("resource", e.Target, e.Source, t)
	}
	rows := make([]EntityRow, 0, len(byKey))
	for _, a := range byKey {
		for s := range a.sources {
			a.row.Sources = append(a.row.Sources, s)
		}
		sort.Strings(a.row.Sources)
		rows = append(rows, a.row)
	}
	kindOrder := map[string]int{"principal": 0, "accessKey": 1, "address": 2, "userAgent": 3, "resource": 4}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Kind != b.Kind {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		if a.Events != b.Events {
			return a.Events > b.Events
		}
		return a.Value < b.Value
	})
	return rows
}
