package scenario

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad loads a seed folder whose scenario.json is any bytes. A refusal
// is an error (never a panic); a loaded scenario is valid, and written
// back as JSON it loads as a scenario that writes the same JSON.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{"testdata/seed/scenario.json", "../../cmd/custody/scenarios/demo/scenario.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"instances":[{"name":"a"},{"name":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sc, err := Load(dir)
		if err != nil {
			if sc != nil {
				t.Fatal("a refused scenario was returned")
			}
			return
		}
		if err := sc.Validate(); err != nil {
			t.Fatalf("a loaded scenario does not validate: %v", err)
		}
		out, err := json.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, FileName), out, 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatalf("written back as JSON it is refused: %v\n%s", err, out)
		}
		// Raw JSON members (items, findings) come back compacted: compare
		// the scenarios as they write.
		if again, _ := json.Marshal(back); !bytes.Equal(again, out) {
			t.Fatalf("written back it loads as another scenario:\n%s\nwas\n%s", again, out)
		}
	})
}

// inWeekday reports whether b[i] is in a weekday name followed by ", ".
func inWeekday(b []byte, i int) bool {
	for s := max(0, i-2); s <= i && s+5 <= len(b); s++ {
		switch string(b[s : s+3]) {
		case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
			if string(b[s+3:s+5]) == ", " {
				return true
			}
		}
	}
	return false
}

// FuzzTimeShift shifts the times of any seeded file by a number of days
// and back: the file is unchanged (but for a wrong weekday, which the
// shift writes right), and a file with no time near the anchor too.
func FuzzTimeShift(f *testing.F) {
	for _, p := range []string{"testdata/seed/logs/app/web.jsonl", "testdata/seed/scenario.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int16(1))
	}
	f.Add([]byte("2024-08-02 20240802T0831 2024/08/02 year=2024/month=08/day=02 02/Aug/2024:08:31:12 Aug 2, 2024 Fri, 02 Aug 2024 1722587472 1722587472824"), int16(-366))
	anchor := time.Date(2024, 8, 2, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte, days int16) {
		d := int(days) % 400
		there := Shifter{Days: d, Anchor: anchor, WithinDays: 60}
		back := Shifter{Days: -d, Anchor: anchor.AddDate(0, 0, d), WithinDays: 60}
		shifted := there.Bytes(b)
		got := back.Bytes(shifted)
		// The shift writes the weekday of the date it writes: a file whose
		// weekday was wrong ("Fri, 10 Aug 2024") comes back right.
		if len(got) != len(b) {
			t.Fatalf("shifted %d days and back:\n%q\nwas\n%q\n(shifted: %q)", d, got, b, shifted)
		}
		for i := range b {
			if got[i] != b[i] && !inWeekday(b, i) {
				t.Fatalf("shifted %d days and back, byte %d differs:\n%q\nwas\n%q\n(shifted: %q)", d, i, got, b, shifted)
			}
		}
	})
}
