package finding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

// Kind names an accepted input form.
type Kind string

// The accepted input forms.
const (
	// KindEnvelope is the EventBridge event GuardDuty emits
	// (source "aws.guardduty", detail-type "GuardDuty Finding").
	KindEnvelope Kind = "envelope"
	// KindFinding is the bare finding, as the event's detail carries it.
	KindFinding Kind = "finding"
	// KindFindingRef is {"findingId", "detectorId"}: the caller fetches the
	// finding with GuardDuty GetFindings and converts it with FromAPI.
	KindFindingRef Kind = "findingRef"
	// KindAPIFinding is a finding as `aws guardduty get-findings` prints it
	// (PascalCase), alone or as the only element of its {"Findings": [...]}.
	KindAPIFinding Kind = "apiFinding"
	// KindManual is {"resource": {...}, "window": {...}}: a manual start.
	KindManual Kind = "manual"
)

// Input is a parsed input: exactly one of Finding, Ref and Manual is set,
// as Kind says.
type Input struct {
	Kind     Kind
	Finding  *Finding     // KindEnvelope, KindFinding, KindAPIFinding
	Envelope *Envelope    // KindEnvelope
	Ref      *FindingRef  // KindFindingRef
	Manual   *ManualStart // KindManual
	// Raw is the whole input exactly as received.
	Raw []byte
	// Warnings are things Parse accepted but changed or assumed (for
	// example updatedAt taken from createdAt).
	Warnings []string
}

// Envelope is the EventBridge event around a finding; Detail is in the
// Input's Finding.
type Envelope struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Region     string   `json:"region"`
	Time       string   `json:"time"`
	Resources  []string `json:"resources,omitempty"`
}

// FindingRef names a finding to fetch with GuardDuty GetFindings.
type FindingRef struct {
	FindingID  string `json:"findingId"`
	DetectorID string `json:"detectorId"`
	// AccountID and Region are optional hints; the finding fetched says.
	AccountID string `json:"accountId,omitempty"`
	Region    string `json:"region,omitempty"`
}

// The EventBridge source and detail-type of a GuardDuty finding event.
const (
	EventSource     = "aws.guardduty"
	EventDetailType = "GuardDuty Finding"
)

