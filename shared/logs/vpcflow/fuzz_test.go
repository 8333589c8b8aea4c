package vpcflow

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// fuzzFormats are the formats of the seeds: the default, and the custom
// ones of the testdata's flow logs (as DescribeFlowLogs gives LogFormat).
var fuzzFormats = []string{
	"",
	"${version} ${interface-id} ${srcaddr} ${dstaddr}",
	"${version} ${resource-type} ${account-id} ${tgw-id} ${tgw-attachment-id} ${tgw-src-vpc-account-id} ${tgw-dst-vpc-account-id} ${tgw-src-vpc-id} ${tgw-dst-vpc-id} ${tgw-src-subnet-id} ${tgw-dst-subnet-id} ${tgw-src-eni} ${tgw-dst-eni} ${tgw-src-az-id} ${tgw-dst-az-id} ${tgw-pair-attachment-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${log-status} ${type} ${packets-lost-no-route} ${packets-lost-blackhole} ${packets-lost-mtu-exceeded} ${packets-lost-ttl-expired} ${tcp-flags} ${region} ${flow-direction} ${pkt-src-aws-service} ${pkt-dst-aws-service}",
}

// FuzzParseFormat reads any LogFormat string: a refusal is ErrFormat; an
// accepted format prints as a LogFormat that reads back the same.
func FuzzParseFormat(f *testing.F) {
	for _, s := range fuzzFormats {
		f.Add(s)
	}
	f.Add("${version} ${x-new-field}")
	f.Add("${} ${version}")
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseFormat(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("refusal %v is not ErrFormat", err)
			}
			return
		}
		back, err := ParseFormat(fm.String())
		if err != nil || !reflect.DeepEqual(back.Fields(), fm.Fields()) || back.Len() != len(fm.Fields()) || fm.Len() == 0 {
			t.Fatalf("%q reads as %q, which reads back as %v (%v)", s, fm.String(), back.Fields(), err)
		}
	})
}

// render writes r as a line of f: the inverse of Format.Parse.
func render(f Format, r Record) []byte {
	parts := make([]string, f.Len())
	for i, name := range f.Fields() {
		switch v := r.Fields[name].(type) {
		case nil:
			parts[i] = "-"
		case int64:
			parts[i] = strconv.FormatInt(v, 10)
		case string:
			parts[i] = v
		}
	}
	return []byte(strings.Join(parts, " "))
}

// FuzzParser reads any file as a flow log, in one of the seeds' formats
// until a header line names another (the S3 file path, the CloudWatch
// stream path and the default format). Every line is a header, a
// malformed line or a record, never another error; a record has exactly
// the format's fields, written back as a line it reads the same; a line
// the field count alone refuses is one CountFields counts as refused, so
// a reader that skips it unparsed reports it the same; and a line
// MayMatch rules out never holds a record the Matcher keeps.
func FuzzParser(f *testing.F) {
	for _, name := range []string{
		"otel-collector-contrib/vpc_flow_v2_multi.log",
		"otel-collector-contrib/vpc_flow_v2_nodata.log",
		"otel-collector-contrib/vpc_flow_v5_custom_ecs.log",
		"otel-collector-contrib/tgw_flow_v6_custom.log",
	} {
		f.Add(readTestdata(f, name), uint8(0))
		f.Add(readTestdata(f, name), uint8(2))
	}
	var cw [][]byte
	for _, name := range []string{"otel-collector-contrib/vpc_flow_cwlogs_subscription_custom.json", "otel-collector-contrib/vpc_flow_cwlogs_subscription_default.json"} {
		cw = append(cw, cwMessages(f, name)...)
	}
	f.Add(bytes.Join(cw, []byte("\n")), uint8(1))
	f.Add(bytes.Join(yamlLines(f, "panther-analysis/attacker_vpc.yml"), []byte("\n")), uint8(0))
	sc := incident.Scope{ENIs: []string{"eni-1235b8ca123456789", "eni-0abc1234def567890"}, PrivateIPs: []string{"10.0.1.100", "172.31.9.69"}}
	m := NewMatcher(sc, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)})
	// Candidate compares fewer fields when the scope names only
	// interfaces or only addresses.
	parts := []*Matcher{
		NewMatcher(incident.Scope{ENIs: sc.ENIs}, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)}),
		NewMatcher(incident.Scope{PrivateIPs: sc.PrivateIPs}, incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)}),
	}
	f.Fuzz(func(t *testing.T, file []byte, pick uint8) {
		p := NewParser(MustFormat(fuzzFormats[int(pick)%len(fuzzFormats)]))
		for _, line := range bytes.Split(file, []byte("\n")) {
			fm := p.Format()
			r, err := p.Parse(line)
			switch {
			case errors.Is(err, ErrHeader):
				if !p.FromHeader() || !reflect.DeepEqual(p.Format().Fields(), strings.Fields(string(bytes.TrimSpace(line)))) {
					t.Fatalf("header %q set the format %v", line, p.Format().Fields())
				}
				continue
			case errors.Is(err, ErrMalformed):
				if (CountFields(line) != fm.Len()) != strings.Contains(err.Error(), "fields, the format has") {
					t.Fatalf("%q: CountFields %d, format %d, Parse: %v", line, CountFields(line), fm.Len(), err)
				}
				if n, may := m.Candidate(line, &fm); n != CountFields(line) || (may && n != fm.Len()) {
					t.Fatalf("%q: Candidate %d, %v for a malformed line (CountFields %d)", line, n, may, CountFields(line))
				}
				continue
			case err != nil:
				t.Fatalf("%q: %v is neither ErrHeader nor ErrMalformed", line, err)
			}
			if len(r.Fields) != fm.Len() || CountFields(line) != fm.Len() {
				t.Fatalf("%q: %d fields (CountFields %d), the format has %d", line, len(r.Fields), CountFields(line), fm.Len())
			}
			for _, at := range []time.Time{r.Start, r.End} {
				if _, err := at.MarshalJSON(); err != nil {
					t.Fatalf("%q: the extract cannot write its time: %v", line, err)
				}
			}
			back, err := fm.Parse(render(fm, r))
			if err != nil || !reflect.DeepEqual(back, r) {
				t.Fatalf("%q: written back as %q reads %+v (%v), was %+v", line, render(fm, r), back, err, r)
			}
			if !m.MayMatch(line) && m.InScope(r) {
				t.Fatalf("%q: MayMatch ruled out a record in scope", line)
			}
			if n, may := m.Candidate(line, &fm); n != fm.Len() || (!may && m.InScope(r)) {
				t.Fatalf("%q: Candidate counted %d fields (%v) of a record in scope: %v", line, n, may, m.InScope(r))
			}
			for _, pm := range parts {
				if _, may := pm.Candidate(line, &fm); !may && pm.InScope(r) {
					t.Fatalf("%q: Candidate ruled out a record in a part of the scope", line)
				}
			}
			checkLineJSON(t, NewLine(r, "fl-1", evidence.Origin{Key: string(line)}, p, line))
		}
	})
}
