package ctdigest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	trailBucket = "org-trail-logs"
	account     = "123456789012"
	region      = "us-east-1"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chain is three hourly digests of one trail, each covering one real log
// file, as CloudTrail delivers them.
type chain struct {
	keys    []PublicKey
	digests []DigestFile
	logs    []LogCopy
	raw     [][]byte // each log's uncompressed content
	other   *Signer  // a key of another region
}

func newChain(t *testing.T) *chain {
	t.Helper()
	start := time.Date(2024, 8, 2, 7, 0, 0, 0, time.UTC)
	s, err := NewSigner(region, start.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSigner("eu-west-1", start.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	c := &chain{keys: []PublicKey{s.PublicKey(), other.PublicKey()}, other: other}
	contents := [][]byte{
		readTestdata(t, "aws.initial-access.console-login-without-mfa.json"),
		readTestdata(t, "aws.persistence.iam-create-admin-user.json"),
		[]byte(`{"Records":[]}`),
	}
	var prev *Written
	for i, raw := range contents {
		hourStart := start.Add(time.Duration(i) * time.Hour)
		delivered := hourStart.Add(17 * time.Minute)
		key := "AWSLogs/" + account + "/CloudTrail/" + region + "/" + delivered.Format("2006/01/02") + "/" +
			account + "_CloudTrail_" + region + "_" + delivered.Format("20060102T1504Z") + "_abcDEF012345ghij.json.gz"
		w, err := s.Digest(trailBucket, "AWSLogs/", account, "management", hourStart, hourStart.Add(time.Hour), []Delivered{{Bucket: trailBucket, Key: key, Raw: raw}}, prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = w
		c.digests = append(c.digests, DigestFile{Bucket: trailBucket, Key: w.Key, Stored: w.Stored, Signature: w.Signature})
		c.logs = append(c.logs, LogCopy{Bucket: trailBucket, Key: key, SHA256: sha(raw)})
		c.raw = append(c.raw, raw)
	}
	return c
}

func (c *chain) input() Input {
	return Input{Digests: append([]DigestFile{}, c.digests...), Logs: append([]LogCopy{}, c.logs...), Keys: c.keys}
}

// TestValidate: a chain written the way CloudTrail writes it validates;
// each tampering is named on the log file it touches.
func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(t *testing.T, c *chain, in *Input)
		logs   []string // status of each log file, in order
		digest []string // status of each digest, in order
		ok     bool
	}{
		{name: "as delivered", logs: []string{LogValid, LogValid, LogValid}, digest: []string{DigestValid, DigestValid, DigestValid}, ok: true},
		{
			name: "a changed log",
			edit: func(t *testing.T, c *chain, in *Input) {
				in.Logs[1].SHA256 = sha([]byte(strings.Replace(string(c.raw[1]), "CreateUser", "CreateUsex", 1)))
			},
			logs: []string{LogValid, LogChanged, LogValid}, digest: []string{DigestValid, DigestValid, DigestValid},
		},
		{
			name: "a removed digest",
			edit: func(t *testing.T, c *chain, in *Input) { in.Digests = []DigestFile{in.Digests[0], in.Digests[2]} },
			// The middle log has no digest; the last digest no longer
			// follows the first: the first's logs are not vouched for by
			// a successor, the last's chain is broken.
			logs: []string{LogChainGap, LogDigestMissing, LogChainGap}, digest: []string{DigestValid, DigestValid},
		},
		{
			name: "a broken chain: the middle digest replaced by one re-signed with the same key",
			edit: func(t *testing.T, c *chain, in *Input) {
				// Someone with a valid signature (here: the test's
				// signer) cannot recreate the chain: the next digest
				// still names the old signature.
				s, _ := NewSigner(region, time.Time{})
				in.Keys = append(in.Keys, s.PublicKey())
				raw, _ := Inflate(c.digests[0].Stored)
				prev := &Written{Bucket: trailBucket, Key: c.digests[0].Key, Signature: c.digests[0].Signature, raw: raw}
				d1, _ := Inflate(c.digests[1].Stored)
				pd, _ := ParseDigest(d1)
				start, _ := time.Parse(time.RFC3339, pd.DigestStartTime)
				w, err := s.Digest(trailBucket, "AWSLogs/", account, "management", start, start.Add(time.Hour),
					[]Delivered{{Bucket: trailBucket, Key: c.logs[1].Key, Raw: []byte(`{"Records":[]}`)}}, prev)
				if err != nil {
					t.Fatal(err)
				}
				in.Digests[1] = DigestFile{Bucket: trailBucket, Key: w.Key, Stored: w.Stored, Signature: w.Signature}
				in.Logs[1].SHA256 = sha([]byte(`{"Records":[]}`))
			},
			logs: []string{LogValid, LogChainGap, LogChainGap}, digest: []string{DigestValid, DigestValid, DigestValid},
		},
		{
			name: "a digest signed by a key of another region",
			edit: func(t *testing.T, c *chain, in *Input) {
				raw, _ := Inflate(c.digests[0].Stored)
				prev := &Written{Bucket: trailBucket, Key: c.digests[0].Key, Signature: c.digests[0].Signature, raw: raw}
				d1, _ := Inflate(c.digests[1].Stored)
				pd, _ := ParseDigest(d1)
				start, _ := time.Parse(time.RFC3339, pd.DigestStartTime)
				// eu-west-1's signer, writing a us-east-1 digest.
				forged := *c.other
				forged.Region = region
				w, err := forged.Digest(trailBucket, "AWSLogs/", account, "management", start, start.Add(time.Hour),
					[]Delivered{{Bucket: trailBucket, Key: c.logs[1].Key, Raw: c.raw[1]}}, prev)
				if err != nil {
					t.Fatal(err)
				}
				in.Digests[1] = DigestFile{Bucket: trailBucket, Key: w.Key, Stored: w.Stored, Signature: w.Signature}
			},
			// The forged digest does not validate; the next one still
			// names the real one's signature, so its chain is broken too.
			logs: []string{LogValid, LogDigestInvalid, LogChainGap}, digest: []string{DigestValid, DigestNoKey, DigestValid},
		},
		{
			name: "a changed byte of a digest",
			edit: func(t *testing.T, c *chain, in *Input) {
				raw, _ := Inflate(in.Digests[2].Stored)
				in.Digests[2].Stored = []byte(strings.Replace(string(raw), `"SHA-256"`, `"SHA-257"`, 1))
			},
			logs: []string{LogValid, LogValid, LogDigestInvalid}, digest: []string{DigestValid, DigestValid, DigestBadSignature},
		},
		{
			name: "a digest moved to another key",
			edit: func(t *testing.T, c *chain, in *Input) {
				in.Digests[2].Key = strings.Replace(in.Digests[2].Key, "2024/08/02", "2024/08/03", 1)
			},
			logs: []string{LogValid, LogValid, LogDigestInvalid}, digest: []string{DigestValid, DigestValid, DigestMoved},
		},
		{
			name: "a log the digest covering its time does not list",
			edit: func(t *testing.T, c *chain, in *Input) {
				k := strings.Replace(in.Logs[1].Key, "_abcDEF012345ghij", "_zzzDEF012345ghij", 1)
				in.Logs = append(in.Logs, LogCopy{Bucket: trailBucket, Key: k, SHA256: in.Logs[1].SHA256})
			},
			logs: []string{LogValid, LogValid, LogValid, LogNotInDigest}, digest: []string{DigestValid, DigestValid, DigestValid},
		},
		{
			name: "validation off on the trail",
			edit: func(t *testing.T, c *chain, in *Input) {
				in.Digests = nil
				in.ValidationOff = map[string]bool{trailBucket: true}
			},
			logs: []string{LogValidationOff, LogValidationOff, LogValidationOff}, digest: []string{},
		},
		{
			name: "no public keys stored",
			edit: func(t *testing.T, c *chain, in *Input) { in.Keys = nil },
			logs: []string{LogDigestInvalid, LogDigestInvalid, LogDigestInvalid}, digest: []string{DigestNoKey, DigestNoKey, DigestNoKey},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(t)
			in := c.input()
			if tc.edit != nil {
				tc.edit(t, c, &in)
			}
			rep := Validate(in)
			byKey := map[string]string{}
			for _, l := range rep.Logs {
				byKey[l.Key] = l.Status
			}
			var got []string
			for _, l := range in.Logs {
				got = append(got, byKey[l.Key])
			}
			if strings.Join(got, ",") != strings.Join(tc.logs, ",") {
				t.Errorf("logs %v, want %v\n%+v", got, tc.logs, rep)
			}
			dByKey := map[string]string{}
			for _, d := range rep.Digests {
				dByKey[d.Key] = d.Status
			}
			var gotD []string
			for _, d := range in.Digests {
				gotD = append(gotD, dByKey[d.Key])
			}
			if strings.Join(gotD, ",") != strings.Join(tc.digest, ",") {
				t.Errorf("digests %v, want %v\n%+v", gotD, tc.digest, rep.Digests)
			}
			if rep.OK() != tc.ok {
				t.Errorf("OK() = %v, want %v", rep.OK(), tc.ok)
			}
			if tc.name == "validation off on the trail" && !strings.Contains(strings.Join(rep.Gaps, " "), "EnableLogFileValidation") {
				t.Errorf("gaps %q do not name EnableLogFileValidation", rep.Gaps)
			}
		})
	}
}

