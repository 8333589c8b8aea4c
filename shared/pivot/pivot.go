// Package pivot follows an attacker through the credentials it made. From
// CloudTrail records (an extract's lines: the records as CloudTrail wrote
// them) and the identities a case starts from (its Scope's access keys,
// user and session ARNs, user names, principal IDs, instances), a Deriver
// finds every credential those identities created or received — a role
// session (AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, role
// chaining and cross-account roles, sourceIdentity carried along), a
// session token (GetSessionToken, GetFederationToken), an access key
// (CreateAccessKey), a user (CreateUser), a console password
// (CreateLoginProfile, UpdateLoginProfile) and, for an instance, its role
// session's key used from an address that is not the instance — and the
// credentials those made in turn, to a bounded depth and count.
//
// The rules, which the README's "Following the attacker" states too:
//
//   - Pivot on the exact session, never on a role: an AssumeRole gives the
//     session's own key (responseElements.credentials.accessKeyId, ASIA…)
//     and its session ARN (responseElements.assumedRoleUser.arn). Records
//     are followed by that key; other sessions of the same role, which
//     carry other keys, are not the attacker's and are not followed.
//   - A record counts only when its caller (userIdentity) is an identity
//     already followed, and only when it succeeded (no errorCode): a
//     record that is in an extract for another reason (its address, a
//     resource) derives nothing.
//   - Redactions. CloudTrail leaves responseElements null for some calls
//     (a failed call, some cross-account calls as the caller's account
//     logs them) and writes HIDDEN_DUE_TO_SECURITY_REASONS in place of
//     some values. A value so hidden is taken as absent. An AssumeRole
//     whose key is absent is followed by its session ARN instead
//     (responseElements.assumedRoleUser.arn, or built from
//     requestParameters.roleArn and roleSessionName: the exact session
//     name, still not the role), and the identity says so in its Note. A
//     CreateAccessKey whose key is absent is a lead (nothing exact to
//     follow). A call that failed derives nothing.
//   - A user the attacker created (CreateUser) is followed as the user:
//     everything it does is the attacker's. A key created for an existing
//     user is followed as the key only (the user's own keys are not the
//     attacker's). A console password set for a user (CreateLoginProfile,
//     UpdateLoginProfile) is followed as that user's console sessions
//     from then on: its ConsoleLogin and its records signed with a
//     temporary (ASIA…) key after it.
//   - An instance's role session (its session name is the instance ID)
//     whose key is used from an address that is not the instance's is a
//     derived key: not an AWS service name, not one of the instance's
//     addresses, not a private (VPC) address, and not through a VPC
//     endpoint (vpcEndpointId) of the instance's own account — which rules
//     out calls through a NAT gateway or its own endpoint. A call through
//     an endpoint another account owns (vpcEndpointAccountId) is from
//     outside, whatever its (private) address.
//   - Bounds: an identity deeper than Bounds.Depth, or past
//     Bounds.MaxIdentities derived identities, is a Lead, recorded with
//     its provenance and not followed: never a silent stop.
//
// Every derived identity has its provenance: the record (eventID,
// eventTime, eventName, region, account and the artifact it was read
// from), the identity it came from (Parent) and its depth.
package pivot

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
)

// Identity kinds.
const (
	// KindAccessKey is followed by userIdentity.accessKeyId: an AKIA key
	// (CreateAccessKey) or a session's ASIA key (AssumeRole*,
	// GetSessionToken, GetFederationToken, a stolen instance session).
	KindAccessKey = "accessKey"
	// KindSession is a role session whose key CloudTrail did not log:
	// followed by its session ARN (userIdentity.arn).
	KindSession = "session"
	// KindUser is an IAM user followed whole: one the case starts from,
	// or one the attacker created.
	KindUser = "user"
	// KindConsole is a user's console sessions from Since on (a password
	// the attacker set): its ConsoleLogin and its records signed with a
	// temporary key.
	KindConsole = "console"
	// KindPrincipalID is a principal's unique ID from the finding (AIDA…,
	// AROA…:session).
	KindPrincipalID = "principalId"
	// KindInstance is an instance's role sessions (session name = the
	// instance ID): a starting identity only.
	KindInstance = "instance"
)

// Defaults of Bounds.
const (
	DefaultDepth         = 3
	DefaultMaxIdentities = 50
)

