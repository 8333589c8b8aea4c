package timeline

import "strings"

// normS3Access reads a parsed S3 server access log record.
//
// Expected shape: one object per log line, keyed by the field names of the
// AWS documentation in snake_case or camelCase ("bucket_owner" /
// "bucketOwner", "bucket", "time", "remote_ip" / "remoteIp", "requester",
// "request_id", "operation", "key", "request_uri", "http_status",
// "error_code", "bytes_sent", "object_size", "total_time",
// "turn_around_time", "referer", "user_agent", "version_id", "host_id",
// "signature_version", "cipher_suite", "authentication_type",
// "host_header", "tls_version", "access_point_arn", "acl_required"), values
// as strings (numbers accepted), "-" for none; {"record": ...} is unwrapped.
// time is RFC 3339 or the log's own "[06/Feb/2019:00:00:38 +0000]".
//
// Time: time ("Request Time").
func normS3Access(rec jv, out []item) []item {
	f := func(k jkey) string { return dash(str(fieldK(rec, k))) }
	requester := first(f(kS3Requester), "anonymous")
	op := f(kS3Operation)
	bucket, key := f(kS3Bucket), f(kS3Key)
	ip := f(kS3RemoteIP)
	status, code := f(kS3HTTPStatus), f(kS3ErrorCode)
	sent := f(kS3BytesSent)

	// The target, the outcome and the message are written one after the
	// other into one string and taken as its parts: each joined from parts
	// into a new string was four allocations a record.
	var b strings.Builder
	b.Grow(2*(len(bucket)+len(key)+len(status)+len(code)) + len(requester) + len(op) + len(ip) + len(sent) + 64)
	writeTarget := func() {
		b.WriteString(bucket)
		if key != "" {
			b.WriteByte('/')
			b.WriteString(key)
		}
	}
	writeOutcome := func() { // join(" ", status, code)
		b.WriteString(status)
		if status != "" && code != "" {
			b.WriteByte(' ')
		}
		b.WriteString(code)
	}
	writeTarget()
	endTarget := b.Len()
	writeOutcome()
	endOutcome := b.Len()
	b.WriteString(requester)
	b.WriteString(" ")
	b.WriteString(first(op, "request"))
	if endTarget > 0 {
		b.WriteString(" on ")
		writeTarget()
	}
	if ip != "" {
		b.WriteString(" from ")
		b.WriteString(ip)
	}
	if endOutcome > endTarget {
		b.WriteString(": ")
		writeOutcome()
	}
	if sent != "" && sent != "0" {
		b.WriteString(", ")
		b.WriteString(sent)
		b.WriteString(" bytes sent")
	}
	all := b.String()
	ev := Event{Message: oneLine(all[endOutcome:]), Action: op, Actor: requester, Target: all[:endTarget], SrcIP: ip,
		Outcome: all[endTarget:endOutcome]}
	return append(out, item{ev: ev, times: rec.times(timeField{"Request Time", timeOrNil(fieldK(rec, kS3Time))})})
}

// The fields normS3Access reads, folded once.
var (
	kS3Requester  = mkKey("requester")
	kS3Operation  = mkKey("operation")
	kS3Bucket     = mkKey("bucket")
	kS3Key        = mkKey("key")
	kS3RemoteIP   = mkKey("remote_ip")
	kS3HTTPStatus = mkKey("http_status")
	kS3ErrorCode  = mkKey("error_code")
	kS3BytesSent  = mkKey("bytes_sent")
	kS3Time       = mkKey("time")
)
