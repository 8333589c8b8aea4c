package scenario

import (
	"github.com/custody-ir/custody/shared/ctdigest"

	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Seeded is what Apply created: the emulator's IDs by the seed folder's names,
// and what it uploaded.
type Seeded struct {
	Account string
	Region  string

	VPCs           map[string]string // name -> vpc-...
	Subnets        map[string]string // name -> subnet-...
	SecurityGroups map[string]string // name -> sg-...
	Instances      map[string]string // name -> i-...
	ENIs           map[string]string // instance or ENI name -> eni-...
	PrivateIPs     map[string]string // instance or ENI name -> address
	PublicIPs      map[string]string // instance or ENI name -> address (where one was given)
	FlowLogs       map[string]string // flow log name -> fl-...
	AccessKeys     map[string][]string
	Roles          map[string]string // role name -> ARN
	Profiles       map[string]string // instance profile name -> ARN
	TrailKeys      map[string]string // trail name -> KMS key ARN made for it
	Buckets        []string          // every bucket created
	LogGroups      []string          // every log group created

	// Objects lists every object put from the s3/ folder.
	Objects []SeededObject
	// Digests are the CloudTrail digest files written for the seeded log
	// files, and DigestKeys the public keys that sign them, as
	// cloudtrail:ListPublicKeys would list them.
	Digests    []SeededObject
	DigestKeys []ctdigest.PublicKey
	// Streams lists every log stream filled from the logs/ folder.
	Streams []SeededStream
	// Rewritten lists the seed folder files (relative paths) whose content or
	// name had placeholders replaced: derived files.
	Rewritten []string
	// Warnings are emulator workarounds taken (a flow log prefix dropped, ...).
	Warnings []string
	// Accounts are the scenario's other accounts, name -> ID
	// ({{account:NAME}}).
	Accounts map[string]string
	// Inherited are placeholders resolved in other accounts of the
	// scenario, usable here (a log archive's trail files name a member's
	// instance).
	Inherited map[string]string
	// Shift is the scenario's timeShift as applied (the zero Shifter when it
	// has none): Shift.Days is how many days every seeded time moved, and
	// Shift.Time(t) tells where a time written in the seed folder landed.
	Shift Shifter

	now func() time.Time
}

// SeededObject is one object put from <dir>/s3/.
type SeededObject struct {
	File      string // path relative to the seed folder
	Bucket    string
	Key       string
	Size      int64
	Rewritten bool
}

// SeededStream is one log stream filled from <dir>/logs/.
type SeededStream struct {
	File      string
	Group     string
	Stream    string
	Events    int
	Rewritten bool
}

func newSeeded(region string) *Seeded {
	return &Seeded{
		Region:         region,
		VPCs:           map[string]string{},
		Subnets:        map[string]string{},
		SecurityGroups: map[string]string{},
		Instances:      map[string]string{},
		ENIs:           map[string]string{},
		PrivateIPs:     map[string]string{},
		PublicIPs:      map[string]string{},
		FlowLogs:       map[string]string{},
		AccessKeys:     map[string][]string{},
		Roles:          map[string]string{},
		Profiles:       map[string]string{},
		TrailKeys:      map[string]string{},
		now:            time.Now,
	}
}

// Placeholders returns every fixed placeholder ("{{vpc:prod}}", "{{account}}",
// ...) with its value. The time placeholders ({{epochms:...}}) depend on the
// moment of rewriting and are not listed.
func (s *Seeded) Placeholders() map[string]string {
	m := map[string]string{}
	for k, v := range s.Inherited {
		m[k] = v
	}
	for name, id := range s.Accounts {
		m["{{account:"+name+"}}"] = id
	}
	if s.Account != "" {
		m["{{account}}"] = s.Account
	}
	if s.Region != "" {
		m["{{region}}"] = s.Region
	}
	add := func(kind string, src map[string]string) {
		for k, v := range src {
			m["{{"+kind+":"+k+"}}"] = v
		}
	}
	add("vpc", s.VPCs)
	add("subnet", s.Subnets)
	add("sg", s.SecurityGroups)
	add("instance", s.Instances)
	add("eni", s.ENIs)
	add("privateip", s.PrivateIPs)
	add("publicip", s.PublicIPs)
	add("flowlog", s.FlowLogs)
	add("role", s.Roles)
	add("instanceprofile", s.Profiles)
	add("kms", s.TrailKeys)
	for user, keys := range s.AccessKeys {
		for i, k := range keys {
			if i == 0 {
				m["{{accesskey:"+user+"}}"] = k
			}
			m["{{accesskey:"+user+":"+strconv.Itoa(i+1)+"}}"] = k
		}
	}
	return m
}

// placeholderRe matches "{{kind}}" and "{{kind:arg}}": a lower-case kind, no
// spaces, no braces inside.
var placeholderRe = regexp.MustCompile(`\{\{[a-z][a-z0-9]*(?::[^{}\s]+)?\}\}`)

// UnknownPlaceholderError is a placeholder that names nothing the scenario
// created (or a malformed time offset).
type UnknownPlaceholderError struct {
	Placeholder string
	Where       string // the file or field it was in
}

func (e *UnknownPlaceholderError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("scenario: unknown placeholder %s", e.Placeholder)
	}
	return fmt.Sprintf("scenario: %s: unknown placeholder %s", e.Where, e.Placeholder)
}

