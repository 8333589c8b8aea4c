package scenario

import (
	"context"
	"fmt"

	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/custody-ir/custody/shared/finding"
)

// Account is another account of an organization scenario: a member whose
// resources a finding names, or the log archive whose buckets hold the
// organization trail. Its Dir is a seed folder of its own (scenario.json,
// s3/, logs/), applied with that account's credentials in Region.
type Account struct {
	// Name is how placeholders name it: {{account:NAME}} is its ID.
	Name string `json:"name"`
	// ID is the twelve-digit account ID.
	ID string `json:"id"`
	// Region is where its resources are made (default: the run's region).
	Region string `json:"region"`
	// Dir is its seed folder, relative to the scenario's (default
	// accounts/<name>).
	Dir string `json:"dir"`
	// MemberStack says whether the local run deploys the member stack in
	// the account (default true). false drills a member the hub cannot
	// assume into: the local run refuses AssumeRole into it with
	// AccessDenied, as STS does when the member role does not exist.
	MemberStack *bool `json:"memberStack"`
	// LogArchive marks the log archive account: no member stack (the hub
	// reads its buckets through their bucket policies).
	LogArchive bool `json:"logArchive"`

	scenario *Scenario
}

// HasMemberStack reports whether the local run deploys the member stack
// in the account.
func (a Account) HasMemberStack() bool {
	if a.LogArchive {
		return false
	}
	return a.MemberStack == nil || *a.MemberStack
}

// loadAccounts checks the accounts list and loads each account's seed
// folder (one level: an account's folder holds no accounts of its own).
func (sc *Scenario) loadAccounts(dir string) error {
	seen := map[string]bool{}
	ids := map[string]bool{}
	archives := 0
	for i := range sc.Accounts {
		a := &sc.Accounts[i]
		switch {
		case a.Name == "" || strings.ContainsAny(a.Name, "/\\{}: "):
			return entryErr("accounts", i, a.Name, "name is required: letters, digits, - and _")
		case seen[a.Name]:
			return entryErr("accounts", i, a.Name, "duplicate name")
		case !finding.ValidAccountID(a.ID):
			return entryErr("accounts", i, a.Name, "%s", fmt.Sprintf("id %q is not a twelve-digit account ID", a.ID))
		case ids[a.ID]:
			return entryErr("accounts", i, a.Name, "%s", fmt.Sprintf("id %s is another account's too", a.ID))
		case a.Region != "" && !finding.ValidRegion(a.Region):
			return entryErr("accounts", i, a.Name, "%s", fmt.Sprintf("region %q is not an AWS region", a.Region))
		}
		seen[a.Name], ids[a.ID] = true, true
		if a.LogArchive {
			if archives++; archives > 1 {
				return entryErr("accounts", i, a.Name, "a second log archive account")
			}
		}
		if a.Dir == "" {
			a.Dir = filepath.Join("accounts", a.Name)
		}
		clean := filepath.Clean(a.Dir)
		if filepath.IsAbs(a.Dir) || clean == "." || strings.HasPrefix(clean, "..") {
			return entryErr("accounts", i, a.Name, "%s", fmt.Sprintf("dir %q must be a folder inside the seed folder", a.Dir))
		}
	}
	for i := range sc.Accounts {
		a := &sc.Accounts[i]
		sub, err := Load(filepath.Join(dir, filepath.Clean(a.Dir)))
		if err != nil {
			return entryErr("accounts", i, a.Name, "%v", err)
		}
		if len(sub.Accounts) > 0 || sub.TimeShift != nil {
			return entryErr("accounts", i, a.Name, "an account's scenario.json takes neither accounts nor timeShift (the root's shift applies)")
		}
		a.scenario = sub
	}
	return nil
}

