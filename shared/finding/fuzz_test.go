package finding

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/custody-ir/custody/shared/faults"
)

// refusal returns err as an InvalidInputError, failing t when it is not one.
func refusal(t *testing.T, err error) *faults.InvalidInputError {
	t.Helper()
	var inv *faults.InvalidInputError
	if !errors.As(err, &inv) || inv.Reason == "" {
		t.Fatalf("error %v (%T) is not an InvalidInputError with a reason", err, err)
	}
	return inv
}

// checkAccepted checks what every accepted finding holds, whatever its
// form: an ID that can name a case (no path, no control character), a
// 12-digit account, a region name, activity last seen no earlier than
// first seen, an updatedAt.
func checkAccepted(t *testing.T, f *Finding) {
	t.Helper()
	if f == nil {
		t.Fatal("accepted without a finding")
	}
	if !validFindingID(f.ID) || strings.ContainsAny(f.ID, `/\`) || strings.IndexFunc(f.ID, unicode.IsControl) >= 0 {
		t.Fatalf("accepted finding ID %q", f.ID)
	}
	if !accountRe.MatchString(f.AccountID) || !regionRe.MatchString(f.Region) {
		t.Fatalf("accepted account %q, region %q", f.AccountID, f.Region)
	}
	if f.Service != nil && !f.Service.EventFirstSeen.IsZero() && !f.Service.EventLastSeen.IsZero() &&
		f.Service.EventLastSeen.Before(f.Service.EventFirstSeen.Time) {
		t.Fatalf("last seen %v before first seen %v", f.Service.EventLastSeen, f.Service.EventFirstSeen)
	}
	if f.UpdatedAt.IsZero() || f.Resource == nil {
		t.Fatalf("accepted without updatedAt or resource: %+v", f)
	}
}

// addCorpusFindings seeds f with the bare findings of the corpus and the
// hostile files (camel: the bare camelCase form, else PascalCase).
func addCorpusFindings(f *testing.F, camel bool) {
	for _, p := range []string{
		"aws-samples-guardduty-automated-response/guardduty_ec2_event.json",
		"aws-samples-guardduty-automated-response/guardduty_iam_event.json",
		"aws-samples-guardduty-automated-response/guardduty_s3_event.json",
	} {
		b, err := os.ReadFile(filepath.Join(corpusDir, p))
		if err != nil {
			f.Fatal(err)
		}
		if camel {
			f.Add(b)
		}
	}
	if !camel {
		var list struct{ Findings []json.RawMessage }
		b, err := os.ReadFile(filepath.Join(corpusDir, "aws-cli-examples/guardduty_get-findings_output.json"))
		if err != nil || json.Unmarshal(b, &list) != nil {
			f.Fatal("get-findings example", err)
		}
		f.Add([]byte(list.Findings[0]))
		var stix []struct{ Finding json.RawMessage }
		b, err = os.ReadFile(filepath.Join(corpusDir, "stix-shifter/guardduty_getfindings_pascalcase_4_findings.json"))
		if err != nil || json.Unmarshal(b, &stix) != nil {
			f.Fatal("stix-shifter", err)
		}
		for _, s := range stix {
			f.Add(twelveDigitAccount(s.Finding))
		}
	}
}

// FuzzParseEnvelope parses any detail inside a GuardDuty EventBridge event:
// a refusal names an envelope key or a field under detail; an accepted
// event is an envelope whose finding is the detail exactly as received.
func FuzzParseEnvelope(f *testing.F) {
	addCorpusFindings(f, true)
	f.Add([]byte(minimal))
	f.Add([]byte(`{"id":"../x"}`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		in, err := Parse([]byte(envelope(string(detail))))
		if err != nil {
			inv := refusal(t, err)
			if inv.Field != "" && inv.Field != "detail" && !strings.HasPrefix(inv.Field, "detail.") && !strings.HasPrefix(inv.Field, "detail[") {
				t.Fatalf("refusal names %q, not the event or its detail (%v)", inv.Field, err)
			}
			return
		}
		if in.Kind != KindEnvelope || in.Envelope == nil {
			t.Fatalf("kind %s", in.Kind)
		}
		checkAccepted(t, in.Finding)
		if !bytes.Equal(bytes.TrimSpace(in.Finding.Raw), bytes.TrimSpace(detail)) {
			t.Fatalf("Finding.Raw %q is not the detail %q", in.Finding.Raw, detail)
		}
	})
}

// FuzzParseAPIFinding parses any PascalCase finding alone and as the only
// element of {"Findings": [...]}: both give the same outcome, the list's
// refusal naming the same field under Findings[0].
func FuzzParseAPIFinding(f *testing.F) {
	addCorpusFindings(f, false)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
			return // the list form refuses it as Findings[0], alone it is another form
		}
		alone, errAlone := Parse(raw)
		if alone.Kind != KindAPIFinding {
			return // PascalCase keys tell the form; without them it is another
		}
		listed, errList := Parse([]byte(`{"Findings":[` + string(raw) + `]}`))
		if (errAlone == nil) != (errList == nil) {
			t.Fatalf("alone: %v; in a list: %v", errAlone, errList)
		}
		if errAlone != nil {
			a, l := refusal(t, errAlone), refusal(t, errList)
			want := "Findings[0]"
			if a.Field != "" {
				want += "." + a.Field
			}
			if l.Field != want || l.Reason != a.Reason {
				t.Fatalf("alone %v; in a list %v (want field %q)", errAlone, errList, want)
			}
			return
		}
		checkAccepted(t, alone.Finding)
		if alone.Finding.ID != listed.Finding.ID || !bytes.Equal(alone.Finding.Raw, listed.Finding.Raw) {
			t.Fatalf("alone %q, in a list %q", alone.Finding.ID, listed.Finding.ID)
		}
	})
}

// FuzzParseManual parses manual starts of any type, ID, window, account and
// region: a refusal names a field of the form; an accepted start has a
// window that ends after it starts, and its normalised form parses to the
// same start.
func FuzzParseManual(f *testing.F) {
	for _, c := range [][6]string{
		{"Instance", "i-0123456789abcdef0", "2024-05-01T10:00:00Z", "2024-05-01 18:00:00", "", ""},
		{"AccessKey", "AKIAIOSFODNN7EXAMPLE", "2024-05-01T10:00:00Z", "2024-05-01T18:00:00Z", "123456789012", "eu-west-1"},
		{"", "arn:aws:sts::123456789012:assumed-role/web-role/i-0123", "2024-05-01T10:00:00+02:00", "2024-05-01T18:00:00.5Z", "", ""},
		{"bucket", "arn:aws:s3:::shop-data", "2024-05-01 10:00:00.123", "2024-05-02 10:00:00", "", "us-gov-west-1"},
		{"EKSCluster", "../prod", "2024-05-01T10:00:00Z", "2024-05-01T09:00:00Z", "12", "x"},
	} {
		f.Add(c[0], c[1], c[2], c[3], c[4], c[5])
	}
	f.Fuzz(func(t *testing.T, typ, id, start, end, account, region string) {
		form := func(typ, id, start, end, account, region string) []byte {
			b, _ := json.Marshal(map[string]any{
				"resource": map[string]string{"type": typ, "id": id, "accountId": account, "region": region},
				"window":   map[string]string{"start": start, "end": end},
			})
			return b
		}
		in, err := Parse(form(typ, id, start, end, account, region))
		if err != nil {
			inv := refusal(t, err)
			if inv.Field != "resource" && inv.Field != "window" && !strings.HasPrefix(inv.Field, "resource.") && !strings.HasPrefix(inv.Field, "window.") {
				t.Fatalf("refusal names %q (%v)", inv.Field, err)
			}
			return
		}
		m := in.Manual
		if in.Kind != KindManual || m == nil || !m.End.After(m.Start) || m.ResourceID == "" || m.ResourceType == "" {
			t.Fatalf("accepted %+v", m)
		}
		if (m.AccountID != "" && !accountRe.MatchString(m.AccountID)) || (m.Region != "" && !regionRe.MatchString(m.Region)) {
			t.Fatalf("accepted account %q, region %q", m.AccountID, m.Region)
		}
		again, err := Parse(form(m.ResourceType, m.ResourceID, m.Start.Format(time.RFC3339Nano), m.End.Format(time.RFC3339Nano), m.AccountID, m.Region))
		if err != nil || *again.Manual != *m {
			t.Fatalf("normalised %+v parses to %+v (%v)", m, again.Manual, err)
		}
	})
}

// FuzzParseRef parses finding references of any finding ID, detector ID
// and region: a refusal names one of the three; an accepted reference's
// IDs can name a case and a GetFindings call.
func FuzzParseRef(f *testing.F) {
	f.Add("16afba5c5c43e07c9e3e5e2e544e95df", "3caf4e0aaa46ce4ccbcef949a8785353", "")
	f.Add("../x", "d", "us-east-1")
	f.Add("a..b", "d 1", "../r")
	f.Fuzz(func(t *testing.T, id, detector, region string) {
		b, _ := json.Marshal(map[string]string{"findingId": id, "detectorId": detector, "region": region})
		in, err := Parse(b)
		if err != nil {
			if inv := refusal(t, err); inv.Field != "findingId" && inv.Field != "detectorId" && inv.Field != "region" {
				t.Fatalf("refusal names %q (%v)", inv.Field, err)
			}
			return
		}
		r := in.Ref
		if in.Kind != KindFindingRef || r == nil || !validFindingID(r.FindingID) || !detectorIDRe.MatchString(r.DetectorID) ||
			(r.Region != "" && !regionRe.MatchString(r.Region)) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzCheckJSON checks any bytes: accepted exactly when they are one JSON
// value nested at most MaxDepth deep; a body that is not JSON is refused
// as a whole, one nested too deep naming where.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{minimal, envelope(minimal), "", "[[[]]]", strings.Repeat("[", MaxDepth+1), `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := CheckJSON(raw)
		body := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(raw), []byte("\xef\xbb\xbf")))
		if err == nil {
			if !json.Valid(body) || depth(body) > MaxDepth {
				t.Fatalf("accepted %q: valid %v, depth %d", raw, json.Valid(body), depth(body))
			}
			return
		}
		inv := refusal(t, err)
		if json.Valid(body) && depth(body) <= MaxDepth {
			t.Fatalf("refused valid JSON of depth %d: %v", depth(body), err)
		}
		if json.Valid(body) && !strings.Contains(inv.Reason, "nested deeper") {
			t.Fatalf("valid JSON refused for %v, not its depth", err)
		}
	})
}

// depth is how deeply valid JSON nests, counted outside strings.
func depth(b []byte) int {
	d, most, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			most = max(most, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return most
}

// FuzzParseTime parses any text as an input's time: an accepted time is
// in UTC and its RFC 3339 form parses to the same instant.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2017-12-08T15:32:49.865Z", "2025-02-25 20:40:06.721", "2017-12-18 21:28:11.551000+05:30", "2024-05-01T10:00:00", "0000-01-01T00:00:00+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseTime(s)
		if err != nil {
			return
		}
		if at.Location() != time.UTC {
			t.Fatalf("%q parses to %v, not UTC", s, at)
		}
		back, err := ParseTime(at.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(at) {
			t.Fatalf("%q parses to %v, whose RFC 3339 form parses to %v (%v)", s, at, back, err)
		}
	})
}