const asffReason = "the AWS Security Hub finding format (ASFF) is not supported: " +
	"send the GuardDuty finding itself (its EventBridge event, the finding, " +
	"or {\"findingId\", \"detectorId\"})"

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	// findingIDRe: GuardDuty's IDs are 32 hex digits; samples and exports
	// use other letters, '.', '_', ':' and '-'. Never '/', '\\' or a control
	// character, and (checked apart) never "..": an ID names a case.
	findingIDRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,299}$`)
	detectorIDRe = regexp.MustCompile(`^[A-Za-z0-9]{1,300}$`)
	// regionRe is an AWS region name: us-east-1, eu-central-2,
	// us-gov-west-1, us-isob-east-1, cn-northwest-1.
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// sampleAccessKeyID is the access key ID GuardDuty writes into the sample
// findings it generates (CreateSampleFindings): not a key, but a drill with
// sample findings must still open its case.
const sampleAccessKeyID = "GeneratedFindingAccessKeyId"

// validFindingID reports whether id may name a case: see findingIDRe.
func validFindingID(id string) bool {
	return findingIDRe.MatchString(id) && !strings.Contains(id, "..")
}

// invalid returns an InvalidInputError as an error.
func invalid(field, format string, args ...any) error {
	return faults.Invalid(field, format, args...)
}

func newDecoder(raw []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec
}

// Parse recognises the input form of raw, decodes and validates it. Every
// refusal is a *faults.InvalidInputError whose Field is the JSON path of the
// offending value ("detail.updatedAt", "window.end", "Findings"); Field is ""
// when the body as a whole is refused (empty, not JSON, not an object, an
// empty object, a form custody does not accept such as ASFF).
//
// Forms are told apart by their keys: "detail", "detail-type" or "source"
// make an envelope; "Findings" or PascalCase finding keys ("Id", "Type",
// "Resource", …) an API finding; "findingId" a reference; "window" (or a
// "resource" holding "type"/"id" in an object with no finding keys) a manual
// start; camelCase finding keys ("id", "type", "resource", …) a bare
// finding.
//
// Before the form is looked at, CheckJSON refuses an empty body, one that is
// not JSON and one nested deeper than MaxDepth.
//
// Validation of a finding: id, type, resource, severity, accountId and region
// are required (accountId and region fall back to the envelope's account and
// region); id is letters, digits, '.', '_', ':' and '-' (no '/', "..",
// control characters: it names the case); accountId is 12 digits; region is
// a region name (us-east-1, us-gov-west-1); severity must be a number from 0
// to 10, given as a JSON number or a string holding one ("8.0", as SIEM
// exports write it); createdAt, updatedAt, service.eventFirstSeen and
// service.eventLastSeen, when present, must be times in an accepted form (see
// Time), and eventLastSeen not before eventFirstSeen; service.detectorId,
// resource.instanceDetails.instanceId and
// resource.accessKeyDetails.accessKeyId, when present, must be a detector
// ID, an instance ID and an access key ID (GuardDuty's sample placeholder
// "GeneratedFindingAccessKeyId" aside). A finding without updatedAt takes
// createdAt, with a warning; one with neither is refused. Other fields are
// not validated: real findings carry placeholders and shapes custody has no
// reason to refuse.
func Parse(raw []byte) (Input, error) {
	in := Input{Raw: append([]byte(nil), raw...)}
	// src is the input as received, less a UTF-8 byte order mark (which
	// JSON decoders refuse); Finding.Raw of a bare finding is src.
	src := raw
	if b := bytes.TrimLeft(raw, " \t\r\n"); bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		src = b[3:]
	}
	body := bytes.TrimSpace(src)
	if err := CheckJSON(body); err != nil {
		return in, err
	}
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return in, invalid("", "not JSON: %v", err)
	}
	top, ok := probe.(map[string]any)
	if !ok {
		return in, invalid("", "expected a JSON object, got %s", jsonKind(probe))
	}
	if len(top) == 0 {
		return in, invalid("", "empty object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return in, invalid("", "not a JSON object: %v", err)
	}
	if isASFF(top) {
		return in, invalid("", asffReason)
	}
	switch {
	case has(top, "detail", "detail-type", "source"):
		in.Kind = KindEnvelope
		return parseEnvelope(in, fields)
	case has(top, "Findings", "findings"):
		in.Kind = KindAPIFinding
		return parseAPIList(in, fields)
	case has(top, "findingId", "FindingId", "findingID"):
		in.Kind = KindFindingRef
		return parseRef(in, fields)
	case isManual(top):
		in.Kind = KindManual
		m, err := parseManual(fields)
		in.Manual = m
		return in, err
	case has(top, "Id", "Type", "Resource", "Service", "Severity", "AccountId", "SchemaVersion", "Arn"):
		in.Kind = KindAPIFinding
		f, warns, err := decodeAPIFinding(src, "")
		in.Finding, in.Warnings = f, warns
		return in, err
	case has(top, "id", "type", "resource", "service", "severity", "accountId", "schemaVersion", "arn"):
		in.Kind = KindFinding
		f, warns, err := decodeFinding(src, "", defaults{})
		in.Finding, in.Warnings = f, warns
		return in, err
	}
	return in, invalid("", "not a recognised input form: expected a GuardDuty EventBridge event, "+
		"a GuardDuty finding, {\"findingId\", \"detectorId\"}, or {\"resource\", \"window\"}")
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func has(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// isASFF reports whether v is a Security Hub finding, a list of them, or a
// Security Hub event.
func isASFF(top map[string]any) bool {
	if has(top, "ProductArn", "productArn") {
		return true
	}
	if sv, _ := top["SchemaVersion"].(string); sv == "2018-10-08" {
		return true
	}
	if src, _ := top["source"].(string); src == "aws.securityhub" {
		return true
	}
	for _, key := range []string{"Findings", "findings"} {
		if list, ok := top[key].([]any); ok {
			for _, el := range list {
				if m, ok := el.(map[string]any); ok && isASFF(m) {
					return true
				}
			}
		}
	}
	if d, ok := top["detail"].(map[string]any); ok && isASFF(d) {
		return true
	}
	return false
}

// isManual reports whether top is a manual start: it has a window, or a
// resource named by type/id in an object that has no finding keys.
func isManual(top map[string]any) bool {
	if has(top, "window") {
		return true
	}
	res, ok := top["resource"].(map[string]any)
	if !ok || has(top, "id", "type", "severity", "accountId", "service", "schemaVersion") {
		return false
	}
	return has(res, "type", "id") && !has(res, "resourceType")
}

// defaults are values an envelope supplies to its detail.
type defaults struct {
	account, region string
}

func parseEnvelope(in Input, fields map[string]json.RawMessage) (Input, error) {
	var env Envelope
	for _, k := range []string{"version", "id", "detail-type", "source", "account", "region", "time"} {
		raw, ok := fields[k]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return in, invalid(k, "expected a string, got %s", shorten(string(raw)))
		}
		switch k {
		case "version":
			env.Version = s
		case "id":
			env.ID = s
		case "detail-type":
			env.DetailType = s
		case "source":
			env.Source = s
		case "account":
			env.Account = s
		case "region":
			env.Region = s
		case "time":
			env.Time = s
		}
	}
	if raw, ok := fields["resources"]; ok {
		_ = json.Unmarshal(raw, &env.Resources) // informational
	}
	in.Envelope = &env
	if env.Source != EventSource {
		return in, invalid("source", "%q is not %q: only GuardDuty finding events are accepted", env.Source, EventSource)
	}
	if env.DetailType != "" && env.DetailType != EventDetailType {
		return in, invalid("detail-type", "%q is not a GuardDuty finding event (%q)", env.DetailType, EventDetailType)
	}
	detail, ok := fields["detail"]
	if !ok || string(detail) == "null" {
		return in, invalid("detail", "missing")
	}
	f, warns, err := decodeFinding(detail, "detail.", defaults{account: env.Account, region: env.Region})
	in.Finding, in.Warnings = f, warns
	return in, err
}

func parseAPIList(in Input, fields map[string]json.RawMessage) (Input, error) {
	key := "Findings"
	raw, ok := fields[key]
	if !ok {
		key = "findings"
		raw = fields[key]
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return in, invalid(key, "expected a list of findings")
	}
	switch len(list) {
	case 0:
		return in, invalid(key, "the list is empty: no finding to collect for")
	case 1:
	default:
		return in, invalid(key, "%d findings in one input: send one finding at a time", len(list))
	}
	el := bytes.TrimSpace(list[0])
	if len(el) == 0 || el[0] != '{' {
		return in, invalid(key+"[0]", "expected a finding object")
	}
	f, warns, err := decodeAPIFinding(el, key+"[0].")
	in.Finding, in.Warnings = f, warns
	return in, err
}

func parseRef(in Input, fields map[string]json.RawMessage) (Input, error) {
	get := func(keys ...string) (string, string, error) {
		for _, k := range keys {
			raw, ok := fields[k]
			if !ok || string(raw) == "null" {
				continue
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return k, "", invalid(k, "expected a string, got %s", shorten(string(raw)))
			}
			return k, strings.TrimSpace(s), nil
		}
		return keys[0], "", nil
	}
	ref := &FindingRef{}
	var err error
	var name string
	if name, ref.FindingID, err = get("findingId", "FindingId", "findingID"); err != nil {
		return in, err
	}
	if ref.FindingID == "" {
		return in, invalid(name, "missing")
	}
	if !validFindingID(ref.FindingID) {
		return in, invalid(name, "%q is not a GuardDuty finding ID", shorten(ref.FindingID))
	}
	if name, ref.DetectorID, err = get("detectorId", "DetectorId", "detectorID"); err != nil {
		return in, err
	}
	if ref.DetectorID == "" {
		return in, invalid(name, "missing: GetFindings needs the detector ID")
	}
	if !detectorIDRe.MatchString(ref.DetectorID) {
		return in, invalid(name, "%q is not a GuardDuty detector ID", shorten(ref.DetectorID))
	}
	if name, ref.AccountID, err = get("accountId", "AccountId"); err != nil {
		return in, err
	}
	if ref.AccountID != "" && !accountRe.MatchString(ref.AccountID) {
		return in, invalid(name, "%q is not a 12-digit AWS account ID", ref.AccountID)
	}
	if name, ref.Region, err = get("region", "Region"); err != nil {
		return in, err
	}
	if ref.Region != "" && !regionRe.MatchString(ref.Region) {
		return in, invalid(name, "%q is not an AWS region name", shorten(ref.Region))
	}
	in.Ref = ref
	return in, nil
}

// decodeAPIFinding decodes a PascalCase finding; prefix is the JSON path
// of the finding in the input ("" or "Findings[0].").
func decodeAPIFinding(raw []byte, prefix string) (*Finding, []string, error) {
	camel, err := pascalToCamel(raw)
	if err != nil {
		return nil, nil, invalid(strings.TrimSuffix(prefix, "."), "not a finding object: %v", err)
	}
	f, warns, err := decodeFinding(camel, "", defaults{})
	if f != nil {
		f.Raw = append(json.RawMessage(nil), raw...)
	}
	var inv *faults.InvalidInputError
	if errors.As(err, &inv) {
		err = invalid(prefix+pascalPath(inv.Field), "%s", inv.Reason)
	}
	return f, warns, err
}

// pascalPath spells a camelCase JSON path as the API's PascalCase one.
func pascalPath(p string) string {
	if p == "" {
		return p
	}
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if s != "" && s[0] >= 'a' && s[0] <= 'z' {
			parts[i] = strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return strings.Join(parts, ".")
}

// decodeFinding decodes and validates a camelCase finding; prefix is its
// JSON path in the input ("" or "detail.").
func decodeFinding(raw []byte, prefix string, def defaults) (*Finding, []string, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, invalid(strings.TrimSuffix(prefix, "."), "expected a finding object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, nil, invalid(strings.TrimSuffix(prefix, "."), "not a JSON object: %v", err)
	}
	if len(top) == 0 {
		return nil, nil, invalid(strings.TrimSuffix(prefix, "."), "empty object")
	}
	f := &Finding{}
	if err := json.Unmarshal(trimmed, f); err != nil {
		return nil, nil, decodeError(err, prefix)
	}
	f.Raw = append(json.RawMessage(nil), raw...)
	warns, err := validate(f, top, prefix, def)
	if err != nil {
		return nil, warns, err
	}
	return f, warns, nil
}

// decodeError turns a JSON decoding error into an InvalidInputError naming
// the field.
func decodeError(err error, prefix string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return invalid(strings.TrimSuffix(prefix, "."), "expected an object, got JSON %s", te.Value)
		}
		return invalid(prefix+field, "expected %s, got JSON %s", jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return invalid(prefix+"severity", "%s", fe.reason)
	}
	return invalid(strings.TrimSuffix(prefix, "."), "cannot decode: %v", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "struct", "map", "ptr":
		return "an object"
	case "slice", "array":
		return "a list"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

func present(top map[string]json.RawMessage, key string) bool {
	raw, ok := top[key]
	return ok && string(bytes.TrimSpace(raw)) != "null"
}

// validate checks a decoded finding; see Parse for the rules.
func validate(f *Finding, top map[string]json.RawMessage, prefix string, def defaults) ([]string, error) {
	var warns []string
	f.ID = strings.TrimSpace(f.ID)
	if f.ID == "" {
		return warns, invalid(prefix+"id", "missing")
	}
	if !validFindingID(f.ID) {
		// The case ID and every key of the case derive from it.
		return warns, invalid(prefix+"id", "%q is not a GuardDuty finding ID (letters, digits, '.', '_', ':', '-'; no '/', \"..\" or control characters)", shorten(f.ID))
	}
	if strings.TrimSpace(f.Type) == "" {
		return warns, invalid(prefix+"type", "missing")
	}
	if f.Resource == nil {
		return warns, invalid(prefix+"resource", "missing: a finding must say which resource it is about")
	}
	if !present(top, "severity") {
		return warns, invalid(prefix+"severity", "missing")
	}
	if s := float64(f.Severity); math.IsNaN(s) || s < 0 || s > 10 {
		return warns, invalid(prefix+"severity", "%v is out of GuardDuty's range 0 to 10", s)
	}
	if f.AccountID == "" {
		f.AccountID = def.account
		if f.AccountID != "" {
			warns = append(warns, "accountId missing: the event's account "+def.account+" is used")
		}
	}
	if f.AccountID == "" {
		return warns, invalid(prefix+"accountId", "missing")
	}
	if !accountRe.MatchString(f.AccountID) {
		// Collectors build ARNs and compare accounts with it: no finding
		// GuardDuty emits has another form (anonymised samples with 11
		// digits are refused too).
		return warns, invalid(prefix+"accountId", "%q is not a 12-digit AWS account ID", shorten(f.AccountID))
	}
	if f.Region == "" {
		f.Region = def.region
		if f.Region != "" {
			warns = append(warns, "region missing: the event's region "+def.region+" is used")
		}
	}
	if f.Region == "" {
		return warns, invalid(prefix+"region", "missing")
	}
	if !regionRe.MatchString(f.Region) {
		return warns, invalid(prefix+"region", "%q is not an AWS region name", shorten(f.Region))
	}
	if err := validateResource(f, prefix); err != nil {
		return warns, err
	}
	if err := f.CreatedAt.check(prefix + "createdAt"); err != nil {
		return warns, err
	}
	if err := f.UpdatedAt.check(prefix + "updatedAt"); err != nil {
		return warns, err
	}
	if f.Service != nil {
		if err := f.Service.EventFirstSeen.check(prefix + "service.eventFirstSeen"); err != nil {
			return warns, err
		}
		if err := f.Service.EventLastSeen.check(prefix + "service.eventLastSeen"); err != nil {
			return warns, err
		}
		first, last := f.Service.EventFirstSeen, f.Service.EventLastSeen
		if !first.IsZero() && !last.IsZero() && last.Before(first.Time) {
			return warns, invalid(prefix+"service.eventLastSeen", "%s is before service.eventFirstSeen %s",
				last.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano))
		}
		if d := f.Service.DetectorID; d != "" && !detectorIDRe.MatchString(d) {
			return warns, invalid(prefix+"service.detectorId", "%q is not a GuardDuty detector ID", shorten(d))
		}
	}
	if f.UpdatedAt.IsZero() {
		if f.CreatedAt.IsZero() {
			return warns, invalid(prefix+"updatedAt", "missing, and no createdAt to take its place")
		}
		f.UpdatedAt = f.CreatedAt
		warns = append(warns, "updatedAt missing: createdAt "+f.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00")+" is used")
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = f.UpdatedAt
		warns = append(warns, "createdAt missing: updatedAt is used")
	}
	return warns, nil
}

// validateResource checks the resource IDs a collector names evidence by:
// an instance ID and an access key ID, when the finding has them.
func validateResource(f *Finding, prefix string) error {
	if d := f.Resource.InstanceDetails; d != nil && d.InstanceID != "" && !instanceIDRe.MatchString(d.InstanceID) {
		return invalid(prefix+"resource.instanceDetails.instanceId", "%q is not an EC2 instance ID (i- and 8 to 17 hex digits)", shorten(d.InstanceID))
	}
	if d := f.Resource.AccessKeyDetails; d != nil && d.AccessKeyID != "" && d.AccessKeyID != sampleAccessKeyID && !accessKeyIDRe.MatchString(d.AccessKeyID) {
		return invalid(prefix+"resource.accessKeyDetails.accessKeyId", "%q is not an access key ID (AKIA or ASIA and 16 letters or digits)", shorten(d.AccessKeyID))
	}
	return nil
}

// ValidAccountID reports whether s is an AWS account ID: twelve digits.
// Every part of custody that takes an account (Triage, the member role,
// seed folders, cdk.json) asks this.
func ValidAccountID(s string) bool { return accountRe.MatchString(s) }

// ValidRegion reports whether s is an AWS region name (us-east-1,
// us-gov-west-1, cn-northwest-1).
func ValidRegion(s string) bool { return regionRe.MatchString(s) }
