// Package duckdbtest runs the README's Athena example queries over case
// extracts with DuckDB. It is a package of its own so that only its tests
// pay DuckDB's cgo build. Its tests need cgo (DuckDB is C++); built
// without it, the package has none.
package duckdbtest
