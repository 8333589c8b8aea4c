package timeline

import "strings"

// normInspector reads an Amazon Inspector (v2) finding.
//
// Expected shape (ListFindings' findings[] element; {"record": ...}
// unwrapped; a whole {"findings": [...]} on one line gives events for each):
// {"findingArn", "awsAccountId", "type": "PACKAGE_VULNERABILITY" |
// "NETWORK_REACHABILITY" | "CODE_VULNERABILITY", "title", "severity",
// "status": "ACTIVE" | "SUPPRESSED" | "CLOSED", "firstObservedAt",
// "lastObservedAt", "updatedAt" (RFC 3339 or epoch), "resources": [{"id",
// "type", "region"}], "packageVulnerabilityDetails": {"vulnerabilityId"}}.
//
// Times: one event for each distinct one of updatedAt ("Finding Updated"),
// firstObservedAt ("First Observed") and lastObservedAt ("Last Observed").
func normInspector(rec jv, out []item) []item { return append(out, inspectorItems(rec)...) }

func inspectorItems(rec jv) []item {
	var rid, rtype string
	if r := field(rec, "resources").firstElem(); r.kind() == jObject {
		rid, rtype = gets(r, "id"), gets(r, "type")
	}
	sev, typ, status := gets(rec, "severity"), gets(rec, "type"), gets(rec, "status")
	vuln := gets(rec, "packageVulnerabilityDetails", "vulnerabilityId")
	msg := join(" ", "Inspector", sev, first(typ, "finding"))
	if t := join(" ", rtype, rid); t != "" {
		msg += " on " + t
	}
	title := gets(rec, "title")
	if vuln != "" && strings.HasPrefix(title, vuln) {
		vuln = ""
	}
	if t := join(": ", vuln, title); t != "" {
		msg += ": " + t
	}
	if status != "" {
		msg += " (" + status + ")"
	}
	ev := Event{Message: oneLine(msg), Action: "inspector:" + first(typ, "Finding"), Target: join(" ", rtype, rid), Outcome: status}
	return []item{{ev: ev, all: true, times: []timeField{
		{"Finding Updated", get(rec, "updatedAt")},
		{"First Observed", get(rec, "firstObservedAt")},
		{"Last Observed", get(rec, "lastObservedAt")},
	}}}
}
