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
	group := first(gets(rec, "logGroup"), gets(rec, "logGroupName"))
	stream := first(gets(rec, "logStream"), gets(rec, "logStreamName"))
	where := join("/", group, stream)
	msg := str(field(rec, "message"))
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
	return append(out, item{ev: ev, times: rec.times(timeField{"Event Time", field(rec, "timestamp")}, timeField{"Ingestion Time", field(rec, "ingestionTime")})})
}
