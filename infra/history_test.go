package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/pivot"
)

// maxHistoryEvents is Step Functions' quota of events in one Standard
// execution's history; an execution that would write more fails.
const maxHistoryEvents = 25000

// Events each state type writes into the execution history, per the
// Step Functions history event types: a Task is Entered, then per attempt
// Scheduled, Started and Succeeded/Failed/TimedOut, then Exited; a Map is
// Entered, Started, Succeeded/Failed and Exited, plus per iteration
// IterationStarted and IterationSucceeded/Failed; Pass, Choice, Wait,
// Succeed and Fail are Entered and Exited (Fail writes less: counted as
// two); the execution itself is Started and Succeeded/Failed.
const (
	eventsTaskFrame    = 2 // TaskStateEntered, TaskStateExited
	eventsPerAttempt   = 3 // Scheduled, Started, Succeeded | Failed | TimedOut
	eventsMapFrame     = 4 // MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
	eventsPerIteration = 2 // MapIterationStarted, MapIterationSucceeded | Failed
	eventsOtherState   = 2 // <Type>StateEntered, <Type>StateExited
	eventsExecution    = 2 // ExecutionStarted, ExecutionSucceeded | Failed
	aslDefaultAttempts = 3 // a Retrier without MaxAttempts retries 3 times
)

// mapItems bounds the items of a Map: Count items that may each take the
// costliest path, or one item per entry of Each, each a binding of state
// paths to the value the item holds there (a plan item's "$.item.collector"),
// which decides the Choices the item meets.
type mapItems struct {
	Count int
	Each  []binding
	// Inner, when set, bounds the Maps inside this one's item processor
	// in place of the outer bounds of the same ItemsPath (a pivot pass
	// fans out to fewer shards than a first pass).
	Inner map[string]mapItems
}

// binding maps a Choice Variable to the string an item holds there.
type binding map[string]string

// historyBound computes the most history events any execution of an ASL
// definition can write: the costliest path from StartAt, through every
// Next, Default, Choice and Catch, where a Task makes every attempt its
// Retriers allow (the sum of their MaxAttempts, plus the first) and a Map
// runs the most items its ItemsPath can hold (items), each along the
// costliest path of its ItemProcessor that its binding allows. It refuses
// what it cannot bound: a loop, a Map whose ItemsPath has no bound, a
// state type it does not know.
func historyBound(def map[string]any, items map[string]mapItems) (int, error) {
	return historyBoundLoops(def, items, nil)
}

// historyBoundLoops is historyBound where loops names each state of a
// bounded loop and how many times at most an execution enters it (the
// pivot loop: custody:pivotDepth passes, which PivotDerive enforces); any
// other loop has no bound.
func historyBoundLoops(def map[string]any, items map[string]mapItems, loops map[string]int) (int, error) {
	events, err := pathBoundLoops(def, items, nil, loops)
	return eventsExecution + events, err
}

// pathBound is the costliest path's events through one state list (the
// top level or a Map's ItemProcessor) for an item bound as b.
func pathBound(def map[string]any, items map[string]mapItems, b binding) (int, error) {
	return pathBoundLoops(def, items, b, nil)
}

// errPastLoopBound is a path that would run a bounded loop once more
// than it can: not a path the execution takes.
var errPastLoopBound = errors.New("past the loop's bound")

// pathBoundLoops is pathBound with bounded loops (historyBoundLoops).
func pathBoundLoops(def map[string]any, items map[string]mapItems, b binding, loops map[string]int) (int, error) {
	states, _ := def["States"].(map[string]any)
	start, _ := def["StartAt"].(string)
	memo := map[string]int{}
	onPath := map[string]int{}
	round := func() string { // the loop heads' visits so far: part of a state's memo key
		k := ""
		for h := range loops {
			k += fmt.Sprintf("%s=%d;", h, onPath[h])
		}
		return k
	}
	var from func(name string) (int, error)
	from = func(name string) (int, error) {
		key := name + "@" + round()
		if n, ok := memo[key]; ok {
			return n, nil
		}
		st, ok := states[name].(map[string]any)
		if !ok {
			return 0, fmt.Errorf("no state %q", name)
		}
		if max, bounded := loops[name]; bounded && onPath[name] >= max {
			return 0, errPastLoopBound // the loop ends before this
		}
		if onPath[name] > 0 && !func() bool { _, ok := loops[name]; return ok }() {
			return 0, fmt.Errorf("state %q is on a loop: the history has no bound", name)
		}
		onPath[name]++
		defer func() { onPath[name]-- }()
		own, err := stateEvents(name, st, items, b)
		if err != nil {
			return 0, err
		}
		var next []string
		for _, c := range list(st["Catch"]) {
			next = append(next, c.(map[string]any)["Next"].(string))
		}
		next = append(next, choiceTargets(st, b)...)
		if n, ok := st["Next"].(string); ok {
			next = append(next, n)
		}
		worst := 0
		for _, n := range next {
			e, err := from(n)
			if errors.Is(err, errPastLoopBound) {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("%s -> %w", name, err)
			}
			worst = max(worst, e)
		}
		memo[key] = own + worst
		return own + worst, nil
	}
	return from(start)
}

