package verify

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/custody-ir/custody/shared/ctdigest"
	"github.com/custody-ir/custody/shared/evidence"
)

// CloudTrailCheck is CloudTrail's own chain of custody over the run's
// copies, re-run offline: the digests and log files of the case, the
// signatures and public keys Seal stored (cloudtrail/digest-validation.json
// and digest-public-keys.json, both listed in the manifest).
type CloudTrailCheck struct {
	Logs    int            `json:"logs"`
	Digests int            `json:"digests"`
	Counts  map[string]int `json:"counts"`
	// Fingerprints are CloudTrail's keys that signed the valid digests:
	// compare them with ListPublicKeys of any AWS account.
	Fingerprints []string `json:"fingerprints"`
	// Problems are files whose result differs from the one sealed.
	Problems []string `json:"problems,omitempty"`
}

func (c *CloudTrailCheck) line() string {
	if c == nil {
		return ""
	}
	var parts []string
	keys := make([]string, 0, len(c.Counts))
	for k := range c.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", c.Counts[k], k))
	}
	return fmt.Sprintf("cloudtrail digests: %d digest(s), %d log file(s): %s (re-checked offline; CloudTrail keys %s)",
		c.Digests, c.Logs, strings.Join(parts, ", "), strings.Join(c.Fingerprints, ", "))
}

// caseFiles reads a case's files by their bucket keys: a local download
// (dirFiles) or the bucket itself (bucketFiles), so that both forms of
// verify re-check the same things.
type caseFiles interface {
	// read is the file at key, at most max bytes; an error matching
	// fs.ErrNotExist when there is none.
	read(key string, max int64) ([]byte, error)
	// inflatedSHA256 is the hex SHA-256 of the gzip file at key's content.
	inflatedSHA256(key string) (string, error)
}

// checkCloudTrail re-runs the digest validation of the run whose folder
// is the key prefix runPrefix; nil when Seal validated nothing.
func checkCloudTrail(files caseFiles, runPrefix string) *CloudTrailCheck {
	vb, err := files.read(runPrefix+"cloudtrail/digest-validation.json", maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	c := &CloudTrailCheck{Counts: map[string]int{}, Fingerprints: []string{}}
	if err != nil {
		c.Problems = append(c.Problems, err.Error())
		return c
	}
	var sealed ctdigest.Report
	if err := json.Unmarshal(vb, &sealed); err != nil {
		c.Problems = append(c.Problems, "digest-validation.json: "+err.Error())
		return c
	}
	var in ctdigest.Input
	if kb, err := files.read(runPrefix+"cloudtrail/digest-public-keys.json", maxSealFile*16); err == nil {
		if err := json.Unmarshal(kb, &in.Keys); err != nil {
			c.Problems = append(c.Problems, "digest-public-keys.json: "+err.Error())
		}
	} else {
		c.Problems = append(c.Problems, err.Error())
	}
	for _, d := range sealed.Digests {
		b, err := files.read(d.CopyKey, 16<<20)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				c.Problems = append(c.Problems, err.Error())
			}
			b = nil // a missing copy does not validate: reported below
		}
		in.Digests = append(in.Digests, ctdigest.DigestFile{Bucket: d.Bucket, Key: d.Key, Stored: b, Signature: d.Signature, CopyKey: d.CopyKey})
	}
	want := map[string]string{}
	for _, l := range sealed.Logs {
		want[l.Key] = l.Status
		sum, _ := files.inflatedSHA256(l.CopyKey)
		in.Logs = append(in.Logs, ctdigest.LogCopy{Bucket: l.Bucket, Key: l.Key, SHA256: sum, CopyKey: l.CopyKey})
	}
	rep := ctdigest.Validate(in)
	c.Logs, c.Digests, c.Counts = len(rep.Logs), len(rep.Digests), rep.Counts()
	fps := map[string]bool{}
	for _, d := range rep.Digests {
		if d.Status == ctdigest.DigestValid {
			raw, _ := ctdigest.Inflate(digestBytes(in.Digests, d.Key))
			if pd, err := ctdigest.ParseDigest(raw); err == nil {
				fps[pd.DigestPublicKeyFingerprint] = true
			}
		}
	}
	for f := range fps {
		c.Fingerprints = append(c.Fingerprints, f)
	}
	sort.Strings(c.Fingerprints)
	for _, l := range rep.Logs {
		if want[l.Key] != l.Status {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %s when sealed, %s now: %s", l.CopyKey, want[l.Key], l.Status, l.Reason))
		}
	}
	return c
}

// dirFiles are a local download's files (evidence.LocalPath under root).
type dirFiles struct{ root string }

func (d dirFiles) read(key string, max int64) ([]byte, error) {
	p, err := evidence.LocalPath(d.root, key)
	if err != nil {
		return nil, err
	}
	return readCapped(p, max)
}

func (d dirFiles) inflatedSHA256(key string) (string, error) {
	p, err := evidence.LocalPath(d.root, key)
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return inflatedSHA256(f)
}

func digestBytes(ds []ctdigest.DigestFile, key string) []byte {
	for _, d := range ds {
		if d.Key == key {
			return d.Stored
		}
	}
	return nil
}

// inflatedSHA256 is the hex SHA-256 of a gzip stream's content, streamed.
func inflatedSHA256(r io.Reader) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
