package cloudtrail

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/s3logs"
)

// Generated records for what real logs rarely show: values written with
// JSON escapes, keys in another case or given twice, a record without a
// time, bytes that are not UTF-8. Each scope of edgeScopes matches one of
// them (or, for the near misses, none).
var edgeRecords = []string{
	// A slash and a letter of the key and of the address escaped.
	`{"eventTime":"2024-01-01T00:00:00Z","eventID":"e1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user\/esc-user","accessKeyId":"\u0041KIAESCAPED0000000001","userName":"esc\u002Duser"},"sourceIPAddress":"198.51.100.\u0037"}`,
	// An assumed-role session whose ARN has its slashes escaped.
	`{"eventTime":"2024-01-01T00:00:01Z","eventID":"e2","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role\/EscRole\/i-0e5c0000000000001","principalId":"AROAESC:i-0e5c0000000000001"}}`,
	// A token between escaped quotes, and an escaped backslash before a u
	// (not a \u escape).
	`{"eventTime":"2024-01-01T00:00:02Z","eventID":"e3","requestParameters":{"filter":"\"i-0a1b2c3d4e5f60718\" in C:\\users"}}`,
	// Only an escaped backslash before a u, no token: never decoded.
	`{"eventTime":"2024-01-01T00:00:03Z","eventID":"e4","requestParameters":{"path":"C:\\users\\unknown"}}`,
	// A bucket named only through \u002D and \u002F in a resources ARN.
	`{"eventTime":"2024-01-01T00:00:04Z","eventID":"e5","resources":[{"ARN":"arn:aws:s3:::esc\u002Dbucket\u002Fkey","type":"AWS::S3::Object"}]}`,
	// A session issuer of type "role" (lower case) whose name is escaped.
	`{"eventTime":"2024-01-01T00:00:05Z","eventID":"e6","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"role","userName":"Esc\u0052ole2","arn":"arn:aws:iam::111122223333:role\/svc\/EscRole2"}}}}`,
	// Keys in upper case and an escaped key: encoding/json takes them.
	`{"EVENTTIME":"2024-01-01T00:00:06Z","eventID":"e7","USERIDENTITY":{"ARN":"arn:aws:iam::111122223333:user/case-user"},"userIdentit\u0079":{"accessKeyId":"AKIACASEESCAPEDKEY01"}}`,
	// A key given twice: the last one counts.
	`{"eventTime":"2024-01-01T00:00:07Z","eventID":"e8","userIdentity":{"arn":"arn:aws:iam::111122223333:user/first"},"userIdentity":{"arn":"arn:aws:iam::111122223333:user/dup-user"}}`,
	// Malformed: no eventTime, with a token of the scope.
	`{"eventID":"e9","userIdentity":{"accessKeyId":"AKIABADCANDIDATE0001"}}`,
	// Malformed: no eventTime, no token.
	`{"eventID":"e10","userIdentity":{"accessKeyId":"AKIANOTINANYSCOPE001"}}`,
	// A user name that is not UTF-8 (decoded with U+FFFD).
	"{\"eventTime\":\"2024-01-01T00:00:08Z\",\"eventID\":\"e11\",\"userIdentity\":{\"userName\":\"bad\xffname\"}}",
	// A control character, escaped.
	`{"eventTime":"2024-01-01T00:00:09Z","eventID":"e12","userIdentity":{"userName":"tab\tname"}}`,
	// Near misses: an ID that continues, an address in another form, a key
	// only in the user agent.
	`{"eventTime":"2024-01-01T00:00:10Z","eventID":"e13","requestParameters":{"instanceId":"i-0feed00000000000012"},"sourceIPAddress":"::ffff:203.0.113.9","userAgent":"AKIAUSERAGENTONLY001","userIdentity":{"accessKeyId":"AKIAOTHER00000000001"}}`,
	// An ENI and a function name in request parameters, a quote escaped in
	// another value.
	`{"eventTime":"2024-01-01T00:00:11Z","eventID":"e14","eventName":"RunInstances","requestParameters":{"functionName":"esc-fn","description":"say \"hi\""},"responseElements":{"networkInterfaceId":"eni-0e5c00000000000e1"}}`,
}