// choiceTargets are the states a Choice may go to for an item bound as b:
// a rule on a bound Variable with StringEquals is taken only when it
// matches, and the Default only when no such rule matched; any other rule
// may be taken.
func choiceTargets(st map[string]any, b binding) []string {
	var out []string
	matched := false
	for _, c := range list(st["Choices"]) {
		c := c.(map[string]any)
		v, bound := b[fmt.Sprint(c["Variable"])]
		want, isEq := c["StringEquals"].(string)
		switch {
		case bound && isEq && v == want:
			matched = true
			out = append(out, c["Next"].(string))
		case bound && isEq:
		default:
			out = append(out, c["Next"].(string))
		}
	}
	if d, ok := st["Default"].(string); ok && !matched {
		out = append(out, d)
	}
	return out
}

// stateEvents is the events one state writes itself, at most.
func stateEvents(name string, st map[string]any, items map[string]mapItems, b binding) (int, error) {
	switch st["Type"] {
	case "Task":
		attempts := 1
		for _, r := range list(st["Retry"]) {
			n, ok := r.(map[string]any)["MaxAttempts"].(float64)
			if !ok {
				n = aslDefaultAttempts
			}
			attempts += int(n)
		}
		return eventsTaskFrame + attempts*eventsPerAttempt, nil
	case "Map":
		path, _ := st["ItemsPath"].(string)
		bound, ok := items[path]
		if !ok {
			return 0, fmt.Errorf("map %s: no bound on the items at %q", name, path)
		}
		proc, _ := st["ItemProcessor"].(map[string]any)
		if proc == nil {
			proc, _ = st["Iterator"].(map[string]any)
		}
		total := eventsMapFrame
		if bound.Inner != nil {
			merged := map[string]mapItems{}
			for k, v := range items {
				merged[k] = v
			}
			for k, v := range bound.Inner {
				merged[k] = v
			}
			items = merged
		}
		if bound.Each == nil {
			per, err := pathBound(proc, items, b)
			if err != nil {
				return 0, fmt.Errorf("map %s: %w", name, err)
			}
			return total + bound.Count*(eventsPerIteration+per), nil
		}
		for _, item := range bound.Each {
			per, err := pathBound(proc, items, item)
			if err != nil {
				return 0, fmt.Errorf("map %s: %w", name, err)
			}
			total += eventsPerIteration + per
		}
		return total, nil
	case "Pass", "Choice", "Wait", "Succeed", "Fail":
		return eventsOtherState, nil
	}
	return 0, fmt.Errorf("state %s: type %v is not bounded here", name, st["Type"])
}

// planBound is the most items an incident's plan can hold: Plan lists each
// collector at most once, so at worst every collector the state machine
// routes, once each (an item's "$.item.collector" decides its Route). The
// plan of every known resource type at once, with a scope naming every
// kind of resource, shows that no collector comes twice.
func planBound(t *testing.T) mapItems {
	t.Helper()
	everything := incident.Scope{
		Instances: []string{"i-1"}, ENIs: []string{"eni-1"}, Principals: []string{"arn:aws:iam::1:user/u"},
		AccessKeys: []string{"AKIA"}, UserNames: []string{"u"}, RoleNames: []string{"r"}, Buckets: []string{"b"},
		Tables: []string{"t"}, Clusters: []string{"c"}, Functions: []string{"f"}, LogGroups: []string{"g"}, Images: []string{"ami-1"},
	}
	plan, _ := incident.Plan("worst case", everything, "Instance", incident.KnownResourceTypes()...)
	seen := map[string]bool{}
	for _, p := range plan {
		if seen[p.Collector] {
			t.Fatalf("the plan holds %s twice: the Collect Map's bound is not the collector count", p.Collector)
		}
		seen[p.Collector] = true
		if !slices.ContainsFunc(collectors, func(c collector) bool { return c.Name == p.Collector }) {
			t.Fatalf("the plan holds %s, which the state machine does not route", p.Collector)
		}
	}
	if len(plan) < 2 {
		t.Fatalf("plan of everything = %v", plan)
	}
	var each []binding
	for _, c := range collectors {
		each = append(each, binding{"$.item.collector": c.Name})
	}
	return mapItems{Each: each}
}

