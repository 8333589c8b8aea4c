package timeline

import (
	"fmt"
	"strconv"
)

// normGuardDuty reads a GuardDuty finding.
//
// Expected shapes ({"record": ...} unwrapped): the finding in camelCase (an
// EventBridge event's "detail", an S3 export; the whole EventBridge
// envelope is unwrapped too) or PascalCase (GetFindings, SDK/CLI): "id",
// "type", "severity", "title", "accountId", "region", "createdAt",
// "updatedAt", "resource": {"resourceType", "instanceDetails":
// {"instanceId"}, "accessKeyDetails": {"accessKeyId", "userName",
// "principalId"}, "s3BucketDetails": [{"name"}], ...}, "service":
// {"eventFirstSeen", "eventLastSeen", "action": {... "remoteIpDetails":
// {"ipAddressV4"} somewhere under it}}. A whole GetFindings response
// ({"Findings": [...]}) on one line gives events for each finding.
//
// Times: one event for each distinct one of updatedAt ("Finding Updated"),
// createdAt ("Finding Created"), service.eventFirstSeen ("Activity First
// Seen") and service.eventLastSeen ("Activity Last Seen").
func normGuardDuty(rec jv, out []item) []item { return append(out, guardDutyItems(rec)...) }

func guardDutyItems(rec jv) []item {
	typ := gets(rec, "type")
	sev := gets(rec, "severity")
	res := getObj(rec, "resource")
	rtype := gets(res, "resourceType")
	rid := guardDutyResourceID(res)
	ip := remoteIP(get(rec, "service", "action"))
	actor := first(gets(res, "accessKeyDetails", "userName"), gets(res, "accessKeyDetails", "principalId"))
	label := severityLabel(sev)
	msg := "GuardDuty finding " + first(typ, "(no type)")
	if sev != "" {
		msg += fmt.Sprintf(" severity %s (%s)", sev, label)
	}
	if t := join(" ", rtype, rid); t != "" {
		msg += " on " + t
	}
	if ip != "" {
		msg += " from " + ip
	}
	if t := gets(rec, "title"); t != "" {
		msg += ": " + t
	}
	if s := get(rec, "service", "additionalInfo", "sample"); s.kind() == jTrue || str(s) == "true" {
		msg += " [sample finding]"
	}
	ev := Event{Message: oneLine(msg), Action: first(typ, "finding"), Actor: actor, Target: join(" ", rtype, rid), SrcIP: ip, Outcome: label}
	return []item{{ev: ev, all: true, times: []timeField{
		{"Finding Updated", get(rec, "updatedAt")},
		{"Finding Created", get(rec, "createdAt")},
		{"Activity First Seen", get(rec, "service", "eventFirstSeen")},
		{"Activity Last Seen", get(rec, "service", "eventLastSeen")},
	}}}
}

// guardDutyResourceIDs says where each resource type's ID is.
var guardDutyResourceIDs = map[string][]string{
	"Instance":      {"instanceDetails", "instanceId"},
	"AccessKey":     {"accessKeyDetails", "accessKeyId"},
	"EKSCluster":    {"eksClusterDetails", "name"},
	"RDSDBInstance": {"rdsDbInstanceDetails", "dbInstanceIdentifier"},
	"Lambda":        {"lambdaDetails", "functionName"},
	"ECSCluster":    {"ecsClusterDetails", "name"},
	"Container":     {"containerDetails", "id"},
}

func guardDutyResourceID(res jv) string {
	rtype := gets(res, "resourceType")
	if p, ok := guardDutyResourceIDs[rtype]; ok {
		if s := gets(res, p...); s != "" {
			return s
		}
	}
	if rtype == "S3Bucket" {
		if b := field(res, "s3BucketDetails").firstElem(); b.kind() == jObject {
			return first(gets(b, "name"), gets(b, "arn"))
		}
	}
	for _, p := range [][]string{
		{"instanceDetails", "instanceId"}, {"accessKeyDetails", "accessKeyId"}, {"eksClusterDetails", "name"},
		{"rdsDbInstanceDetails", "dbInstanceIdentifier"}, {"lambdaDetails", "functionName"},
		{"ecsClusterDetails", "name"}, {"containerDetails", "id"},
	} {
		if s := gets(res, p...); s != "" {
			return s
		}
	}
	if b := field(res, "s3BucketDetails").firstElem(); b.kind() == jObject {
		return first(gets(b, "name"), gets(b, "arn"))
	}
	return ""
}

// remoteIP finds the first remoteIpDetails.ipAddressV4 under a finding's
// action, walking keys in sorted order so the answer is stable.
func remoteIP(v jv) string {
	switch v.kind() {
	case jObject:
		if d := field(v, "remoteIpDetails"); d.kind() == jObject {
			if ip := first(gets(d, "ipAddressV4"), gets(d, "ipAddressV6")); ip != "" {
				return ip
			}
		}
		for _, k := range v.keys() {
			if ip := remoteIP(v.key(k)); ip != "" {
				return ip
			}
		}
	case jArray:
		for _, e := range v.elems() {
			if ip := remoteIP(e); ip != "" {
				return ip
			}
		}
	}
	return ""
}

// severityLabel is GuardDuty's name for a severity value.
func severityLabel(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	switch {
	case f >= 9:
		return "Critical"
	case f >= 7:
		return "High"
	case f >= 4:
		return "Medium"
	case f > 0:
		return "Low"
	}
	return "Informational"
}
