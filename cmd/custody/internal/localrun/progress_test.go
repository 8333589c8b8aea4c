package localrun

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestProgressNamesEveryCollectorsResultAndDuration feeds progress the
// interpreter's event lines for a plain collector, a fanned-out one (its
// answer at $.result) and a failed one.
func TestProgressNamesEveryCollectorsResultAndDuration(t *testing.T) {
	idx := func(i int) *int { return &i }
	state := func(name, typ, out string) *StateData {
		return &StateData{Name: name, Type: typ, Output: json.RawMessage(out)}
	}
	events := []Event{
		{Type: "StateEntered", State: state("CollectEC2", "Task", ""), Index: idx(0)},
		{Type: "StateEntered", State: state("CollectCloudTrail", "Task", ""), Index: idx(1)},
		{Type: "StateExited", State: state("CollectEC2", "Task", `{"collector":"ec2","status":"ok","artifacts":8,"gaps":0}`), Index: idx(0)},
		{Type: "StateExited", State: state("CollectCloudTrail", "Task", `{"incident":{},"result":{"collector":"cloudtrail","status":"fanned-out","shards":[{"index":0},{"index":1}]}}`), Index: idx(1)},
		{Type: "StateExited", State: state("CollectorFailed", "Pass", `{"collector":"iam","status":"failed","error":{"Error":"TransientError","Cause":"iam: reset\nmore"}}`)},
	}
	var b bytes.Buffer
	p := progress(&b)
	for _, ev := range events {
		p(ev)
	}
	out := b.String()
	for _, want := range []string{
		`(?m)^     ec2: ok, 8 artifacts, 0 gaps in [0-9.]+m?s$`,
		`(?m)^     cloudtrail: fanned-out into 2 shards in [0-9.]+m?s$`,
		`(?m)^     iam: failed \(TransientError: iam: reset\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<- CollectCloudTrail") {
		t.Errorf("the fanned-out collector is printed without its result:\n%s", out)
	}
}