// TestHistoryStaysUnderTheQuota proves from the synthesized definition that
// no execution, at its worst, outgrows Step Functions' 25,000 history
// events: every collector of the plan, every fan-out collector with
// collect.MaxShards shards, every Task failing every attempt its Retry
// allows before its Catch.
func TestHistoryStaysUnderTheQuota(t *testing.T) {
	def := defaultStack(t).definition(t)
	bounds := map[string]mapItems{
		"$.incident.plan": planBound(t),
		"$.result.shards": {Count: collect.MaxShards},
		// A pivot pass is one plan item (PivotCollect), run at most
		// custody:pivotDepth times (PivotDerive stops the loop there).
		"$.pivot.state.items": {Count: 1, Inner: map[string]mapItems{"$.result.shards": {Count: collect.MaxPivotShards}}},
		// The passes over what the chain derived: an IAM and an S3
		// access-log pass per account, each at most MaxPrincipalAccounts.
		"$.pivot.state.then": {Count: 2 * pivot.MaxPrincipalAccounts},
	}
	depth := DefaultConfig().PivotDepth
	// Derive runs before each pass and once after the last; each pass is
	// one PivotCollect.
	got, err := historyBoundLoops(def, bounds, map[string]int{"PivotDerive": depth + 1, "PivotMore?": depth + 1, "PivotCollect": depth})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst case: %d history events (plan of %d collectors, %d shards per fan-out collector), quota %d",
		got, len(bounds["$.incident.plan"].Each), collect.MaxShards, maxHistoryEvents)
	if got >= maxHistoryEvents {
		t.Errorf("an execution can write %d history events, over Step Functions' %d: lower collect.MaxShards or move the shards out of this execution",
			got, maxHistoryEvents)
	}
}

// TestHistoryBoundCounts checks the counting on small definitions whose
// history is known, so that the bound above means what it says.
func TestHistoryBoundCounts(t *testing.T) {
	task := func(next string, attempts float64) map[string]any {
		st := map[string]any{"Type": "Task", "Retry": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "MaxAttempts": attempts}}}
		if next == "" {
			st["End"] = true
		} else {
			st["Next"] = next
		}
		return st
	}
	tests := []struct {
		name   string
		states map[string]any
		bounds map[string]mapItems
		want   int    // events, when err is ""
		err    string // a substring of the refusal
	}{
		// Execution 2 + Task 2 + 1 attempt × 3.
		{"one task, no retry", map[string]any{"A": task("", 0)}, nil, 2 + 2 + 3, ""},
		// Execution 2 + Task 2 + 6 attempts × 3.
		{"one task, five retries", map[string]any{"A": task("", 5)}, nil, 2 + 2 + 18, ""},
		{"a retrier without MaxAttempts retries three times", map[string]any{"A": map[string]any{"Type": "Task", "End": true,
			"Retry": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}}}}}, nil, 2 + 2 + 4*3, ""},
		// The costlier branch counts: Choice 2 + the task (2 + 3) vs a Pass 2.
		{"choice takes the costlier branch", map[string]any{
			"C": map[string]any{"Type": "Choice", "Choices": []any{map[string]any{"Next": "T"}}, "Default": "P"},
			"T": task("", 0), "P": map[string]any{"Type": "Pass", "End": true}}, nil, 2 + 2 + 5, ""},
		// A caught failure: the task's attempts, then the handler's Pass.
		{"catch path", map[string]any{
			"A": map[string]any{"Type": "Task", "End": true, "Catch": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "Next": "F"}}},
			"F": map[string]any{"Type": "Pass", "End": true}}, nil, 2 + 5 + 2, ""},
		// Map 4 + 10 × (iteration 2 + task 5).
		{"map of ten", map[string]any{"M": map[string]any{"Type": "Map", "ItemsPath": "$.xs", "End": true,
			"ItemProcessor": map[string]any{"StartAt": "A", "States": map[string]any{"A": task("", 0)}}}},
			map[string]mapItems{"$.xs": {Count: 10}}, 2 + 4 + 10*7, ""},
		{"a map without a bound", map[string]any{"M": map[string]any{"Type": "Map", "ItemsPath": "$.ys", "End": true,
			"ItemProcessor": map[string]any{"StartAt": "A", "States": map[string]any{"A": task("", 0)}}}},
			map[string]mapItems{"$.xs": {Count: 10}}, 0, `no bound on the items at "$.ys"`},
		// Items routed by a Choice: "big" takes the two-task branch, "small"
		// the Pass; Map 4 + (2 + 2 + 5 + 5) + (2 + 2 + 2).
		{"map items routed by their binding", map[string]any{"M": map[string]any{"Type": "Map", "ItemsPath": "$.plan", "End": true,
			"ItemProcessor": map[string]any{"StartAt": "R", "States": map[string]any{
				"R":  map[string]any{"Type": "Choice", "Choices": []any{map[string]any{"Variable": "$.item.collector", "StringEquals": "big", "Next": "T1"}}, "Default": "S"},
				"T1": task("T2", 0), "T2": task("", 0), "S": map[string]any{"Type": "Pass", "End": true}}}}},
			map[string]mapItems{"$.plan": {Each: []binding{{"$.item.collector": "big"}, {"$.item.collector": "small"}}}}, 2 + 4 + 14 + 6, ""},
		{"a loop", map[string]any{"A": task("B", 0), "B": map[string]any{"Type": "Pass", "Next": "A"}}, nil, 0, "loop"},
		{"a parallel state", map[string]any{"P": map[string]any{"Type": "Parallel", "End": true}}, nil, 0, "not bounded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := "A"
			if tc.states[start] == nil {
				start = keys(tc.states)[0] // the one state, or the Choice "C" first
			}
			got, err := historyBound(map[string]any{"StartAt": start, "States": tc.states}, tc.bounds)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case got != tc.want:
				t.Errorf("bound = %d, want %d", got, tc.want)
			}
		})
	}
}