// applyAccounts applies each account's folder with its credentials (the
// emulator's credentials from sts:AssumeRole act in the role's account),
// then the root's, each seeing the placeholders the ones before resolved;
// the result is every account's IDs by name (names are unique across the
// scenario), so the finding can name a member's instance.
func applyAccounts(ctx context.Context, cfg aws.Config, endpoint string, sc *Scenario, dir string) (*Seeded, error) {
	shift := Shifter{}
	if sc.TimeShift != nil {
		s, err := sc.TimeShift.Shifter(newSeeded(cfg.Region).now())
		if err != nil {
			return nil, err
		}
		shift = s
	}
	names := map[string]string{}
	for _, a := range sc.Accounts {
		names[a.Name] = a.ID
	}
	inherited := map[string]string{}
	ambiguous := map[string]bool{}
	for k, v := range names {
		inherited["{{account:"+k+"}}"] = v
	}
	var parts []*Seeded
	for i, a := range sc.Accounts {
		acfg, err := assumeInto(ctx, cfg, a)
		if err != nil {
			return nil, entryErr("accounts", i, a.Name, "%v", err)
		}
		s, err := apply(ctx, acfg, endpoint, a.scenario, filepath.Join(dir, filepath.Clean(a.Dir)), inherited, &shift)
		if err != nil {
			return nil, entryErr("accounts", i, a.Name, "%v", err)
		}
		for k, v := range s.Placeholders() {
			if k == "{{account}}" || k == "{{region}}" || strings.HasPrefix(k, "{{account:") {
				continue
			}
			if _, ok := s.Inherited[k]; ok && inherited[k] == v {
				continue // another account's, seen through this one
			}
			// {{kind:ACCOUNT/name}} always names this account's; the
			// plain {{kind:name}} only while no other account has the name.
			kind, arg, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(k, "{{"), "}}"), ":")
			inherited["{{"+kind+":"+a.Name+"/"+arg+"}}"] = v
			switch old, ok := inherited[k]; {
			case ambiguous[k]:
			case ok && old != v:
				delete(inherited, k)
				ambiguous[k] = true
			default:
				inherited[k] = v
			}
		}
		for j, f := range s.Rewritten {
			s.Rewritten[j] = filepath.Join(a.Dir, f)
		}
		parts = append(parts, s)
	}
	root, err := apply(ctx, cfg, endpoint, sc, dir, inherited, &shift)
	if err != nil {
		return nil, err
	}
	root.Accounts = names
	for _, s := range parts {
		root.merge(s, ambiguous)
	}
	return root, nil
}

// merge adds another account's IDs and files to s, but for the names
// that are ambiguous across accounts (their placeholders).
func (s *Seeded) merge(o *Seeded, ambiguous map[string]bool) {
	s.Digests = append(s.Digests, o.Digests...)
	s.DigestKeys = append(s.DigestKeys, o.DigestKeys...)
	for _, m := range []struct {
		kind     string
		dst, src map[string]string
	}{
		{"vpc", s.VPCs, o.VPCs}, {"subnet", s.Subnets, o.Subnets}, {"sg", s.SecurityGroups, o.SecurityGroups}, {"instance", s.Instances, o.Instances},
		{"eni", s.ENIs, o.ENIs}, {"privateip", s.PrivateIPs, o.PrivateIPs}, {"publicip", s.PublicIPs, o.PublicIPs}, {"flowlog", s.FlowLogs, o.FlowLogs},
		{"role", s.Roles, o.Roles}, {"instanceprofile", s.Profiles, o.Profiles}, {"kms", s.TrailKeys, o.TrailKeys},
	} {
		for k, v := range m.src {
			if _, ok := m.dst[k]; !ok && !ambiguous["{{"+m.kind+":"+k+"}}"] {
				m.dst[k] = v
			}
		}
	}
	for k, v := range o.AccessKeys {
		if _, ok := s.AccessKeys[k]; !ok && !ambiguous["{{accesskey:"+k+"}}"] {
			s.AccessKeys[k] = v
		}
	}
	s.Buckets = append(s.Buckets, o.Buckets...)
	s.LogGroups = append(s.LogGroups, o.LogGroups...)
	s.Objects = append(s.Objects, o.Objects...)
	s.Streams = append(s.Streams, o.Streams...)
	s.Rewritten = append(s.Rewritten, o.Rewritten...)
	s.Warnings = append(s.Warnings, o.Warnings...)
}

// assumeInto is the emulator's credentials for account a in its region.
func assumeInto(ctx context.Context, cfg aws.Config, a Account) (aws.Config, error) {
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::" + a.ID + ":role/OrganizationAccountAccessRole"),
		RoleSessionName: aws.String("custody-seed"),
	})
	if err != nil {
		return aws.Config{}, fmt.Errorf("sts AssumeRole into %s: %w", a.ID, err)
	}
	c := cfg.Copy()
	if a.Region != "" {
		c.Region = a.Region
	}
	cr := out.Credentials
	c.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken)))
	return c, nil
}

// AccountCredentials are the emulator's credentials for an account, as
// environment variables (the local run deploys the member stack with them).
func AccountCredentials(ctx context.Context, cfg aws.Config, a Account) ([]string, error) {
	c, err := assumeInto(ctx, cfg, a)
	if err != nil {
		return nil, err
	}
	cr, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return []string{"AWS_ACCESS_KEY_ID=" + cr.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + cr.SecretAccessKey, "AWS_SESSION_TOKEN=" + cr.SessionToken}, nil
}
