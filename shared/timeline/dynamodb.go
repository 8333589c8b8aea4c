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
	name := strings.ToUpper(gets(rec, "eventName"))
	table := first(gets(rec, "tableName"), gets(rec, "table"), tableFromARN(gets(rec, "eventSourceARN")))
	keys := dynamoKeys(getObj(rec, "dynamodb", "Keys"))
	target := table
	if keys != "" {
		target = join(" ", table, keys)
	}
	actor := first(gets(rec, "userIdentity", "principalId"), gets(rec, "userIdentity", "type"))
	msg := join(" ", first(name, "change"), "on", first(table, "a table"))
	if keys != "" {
		msg += " key " + keys
	}
	if actor != "" {
		msg += " by " + actor
	}
	if sn := gets(rec, "dynamodb", "SequenceNumber"); sn != "" {
		msg += " (sequence " + sn + ")"
	}
	action := "dynamodb:" + first(name, "Change")
	ev := Event{Message: oneLine(msg), Action: action, Actor: actor, Target: target}
	return append(out, item{ev: ev, times: rec.times(timeField{"Approximate Creation Time", get(rec, "dynamodb", "ApproximateCreationDateTime")})})
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