// Bounds limit how far a case follows.
type Bounds struct {
	// Depth is the most hops from a starting identity (1: only what the
	// starting identities made).
	Depth int `json:"depth"`
	// MaxIdentities bounds the derived identities (starting ones not
	// counted).
	MaxIdentities int `json:"maxIdentities"`
}

// DefaultBounds are depth 3 and 50 identities.
func DefaultBounds() Bounds { return Bounds{Depth: DefaultDepth, MaxIdentities: DefaultMaxIdentities} }

// Provenance is the record an identity was derived from.
type Provenance struct {
	EventID     string    `json:"eventID"`
	EventTime   time.Time `json:"eventTime"`
	EventName   string    `json:"eventName"`
	EventSource string    `json:"eventSource,omitempty"`
	Region      string    `json:"awsRegion,omitempty"`
	AccountID   string    `json:"recipientAccountId,omitempty"`
	SourceIP    string    `json:"sourceIPAddress,omitempty"`
	// Artifact is the evidence key of the extract the record was read
	// from.
	Artifact string `json:"artifact,omitempty"`
}

// Identity is one credential followed (or, in a Lead, not followed).
type Identity struct {
	// ID is the identity's stable name: kind and value
	// ("accessKey:ASIA…", "user:x", "console:x").
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	AccessKeyID    string `json:"accessKeyId,omitempty"`
	ARN            string `json:"arn,omitempty"`
	UserName       string `json:"userName,omitempty"`
	AccountID      string `json:"accountId,omitempty"`
	SourceIdentity string `json:"sourceIdentity,omitempty"`
	// Role is the role a session was issued from (information only: the
	// role is never followed).
	Role string `json:"role,omitempty"`
	// Since, for a console identity, is when the password was set.
	Since time.Time `json:"since,omitzero"`
	// Depth is 0 for a starting identity, the parent's plus one else.
	Depth int `json:"depth"`
	// Parent is the ID of the identity that made this one.
	Parent string `json:"parent,omitempty"`
	// Via is the record that made it; nil for a starting identity.
	Via *Provenance `json:"via,omitempty"`
	// Note says what was unusual (a redacted key followed by session ARN).
	Note string `json:"note,omitempty"`
}

// Lead is an identity past a bound, or one with nothing exact to follow:
// recorded, not followed.
type Lead struct {
	Identity
	Reason string `json:"reason"`
}

// Chain is what a Deriver found: every identity (starting ones first,
// then by depth and time) and the leads.
type Chain struct {
	Bounds     Bounds     `json:"bounds"`
	Identities []Identity `json:"identities"`
	Leads      []Lead     `json:"leads"`
}

// hidden is what CloudTrail writes in place of a value it redacts.
const hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// candidate is a record that may derive an identity (or show an instance
// session used from outside), kept small: the fields derivation reads.
type candidate struct {
	prov     Provenance
	caller   ctlog.UserIdentity
	srcIdent string // userIdentity.sessionContext.sourceIdentity
	errCode  string
	request  json.RawMessage
	response json.RawMessage
	endpoint bool // through a VPC endpoint of the caller's own account
	// endpointAccount is the account of another's VPC endpoint the call
	// came through.
	endpointAccount string
	used            bool
}

// Deriver derives identities from CloudTrail records. Feed it every
// record of the extracts with Observe (in any order), then read Chain or
// Follow. It keeps only the few records that can derive something.
type Deriver struct {
	bounds     Bounds
	ids        []Identity
	byID       map[string]int
	keys       map[string]int // access key ID -> identity
	arns       map[string]int // session / user ARN -> identity
	users      map[string]int // user name -> user identity
	consoles   map[string]int // user name -> console identity
	pids       map[string]int
	instances  map[string]int // instance ID -> instance identity
	sourceIDs  map[string]int // sourceIdentity -> identity that carries it
	instanceIP map[string]bool
	leads      []Lead
	leadIDs    map[string]bool
	cands      []*candidate
	seen       map[string]bool // eventIDs observed
	derived    int
	resolved   bool
}