// edgeScopes are scopes and how many edge records Decode and the Matcher
// keep for each.
var edgeScopes = []struct {
	scope incident.Scope
	want  int
}{
	{incident.Scope{Principals: []string{"arn:aws:iam::111122223333:user/esc-user"}}, 1},
	{incident.Scope{AccessKeys: []string{"AKIAESCAPED0000000001"}}, 1},
	{incident.Scope{RemoteIPs: []string{"198.51.100.7"}}, 1},
	{incident.Scope{UserNames: []string{"esc-user"}}, 1},
	{incident.Scope{Principals: []string{"arn:aws:iam::111122223333:role/some/path/EscRole"}}, 1},
	{incident.Scope{Principals: []string{"arn:aws:sts::111122223333:assumed-role/EscRole/i-0e5c0000000000001"}}, 1},
	{incident.Scope{Instances: []string{"i-0e5c0000000000001"}}, 1},
	{incident.Scope{RoleNames: []string{"EscRole"}}, 1},
	{incident.Scope{PrincipalIDs: []string{"AROAESC:i-0e5c0000000000001"}}, 1},
	{incident.Scope{Instances: []string{"i-0a1b2c3d4e5f60718"}}, 1},
	{incident.Scope{Buckets: []string{"esc-bucket"}}, 1},
	{incident.Scope{RoleNames: []string{"EscRole2"}}, 1},
	{incident.Scope{Principals: []string{"arn:aws:iam::111122223333:role/svc/EscRole2"}}, 1},
	{incident.Scope{Principals: []string{"arn:aws:iam::111122223333:user/case-user"}}, 1},
	{incident.Scope{AccessKeys: []string{"AKIACASEESCAPEDKEY01"}}, 1},
	{incident.Scope{Principals: []string{"arn:aws:iam::111122223333:user/dup-user"}}, 1},
	{incident.Scope{Principals: []string{"arn:aws:iam::111122223333:user/first"}}, 0},
	{incident.Scope{AccessKeys: []string{"AKIABADCANDIDATE0001"}}, 0},
	{incident.Scope{UserNames: []string{"bad\uFFFDname"}}, 1},
	{incident.Scope{UserNames: []string{"tab\tname"}}, 1},
	{incident.Scope{Instances: []string{"i-0feed0000000000001"}}, 0},
	{incident.Scope{RemoteIPs: []string{"203.0.113.9"}}, 0},
	{incident.Scope{AccessKeys: []string{"AKIAUSERAGENTONLY001"}}, 0},
	{incident.Scope{ENIs: []string{"eni-0e5c00000000000e1"}}, 1},
	{incident.Scope{Functions: []string{"arn:aws:lambda:us-east-1:111122223333:function:esc-fn"}}, 1},
	// A role ARN with spaces around it: the Matcher trims the ARN, not the
	// role name it takes from it.
	{incident.Scope{Principals: []string{" arn:aws:iam::111122223333:role/EscRole "}, UserNames: []string{"  "}}, 0},
}

