package timeline

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// normCloudTrail reads a CloudTrail record.
//
// Expected shapes (each possibly wrapped as {"record": ...}):
//
//   - the record as CloudTrail writes it to S3 (one element of "Records"):
//     {"eventTime": "2024-08-02T08:23:10Z", "eventSource": "s3.amazonaws.com",
//     "eventName": "GetObject", "userIdentity": {"type", "arn", "accessKeyId",
//     "userName", "principalId", "invokedBy", "sessionContext":
//     {"sessionIssuer": {"arn"}}}, "sourceIPAddress", "errorCode",
//     "errorMessage", "requestParameters": {"bucketName", "key",
//     "instanceId", ...}, "responseElements", "resources": [{"ARN"}], ...};
//   - a LookupEvents event: {"EventTime", "EventName", "EventSource",
//     "Username", "AccessKeyId", "Resources", "CloudTrailEvent": "<the
//     record above as a JSON string>"}: the inner record is read, and the
//     outer fields fill what it lacks;
//   - a whole {"Records": [...]} file or LookupEvents {"Events": [...]}
//     response on one line (one event per element).
//
// Time: eventTime ("Event Time"), else LookupEvents' EventTime.
func normCloudTrail(rec jv, out []item) []item {
	var outerTime jv
	var outerUser, outerKey, outerName, outerSource string
	if ev := fieldK(rec, kLECloudTrailEvent); ev.kind() == jString && rec.keyK(kCTEventTime).isNil() {
		outerTime = fieldK(rec, kLEEventTime)
		outerUser, outerKey = getsK(rec, kLEUsername), getsK(rec, kLEAccessKeyId)
		outerName, outerSource = getsK(rec, kLEEventName), getsK(rec, kLEEventSource)
		rec = innerRecord(str(ev))
	} else if rec.keyK(kCTEventTime).isNil() && !rec.keyK(kLEEventTime).isNil() {
		outerTime = rec.keyK(kLEEventTime)
	}

	id := getObjK(rec, kCTUserIdentity)
	arn := getsK(id, kCTArn)
	// The first of these that is set, read only as far as needed (first's
	// arguments were all read, each a lookup and a new string, for the
	// first one, the arn, nearly always).
	actor := arn
	for _, next := range [...]func() string{
		func() string { return getsK(id, kCTSessionContext, kCTSessionIssuer, kCTArn) },
		func() string { return getsK(id, kCTUserName) },
		func() string { return outerUser },
		func() string { return getsK(id, kCTPrincipalId) },
		func() string { return getsK(id, kCTInvokedBy) },
		func() string { return getsK(id, kCTType) },
	} {
		if actor != "" {
			break
		}
		actor = next()
	}
	key := first(getsK(id, kCTAccessKeyId), outerKey)

	name := first(getsK(rec, kCTEventName), outerName)
	svc := first(getsK(rec, kCTEventSource), outerSource)
	svc = strings.TrimSuffix(svc, ".amazonaws.com")
	target := cloudTrailTarget(rec)
	ip := getsK(rec, kCTSourceIPAddress)
	outcome := "Success"
	if ec := getsK(rec, kCTErrorCode); ec != "" {
		outcome = ec
	} else if r := getsK(rec, kCTResponseElements, kCTConsoleLogin); r != "" {
		outcome = r
	}
	errMsg := ""
	if outcome != "Success" {
		errMsg = getsK(rec, kCTErrorMessage)
	}
	eventID, account := cloudTrailKey(rec)

	// The action, the message and the identity are written one after the
	// other into one string and taken as its parts: each its own new
	// string (and the principal with its key, and the identity, joined
	// from parts) was four allocations a record, the most of any source.
	var b strings.Builder
	b.Grow(2*(len(svc)+len(name)) + len(key) + len(actor) + len(target) + len(ip) + len(outcome) + len(errMsg) +
		len(account) + len(eventID) + 64)
	writeAction := func() {
		if svc != "" {
			b.WriteString(svc)
			b.WriteByte(':')
		}
		b.WriteString(name)
	}
	writeAction()
	endAction := b.Len()
	switch {
	case key != "" && key != actor && actor != "":
		b.WriteString(key)
		b.WriteString(" (")
		b.WriteString(actor)
		b.WriteByte(')')
	case key != "":
		b.WriteString(key)
	default:
		b.WriteString(first(actor, "unknown principal"))
	}
	b.WriteString(" called ")
	if svc == "" && name == "" {
		b.WriteString("an unnamed API")
	} else {
		writeAction()
	}
	if target != "" {
		b.WriteString(" on ")
		b.WriteString(target)
	}
	if ip != "" {
		b.WriteString(" from ")
		b.WriteString(ip)
	}
	if outcome != "Success" {
		b.WriteString(": ")
		b.WriteString(outcome)
		if errMsg != "" {
			b.WriteString(" (")
			b.WriteString(errMsg)
			b.WriteByte(')')
		}
	}
	endMessage := b.Len()
	if eventID != "" {
		b.WriteString(account)
		b.WriteByte('/')
		b.WriteString(eventID)
	}
	all := b.String()
	ev := Event{Message: oneLine(all[endAction:endMessage]), Action: all[:endAction], Actor: actor, Target: target, SrcIP: ip,
		Outcome: outcome, dedupe: all[endMessage:]}
	times := rec.times(timeField{"Event Time", rec.keyK(kCTEventTime)})
	if !outerTime.isNil() {
		times = append(times, timeField{"Event Time", outerTime})
	}
	return append(out, item{ev: ev, times: times})
}