func TestLogBase(t *testing.T) {
	cases := []struct{ key, base, account, region string }{
		{"p/AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/123456789012_CloudTrail_us-east-1_20240802T0825Z_abc.json.gz", "p/AWSLogs/", "123456789012", "us-east-1"},
		{"AWSLogs/o-abc123/123456789012/CloudTrail/eu-west-1/2024/08/02/123456789012_CloudTrail_eu-west-1_20240802T0825Z_abc.json.gz", "AWSLogs/o-abc123/", "123456789012", "eu-west-1"},
		{DigestKey("AWSLogs/", "123456789012", "us-east-1", "t", time.Date(2024, 8, 2, 9, 0, 12, 0, time.UTC)), "AWSLogs/", "123456789012", "us-east-1"},
	}
	for _, c := range cases {
		base, acct, region, ok := LogBase(c.key)
		if !ok || base != c.base || acct != c.account || region != c.region {
			t.Errorf("LogBase(%s) = %q %q %q %v", c.key, base, acct, region, ok)
		}
	}
	if _, _, _, ok := LogBase("AWSLogs/123456789012/vpcflowlogs/x.gz"); ok {
		t.Error("a flow log key is a CloudTrail key")
	}
}

// TestRealDigestShape: the documented digest shape (a fixture from a real
// project, its signature a placeholder) parses, and is refused for what it
// is: no key signed it.
func TestRealDigestShape(t *testing.T) {
	raw := readTestdata(t, "cloudtrail_digest_fixture.json")
	d, err := ParseDigest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.DigestPublicKeyFingerprint != "31e8b5433410dfb61a9dc45cc65b22ff" || len(d.LogFiles) != 1 || d.LogFiles[0].HashAlgorithm != "SHA-256" {
		t.Errorf("parsed %+v", d)
	}
	s, _ := NewSigner(region, time.Time{})
	rep := Validate(Input{Digests: []DigestFile{{Bucket: d.DigestS3Bucket, Key: d.DigestS3Object, Stored: raw, Signature: "00"}}, Keys: []PublicKey{s.PublicKey()}})
	if len(rep.Digests) != 1 || rep.Digests[0].Status != DigestNoKey {
		t.Errorf("digests %+v, want %s", rep.Digests, DigestNoKey)
	}
	want := d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" + sha(raw) + "\nhash-of-previous-digest"
	if got := string(StringToSign(d, raw)); got != want {
		t.Errorf("string to sign %q, want %q", got, want)
	}
}
