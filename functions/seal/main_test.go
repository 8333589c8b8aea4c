package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/emulator"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// fixedNow is Triage's clock in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// corpus is the real findings copied into the project (see
// shared/finding/testdata/SOURCES.md for their origin and license).
const corpus = "../../shared/finding/testdata/corpus"

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
