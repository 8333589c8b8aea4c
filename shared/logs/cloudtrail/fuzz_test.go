package cloudtrail

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/s3logs"
)

// fuzzSeeds are the small real log files of testdata (the delivered shape,
// a bare list, LookupEvents' page, a digest, a file cut at 8 KiB) and the
// edge records as one file.
func fuzzSeeds(f *testing.F) {
	for _, name := range []string{
		"stratus-red-team/aws.initial-access.console-login-without-mfa.json",
		"stratus-red-team/aws.persistence.iam-create-admin-user.json",
		"stratus-red-team/aws.defense-evasion.organizations-leave.json",
		"opensearch-catalog/cloudtrail_raw-sample_masked.json",
		"opensearch-catalog/cloudtrail_samples-large.ORIGINAL_malformed.head8k.json",
		"aws-cli-examples/cloudtrail_lookup-events_output.json",
		"otel-collector-contrib/cloudtrail_digest_fixture.json",
	} {
		f.Add(read(f, name), uint8(0))
	}
	f.Add([]byte(`{"Records":[`+strings.Join(edgeRecords, ",")+`]}`), uint8(1))
	f.Add([]byte(`[`+strings.Join(edgeRecords, ",")+`]`), uint8(2))
}

// topRecords returns the records of file when encoding/json reads it as a
// log file Read must read whole: a list, or an object with exactly one
// "Records" member holding a list.
func topRecords(file []byte) ([]json.RawMessage, bool) {
	var list []json.RawMessage
	if json.Unmarshal(file, &list) == nil {
		return list, list != nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(file, &obj) != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(file))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	n := 0
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if k == "Records" {
			n++
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil, false
		}
	}
	if n != 1 || json.Unmarshal(obj["Records"], &list) != nil || list == nil {
		return nil, false
	}
	return list, true
}

// FuzzRead streams any bytes as a CloudTrail log file. Every record given
// to fn encodes as itself and parses back to the same time and ID; a file
// encoding/json reads as a list of records (or {"Records": [...]}) is read
// to its end with no error, every record either an event or a bad one.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, file []byte, _ uint8) {
		events, bad := 0, 0
		err := Read(bytes.NewReader(file), func(e *Event) error {
			events++
			out, err := e.MarshalJSON()
			if err != nil || !bytes.Equal(out, e.Raw) || !json.Valid(out) {
				t.Fatalf("record %d does not encode as itself: %v", events, err)
			}
			back, err := Parse(out)
			if err != nil || !back.Time.Equal(e.Time) || back.EventID != e.EventID || back.EventTime != e.EventTime {
				t.Fatalf("record %d parses back as %+v (%v), was %+v", events, back, err, e)
			}
			if e.Time.Location().String() != "UTC" {
				t.Fatalf("record %d: time %v is not UTC", events, e.Time)
			}
			return nil
		}, func(error) { bad++ })
		if list, ok := topRecords(file); ok {
			if err != nil {
				t.Fatalf("a whole log file of %d records: %v", len(list), err)
			}
			if events+bad != len(list) {
				t.Fatalf("%d events + %d bad of %d records", events, bad, len(list))
			}
		}
	})
}

// FuzzDecodeFor filters any bytes as the extract does, with one of the edge
// scopes: it keeps exactly the records Decode and the Matcher keep, counts
// as many records read and bad, ends with the same error, and reports only
// bad records Decode reports.
func FuzzDecodeFor(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, file []byte, pick uint8) {
		m := NewMatcher(edgeScopes[int(pick)%len(edgeScopes)].scope)
		fast := extractWith(t, DecodeFor(m), m, file)
		slow := extractWith(t, s3logs.Decoder(Decode), m, file)
		if strings.Join(fast.kept, "\n") != strings.Join(slow.kept, "\n") {
			t.Fatalf("DecodeFor kept %d records, Decode %d", len(fast.kept), len(slow.kept))
		}
		if fast.records+len(fast.bad) != slow.records+len(slow.bad) || fast.err != slow.err {
			t.Fatalf("DecodeFor read %d + %d bad (%q), Decode %d + %d bad (%q)",
				fast.records, len(fast.bad), fast.err, slow.records, len(slow.bad), slow.err)
		}
		for _, b := range fast.bad {
			if !contains(slow.bad, b) {
				t.Fatalf("DecodeFor reported %s, Decode did not", b)
			}
		}
	})
}
