package timeline

// normIAM reads IAM last-accessed information (Access Advisor).
//
// Expected shapes ({"record": ...} unwrapped):
//   - a GetServiceLastAccessedDetails response, whole, on one line:
//     {"JobStatus", "ServicesLastAccessed": [...]} — one item per service,
//     and per tracked action; the principal, when the collector adds it as
//     "Arn" / "PrincipalArn" / "principal", is the actor where an entry
//     names none;
//   - one ServicesLastAccessed entry: {"ServiceName", "ServiceNamespace",
//     "LastAuthenticated", "LastAuthenticatedEntity",
//     "LastAuthenticatedRegion", "TotalAuthenticatedEntities",
//     "TrackedActionsLastAccessed": [{"ActionName", "LastAccessedEntity",
//     "LastAccessedRegion", "LastAccessedTime"}]};
//   - one tracked action entry on its own (with "ServiceNamespace" if the
//     collector adds it);
//   - a GetServiceLastAccessedDetailsWithEntities response
//     {"EntityDetailsList": [{"EntityInfo": {"Arn", "Name", "Type"},
//     "LastAuthenticated"}]} (with "ServiceNamespace" if added), or one
//     such entry.
//
// A service or action never accessed has no time: it goes to untimed.jsonl
// (reason "missing time"), so the list of services not used is kept too.
// Time: LastAuthenticated / LastAccessedTime ("Last Accessed").
func normIAM(rec jv, out []item) []item { return append(out, iamItems(rec)...) }

func iamItems(rec jv) []item {
	principal := first(gets(rec, "PrincipalArn"), gets(rec, "principal"), gets(rec, "Arn"))
	ns := gets(rec, "ServiceNamespace")
	var out []item
	if l := field(rec, "ServicesLastAccessed"); l.kind() == jArray {
		for _, m := range l.elems() {
			if m.kind() == jObject {
				out = append(out, iamService(m, principal)...)
			}
		}
		return out
	}
	if l := field(rec, "EntityDetailsList"); l.kind() == jArray {
		for _, m := range l.elems() {
			if m.kind() == jObject {
				out = append(out, iamEntity(m, ns))
			}
		}
		return out
	}
	if !field(rec, "EntityInfo").isNil() {
		return []item{iamEntity(rec, ns)}
	}
	if !field(rec, "ActionName").isNil() {
		return []item{iamAction(rec, ns, principal)}
	}
	return iamService(rec, principal)
}

func iamService(m jv, principal string) []item {
	ns, name := gets(m, "ServiceNamespace"), gets(m, "ServiceName")
	entity := first(gets(m, "LastAuthenticatedEntity"), principal)
	region := gets(m, "LastAuthenticatedRegion")
	target := ns
	msg := join(" ", first(entity, "a principal"), "last accessed", first(ns, name, "a service"))
	if name != "" && ns != "" {
		msg += " (" + name + ")"
	}
	if region != "" {
		msg += " in " + region
	}
	it := item{ev: Event{Message: oneLine(msg), Action: "iam:LastAccessed", Actor: entity, Target: target},
		times: []timeField{{"Last Accessed", get(m, "LastAuthenticated")}}, raw: m}
	if get(m, "LastAuthenticated").isNil() {
		it.untimed = &timeErr{ReasonMissingTime, "service " + first(ns, name) + " never accessed in the tracking period"}
	}
	out := []item{it}
	if l := field(m, "TrackedActionsLastAccessed"); l.kind() == jArray {
		for _, a := range l.elems() {
			if a.kind() == jObject {
				out = append(out, iamAction(a, ns, entity))
			}
		}
	}
	return out
}

func iamAction(a jv, ns, principal string) item {
	action := gets(a, "ActionName")
	if ns != "" {
		action = ns + ":" + action
	}
	entity := first(gets(a, "LastAccessedEntity"), principal)
	msg := join(" ", first(entity, "a principal"), "last called", action)
	if r := gets(a, "LastAccessedRegion"); r != "" {
		msg += " in " + r
	}
	it := item{ev: Event{Message: oneLine(msg), Action: "iam:LastAccessed", Actor: entity, Target: action},
		times: []timeField{{"Last Accessed", get(a, "LastAccessedTime")}}, raw: a}
	if get(a, "LastAccessedTime").isNil() {
		it.untimed = &timeErr{ReasonMissingTime, "action " + action + " never called in the tracking period"}
	}
	return it
}

func iamEntity(e jv, ns string) item {
	arn := first(gets(e, "EntityInfo", "Arn"), gets(e, "EntityInfo", "Name"))
	msg := join(" ", first(arn, "a principal"), "last accessed", first(ns, "the service"))
	it := item{ev: Event{Message: oneLine(msg), Action: "iam:LastAccessed", Actor: arn, Target: ns},
		times: []timeField{{"Last Accessed", get(e, "LastAuthenticated")}}, raw: e}
	if get(e, "LastAuthenticated").isNil() {
		it.untimed = &timeErr{ReasonMissingTime, "entity never accessed the service in the tracking period"}
	}
	return it
}
