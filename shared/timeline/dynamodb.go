package timeline

import (
	"strings"
)

// normDynamoDB reads a DynamoDB Streams record.
//
// Expected shape (GetRecords' Records[] element or a Lambda event's
// Records[] element; {"record": ...} unwrapped; a whole {"Records": [...]}
// on one line gives one event per element): {"eventID", "eventName":
// "INSERT" | "MODIFY" | "REMOVE", "eventSource": "aws:dynamodb",
// "awsRegion", "eventSourceARN": "arn:aws:dynamodb:...:table/T/stream/...",
// "userIdentity": {"type", "principalId"} (TTL deletions), "dynamodb":
// {"ApproximateCreationDateTime": epoch seconds (number or string) or RFC
// 3339, "Keys": {"k": {"S": "v"}}, "SequenceNumber", "SizeBytes",
// "StreamViewType", "NewImage", "OldImage"}}. Collectors that add the
// table as "tableName" (or "table") are read too.
//
// Time: dynamodb.ApproximateCreationDateTime ("Approximate Creation Time").
func normDynamoDB(rec jv, out []item) []item {
	name := strings.ToUpper(getsK(rec, kDDBEventName))
	table := first(getsK(rec, kDDBTableName), getsK(rec, kDDBTable), tableFromARN(getsK(rec, kDDBEventSourceARN)))
	keys := dynamoKeys(getObjK(rec, kDDBDynamodb, kDDBKeys))
	target := table
	if keys != "" {
		target = join(" ", table, keys)
	}
	actor := first(getsK(rec, kDDBUserIdentity, kDDBPrincipalId), getsK(rec, kDDBUserIdentity, kDDBType))
	msg := join(" ", first(name, "change"), "on", first(table, "a table"))
	if keys != "" {
		msg += " key " + keys
	}
	if actor != "" {
		msg += " by " + actor
	}
	if sn := getsK(rec, kDDBDynamodb, kDDBSequenceNumber); sn != "" {
		msg += " (sequence " + sn + ")"
	}
	action := "dynamodb:" + first(name, "Change")
	ev := Event{Message: oneLine(msg), Action: action, Actor: actor, Target: target}
	return append(out, item{ev: ev, times: rec.times(timeField{"Approximate Creation Time", getK(rec, kDDBDynamodb, kDDBApproximateCreationDateTime)})})
}

func tableFromARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":table/")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(rest, "/")
	return t
}

// dynamoKeys writes a Keys map as {a=1, b=x}, sorted by attribute.
func dynamoKeys(k jv) string {
	if k.count() == 0 {
		return ""
	}
	names := k.keys()
	parts := make([]string, 0, len(names))
	for _, n := range names {
		v := ""
		if av := k.key(n); av.kind() == jObject {
			for _, t := range []string{"S", "N", "B", "BOOL"} {
				if s := str(av.key(t)); s != "" {
					v = s
					break
				}
			}
		} else {
			v = str(av)
		}
		parts = append(parts, n+"="+v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// The keys normDynamoDB reads, folded once.
var (
	kDDBApproximateCreationDateTime = mkKey("ApproximateCreationDateTime")
	kDDBDynamodb                    = mkKey("dynamodb")
	kDDBEventName                   = mkKey("eventName")
	kDDBEventSourceARN              = mkKey("eventSourceARN")
	kDDBKeys                        = mkKey("Keys")
	kDDBPrincipalId                 = mkKey("principalId")
	kDDBSequenceNumber              = mkKey("SequenceNumber")
	kDDBTable                       = mkKey("table")
	kDDBTableName                   = mkKey("tableName")
	kDDBType                        = mkKey("type")
	kDDBUserIdentity                = mkKey("userIdentity")
)
