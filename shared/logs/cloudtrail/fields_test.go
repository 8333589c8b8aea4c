package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameAsUnmarshal checks that Parse gives what json.Unmarshal gives.
func sameAsUnmarshal(t *testing.T, raw []byte) {
	t.Helper()
	got, gerr := Parse(raw)
	want, werr := parseSlow(bytes.TrimSpace(raw))
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error() && len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '{') {
		t.Fatalf("%s:\nerr %v\nwant %v", raw, gerr, werr)
	}
	if gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ngot  %+v\nwant %+v", raw, got, want)
	}
}

func TestParseFastIsUnmarshal(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.json*")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		var recs []json.RawMessage
		if json.Unmarshal(b, &recs) != nil {
			var file struct{ Records []json.RawMessage }
			json.Unmarshal(b, &file)
			recs = file.Records
		}
		for _, r := range recs {
			sameAsUnmarshal(t, r)
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d records", n)
	}
	for _, r := range []string{
		`{"eventTime":"2024-08-02T08:23:24Z","eventID":"a\"b","userAgent":"caf\u00e9 \/ x"}`,
		`{"EventTime":"2024-08-02T08:23:24Z","EVENTNAME":"X","useridentity":{"ARN":"arn:aws:iam::1:user/u","SessionContext":null}}`,
		`{"eventTime":"2024-08-02T08:23:24Z","eventName":"a","eventname":"b"}`,
		`{"eventTime":"2024-08-02T08:23:24Z","eventName":1}`,
		`{"eventTime":"2024-08-02T08:23:24Z","userIdentity":"x"}`,
		`{"eventTime":"2024-08-02T08:23:24Z","userIdentity":null,"resources":null,"readOnly":null,"requestParameters":null}`,
		`{"eventTime":"2024-08-02T08:23:24Z","resources":[],"readOnly":false,"responseElements":{"a":[1,2,{"b":"}"}]}}`,
		`{"eventTime":"2024-08-02T08:23:24Z","resources":[null,{"ARN":"a","arn":"b"}]}`,
		`{"eventTime":"2024-08-02T08:23:24Z","resources":[{"ARN":"a","accountId":"1","type":"t","x":[{}]},{"ARN":null}]}`,
		`{"eventTime":"2024-08-02T08:23:24Z","readOnly":"true"}`,
		`{"eventTime":"2024-08-02T08:23:24Z","userIdentity":{"sessionContext":{"attributes":{"x":"y"},"sessionIssuer":{"type":"Role","userName":"r","arn":"arn:aws:iam::1:role/r"}}}}`,
		`{"eventTime":"2024-08-02T08:23:24Z","userIdentity":{"sessionContext":{"sessionIssuer":{"userName":1}}}}`,
		"{\"eventTime\":\"2024-08-02T08:23:24Z\",\"userAgent\":\"bad \xff utf8\",\"k\xc3\xa9\":1}",
		"{\"eventTime\":\"2024-08-02T08:23:24Z\",\"userAgent\":\"ok \xc3\xa9\"}",
		`{"eventTime":"2024-08-02T08:23:24Z","x":-1.5e+3,"y":true,"z":[null,false]}`,
		`{"eventTime":"2024-08-02T08:23:24Z","eventTime":"2024-08-02T08:23:25Z"}`,
		`{"eventTime":"yesterday"}`, `{"eventID":"x"}`, `{"eventTime":null}`, `{}`,
		`{"eventTime":"2024-08-02T08:23:24Z",}`, `{"eventTime":"2024-08-02T08:23:24Z"`, `{"a":tru}`,
		` {"eventTime":"2024-08-02T08:23:24Z"} `,
	} {
		sameAsUnmarshal(t, []byte(r))
	}
}

func TestReadFileShapesAndErrors(t *testing.T) {
	rec := `{"eventTime":"2024-08-02T08:23:24Z","eventID":"1"}`
	for _, tc := range []struct {
		body string
		n    int
		err  bool
	}{
		{`{"Records":[` + rec + `,` + rec + `]}`, 2, false},
		{` [ ` + rec + ` , ` + rec + ` ] `, 2, false},
		{`{"x":{"Records":[1]},"Records":[],"y":[1,"]"]}`, 0, false},
		{`{"Records":[` + rec + `,]}`, 1, true},
		{`{"Records":[` + rec + ` ` + rec + `]}`, 1, true},
		{`{"Records":[` + rec, 1, true},
		{`{"Records":[` + rec + `]`, 1, true},
		{`{"Records":"x"}`, 0, true},
		{`[]`, 0, false},
		{`"x"`, 0, true},
		{`-12`, 0, true},
		{`   `, 0, true},
	} {
		var got int
		err := Read(strings.NewReader(tc.body), func(*Event) error { got++; return nil }, func(error) {})
		if got != tc.n || (err != nil) != tc.err {
			t.Errorf("%s: %d records, %v", tc.body, got, err)
		}
	}
	// A read error is returned as it is, after the records before it.
	err := Read(io.MultiReader(strings.NewReader(`[`+rec+`,`), &failing{}), func(*Event) error { return nil }, func(error) {})
	if !errors.Is(err, errFailing) {
		t.Errorf("err = %v", err)
	}
}

var errFailing = errors.New("failing")

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errFailing }

// A record split across reads of any size is read whole.
func TestReadSmallReads(t *testing.T) {
	b, err := os.ReadFile("testdata/stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []*Event
	if err := Read(bytes.NewReader(b), func(e *Event) error { want = append(want, e); return nil }, func(error) {}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 7, 4096} {
		var got []*Event
		err := Read(&chunked{b: b, n: size}, func(e *Event) error { got = append(got, e); return nil }, func(error) {})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("reads of %d: %d records, %v", size, len(got), err)
		}
	}
}

type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"eventTime":"2024-08-02T08:23:24Z","userIdentity":{"arn":"a"},"resources":[{"ARN":"x"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) { sameAsUnmarshal(t, raw) })
}
