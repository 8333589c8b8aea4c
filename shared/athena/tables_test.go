package athena

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/logs/s3access"
)

// extracts are, per table, the files of this repository that hold lines as
// the writers write them: the collectors' own lines (testdata/extracts,
// written by functions/vpcflow's and functions/s3access's
// TestAthenaExtractGolden), CloudTrail records as the timeline's corpus
// keeps them, and the timeline's golden output.
var extracts = map[string][]string{
	"custody_cloudtrail": {
		"../timeline/testdata/extracts/cloudtrail_stratus.derived.jsonl",
		"../timeline/testdata/extracts/cloudtrail_opensearch.derived.jsonl",
		"../timeline/testdata/extracts/cloudtrail_timesketch_edge.derived.jsonl",
	},
	"custody_vpcflow":  {"testdata/extracts/vpcflow.jsonl"},
	"custody_s3access": {"testdata/extracts/s3access.jsonl"},
	"custody_timeline": {"../timeline/testdata/golden/timeline.jsonl"},
}

// readLines decodes every line of a JSON Lines file, numbers kept exact.
func readLines(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, m)
	}
	return out
}

// fits reports whether JSON value v reads as Hive type ty: a string
// column takes any value (a nested object as its JSON text), numbers must
// be integers, structs objects whose present fields fit, arrays arrays.
func fits(ty Type, v any) bool {
	if v == nil {
		return true
	}
	switch ty.Kind {
	case "string":
		return true
	case "bigint", "int":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "struct":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range ty.Fields {
			if !fits(f.Type, m[f.Name]) {
				return false
			}
		}
		return true
	case "array":
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if !fits(*ty.Elem, e) {
				return false
			}
		}
		return true
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, e := range m {
			// A map<string,string> value: text or a number or a bool.
			if _, nested := e.(map[string]any); nested {
				return false
			}
		}
		return true
	}
	return false
}

// seen records, for every path of a type (userIdentity.sessionContext...),
// whether some record gives it a value.
func seen(prefix string, ty Type, v any, got map[string]bool) {
	if v == nil {
		return
	}
	got[prefix] = true
	switch ty.Kind {
	case "struct":
		if m, ok := v.(map[string]any); ok {
			for _, f := range ty.Fields {
				seen(prefix+"."+f.Name, f.Type, m[f.Name], got)
			}
		}
	case "array":
		if a, ok := v.([]any); ok {
			for _, e := range a {
				seen(prefix+"[]", *ty.Elem, e, got)
			}
		}
	}
}

func paths(prefix string, ty Type) []string {
	out := []string{prefix}
	switch ty.Kind {
	case "struct":
		for _, f := range ty.Fields {
			out = append(out, paths(prefix+"."+f.Name, f.Type)...)
		}
	case "array":
		out = append(out, paths(prefix+"[]", *ty.Elem)...)
	}
	return out
}

// TestColumnsAreTheExtractsFields holds every table to its extracts: each
// column (and each field of a struct column, at every depth) is given a
// value by at least one line, with the JSON spelling the column names, and
// every value a line gives fits the column's type. The emulator's Glue
// takes any column, so this is the check that a column means something.
func TestColumnsAreTheExtractsFields(t *testing.T) {
	for _, tb := range Tables {
		t.Run(tb.Name, func(t *testing.T) {
			files := extracts[tb.Name]
			if len(files) == 0 {
				t.Fatal("no extracts to check the table against")
			}
			got := map[string]bool{}
			for _, name := range files {
				for i, line := range readLines(t, name) {
					for _, c := range tb.Columns {
						ty, err := ParseType(c.Type)
						if err != nil {
							t.Fatal(err)
						}
						if !fits(ty, line[c.Name]) {
							t.Errorf("%s line %d: %s = %v does not read as %s", name, i+1, c.Name, line[c.Name], c.Type)
						}
						seen(c.Name, ty, line[c.Name], got)
					}
				}
			}
			for _, c := range tb.Columns {
				ty, _ := ParseType(c.Type)
				for _, p := range paths(c.Name, ty) {
					if !got[p] && !(tb.Name == "custody_s3access" && unsampled[p] && s3accessTags[p]) {
						t.Errorf("column %s: no line of %s has %s", c.Name, strings.Join(files, ", "), p)
					}
				}
			}
		})
	}
}

// unsampled are the S3 access log fields no line of the corpus sets (each
// is "-" there); they are held to the collector's record instead: its
// JSON field names (s3accessTags).
var unsampled = map[string]bool{"referer": true, "versionId": true}

// s3accessTags are the JSON names s3access.Record writes.
var s3accessTags = func() map[string]bool {
	out := map[string]bool{}
	rt := reflect.TypeFor[s3access.Record]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}()

// TestTableShapes: names Glue and Athena accept (lower case, no two the
// same, not a partition key), and types that parse.
func TestTableShapes(t *testing.T) {
	dirs := map[string]bool{}
	for _, tb := range Tables {
		if tb.Name != "custody_"+tb.Dir || dirs[tb.Dir] {
			t.Errorf("table %s: name must be custody_<dir>, dir unique (%s)", tb.Name, tb.Dir)
		}
		dirs[tb.Dir] = true
		names := map[string]bool{}
		for _, c := range append(append([]Column{}, tb.Columns...), Partitions...) {
			if names[c.ColumnName()] {
				t.Errorf("table %s: column %s twice (Glue names are lower case)", tb.Name, c.ColumnName())
			}
			names[c.ColumnName()] = true
			if _, err := ParseType(c.Type); err != nil {
				t.Errorf("table %s: %v", tb.Name, err)
			}
		}
	}
}

func TestParseTypeRefuses(t *testing.T) {
	for _, s := range []string{"strin", "struct<a:string", "array<>", "map<string>", "struct<:string>", "string>", "struct<a:garbage>"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("ParseType(%q) accepted", s)
		}
	}
}