// targetKeys are the request parameters that name what a call acted on, in
// order of preference.
var targetKeys = mkKeys("instanceId", "snapshotId", "imageId", "volumeId", "groupId", "userName", "roleName",
	"policyArn", "functionName", "trailName", "secretId", "keyId", "tableName", "dBInstanceIdentifier",
	"dBSnapshotIdentifier", "clusterName", "logGroupName", "flowLogIds", "hostedZoneId", "accessKeyId",
	"detectorId", "name", "target", "modelId", "bucketName")

func cloudTrailTarget(rec jv) string {
	p := getObjK(rec, kCTRequestParameters)
	if p.present() {
		if b := getsK(p, kCTBucketName); b != "" {
			if k := getsK(p, kCTKey); k != "" {
				return b + "/" + k
			}
			return b
		}
		if items := getK(p, kCTInstancesSet, kCTItems); items.kind() == jArray && items.firstElem().present() {
			var ids []string
			for _, it := range items.elems() {
				if it.kind() == jObject {
					ids = append(ids, getsK(it, kCTInstanceId))
				}
			}
			return listed(ids)
		}
		// Most requestParameters have a few members and name none of
		// the keys: a key no member folds as is not looked up (25
		// lookups a record were a fifth of reading one).
		set := p.foldSet()
		for _, k := range targetKeys {
			if set&foldBit(k.fold) == 0 {
				continue
			}
			switch v := fieldK(p, k); v.kind() {
			case jString:
				if s := str(v); s != "" {
					return s
				}
			case jArray:
				var s []string
				for _, x := range v.elems() {
					s = append(s, str(x))
				}
				if t := listed(s); t != "" {
					return t
				}
			}
		}
	}
	if r := fieldK(rec, kCTResources).firstElem(); r.kind() == jObject {
		return first(getsK(r, kCTARN), getsK(r, kCTResourceName))
	}
	return ""
}

// listed names the first of ids and how many more there are.
func listed(ids []string) string {
	var nz []string
	for _, s := range ids {
		if s != "" {
			nz = append(nz, s)
		}
	}
	switch len(nz) {
	case 0:
		return ""
	case 1:
		return nz[0]
	}
	return fmt.Sprintf("%s (+%d more)", nz[0], len(nz)-1)
}

// emptyRecord is the record read when a LookupEvents event's
// CloudTrailEvent is not a JSON object. It is made each time, not shared:
// a lookup writes the object's table into its jdoc.
func emptyRecord() jv {
	d := new(jdoc)
	d.parse([]byte("{}"), 1)
	return d.root()
}

// innerRecord reads a LookupEvents event's CloudTrailEvent: the record, or
// an empty one when it is not a JSON object, as decoding it into a map gave.
func innerRecord(s string) jv {
	d := new(jdoc) // the items made from it keep it
	if d.parse([]byte(s), fastMaxDepth) {
		if r := d.root(); r.kind() == jObject {
			return r
		}
		return emptyRecord()
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return emptyRecord()
	}
	// Only nesting deeper than the scanner follows gets here.
	b, err := json.Marshal(m)
	if err != nil || !d.parse(b, math.MaxInt) {
		return emptyRecord() // not reached
	}
	return d.root()
}

// cloudTrailKey is what a CloudTrail record's identity is made of:
// account + "/" + eventID, its eventID within the account that received it
// (an organization trail and an account's own trail deliver the same event
// with the same eventID; the account keeps two accounts' equal IDs apart,
// however unlikely). No eventID (""), no identity: such a record is never
// taken for another.
func cloudTrailKey(rec jv) (eventID, account string) {
	id := getsK(rec, kCTEventID)
	if id == "" {
		return "", ""
	}
	return id, getsK(rec, kCTRecipientAccountId)
}

// The keys normCloudTrail reads, folded once (kLE: a LookupEvents event's).
var (
	kCTARN                = mkKey("ARN")
	kCTAccessKeyId        = mkKey("accessKeyId")
	kCTArn                = mkKey("arn")
	kCTBucketName         = mkKey("bucketName")
	kCTConsoleLogin       = mkKey("ConsoleLogin")
	kCTErrorCode          = mkKey("errorCode")
	kCTErrorMessage       = mkKey("errorMessage")
	kCTEventID            = mkKey("eventID")
	kCTEventName          = mkKey("eventName")
	kCTEventSource        = mkKey("eventSource")
	kCTEventTime          = mkKey("eventTime")
	kCTInstanceId         = mkKey("instanceId")
	kCTInstancesSet       = mkKey("instancesSet")
	kCTInvokedBy          = mkKey("invokedBy")
	kCTItems              = mkKey("items")
	kCTKey                = mkKey("key")
	kCTPrincipalId        = mkKey("principalId")
	kCTRecipientAccountId = mkKey("recipientAccountId")
	kCTRequestParameters  = mkKey("requestParameters")
	kCTResourceName       = mkKey("ResourceName")
	kCTResources          = mkKey("resources")
	kCTResponseElements   = mkKey("responseElements")
	kCTSessionContext     = mkKey("sessionContext")
	kCTSessionIssuer      = mkKey("sessionIssuer")
	kCTSourceIPAddress    = mkKey("sourceIPAddress")
	kCTType               = mkKey("type")
	kCTUserIdentity       = mkKey("userIdentity")
	kCTUserName           = mkKey("userName")
	kLEAccessKeyId        = mkKey("AccessKeyId")
	kLECloudTrailEvent    = mkKey("CloudTrailEvent")
	kLEEventName          = mkKey("EventName")
	kLEEventSource        = mkKey("EventSource")
	kLEEventTime          = mkKey("EventTime")
	kLEUsername           = mkKey("Username")
)
