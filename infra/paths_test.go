package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sealState is the state that seals a run; duplicateState the one way to
// succeed without it (Triage found the run already collected: another
// execution seals it).
const (
	sealState      = "Seal"
	duplicateState = "Duplicate"
)

// unsealedPaths walks every path of an ASL definition from StartAt — each
// Next, Default, Choice and Catch, into every Map's item processor — and
// returns the paths that end without having passed through Seal and
// without failing the execution: a Succeed or End state reached with the
// run unsealed, other than Duplicate. It also reports dangling targets.
func unsealedPaths(def map[string]any) []string {
	states, _ := def["States"].(map[string]any)
	start, _ := def["StartAt"].(string)
	var bad []string
	type visit struct {
		state  string
		sealed bool
	}
	seen := map[visit]bool{}
	var walk func(name string, sealed bool, trail []string)
	walk = func(name string, sealed bool, trail []string) {
		trail = append(slices.Clone(trail), name)
		st, ok := states[name].(map[string]any)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no such state", strings.Join(trail, " -> ")))
			return
		}
		if seen[visit{name, sealed}] {
			return
		}
		seen[visit{name, sealed}] = true
		if name == sealState {
			sealed = true
		}
		if st["Type"] == "Map" {
			// The items' paths end back in the Map; they must not dangle.
			if proc, ok := st["ItemProcessor"].(map[string]any); ok {
				for _, p := range processorProblems(proc) {
					bad = append(bad, fmt.Sprintf("%s: %s", strings.Join(trail, " -> "), p))
				}
			}
		}
		for _, c := range list(st["Catch"]) {
			if next, ok := c.(map[string]any)["Next"].(string); ok {
				// A caught failure of Seal has not sealed the run.
				walk(next, sealed && name != sealState, trail)
			}
		}
		switch st["Type"] {
		case "Fail":
			return // the execution fails: said, not silent
		case "Succeed":
			if !sealed && name != duplicateState {
				bad = append(bad, strings.Join(trail, " -> ")+": succeeds unsealed")
			}
			return
		case "Choice":
			for _, c := range list(st["Choices"]) {
				walk(c.(map[string]any)["Next"].(string), sealed, trail)
			}
			// Without a Default, an input no choice matches fails the
			// execution (States.NoChoiceMatched).
			if d, ok := st["Default"].(string); ok {
				walk(d, sealed, trail)
			}
			return
		}
		if st["End"] == true {
			if !sealed {
				bad = append(bad, strings.Join(trail, " -> ")+": ends unsealed")
			}
			return
		}
		next, ok := st["Next"].(string)
		if !ok {
			bad = append(bad, strings.Join(trail, " -> ")+": neither Next nor End")
			return
		}
		walk(next, sealed, trail)
	}
	walk(start, false, nil)
	return bad
}

// processorProblems checks a Map's item processor: every target exists and
// every state ends or goes on (its ends return to the Map).
func processorProblems(proc map[string]any) []string {
	states, _ := proc["States"].(map[string]any)
	var bad []string
	targets := []string{}
	if s, ok := proc["StartAt"].(string); ok {
		targets = append(targets, s)
	}
	for name, v := range states {
		st := v.(map[string]any)
		for _, c := range list(st["Catch"]) {
			targets = append(targets, c.(map[string]any)["Next"].(string))
		}
		for _, c := range list(st["Choices"]) {
			targets = append(targets, c.(map[string]any)["Next"].(string))
		}
		for _, k := range []string{"Next", "Default"} {
			if n, ok := st[k].(string); ok {
				targets = append(targets, n)
			}
		}
		if st["Type"] == "Map" {
			if inner, ok := st["ItemProcessor"].(map[string]any); ok {
				bad = append(bad, processorProblems(inner)...)
			}
		}
		switch st["Type"] {
		case "Fail", "Succeed", "Choice":
		default:
			if st["End"] != true && st["Next"] == nil {
				bad = append(bad, name+": neither Next nor End")
			}
		}
	}
	for _, tgt := range targets {
		if states[tgt] == nil {
			bad = append(bad, tgt+": no such state")
		}
	}
	return bad
}

func TestStateMachineEveryPathSealsOrFails(t *testing.T) {
	if bad := unsealedPaths(defaultStack(t).definition(t)); len(bad) > 0 {
		t.Errorf("paths that end the execution without Seal and without failing it:\n  %s", strings.Join(bad, "\n  "))
	}
}

// TestUnsealedPathsFindsTheEndsThatLoseARun feeds the walker the shapes
// that lose a run (the caught second pass that ended the execution is the
// first), so its silence on the real definition means something.
func TestUnsealedPathsFindsTheEndsThatLoseARun(t *testing.T) {
	seal := map[string]any{"Type": "Task", "Next": "Sealed", "Catch": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "Next": "SealFailed"}}}
	base := func() map[string]any {
		return map[string]any{
			"Triage":       map[string]any{"Type": "Task", "Next": "Dup?"},
			"Dup?":         map[string]any{"Type": "Choice", "Choices": []any{map[string]any{"Next": "Duplicate"}}, "Default": "Second"},
			"Duplicate":    map[string]any{"Type": "Succeed"},
			"Second":       map[string]any{"Type": "Task", "Next": "Seal", "Catch": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "Next": "SecondFailed"}}},
			"SecondFailed": map[string]any{"Type": "Pass", "Next": "Seal"},
			"Seal":         seal,
			"SealFailed":   map[string]any{"Type": "Fail"},
			"Sealed":       map[string]any{"Type": "Succeed"},
		}
	}
	tests := []struct {
		name string
		edit func(states map[string]any)
		want string // "" for none
	}{
		{"the sealed shape", func(map[string]any) {}, ""},
		{"a caught step whose Pass ends the execution", func(s map[string]any) {
			s["SecondFailed"] = map[string]any{"Type": "Pass", "End": true}
		}, "Second -> SecondFailed: ends unsealed"},
		{"a Seal failure caught into a Succeed", func(s map[string]any) {
			s["SealFailed"] = map[string]any{"Type": "Succeed"}
		}, "Seal -> SealFailed: succeeds unsealed"},
		{"a Choice that skips Seal", func(s map[string]any) {
			s["Dup?"].(map[string]any)["Default"] = "Sealed"
		}, "Dup? -> Sealed: succeeds unsealed"},
		{"a dangling Next", func(s map[string]any) {
			s["Second"].(map[string]any)["Next"] = "Sael"
		}, "Sael: no such state"},
		{"a Map item that dangles", func(s map[string]any) {
			s["Triage"] = map[string]any{"Type": "Map", "Next": "Dup?", "ItemProcessor": map[string]any{
				"StartAt": "Item", "States": map[string]any{"Item": map[string]any{"Type": "Task", "Next": "Gone"}}}}
		}, "Gone: no such state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			states := base()
			tc.edit(states)
			bad := unsealedPaths(map[string]any{"StartAt": "Triage", "States": states})
			joined := strings.Join(bad, "\n")
			switch {
			case tc.want == "" && len(bad) > 0:
				t.Errorf("unsealed paths in a sealed shape: %s", joined)
			case tc.want != "" && !strings.Contains(joined, tc.want):
				t.Errorf("got %q, want a path naming %q", joined, tc.want)
			}
		})
	}
}