// NewDeriver starts from the identities sc names: its access keys, its
// user and assumed-role session ARNs (a role ARN is not followed: other
// sessions of the role are not the attacker), its user names, principal
// IDs and instances. Zero bounds take the defaults.
func NewDeriver(sc incident.Scope, b Bounds) *Deriver {
	if b.Depth <= 0 {
		b.Depth = DefaultDepth
	}
	if b.MaxIdentities <= 0 {
		b.MaxIdentities = DefaultMaxIdentities
	}
	d := &Deriver{
		bounds: b, byID: map[string]int{}, keys: map[string]int{}, arns: map[string]int{},
		users: map[string]int{}, consoles: map[string]int{}, pids: map[string]int{},
		instances: map[string]int{}, sourceIDs: map[string]int{}, instanceIP: map[string]bool{},
		leadIDs: map[string]bool{}, seen: map[string]bool{},
	}
	for _, k := range sc.AccessKeys {
		d.add(Identity{Kind: KindAccessKey, AccessKeyID: k, AccountID: sc.AccountID})
	}
	for _, p := range sc.Principals {
		switch {
		case strings.Contains(p, ":assumed-role/"):
			d.add(Identity{Kind: KindSession, ARN: p, AccountID: arnAccount(p)})
		case strings.Contains(p, ":user/"):
			d.add(Identity{Kind: KindUser, ARN: p, UserName: p[strings.LastIndex(p, "/")+1:], AccountID: arnAccount(p)})
		}
	}
	for _, u := range sc.UserNames {
		if _, ok := d.users[u]; !ok {
			d.add(Identity{Kind: KindUser, UserName: u, AccountID: sc.AccountID})
		}
	}
	for _, p := range sc.PrincipalIDs {
		d.add(Identity{Kind: KindPrincipalID, ID: KindPrincipalID + ":" + p, AccountID: sc.AccountID})
		d.pids[p] = len(d.ids) - 1
	}
	for _, i := range sc.Instances {
		d.add(Identity{Kind: KindInstance, ID: KindInstance + ":" + i, AccountID: sc.AccountID})
		d.instances[i] = len(d.ids) - 1
	}
	for _, ip := range append(append([]string(nil), sc.PrivateIPs...), sc.PublicIPs...) {
		d.instanceIP[ip] = true
	}
	return d
}

// idOf names an identity by its kind and the value it is followed by.
func idOf(i Identity) string {
	switch i.Kind {
	case KindAccessKey:
		return KindAccessKey + ":" + i.AccessKeyID
	case KindSession:
		return KindSession + ":" + i.ARN
	case KindUser:
		return KindUser + ":" + firstOf(i.ARN, i.UserName)
	case KindConsole:
		return KindConsole + ":" + firstOf(i.ARN, i.UserName)
	}
	return i.ID
}

// add records i, indexing what it is followed by; false when it is known.
func (d *Deriver) add(i Identity) bool {
	if i.ID == "" {
		i.ID = idOf(i)
	}
	if _, ok := d.byID[i.ID]; ok {
		return false
	}
	n := len(d.ids)
	d.ids = append(d.ids, i)
	d.byID[i.ID] = n
	switch i.Kind {
	case KindAccessKey:
		// Followed by its key only: its session ARN names it in the
		// report, and another session may carry the same name.
		d.keys[i.AccessKeyID] = n
	case KindSession:
		d.arns[i.ARN] = n
	case KindUser:
		d.users[i.UserName] = n
		if i.ARN != "" {
			d.arns[i.ARN] = n
		}
	case KindConsole:
		d.consoles[i.UserName] = n
	}
	if i.SourceIdentity != "" {
		if _, ok := d.sourceIDs[i.SourceIdentity]; !ok {
			d.sourceIDs[i.SourceIdentity] = n
		}
	}
	return true
}

// derivingEvents are the calls that make or hand out a credential.
var derivingEvents = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true,
	"GetSessionToken": true, "GetFederationToken": true,
	"CreateAccessKey": true, "CreateUser": true,
	"CreateLoginProfile": true, "UpdateLoginProfile": true,
}

