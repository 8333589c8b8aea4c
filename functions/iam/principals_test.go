package main

import (
	"errors"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

func TestClassifyARN(t *testing.T) {
	cases := []struct {
		arn  string
		want arnPrincipal
		err  bool
	}{
		{"arn:aws:iam::123456789012:user/alice", arnPrincipal{kindUser, "alice", "123456789012"}, false},
		{"arn:aws:iam::123456789012:user/ops/team/alice", arnPrincipal{kindUser, "alice", "123456789012"}, false},
		{"arn:aws:iam::123456789012:role/service-role/web", arnPrincipal{kindRole, "web", "123456789012"}, false},
		{"arn:aws:sts::123456789012:assumed-role/web/i-0abc", arnPrincipal{kindRole, "web", "123456789012"}, false},
		{"arn:aws-us-gov:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1a2b/jane@example.com", arnPrincipal{kindRole, "AWSReservedSSO_Admin_1a2b", "123456789012"}, false},
		{"arn:aws:iam::123456789012:instance-profile/web-profile", arnPrincipal{"instance-profile", "web-profile", "123456789012"}, false},
		{"arn:aws:iam::123456789012:root", arnPrincipal{"root", "", "123456789012"}, false},
		{"arn:aws:sts::123456789012:federated-user/jdoe", arnPrincipal{"federated-user", "jdoe", "123456789012"}, false},
		{"arn:aws:iam::123456789012:group/ops", arnPrincipal{"", "", "123456789012"}, false},
		{"arn:aws:sts::123456789012:assumed-role/", arnPrincipal{"", "", "123456789012"}, false},
		{"arn:aws:s3:::bucket", arnPrincipal{}, false},
		{"AIDAEXAMPLE", arnPrincipal{}, true},
	}
	for _, tc := range cases {
		got, err := classifyARN(tc.arn)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("classifyARN(%q) = %+v, %v; want %+v (error %v)", tc.arn, got, err, tc.want, tc.err)
		}
	}
}

func TestFolders(t *testing.T) {
	var ps principals
	ps.add(kindRole, "deploy", "role name")
	ps.add(kindUser, "deploy", "user name")
	ps.add(kindUser, "alice", "access key AKIA1")
	ps.add(kindUser, "alice", "user name")
	var got []string
	for _, p := range ps.list() {
		got = append(got, p.String()+" -> "+p.Folder+" ("+joinVia(p)+")")
	}
	want := []string{"user alice -> alice (access key AKIA1, user name)", "role deploy -> deploy~role (role name)", "user deploy -> deploy~user (user name)"}
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%q, want %q", got[i], want[i])
		}
	}
}

func TestParseAdvisorTimeout(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 2 * time.Minute, false},
		{"90s", 90 * time.Second, false},
		{"10m", 10 * time.Minute, false},
		{"1s", time.Second, false},
		{"500ms", 0, true},
		{"11m", 0, true},
		{"2", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range cases {
		got, err := ParseAdvisorTimeout(tc.in)
		if tc.err {
			var ce *faults.ConfigurationError
			if err == nil || !errorsAs(err, &ce) || ce.Setting != EnvAdvisorTimeout {
				t.Errorf("ParseAdvisorTimeout(%q) = %v, %v; want a ConfigurationError", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAdvisorTimeout(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
