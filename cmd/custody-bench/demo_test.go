package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintDemo(t *testing.T) {
	full := []demoPhase{{"build", 10}, {"emulator", 2}, {"deploy", 30}, {"runtimes", 1}, {"seed", 3}, {"workflow", 40}, {"download+verify", 1}}
	tests := []struct {
		name   string
		phases []demoPhase
		err    string
		out    []string
	}{
		{name: "every phase", phases: full, out: []string{
			"= deploy 43.0s 49%",
			"= workflow 40.0s 46%",
			"40.0s of workflow once deployed (the deploy, paid once, is 1.07x that)",
		}},
		{name: "no workflow", phases: full[:5], err: `no "workflow" phase`},
		{name: "no deploy", phases: append(append([]demoPhase{}, full[:2]...), full[3:]...), err: `no "deploy" phase`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := printDemo(&b, tc.phases)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Columns are padded: compare with single spaces.
			got := strings.Join(strings.Fields(b.String()), " ")
			for _, want := range tc.out {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}
