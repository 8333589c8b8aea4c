package timeline

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
	where := join("/", group, stream)
	msg := str(fieldK(rec, kCwMessage))
	ev := Event{
		Message: oneLine(join(": ", where, msg)),
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
