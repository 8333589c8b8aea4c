package s3access

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// fuzzLogs are the real access log files of testdata, as S3 delivers them.
var fuzzLogs = []string{openSearchFile, otelFile}

// FuzzParseLine parses any line: a refusal is a MalformedError; a record
// has a bucket, a UTC time and as many fields as Split finds, and encodes
// as JSON that decodes to the same record.
func FuzzParseLine(f *testing.F) {
	for _, name := range fuzzLogs {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte(`a b [06/Feb/2019:00:00:38 +0000] 1.2.3.4 - X REST.GET.OBJECT k "GET /k HTTP/1.1" 200 - - - - - "-" "agent "quoted" inside"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := Parse(line)
		if err != nil {
			var me *MalformedError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &me) || me.Reason == "" {
				t.Fatalf("refusal %v (%T) is not a MalformedError with a reason", err, err)
			}
			return
		}
		fields, err := Split(line)
		if err != nil || len(fields) != r.Fields || r.Fields < MinFields {
			t.Fatalf("record of %d fields; Split gives %d (%v)", r.Fields, len(fields), err)
		}
		if r.Bucket == "" || r.Time.IsZero() || r.Time.Location().String() != "UTC" {
			t.Fatalf("record without a bucket or a UTC time: %+v", r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json writes each byte that is not UTF-8 as U+FFFD (the
		// copied log object keeps it): compare with r so replaced.
		want := r
		v := reflect.ValueOf(&want).Elem()
		for i := range v.NumField() {
			if fv := v.Field(i); fv.Kind() == reflect.String {
				fv.SetString(string([]rune(fv.String())))
			}
		}
		for i, s := range want.Extra {
			want.Extra[i] = string([]rune(s))
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, want) {
			t.Fatalf("JSON %s decodes to %+v (%v), want %+v", b, back, err, want)
		}
	})
}

// FuzzRead reads any file as an access log: every non-empty line is a
// record or a malformed line, each record is emitted once with its line
// number in order, and a malformed line is named in Problems.
func FuzzRead(f *testing.F) {
	for _, name := range fuzzLogs {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, err := os.ReadFile(pantherFile)
	if err != nil {
		f.Fatal(err)
	}
	var panther []string // the scenario's lines: YAML list items under Logs:
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(l, "  - "); ok {
			panther = append(panther, s)
		}
	}
	f.Add([]byte(strings.Join(panther, "\n")))
	f.Fuzz(func(t *testing.T, file []byte) {
		emitted, last := 0, 0
		st, err := Read(bytes.NewReader(file), func(line int, _ Record) error {
			if line <= last {
				t.Fatalf("line %d emitted after line %d", line, last)
			}
			emitted, last = emitted+1, line
			return nil
		})
		if err != nil {
			return // a line past MaxLine
		}
		if st.Lines != st.Records+st.Malformed || emitted != st.Records {
			t.Fatalf("%d lines, %d records (%d emitted), %d malformed", st.Lines, st.Records, emitted, st.Malformed)
		}
		if want := min(st.Malformed, maxProblems); len(st.Problems) != want {
			t.Fatalf("%d problems named for %d malformed lines", len(st.Problems), st.Malformed)
		}
	})
}
