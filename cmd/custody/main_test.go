package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestHelpNamesEveryCommand: every command run dispatches on (read from
// main.go's own switch) is in custody help, with its flags.
func TestHelpNamesEveryCommand(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, m := range regexp.MustCompile(`(?m)^\tcase ((?:"[a-z-]+"(?:, )?)+):`).FindAllStringSubmatch(string(src), -1) {
		for _, c := range strings.Split(m[1], ", ") {
			if c = strings.Trim(c, `"`); !strings.HasPrefix(c, "-") {
				commands = append(commands, c)
			}
		}
	}
	if len(commands) < 9 {
		t.Fatalf("found %d commands in main.go's switch: %v", len(commands), commands)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("custody help: %d", code)
	}
	for _, c := range commands {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(c) + `( |$)`).MatchString(stdout.String()) {
			t.Errorf("custody help does not list %q", c)
		}
	}
	stdout.Reset()
	if code := run([]string{"nonsense"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "custody help") {
		t.Errorf("an unknown command: %d %q", code, stderr.String())
	}
}