// HasPlaceholder reports whether b holds a placeholder.
func HasPlaceholder(b []byte) bool { return placeholderRe.Match(b) }

// Rewrite prepares b (a finding file, a log line, ...) as Apply prepared the
// seed folder's files: times moved by the scenario's timeShift (Shift), then
// every placeholder replaced with the emulator's value. An unknown
// placeholder is an *UnknownPlaceholderError naming it.
func (s *Seeded) Rewrite(b []byte) ([]byte, error) { return s.rewriteTimed(b, "") }

// RewriteString is Rewrite for a string (a key, a stream name).
func (s *Seeded) RewriteString(v string) (string, error) {
	out, err := s.rewriteTimed([]byte(v), "")
	return string(out), err
}

// rewriteTimed shifts times (before the placeholders are replaced, so that
// {{epochms:…}} stays relative to the run and emulator IDs are never read
// as times), then replaces placeholders.
func (s *Seeded) rewriteTimed(b []byte, where string) ([]byte, error) {
	return s.rewrite(s.Shift.Bytes(b), where)
}

func (s *Seeded) rewrite(b []byte, where string) ([]byte, error) {
	if !placeholderRe.Match(b) {
		return b, nil
	}
	m := s.Placeholders()
	var firstErr error
	out := placeholderRe.ReplaceAllFunc(b, func(ph []byte) []byte {
		if v, ok := m[string(ph)]; ok {
			return []byte(v)
		}
		if v, ok := s.timePlaceholder(string(ph)); ok {
			return []byte(v)
		}
		if firstErr == nil {
			firstErr = &UnknownPlaceholderError{Placeholder: string(ph), Where: where}
		}
		return ph
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// timePlaceholder resolves {{epochms:OFFSET}} and {{epoch:OFFSET}}: now plus
// a Go duration ("-90m", "0s", "+2h").
func (s *Seeded) timePlaceholder(ph string) (string, bool) {
	inner := strings.TrimSuffix(strings.TrimPrefix(ph, "{{"), "}}")
	kind, arg, _ := strings.Cut(inner, ":")
	if kind != "epochms" && kind != "epoch" {
		return "", false
	}
	d := time.Duration(0)
	if arg != "" {
		var err error
		if d, err = time.ParseDuration(strings.TrimPrefix(arg, "+")); err != nil {
			return "", false
		}
	}
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	t := now().Add(d)
	if kind == "epochms" {
		return strconv.FormatInt(t.UnixMilli(), 10), true
	}
	return strconv.FormatInt(t.Unix(), 10), true
}

// isGzip reports a gzip member header.
func isGzip(b []byte) bool { return len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b }

// rewriteFile shifts times (Shift) and replaces placeholders in a file's
// bytes, decompressing and recompressing gzip (keeping the original header's
// name and time). It reports whether anything changed.
func (s *Seeded) rewriteFile(b []byte, where string) ([]byte, bool, error) {
	if !isGzip(b) {
		out, shifted := s.Shift.shift(b)
		if shifted == 0 && !HasPlaceholder(out) {
			return b, false, nil
		}
		out, err := s.rewrite(out, where)
		return out, err == nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false, fmt.Errorf("scenario: %s: gzip: %w", where, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, false, fmt.Errorf("scenario: %s: gunzip: %w", where, err)
	}
	out, shifted := s.Shift.shift(plain)
	if shifted == 0 && !HasPlaceholder(out) {
		return b, false, nil
	}
	out, err = s.rewrite(out, where)
	if err != nil {
		return nil, false, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Header = zr.Header
	if _, err := zw.Write(out); err != nil {
		return nil, false, err
	}
	if err := zw.Close(); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// rewriteString replaces placeholders only (bucket policies, group names:
// no times to shift there).
func (s *Seeded) rewriteString(v string) (string, error) {
	out, err := s.rewrite([]byte(v), "")
	return string(out), err
}
