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
	if ev := field(rec, "CloudTrailEvent"); ev.kind() == jString && rec.key("eventTime").isNil() {
		outerTime = field(rec, "EventTime")
		outerUser, outerKey = gets(rec, "Username"), gets(rec, "AccessKeyId")
		outerName, outerSource = gets(rec, "EventName"), gets(rec, "EventSource")
		rec = innerRecord(str(ev))
	} else if rec.key("eventTime").isNil() && !rec.key("EventTime").isNil() {
		outerTime = rec.key("EventTime")
	}

	id := getObj(rec, "userIdentity")
	arn := gets(id, "arn")
	// The first of these that is set, read only as far as needed (first's
	// arguments were all read, each a lookup and a new string, for the
	// first one, the arn, nearly always).
	actor := arn
	for _, next := range [...]func() string{
		func() string { return gets(id, "sessionContext", "sessionIssuer", "arn") },
		func() string { return gets(id, "userName") },
		func() string { return outerUser },
		func() string { return gets(id, "principalId") },
		func() string { return gets(id, "invokedBy") },
		func() string { return gets(id, "type") },
	} {
		if actor != "" {
			break
		}
		actor = next()
	}
	key := first(gets(id, "accessKeyId"), outerKey)

	name := first(gets(rec, "eventName"), outerName)
	svc := first(gets(rec, "eventSource"), outerSource)
	svc = strings.TrimSuffix(svc, ".amazonaws.com")
	action := name
	if svc != "" {
		action = svc + ":" + name
	}
	target := cloudTrailTarget(rec)
	ip := gets(rec, "sourceIPAddress")
	outcome := "Success"
	if ec := gets(rec, "errorCode"); ec != "" {
		outcome = ec
	} else if r := gets(rec, "responseElements", "ConsoleLogin"); r != "" {
		outcome = r
	}

	var b strings.Builder
	who := actor
	if key != "" && key != actor {
		who = key + " (" + actor + ")"
		if actor == "" {
			who = key
		}
	}
	// Room for the whole message at once (it grew two or three times).
	b.Grow(len(who) + len(action) + len(target) + len(ip) + len(outcome) + 64)
	b.WriteString(first(who, "unknown principal"))
	b.WriteString(" called ")
	b.WriteString(first(action, "an unnamed API"))
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
		if m := gets(rec, "errorMessage"); m != "" {
			b.WriteString(" (" + m + ")")
		}
	}
	ev := Event{Message: oneLine(b.String()), Action: action, Actor: actor, Target: target, SrcIP: ip, Outcome: outcome,
		dedupe: cloudTrailKey(rec)}
	times := rec.times(timeField{"Event Time", rec.key("eventTime")})
	if !outerTime.isNil() {
		times = append(times, timeField{"Event Time", outerTime})
	}
	return append(out, item{ev: ev, times: times})
}

// targetKeys are the request parameters that name what a call acted on, in
// order of preference.
var targetKeys = []string{"instanceId", "snapshotId", "imageId", "volumeId", "groupId", "userName", "roleName",
	"policyArn", "functionName", "trailName", "secretId", "keyId", "tableName", "dBInstanceIdentifier",
	"dBSnapshotIdentifier", "clusterName", "logGroupName", "flowLogIds", "hostedZoneId", "accessKeyId",
	"detectorId", "name", "target", "modelId", "bucketName"}

func cloudTrailTarget(rec jv) string {
	p := getObj(rec, "requestParameters")
	if p.present() {
		if b := gets(p, "bucketName"); b != "" {
			if k := gets(p, "key"); k != "" {
				return b + "/" + k
			}
			return b
		}
		if items := get(p, "instancesSet", "items"); items.kind() == jArray && items.firstElem().present() {
			var ids []string
			for _, it := range items.elems() {
				if it.kind() == jObject {
					ids = append(ids, gets(it, "instanceId"))
				}
			}
			return listed(ids)
		}
		for _, k := range targetKeys {
			switch v := field(p, k); v.kind() {
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
	if r := field(rec, "resources").firstElem(); r.kind() == jObject {
		return first(gets(r, "ARN"), gets(r, "ResourceName"))
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

// cloudTrailKey is a CloudTrail record's identity: its eventID within the
// account that received it (an organization trail and an account's own
// trail deliver the same event with the same eventID; the account keeps
// two accounts' equal IDs apart, however unlikely). No eventID, no key:
// such a record is never taken for another.
func cloudTrailKey(rec jv) string {
	id := gets(rec, "eventID")
	if id == "" {
		return ""
	}
	return gets(rec, "recipientAccountId") + "/" + id
}
