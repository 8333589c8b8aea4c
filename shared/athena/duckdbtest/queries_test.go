//go:build cgo

package duckdbtest

import (
	"bytes"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/custody-ir/custody/shared/athena"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/queries.txt")

// The README's example case and run: the views below put every extract
// in this one partition.
const (
	exampleCase = "gd-16afba5c5c43e07c9e3e5e2e544e95df"
	exampleRun  = "r20240802T083112824Z"
)

// extracts are the files each table is read from here, the same ones
// shared/athena's column test holds the columns to.
var extracts = map[string][]string{
	"custody_cloudtrail": {
		"../../timeline/testdata/extracts/cloudtrail_stratus.derived.jsonl",
		"../../timeline/testdata/extracts/cloudtrail_opensearch.derived.jsonl",
		"../../timeline/testdata/extracts/cloudtrail_timesketch_edge.derived.jsonl",
	},
	"custody_vpcflow":  {"../testdata/extracts/vpcflow.jsonl"},
	"custody_s3access": {"../testdata/extracts/s3access.jsonl"},
	"custody_timeline": {"../../timeline/testdata/golden/timeline.jsonl"},
}

// duckType is Hive type t in DuckDB's spelling.
func duckType(t athena.Type) string {
	switch t.Kind {
	case "string":
		return "VARCHAR"
	case "bigint":
		return "BIGINT"
	case "int":
		return "INTEGER"
	case "boolean":
		return "BOOLEAN"
	case "double":
		return "DOUBLE"
	case "array":
		return duckType(*t.Elem) + "[]"
	case "map":
		return "MAP(" + duckType(*t.Key) + ", " + duckType(*t.Elem) + ")"
	case "struct":
		var fs []string
		for _, f := range t.Fields {
			fs = append(fs, `"`+f.Name+`" `+duckType(f.Type))
		}
		return "STRUCT(" + strings.Join(fs, ", ") + ")"
	}
	panic("no DuckDB type for " + t.Kind)
}

// open is DuckDB with one view per Glue table, custody.<table>: read_json
// with exactly the table's columns and types (a field outside them is not
// there to query, as in Athena), plus the partition keys.
func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE SCHEMA " + athena.Database); err != nil {
		t.Fatal(err)
	}
	for _, tb := range athena.Tables {
		var cols, files []string
		for _, c := range tb.Columns {
			ty, err := athena.ParseType(c.Type)
			if err != nil {
				t.Fatal(err)
			}
			cols = append(cols, fmt.Sprintf("'%s': '%s'", c.Name, strings.ReplaceAll(duckType(ty), "'", "''")))
		}
		for _, f := range extracts[tb.Name] {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, "'"+abs+"'")
		}
		q := fmt.Sprintf("CREATE VIEW %s.%s AS SELECT *, '%s' AS case_id, '%s' AS run_id FROM read_json([%s], format = 'newline_delimited', columns = {%s})",
			athena.Database, tb.Name, exampleCase, exampleRun, strings.Join(files, ", "), strings.Join(cols, ", "))
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v\n%s", tb.Name, err, q)
		}
	}
	return db
}

// readmeQueries are the sql blocks of the README's Athena section.
func readmeQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Querying a case with Athena\n")
	if !ok {
		t.Fatal("README has no section \"Querying a case with Athena\"")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	if len(out) == 0 {
		t.Fatal("no sql blocks in the README's Athena section")
	}
	return out
}

// partitionGiven: Athena refuses a query on an injected partition key
// unless its WHERE has a static equality on it (CONSTRAINT_VIOLATION,
// https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html);
// DuckDB would not, so this checks it.
var partitionGiven = []*regexp.Regexp{
	regexp.MustCompile(`case_id\s*=\s*'` + exampleCase + `'`),
	regexp.MustCompile(`run_id\s*=\s*'` + exampleRun + `'`),
}

// TestREADMEQueries runs every README example on the extracts and keeps
// what each returns in testdata/golden/queries.txt: each must parse, name
// only the tables' columns, give both partition keys, and return rows.
func TestREADMEQueries(t *testing.T) {
	db := open(t)
	var got bytes.Buffer
	for i, q := range readmeQueries(t) {
		for _, re := range partitionGiven {
			if !re.MatchString(q) {
				t.Errorf("query %d does not give %s: Athena would refuse it\n%s", i+1, re, q)
			}
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Errorf("query %d: %v\n%s", i+1, err, q)
			continue
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&got, "-- query %d\n%s\n", i+1, strings.Join(cols, "\t"))
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			cells := make([]string, len(vals))
			for j, v := range vals {
				cells[j] = fmt.Sprint(v)
			}
			fmt.Fprintln(&got, strings.Join(cells, "\t"))
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("query %d: %v", i+1, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("query %d returns no rows on the extracts: it shows nothing\n%s", i+1, q)
		}
	}
	const golden = "testdata/golden/queries.txt"
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("results differ from %s (go test ./shared/athena/duckdbtest/ -update after an intended change):\n%s", golden, got.String())
	}
}

// TestViewsReadEveryLine: read_json with the tables' types reads every line
// of every extract (a type that does not fit fails here, not in Athena).
func TestViewsReadEveryLine(t *testing.T) {
	db := open(t)
	for _, tb := range athena.Tables {
		lines := 0
		for _, f := range extracts[tb.Name] {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines += bytes.Count(bytes.TrimSpace(b), []byte("\n")) + 1
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + athena.Database + "." + tb.Name).Scan(&n); err != nil {
			t.Fatalf("%s: %v", tb.Name, err)
		}
		if n != lines {
			t.Errorf("%s: %d rows, %d lines", tb.Name, n, lines)
		}
	}
}
