package timeline

import (
	"fmt"
	"strings"
)

// normVPCFlow reads a VPC or Transit Gateway flow log record.
//
// Expected shape: one object per flow record, keyed by the AWS field names
// of the flow log format ("version", "account-id", "interface-id",
// "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets",
// "bytes", "start", "end", "action", "log-status", and any v3..v8 or
// Transit Gateway field such as "vpc-id", "instance-id", "pkt-srcaddr",
// "flow-direction", "tgw-id", "tgw-src-eni"), values as numbers or strings,
// "-" for none (NODATA / SKIPDATA records). camelCase or snake_case names
// ("interfaceId", "srcAddr", "log_status") are read the same; {"record": ...}
// is unwrapped. Times are epoch seconds (number or string).
//
// Time: start ("Flow Start"), else end ("Flow End").
func normVPCFlow(rec jv) []item {
	// A field is read once: the message, the target and the identity read
	// most of them again, and each read was a lookup and a new string.
	var memo flowMemo
	f := func(k string) string { return memo.get(rec, k) }
	eni := first(f("interface-id"), f("tgw-attachment-id"), f("tgw-src-eni"), f("tgw-id"))
	src, dst := f("srcaddr"), f("dstaddr")
	if ps := f("pkt-srcaddr"); ps != "" && ps != src {
		src = ps + " (via " + src + ")"
	}
	if pd := f("pkt-dstaddr"); pd != "" && pd != dst {
		dst = pd + " (via " + dst + ")"
	}
	action := strings.ToUpper(f("action"))
	status := strings.ToUpper(f("log-status"))
	proto := protocolName(f("protocol"))

	outcome := action
	if status != "" && status != "OK" {
		outcome = first(action, status)
		if action != "" {
			outcome = action + " " + status
		}
	}
	var msg string
	if src == "" && dst == "" {
		msg = fmt.Sprintf("%s: %s, no flow recorded", first(eni, "flow log"), first(status, "no data"))
	} else {
		from, to := hostPort(src, f("srcport")), hostPort(dst, f("dstport"))
		msg = join(" ", first(eni, "flow"), from, "->", to, proto,
			unit(f("packets"), "packets"), unit(f("bytes"), "bytes"), action)
		if status != "" && status != "OK" {
			msg += " (" + status + ")"
		}
		if d := f("flow-direction"); d != "" {
			msg += " " + d
		}
	}
	target := hostPort(f("dstaddr"), f("dstport"))
	if target != "" && proto != "" {
		target += "/" + strings.ToLower(proto)
	}
	ev := Event{Message: oneLine(msg), Action: "flow", Actor: f("srcaddr"), Target: target, SrcIP: f("srcaddr"), Outcome: outcome,
		dedupe: flowKey(f)}
	return []item{{ev: ev, times: []timeField{{"Flow Start", timeOrNil(field(rec, "start"))}, {"Flow End", timeOrNil(field(rec, "end"))}}}}
}

// flowMemo holds the fields of a flow record read so far.
type flowMemo struct {
	n    int
	k, v [24]string
}

// get is field k of rec as text, "-" as "".
func (m *flowMemo) get(rec jv, k string) string {
	for i := range m.n {
		if m.k[i] == k {
			return m.v[i]
		}
	}
	v := dash(str(field(rec, k)))
	if m.n < len(m.k) {
		m.k[m.n], m.v[m.n] = k, v
		m.n++
	}
	return v
}

// timeOrNil turns the "-" a log writes for no time into no time.
func timeOrNil(v jv) jv {
	if v.kind() == jString && dash(strings.TrimSpace(str(v))) == "" {
		return jv{}
	}
	return v
}

func hostPort(h, p string) string {
	if h == "" {
		return ""
	}
	if p == "" || p == "0" {
		return h
	}
	if strings.Contains(h, ":") && !strings.Contains(h, " ") {
		return "[" + h + "]:" + p
	}
	return h + ":" + p
}

func unit(n, u string) string {
	if n == "" {
		return ""
	}
	return n + " " + u
}

var protocols = map[string]string{"1": "ICMP", "6": "TCP", "17": "UDP", "47": "GRE", "50": "ESP", "58": "ICMPv6", "132": "SCTP"}

func protocolName(p string) string {
	if p == "" {
		return ""
	}
	if n, ok := protocols[p]; ok {
		return n
	}
	return "proto " + p
}

// flowKeyFields are the fields that make a flow record's identity: a
// record delivered to both an S3 and a CloudWatch Logs destination has the
// same values in both (in either name style, as numbers or strings: f
// reads them as text).
var flowKeyFields = []string{"version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
	"protocol", "packets", "bytes", "start", "end", "action", "log-status"}

// flowKey is a flow record's identity, its flowKeyFields joined; "" (no
// identity, never merged) when the record names no interface, addresses
// or start.
func flowKey(f func(string) string) string {
	var b strings.Builder
	named := false
	for i, k := range flowKeyFields {
		v := f(k)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
		named = named || (v != "" && (k == "interface-id" || k == "srcaddr" || k == "start"))
	}
	if !named {
		return ""
	}
	return b.String()
}
