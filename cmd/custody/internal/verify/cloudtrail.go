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
	"path/filepath"
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

// checkCloudTrail re-runs the digest validation of run folder runDir
// (case files under root); nil when Seal validated nothing.
func checkCloudTrail(root, runDir string) *CloudTrailCheck {
	vpath := filepath.Join(runDir, "cloudtrail", "digest-validation.json")
	vb, err := readCapped(vpath, maxManifest)
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
	if kb, err := readCapped(filepath.Join(runDir, "cloudtrail", "digest-public-keys.json"), maxSealFile*16); err == nil {
		if err := json.Unmarshal(kb, &in.Keys); err != nil {
			c.Problems = append(c.Problems, "digest-public-keys.json: "+err.Error())
		}
	} else {
		c.Problems = append(c.Problems, err.Error())
	}
	for _, d := range sealed.Digests {
		p, err := evidence.LocalPath(root, d.CopyKey)
		if err != nil {
			c.Problems = append(c.Problems, err.Error())
			continue
		}
		b, err := readCapped(p, 16<<20)
		if err != nil {
			b = nil // a missing copy does not validate: reported below
		}
		in.Digests = append(in.Digests, ctdigest.DigestFile{Bucket: d.Bucket, Key: d.Key, Stored: b, Signature: d.Signature, CopyKey: d.CopyKey})
	}
	want := map[string]string{}
	for _, l := range sealed.Logs {
		want[l.Key] = l.Status
		sum := ""
		if p, err := evidence.LocalPath(root, l.CopyKey); err == nil {
			sum, _ = inflatedSHA256(p)
		}
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

func digestBytes(ds []ctdigest.DigestFile, key string) []byte {
	for _, d := range ds {
		if d.Key == key {
			return d.Stored
		}
	}
	return nil
}

// inflatedSHA256 is the hex SHA-256 of a gzip file's content, streamed.
func inflatedSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
