package timeline

import "strings"

// normCloudWatch reads a CloudWatch Logs event.
//
// Expected shape: {"timestamp": <epoch ms>, "ingestionTime": <epoch ms>,
// "logGroup": "...", "logStream": "...", "eventId": "...", "message":
// "..."} (as GetLogEvents / FilterLogEvents return an event, plus the
// group and stream the collector adds; "logGroupName" / "logStreamName"
// are read too). {"record": ...} is unwrapped; a whole GetLogEvents
// response ({"events": [...]}) or subscription payload ({"logGroup",
// "logStream", "logEvents": [...]}) on one line gives one event per element.
//
// Time: timestamp ("Event Time"), else ingestionTime ("Ingestion Time").
func normCloudWatch(rec jv, out []item) []item {
	group := first(getsK(rec, kCwLogGroup), getsK(rec, kCwLogGroupName))
	stream := first(getsK(rec, kCwLogStream), getsK(rec, kCwLogStreamName))
	msg := str(fieldK(rec, kCwMessage))
	if group != "" || stream != "" {
		// join(": ", join("/", group, stream), msg) written at once: it
		// was two new strings a record.
		var b strings.Builder
		b.Grow(len(group) + len(stream) + len(msg) + 3)
		b.WriteString(group)
		if group != "" && stream != "" {
			b.WriteByte('/')
		}
		b.WriteString(stream)
		if msg != "" {
			b.WriteString(": ")
			b.WriteString(msg)
		}
		msg = b.String()
	}
	ev := Event{
		Message: oneLine(msg),
		Action:  "log",
		Actor:   stream,
		Target:  group,
		Outcome: "",
	}
	if ev.Message == "" {
		ev.Message = "(empty log event)"
	}
	return append(out, item{ev: ev, times: rec.times(timeField{"Event Time", fieldK(rec, kCwTimestamp)}, timeField{"Ingestion Time", fieldK(rec, kCwIngestionTime)})})
}

// The fields normCloudWatch reads, folded once.
var (
	kCwLogGroup      = mkKey("logGroup")
	kCwLogGroupName  = mkKey("logGroupName")
	kCwLogStream     = mkKey("logStream")
	kCwLogStreamName = mkKey("logStreamName")
	kCwMessage       = mkKey("message")
	kCwTimestamp     = mkKey("timestamp")
	kCwIngestionTime = mkKey("ingestionTime")
)