// Observe reads one record, read from the extract artifact. A record seen
// before (same eventID: two trails, two passes) is skipped.
func (d *Deriver) Observe(e *ctlog.Event, artifact string) {
	if e == nil {
		return
	}
	if e.EventID != "" {
		if d.seen[e.EventID] {
			return
		}
		d.seen[e.EventID] = true
	}
	var extra struct {
		VPCEndpointID        string `json:"vpcEndpointId"`
		VPCEndpointAccountID string `json:"vpcEndpointAccountId"`
		UserIdentity         struct {
			SessionContext struct {
				SourceIdentity string `json:"sourceIdentity"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
	}
	if len(e.Raw) > 0 {
		_ = json.Unmarshal(e.Raw, &extra) // a field that is not there is absent
	}
	// Through a VPC endpoint of the instance's own account: the instance's
	// network. An endpoint another account owns (vpcEndpointAccountId) is
	// not: the session's key was taken to that account's network.
	endpoint := extra.VPCEndpointID != ""
	foreignEndpoint := endpoint && extra.VPCEndpointAccountID != "" && extra.VPCEndpointAccountID != firstOf(e.UserIdentity.AccountID, e.RecipientAccountID)
	instanceOutside := false
	if len(d.instances) > 0 {
		if _, _, session := splitSession(e.UserIdentity.ARN); session != "" {
			if _, ok := d.instances[session]; ok && (foreignEndpoint || (!endpoint && outsideAddress(e.SourceIPAddress, d.instanceIP))) {
				instanceOutside = true
			}
		}
	}
	if !derivingEvents[e.EventName] && !instanceOutside {
		return
	}
	c := &candidate{
		prov: Provenance{EventID: e.EventID, EventTime: e.Time, EventName: e.EventName, EventSource: e.EventSource,
			Region: e.AWSRegion, AccountID: e.RecipientAccountID, SourceIP: e.SourceIPAddress, Artifact: artifact},
		caller: e.UserIdentity, errCode: e.ErrorCode,
		request: e.RequestParameters, response: e.ResponseElements,
		endpoint: endpoint && !foreignEndpoint, srcIdent: clean(extra.UserIdentity.SessionContext.SourceIdentity),
	}
	if foreignEndpoint {
		c.endpointAccount = extra.VPCEndpointAccountID
	}
	d.cands = append(d.cands, c)
	d.resolved = false
}

// outsideAddress reports an address that is not the instance's: an IP
// address (not a service name), not one of the instance's, not private.
func outsideAddress(ip string, own map[string]bool) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil || own[ip] {
		return false
	}
	return !(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast())
}

// caller returns the followed identity that made c's call, if any.
func (d *Deriver) caller(c *candidate) (int, bool) {
	u := &c.caller
	if n, ok := d.keys[u.AccessKeyID]; ok && u.AccessKeyID != "" {
		return n, true
	}
	if n, ok := d.arns[u.ARN]; ok && u.ARN != "" {
		return n, true
	}
	if n, ok := d.pids[u.PrincipalID]; ok && u.PrincipalID != "" {
		return n, true
	}
	if name := userOf(u); name != "" {
		if n, ok := d.users[name]; ok {
			return n, true
		}
		if n, ok := d.consoles[name]; ok && consoleCall(u, c.prov.EventName) && !c.prov.EventTime.Before(d.ids[n].Since) {
			return n, true
		}
	}
	if _, _, session := splitSession(u.ARN); session != "" {
		if n, ok := d.instances[session]; ok {
			return n, true
		}
	}
	if c.srcIdent != "" {
		if n, ok := d.sourceIDs[c.srcIdent]; ok {
			return n, true
		}
	}
	// AssumeRoleWithSAML / WithWebIdentity: the caller is not an AWS
	// identity; a sourceIdentity it sets that a followed identity carries
	// ties it to the chain.
	if si := clean(field(c.request, "sourceIdentity")); si != "" {
		if n, ok := d.sourceIDs[si]; ok && strings.HasPrefix(c.prov.EventName, "AssumeRoleWith") {
			return n, true
		}
	}
	return 0, false
}

// consoleCall reports a user's console call: its ConsoleLogin, or a call
// signed with a temporary key (a console session's).
func consoleCall(u *ctlog.UserIdentity, event string) bool {
	return event == "ConsoleLogin" || strings.HasPrefix(u.AccessKeyID, "ASIA")
}

// userOf is the IAM user who called: userName of an IAMUser, or the name
// in a user ARN.
func userOf(u *ctlog.UserIdentity) string {
	if i := strings.Index(u.ARN, ":user/"); i >= 0 {
		return u.ARN[strings.LastIndex(u.ARN, "/")+1:]
	}
	if strings.EqualFold(u.Type, "IAMUser") {
		return u.UserName
	}
	return ""
}

// resolve derives to a fixed point: a record may come before the record
// that made its caller (another file, another pass).
func (d *Deriver) resolve() {
	if d.resolved {
		return
	}
	sort.SliceStable(d.cands, func(i, j int) bool {
		a, b := d.cands[i].prov, d.cands[j].prov
		if !a.EventTime.Equal(b.EventTime) {
			return a.EventTime.Before(b.EventTime)
		}
		return a.EventID < b.EventID
	})
	for changed := true; changed; {
		changed = false
		for _, c := range d.cands {
			if c.used {
				continue
			}
			n, ok := d.caller(c)
			if !ok {
				continue
			}
			c.used = true
			if d.derive(c, n) {
				changed = true
			}
		}
	}
	d.resolved = true
}

// derive makes the identities c's call made for parent n; true when one
// is followed.
func (d *Deriver) derive(c *candidate, n int) bool {
	if c.errCode != "" {
		return false // a failed call made nothing
	}
	parent := d.ids[n]
	base := Identity{Depth: parent.Depth + 1, Parent: parent.ID, Via: &c.prov}
	var made []Identity
	var leads []Lead
	resp := c.response
	switch c.prov.EventName {
	case "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity":
		id := base
		id.AccessKeyID = clean(field(resp, "credentials", "accessKeyId"))
		id.ARN = clean(field(resp, "assumedRoleUser", "arn"))
		id.Role = clean(field(c.request, "roleArn"))
		id.SourceIdentity = firstOf(clean(field(resp, "sourceIdentity")), clean(field(c.request, "sourceIdentity")), parent.SourceIdentity)
		if id.ARN == "" {
			id.ARN = sessionARN(id.Role, clean(field(c.request, "roleSessionName")))
		}
		id.AccountID = firstOf(arnAccount(id.ARN), arnAccount(id.Role))
		switch {
		case id.AccessKeyID != "":
			id.Kind = KindAccessKey
		case id.ARN != "":
			id.Kind = KindSession
			id.Note = "the session's key is not in the record (responseElements null or redacted): followed by its session ARN"
		default:
			leads = append(leads, Lead{Identity: withKind(id, KindSession), Reason: "the record names neither the session's key nor its session ARN"})
		}
		if id.Kind != "" {
			made = append(made, id)
		}
	case "GetSessionToken", "GetFederationToken":
		id := base
		id.Kind = KindAccessKey
		id.AccessKeyID = clean(field(resp, "credentials", "accessKeyId"))
		id.ARN = firstOf(clean(field(resp, "federatedUser", "arn")), parent.ARN)
		id.UserName = firstOf(userOf(&c.caller), parent.UserName)
		id.AccountID = firstOf(arnAccount(id.ARN), c.caller.AccountID, parent.AccountID)
		if id.AccessKeyID == "" {
			leads = append(leads, Lead{Identity: id, Reason: c.prov.EventName + " without the key in the record (redacted): nothing exact to follow"})
		} else {
			made = append(made, id)
		}
	case "CreateAccessKey":
		id := base
		id.Kind = KindAccessKey
		id.AccessKeyID = clean(field(resp, "accessKey", "accessKeyId"))
		id.UserName = firstOf(clean(field(resp, "accessKey", "userName")), clean(field(c.request, "userName")), userOf(&c.caller))
		id.AccountID = firstOf(c.prov.AccountID, c.caller.AccountID)
		if id.AccessKeyID == "" {
			leads = append(leads, Lead{Identity: id, Reason: "CreateAccessKey without the key in the record (redacted): nothing exact to follow"})
		} else {
			made = append(made, id)
		}
	case "CreateUser":
		id := base
		id.Kind = KindUser
		id.UserName = firstOf(clean(field(resp, "user", "userName")), clean(field(c.request, "userName")))
		id.ARN = clean(field(resp, "user", "arn"))
		id.AccountID = firstOf(arnAccount(id.ARN), c.prov.AccountID)
		if id.UserName != "" {
			made = append(made, id)
		}
	case "CreateLoginProfile", "UpdateLoginProfile":
		id := base
		id.Kind = KindConsole
		id.UserName = firstOf(clean(field(c.request, "userName")), clean(field(resp, "loginProfile", "userName")), userOf(&c.caller))
		id.AccountID = firstOf(c.prov.AccountID, c.caller.AccountID)
		id.Since = c.prov.EventTime
		if _, ok := d.users[id.UserName]; ok || id.UserName == "" {
			break // the user is followed whole already
		}
		made = append(made, id)
	default:
		// An instance session's key used from outside the instance.
		if parent.Kind == KindInstance && c.caller.AccessKeyID != "" && !c.endpoint {
			id := base
			id.Kind = KindAccessKey
			id.AccessKeyID = c.caller.AccessKeyID
			id.ARN = c.caller.ARN
			id.AccountID = c.caller.AccountID
			id.Note = "the instance's role session used from " + c.prov.SourceIP + ", an address that is not the instance's"
			if c.endpointAccount != "" {
				id.Note = "the instance's role session used through a VPC endpoint of account " + c.endpointAccount + ", not the instance's"
			}
			made = append(made, id)
		}
	}
	followed := false
	for _, id := range made {
		id.ID = idOf(id)
		if _, ok := d.byID[id.ID]; ok || d.leadIDs[id.ID] {
			continue
		}
		switch {
		case id.Depth > d.bounds.Depth:
			d.lead(Lead{Identity: id, Reason: fmt.Sprintf("deeper than the depth bound (%d): custody:pivotDepth", d.bounds.Depth)})
		case d.derived >= d.bounds.MaxIdentities:
			d.lead(Lead{Identity: id, Reason: fmt.Sprintf("past the identity bound (%d): custody:pivotMaxIdentities", d.bounds.MaxIdentities)})
		default:
			d.derived++
			d.add(id)
			followed = true
		}
	}
	for _, l := range leads {
		if l.ID == "" {
			l.ID = l.Kind + ":redacted@" + c.prov.EventID
		}
		d.lead(l)
	}
	return followed
}

func (d *Deriver) lead(l Lead) {
	if l.ID == "" {
		l.ID = idOf(l.Identity)
	}
	if d.leadIDs[l.ID] {
		return
	}
	d.leadIDs[l.ID] = true
	d.leads = append(d.leads, l)
}

func withKind(i Identity, k string) Identity { i.Kind = k; return i }

// Chain returns what was derived so far.
func (d *Deriver) Chain() Chain {
	d.resolve()
	ch := Chain{Bounds: d.bounds, Identities: append([]Identity{}, d.ids...), Leads: append([]Lead{}, d.leads...)}
	return ch
}

// Derived returns the derived identities (not the starting ones) of depth
// at least minDepth, in the order found.
func (d *Deriver) Derived(minDepth int) []Identity {
	d.resolve()
	var out []Identity
	for _, i := range d.ids {
		if i.Depth >= minDepth && i.Depth > 0 {
			out = append(out, i)
		}
	}
	return out
}

// field reads a string at path in a JSON object ("" when absent, null or
// not a string).
func field(raw json.RawMessage, path ...string) string {
	if len(raw) == 0 || raw[0] != '{' {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// clean drops a redacted value.
func clean(s string) string {
	s = strings.TrimSpace(s)
	if s == hidden {
		return ""
	}
	return s
}

// sessionARN is the session ARN of role session name on roleArn
// (arn:aws:iam::A:role/path/R → arn:aws:sts::A:assumed-role/R/NAME).
func sessionARN(roleArn, name string) string {
	parts := strings.SplitN(roleArn, ":", 6)
	if len(parts) != 6 || name == "" || !strings.HasPrefix(parts[5], "role/") {
		return ""
	}
	role := parts[5][strings.LastIndex(parts[5], "/")+1:]
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", parts[1], parts[4], role, name)
}

// splitSession splits arn:aws:sts::A:assumed-role/ROLE/SESSION.
func splitSession(arn string) (account, role, session string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" {
		return "", "", ""
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return "", "", ""
	}
	role, session, _ = strings.Cut(rest, "/")
	return parts[4], role, session
}

func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return ""
	}
	return parts[4]
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Environment variables BoundsFromEnv reads (the stack sets them from
// custody:pivotDepth and custody:pivotMaxIdentities).
const (
	EnvDepth         = "CUSTODY_PIVOT_DEPTH"
	EnvMaxIdentities = "CUSTODY_PIVOT_MAX_IDENTITIES"
)

// Largest bounds accepted: each hop is a pass of the workflow, and every
// identity is a value in each pass's scoped extract.
const (
	MaxDepth         = 10
	MaxMaxIdentities = 1000
)

// BoundsFromEnv reads EnvDepth and EnvMaxIdentities: whole numbers from 1
// to MaxDepth and MaxMaxIdentities; unset or empty take the defaults. A
// bad value is a *faults.ConfigurationError naming the variable.
func BoundsFromEnv(getenv func(string) string) (Bounds, error) {
	b := DefaultBounds()
	for _, v := range []struct {
		name string
		max  int
		dst  *int
	}{{EnvDepth, MaxDepth, &b.Depth}, {EnvMaxIdentities, MaxMaxIdentities, &b.MaxIdentities}} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > v.max {
			return Bounds{}, &faults.ConfigurationError{Setting: v.name, Reason: fmt.Sprintf("%q is not a whole number from 1 to %d", s, v.max)}
		}
		*v.dst = n
	}
	return b, nil
}
