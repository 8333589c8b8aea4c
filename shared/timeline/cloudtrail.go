package timeline

import (
	"encoding/json"
	"fmt"
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
func normCloudTrail(rec obj) []item {
	var outerTime any
	var outerUser, outerKey, outerName, outerSource string
	if s, ok := field(rec, "CloudTrailEvent").(string); ok && rec["eventTime"] == nil {
		outerTime = field(rec, "EventTime")
		outerUser, outerKey = gets(rec, "Username"), gets(rec, "AccessKeyId")
		outerName, outerSource = gets(rec, "EventName"), gets(rec, "EventSource")
		var inner obj
		if err := decodeNumber([]byte(s), &inner); err == nil && inner != nil {
			rec = inner
		} else {
			rec = obj{}
		}
	} else if rec["eventTime"] == nil && rec["EventTime"] != nil {
		outerTime = rec["EventTime"]
	}

	id := getObj(rec, "userIdentity")
	arn := gets(id, "arn")
	actor := first(arn, gets(id, "sessionContext", "sessionIssuer", "arn"), gets(id, "userName"), outerUser,
		gets(id, "principalId"), gets(id, "invokedBy"), gets(id, "type"))
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
		who = fmt.Sprintf("%s (%s)", key, actor)
		if actor == "" {
			who = key
		}
	}
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
	ev := Event{Message: oneLine(b.String()), Action: action, Actor: actor, Target: target, SrcIP: ip, Outcome: outcome}
	times := []timeField{{"Event Time", rec["eventTime"]}}
	if outerTime != nil {
		times = append(times, timeField{"Event Time", outerTime})
	}
	return []item{{ev: ev, times: times}}
}

// targetKeys are the request parameters that name what a call acted on, in
// order of preference.
var targetKeys = []string{"instanceId", "snapshotId", "imageId", "volumeId", "groupId", "userName", "roleName",
	"policyArn", "functionName", "trailName", "secretId", "keyId", "tableName", "dBInstanceIdentifier",
	"dBSnapshotIdentifier", "clusterName", "logGroupName", "flowLogIds", "hostedZoneId", "accessKeyId",
	"detectorId", "name", "target", "modelId", "bucketName"}

func cloudTrailTarget(rec obj) string {
	p := getObj(rec, "requestParameters")
	if p != nil {
		if b := gets(p, "bucketName"); b != "" {
			if k := gets(p, "key"); k != "" {
				return b + "/" + k
			}
			return b
		}
		if items, ok := get(p, "instancesSet", "items").([]any); ok && len(items) > 0 {
			var ids []string
			for _, it := range items {
				if o, ok := it.(obj); ok {
					ids = append(ids, gets(o, "instanceId"))
				}
			}
			return listed(ids)
		}
		for _, k := range targetKeys {
			switch v := field(p, k).(type) {
			case string:
				if v != "" {
					return v
				}
			case []any:
				var s []string
				for _, x := range v {
					s = append(s, str(x))
				}
				if t := listed(s); t != "" {
					return t
				}
			}
		}
	}
	if rs, ok := field(rec, "resources").([]any); ok && len(rs) > 0 {
		if o, ok := rs[0].(obj); ok {
			return first(gets(o, "ARN"), gets(o, "ResourceName"))
		}
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

func decodeNumber(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v)
}
