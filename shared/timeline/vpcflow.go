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
func normVPCFlow(rec jv, out []item) []item {
	// A field is read once: the message, the target and the identity read
	// most of them again, and each read was a lookup and a new string.
	var vals [nFlowFields]string
	var read [nFlowFields]bool
	var jvs [nFlowFields]jv // the values read, for the times (start and end, read for the identity)
	f := func(i int) string {
		if !read[i] {
			jvs[i] = fieldK(rec, flowFieldKeys[i])
			vals[i], read[i] = dash(str(jvs[i])), true
		}
		return vals[i]
	}
	fv := func(i int) jv { f(i); return jvs[i] }
	eni := f(fInterface)
	for _, i := range [...]int{fTGWAttachment, fTGWSrcENI, fTGW} { // read only as far as needed
		if eni != "" {
			break
		}
		eni = f(i)
	}
	src, dst := f(fSrcaddr), f(fDstaddr)
	if ps := f(fPktSrcaddr); ps != "" && ps != src {
		src = ps + " (via " + src + ")"
	}
	if pd := f(fPktDstaddr); pd != "" && pd != dst {
		dst = pd + " (via " + dst + ")"
	}
	action := strings.ToUpper(f(fAction))
	status := strings.ToUpper(f(fLogStatus))
	proto := protocolName(f(fProtocol))

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
		// One builder for the whole message, the parts written in place:
		// joining parts that were each a new string (the addresses with
		// their ports, the counts with their units) was eight allocations
		// a record, a third of normalising a flow record.
		srcport, dstport, packets, bytes, dir := f(fSrcport), f(fDstport), f(fPackets), f(fBytes), f(fFlowDirection)
		var b strings.Builder
		b.Grow(len(eni) + len(src) + len(srcport) + len(dst) + len(dstport) + len(proto) + len(packets) + len(bytes) +
			len(action) + len(status) + len(dir) + 48)
		b.WriteString(first(eni, "flow"))
		if src != "" {
			b.WriteByte(' ')
			writeHostPort(&b, src, srcport)
		}
		b.WriteString(" ->")
		if dst != "" {
			b.WriteByte(' ')
			writeHostPort(&b, dst, dstport)
		}
		if proto != "" {
			b.WriteByte(' ')
			b.WriteString(proto)
		}
		if packets != "" {
			b.WriteByte(' ')
			b.WriteString(packets)
			b.WriteString(" packets")
		}
		if bytes != "" {
			b.WriteByte(' ')
			b.WriteString(bytes)
			b.WriteString(" bytes")
		}
		if action != "" {
			b.WriteByte(' ')
			b.WriteString(action)
		}
		if status != "" && status != "OK" {
			b.WriteString(" (")
			b.WriteString(status)
			b.WriteByte(')')
		}
		if dir != "" {
			b.WriteByte(' ')
			b.WriteString(dir)
		}
		msg = b.String()
	}
	var target string
	if h := f(fDstaddr); h != "" {
		// Built once, as the message is (it was three new strings).
		lproto := lowerProtocolName(proto)
		var b strings.Builder
		b.Grow(len(h) + len(f(fDstport)) + len(lproto) + 4)
		writeHostPort(&b, h, f(fDstport))
		if proto != "" {
			b.WriteByte('/')
			b.WriteString(lproto)
		}
		target = b.String()
	}
	ev := Event{Message: oneLine(msg), Action: "flow", Actor: f(fSrcaddr), Target: target, SrcIP: f(fSrcaddr), Outcome: outcome,
		dedupe: flowKey(f)}
	return append(out, item{ev: ev, times: rec.times(timeField{"Flow Start", timeOrNil(fv(fStart))}, timeField{"Flow End", timeOrNil(fv(fEnd))})})
}

// timeOrNil turns the "-" a log writes for no time into no time.
func timeOrNil(v jv) jv {
	if v.kind() == jString && dash(strings.TrimSpace(str(v))) == "" {
		return jv{}
	}
	return v
}

// writeHostPort writes host h (not "") with port p to b: "h:p", "[h]:p"
// for an IPv6 address, h alone for no port or port 0.
func writeHostPort(b *strings.Builder, h, p string) {
	if p == "" || p == "0" {
		b.WriteString(h)
		return
	}
	v6 := strings.Contains(h, ":") && !strings.Contains(h, " ")
	if v6 {
		b.WriteByte('[')
	}
	b.WriteString(h)
	if v6 {
		b.WriteByte(']')
	}
	b.WriteByte(':')
	b.WriteString(p)
}

var protocols = map[string]string{"1": "ICMP", "6": "TCP", "17": "UDP", "47": "GRE", "50": "ESP", "58": "ICMPv6", "132": "SCTP"}

// lowerProtocols are protocols' names in lower case, for the target: the
// names are few and lowering one was a new string a record.
var lowerProtocols = func() map[string]string {
	m := make(map[string]string, len(protocols))
	for _, n := range protocols {
		m[n] = strings.ToLower(n)
	}
	return m
}()

// lowerProtocolName is strings.ToLower(name), name a protocolName.
func lowerProtocolName(name string) string {
	if l, ok := lowerProtocols[name]; ok {
		return l
	}
	return strings.ToLower(name)
}

func protocolName(p string) string {
	if p == "" {
		return ""
	}
	if n, ok := protocols[p]; ok {
		return n
	}
	return "proto " + p
}

// The fields of a flow record normVPCFlow reads, by index: the first
// nFlowKeyFields are the ones that make a flow record's identity (a record
// delivered to both an S3 and a CloudWatch Logs destination has the same
// values in both, in either name style, as numbers or strings: they are
// read as text).
const (
	fVersion = iota
	fAccount
	fInterface
	fSrcaddr
	fDstaddr
	fSrcport
	fDstport
	fProtocol
	fPackets
	fBytes
	fStart
	fEnd
	fAction
	fLogStatus
	nFlowKeyFields
	fTGWAttachment = iota - 1
	fTGWSrcENI
	fTGW
	fPktSrcaddr
	fPktDstaddr
	fFlowDirection
	nFlowFields
)

var flowFieldNames = [nFlowFields]string{"version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
	"protocol", "packets", "bytes", "start", "end", "action", "log-status",
	"tgw-attachment-id", "tgw-src-eni", "tgw-id", "pkt-srcaddr", "pkt-dstaddr", "flow-direction"}

// flowFieldKeys are flowFieldNames folded once.
var flowFieldKeys = func() (ks [nFlowFields]jkey) {
	copy(ks[:], mkKeys(flowFieldNames[:]...))
	return ks
}()

// flowKey is a flow record's identity, its first nFlowKeyFields fields
// joined; "" (no identity, never merged) when the record names no
// interface, addresses or start.
func flowKey(f func(int) string) string {
	n := nFlowKeyFields - 1
	for i := range nFlowKeyFields {
		n += len(f(i))
	}
	if f(fInterface) == "" && f(fSrcaddr) == "" && f(fStart) == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(n)
	for i := range nFlowKeyFields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f(i))
	}
	return b.String()
}