// corpus is every testdata record and the edge records, as one log file.
func corpus(t *testing.T) []byte {
	t.Helper()
	var rs []string
	for _, name := range []string{steal, userData, leaveOrg, launch,
		"stratus-red-team/aws.initial-access.console-login-without-mfa.json",
		"stratus-red-team/aws.persistence.iam-create-admin-user.json"} {
		for _, r := range records(t, name) {
			rs = append(rs, string(r))
		}
	}
	rs = append(rs, string(bytes.TrimSpace(read(t, "opensearch-catalog/cloudtrail_raw-sample_masked.json"))))
	// The delivered log file: its records as they are, not re-encoded.
	err := readRaw(gunzip(t, read(t, gzLog)), func(_ int, raw []byte) error {
		rs = append(rs, string(raw))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs = append(rs, edgeRecords...)
	return []byte(`{"Records":[` + strings.Join(rs, ",\n") + "]}")
}

func gunzip(t *testing.T, b []byte) io.Reader {
	r, err := s3logs.Decompressed(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// extracted is what an extract with decode and m's Match keeps of file.
type extracted struct {
	kept    []string
	records int // emitted, as s3logs.Stats.Records counts
	decoded int
	bad     []string
	err     string
}

func extractWith(t *testing.T, decode s3logs.Decoder, m *Matcher, file []byte) extracted {
	var x extracted
	err := decode(bytes.NewReader(file), func(r s3logs.Record) error {
		x.records++
		e, ok := r.Value.(*Event)
		if !ok {
			if r.Value != nil || !r.Time.IsZero() {
				t.Fatalf("record not decoded but given a value %v or time %v", r.Value, r.Time)
			}
			return nil
		}
		x.decoded++
		if m.Match(e) {
			x.kept = append(x.kept, string(e.Raw))
		}
		return nil
	}, func(err error) { x.bad = append(x.bad, err.Error()) })
	if err != nil {
		x.err = err.Error()
	}
	return x
}

var (
	instanceRe = regexp.MustCompile(`\bi-[0-9a-fA-F]{8,17}\b`)
	eniRe      = regexp.MustCompile(`\beni-[0-9a-fA-F]{8,17}\b`)
	bucketRe   = regexp.MustCompile(`"bucketName":\s*"([^"\\]+)"`)
	tableRe    = regexp.MustCompile(`"tableName":\s*"([^"\\]+)"`)
)

// realScopes are one scope per value the corpus's records carry that a
// scope could name, and a few values just off them.
func realScopes(t *testing.T, file []byte) []incident.Scope {
	seen := map[string]bool{}
	var out []incident.Scope
	add := func(sc incident.Scope) {
		k := fmt.Sprint(sc)
		if !seen[k] {
			seen[k] = true
			out = append(out, sc)
		}
	}
	one := func(v string, sc func(string) incident.Scope) {
		if v != "" {
			add(sc(v))
		}
	}
	// An ID and its prefix, which must not match as a token.
	id := func(v string, sc func(string) incident.Scope) {
		one(v, sc)
		one(v[:len(v)-1], sc)
	}
	keys := func(v string) incident.Scope { return incident.Scope{AccessKeys: []string{v}} }
	principals := func(v string) incident.Scope { return incident.Scope{Principals: []string{v}} }
	ids := func(v string) incident.Scope { return incident.Scope{PrincipalIDs: []string{v}} }
	users := func(v string) incident.Scope { return incident.Scope{UserNames: []string{v}} }
	roles := func(v string) incident.Scope { return incident.Scope{RoleNames: []string{v}} }
	instances := func(v string) incident.Scope { return incident.Scope{Instances: []string{v}} }
	ips := func(v string) incident.Scope { return incident.Scope{RemoteIPs: []string{v}} }
	err := Read(bytes.NewReader(file), func(e *Event) error {
		u := &e.UserIdentity
		one(u.AccessKeyID, keys)
		one(u.ARN, principals)
		one(u.PrincipalID, ids)
		one(u.UserName, users)
		if acct, role, session := assumedRole(u.ARN); role != "" {
			one("arn:aws:iam::"+acct+":role/"+role, principals)
			one("arn:aws:iam::"+acct+":role/a/path/"+role, principals)
			one(role, roles)
			one(session, instances)
		}
		if sc := u.SessionContext; sc != nil {
			one(sc.SessionIssuer.ARN, principals)
			one(sc.SessionIssuer.PrincipalID, ids)
			one(sc.SessionIssuer.UserName, roles)
		}
		one(e.SourceIPAddress, ips)
		for _, r := range e.Resources {
			one(r.ARN, func(v string) incident.Scope { return incident.Scope{Functions: []string{v}} })
			one(r.ARN, func(v string) incident.Scope { return incident.Scope{Clusters: []string{v}} })
		}
		for _, v := range instanceRe.FindAllString(string(e.Raw), -1) {
			id(v, instances)
		}
		for _, v := range eniRe.FindAllString(string(e.Raw), -1) {
			id(v, func(v string) incident.Scope { return incident.Scope{ENIs: []string{v}} })
		}
		for _, m := range bucketRe.FindAllStringSubmatch(string(e.Raw), -1) {
			one(m[1], func(v string) incident.Scope { return incident.Scope{Buckets: []string{v}} })
		}
		for _, m := range tableRe.FindAllStringSubmatch(string(e.Raw), -1) {
			one(m[1], func(v string) incident.Scope { return incident.Scope{Tables: []string{v}} })
		}
		return nil
	}, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecodeForKeepsWhatDecodeKeeps: for every value of every record in
// testdata (and the edge cases), the extract through DecodeFor keeps the
// same records as through Decode, reads as many, and reports only
// malformed records Decode reports.
func TestDecodeForKeepsWhatDecodeKeeps(t *testing.T) {
	file := corpus(t)
	scopes := realScopes(t, file)
	for _, es := range edgeScopes {
		scopes = append(scopes, es.scope)
		m := NewMatcher(es.scope)
		n := 0
		for _, r := range edgeRecords {
			if e, err := Parse([]byte(r)); err == nil && m.Match(e) {
				n++
			}
		}
		if n != es.want {
			t.Errorf("edge scope %+v: Decode keeps %d edge records, want %d", es.scope, n, es.want)
		}
	}
	if len(scopes) < 200 {
		t.Fatalf("only %d scopes", len(scopes))
	}
	// Scopes of several values at once.
	for i := 0; i+3 < len(scopes); i += 7 {
		a, b, c := scopes[i], scopes[i+1], scopes[i+3]
		add := func(dst *[]string, lists ...[]string) {
			for _, l := range lists {
				*dst = append(*dst, l...)
			}
		}
		var sc incident.Scope
		add(&sc.AccessKeys, a.AccessKeys, b.AccessKeys, c.AccessKeys)
		add(&sc.Principals, a.Principals, b.Principals, c.Principals)
		add(&sc.PrincipalIDs, a.PrincipalIDs, b.PrincipalIDs, c.PrincipalIDs)
		add(&sc.UserNames, a.UserNames, b.UserNames, c.UserNames)
		add(&sc.RoleNames, a.RoleNames, b.RoleNames, c.RoleNames)
		add(&sc.Instances, a.Instances, b.Instances, c.Instances)
		add(&sc.RemoteIPs, a.RemoteIPs, b.RemoteIPs, c.RemoteIPs)
		add(&sc.Functions, a.Functions, b.Functions, c.Functions)
		add(&sc.Buckets, a.Buckets, b.Buckets, c.Buckets)
		scopes = append(scopes, sc)
	}
	scopes = append(scopes, incident.Scope{AccountID: "017622104382"}) // names nothing
	// Decode's extract, once: the Matcher then runs over its events.
	var all extracted
	var events []*Event
	if err := Decode(bytes.NewReader(file), func(r s3logs.Record) error {
		all.records++
		events = append(events, r.Value.(*Event))
		return nil
	}, func(err error) { all.bad = append(all.bad, err.Error()) }); err != nil {
		t.Fatal(err)
	}
	var total, decoded, kept int
	for _, sc := range scopes {
		m := NewMatcher(sc)
		slow := all
		slow.kept = nil
		for _, e := range events {
			if m.Match(e) {
				slow.kept = append(slow.kept, string(e.Raw))
			}
		}
		fast := extractWith(t, DecodeFor(m), m, file)
		if strings.Join(fast.kept, "\n") != strings.Join(slow.kept, "\n") {
			t.Errorf("scope %+v: DecodeFor kept %d records, Decode %d:\n%s\nwant\n%s", sc, len(fast.kept), len(slow.kept),
				strings.Join(fast.kept, "\n"), strings.Join(slow.kept, "\n"))
		}
		if fast.records+len(fast.bad) != slow.records+len(slow.bad) || fast.err != slow.err {
			t.Errorf("scope %+v: DecodeFor read %d + %d bad (%q), Decode %d + %d bad (%q)", sc,
				fast.records, len(fast.bad), fast.err, slow.records, len(slow.bad), slow.err)
		}
		for _, b := range fast.bad {
			if !contains(slow.bad, b) {
				t.Errorf("scope %+v: DecodeFor reported %s, Decode did not", sc, b)
			}
		}
		total += fast.records
		decoded += fast.decoded
		kept += len(fast.kept)
	}
	t.Logf("%d scopes: %d records read, %d decoded, %d kept", len(scopes), total, decoded, kept)
	if kept == 0 || decoded > total/4 {
		t.Errorf("DecodeFor decoded %d of %d records (%d kept): it does not filter", decoded, total, kept)
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func TestDecodeForMalformed(t *testing.T) {
	// A record with a field of the wrong type, no token and a plain
	// eventTime: Decode reports it, DecodeFor only counts it.
	wrongType := `{"eventTime":"2024-01-01T00:00:12Z","eventID":"e15","eventName":5}`
	rs := append(append([]string{`"not an object"`}, edgeRecords...), wrongType)
	file := []byte(`{"Records":[` + strings.Join(rs, ",") + `]}`)
	m := NewMatcher(incident.Scope{AccessKeys: []string{"AKIABADCANDIDATE0001"}})
	x := extractWith(t, DecodeFor(m), m, file)
	// Records that are not objects or have no usable eventTime are
	// decoded, so reported, token or not.
	want := []string{"record 1: record is not a JSON object", "record 10: record e9: no eventTime", "record 11: record e10: no eventTime"}
	if len(x.bad) != len(want) || x.records != len(rs)-len(want) || x.decoded != 5 { // the records with \u or \/ escapes
		t.Fatalf("bad %q, %d records, %d decoded", x.bad, x.records, x.decoded)
	}
	for i, w := range want {
		if !strings.HasPrefix(x.bad[i], w) {
			t.Errorf("bad %q, want %q", x.bad[i], w)
		}
	}
	if y := extractWith(t, Decode, m, file); len(y.bad) != len(want)+1 {
		t.Errorf("Decode reported %q", y.bad)
	}
	// A file that stops being JSON is an error still.
	x = extractWith(t, DecodeFor(m), m, file[:len(file)-40])
	if x.err == "" {
		t.Error("truncated file: no error")
	}
}

func TestPlainlyTimed(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{`{"eventTime":"2024-01-01T00:00:00Z"}`, true},
		{`{"a":1, "eventTime" :  "2024-01-01T00:00:00.123+02:00"}`, true},
		{`{"eventTime":"2024-01-01 00:00"}`, false},
		{`{"eventTime":""}`, false},
		{`{"eventTime":null}`, false},
		{`{"eventTime":"2024-01-01T00:00:0\u0030Z"}`, false},
		{`{"eventtime":"2024-01-01T00:00:00Z"}`, false},
		{`{}`, false},
		{`["eventTime","2024-01-01T00:00:00Z"]`, false},
	} {
		if got := plainlyTimed([]byte(tc.raw)); got != tc.want {
			t.Errorf("plainlyTimed(%s) = %v", tc.raw, got)
		}
	}
}

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		scope incident.Scope
		want  []string
		ok    bool
	}{
		{incident.Scope{AccountID: "1"}, nil, true},
		{incident.Scope{Principals: []string{"arn:aws:iam::1:role/a/path/R1"}, RoleNames: []string{"R1"}}, []string{"R1"}, true},
		{incident.Scope{Principals: []string{"arn:aws:iam::1:user/u"}, AccessKeys: []string{"AKIA1"}, RemoteIPs: []string{"10.0.0.1"}},
			[]string{"AKIA1", "10.0.0.1", "arn:aws:iam::1:user/u"}, true},
		{incident.Scope{Functions: []string{"arn:aws:lambda:r:1:function:fn"}}, []string{"fn"}, true},
		{incident.Scope{UserNames: []string{`a"b`}}, nil, false},
		{incident.Scope{UserNames: []string{`a\b`}}, nil, false},
		{incident.Scope{UserNames: []string{"a\nb"}}, nil, false},
		{incident.Scope{UserNames: []string{"a\uFFFDb"}}, nil, false},
		{incident.Scope{Principals: []string{"arn:aws:iam::1:role/path/"}}, nil, false},
	} {
		tokens, ok := NewMatcher(tc.scope).Tokens()
		var got []string
		for _, tk := range tokens {
			got = append(got, string(tk))
		}
		sort.Strings(got)
		sort.Strings(tc.want)
		if ok != tc.ok || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%+v: tokens %q %v, want %q %v", tc.scope, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCandidate(t *testing.T) {
	tokens := []token{newToken([]byte("AKIA1")), newToken([]byte("arn:aws:iam::1:user/u"))}
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{`{"k":"AKIA1"}`, true},
		{`{"k":"AKIA2"}`, false},
		{`AKIA1`, true},
		{`xAKIA`, false},
		{`{"k":"arn:aws:iam::1:user/v","l":"arn:aws:iam::1:user/u"}`, true},
		{`{"k":"arn:aws:iam::1:user/v","l":"arn:aws:iam::1:user/"}`, false},
		{`{"k":"\u0041KIA1"}`, true},
		{`{"k":"a\/b"}`, true},
		{`{"k":"C:\\users"}`, false},
		{`{"k":"C:\\\u0041"}`, true},
		{`{"k":"\"q\" \\\\u"}`, false},
		{`{"k":"x\\"}`, false},
	} {
		if got := candidate([]byte(tc.raw), tokens); got != tc.want {
			t.Errorf("candidate(%s) = %v", tc.raw, got)
		}
	}
}
