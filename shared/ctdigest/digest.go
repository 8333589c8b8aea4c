// Package ctdigest validates CloudTrail's own chain of custody on copies of
// its files: the digest files CloudTrail signs (SHA256withRSA, a chain of
// digests, each naming the SHA-256 of the log files it covers), checked
// against the public keys of cloudtrail:ListPublicKeys, offline.
//
// What is checked, as AWS documents it ("CloudTrail digest file
// structure", "Custom implementations of CloudTrail log file integrity
// validation"; the AWS CLI's validate-logs does the same in place):
//
//   - each digest's signature (hex, in the object's x-amz-meta-signature)
//     over the string digestEndTime + "\n" + digestS3Bucket + "/" +
//     digestS3Object + "\n" + hex SHA-256 of the uncompressed digest file
//   - "\n" + previousDigestSignature ("null" for the first of a chain),
//     with the public key of the digest's region whose fingerprint the
//     digest names;
//   - that the digest sits where CloudTrail delivered it (its own bucket
//     and key);
//   - the chain: each digest names the signature (and SHA-256) of the one
//     before it;
//   - each log file's SHA-256, of its uncompressed content, against the
//     hashValue of the digest that lists it.
package ctdigest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Digest is a CloudTrail digest file's content (the fields validation
// reads; the others are kept by the copy, unchanged).
type Digest struct {
	AWSAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string   `json:"newestEventTime"`
	OldestEventTime             *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogFile `json:"logFiles"`
}

// LogFile is one log file a digest covers.
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime,omitempty"`
	OldestEventTime string `json:"oldestEventTime,omitempty"`
}

// SignatureAlgorithm is the one algorithm CloudTrail signs digests with.
const SignatureAlgorithm = "SHA256withRSA"

// StringToSign is what CloudTrail signs for digest d whose uncompressed
// content is raw.
func StringToSign(d *Digest, raw []byte) []byte {
	prev := "null"
	if d.PreviousDigestSignature != nil {
		prev = *d.PreviousDigestSignature
	}
	sum := sha256.Sum256(raw)
	return []byte(d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" + hex.EncodeToString(sum[:]) + "\n" + prev)
}

// maxDigest bounds an uncompressed digest file: an hour of one region's
// log files is a few thousand entries, well under this.
const maxDigest = 64 << 20

// Inflate returns the uncompressed content of a digest or log file as
// stored (gzip; a file that is not gzip is returned as it is).
func Inflate(stored []byte) ([]byte, error) {
	if len(stored) < 2 || stored[0] != 0x1f || stored[1] != 0x8b {
		return stored, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxDigest+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDigest {
		return nil, fmt.Errorf("uncompressed past %d bytes", maxDigest)
	}
	return out, nil
}

// ParseDigest decodes an uncompressed digest file.
func ParseDigest(raw []byte) (*Digest, error) {
	var d Digest
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	if d.DigestEndTime == "" || d.DigestS3Bucket == "" || d.DigestS3Object == "" || d.DigestPublicKeyFingerprint == "" {
		return nil, errors.New("digest: digestEndTime, digestS3Bucket, digestS3Object and digestPublicKeyFingerprint are required")
	}
	return &d, nil
}

// digestKey matches a digest's key: …/AWSLogs/[o-id/]<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/<acct>_CloudTrail-Digest_<region>_<trail>_<region>_<end>.json.gz
var digestKey = regexp.MustCompile(`AWSLogs/(?:(o-[a-z0-9]+)/)?(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/\d{12}_CloudTrail-Digest_[a-z0-9-]+_(.+)_[a-z0-9-]+_(\d{8}T\d{6}Z)(_backfill)?\.json\.gz$`)

// logKey matches a log file's key: …/AWSLogs/[o-id/]<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz
var logKey = regexp.MustCompile(`AWSLogs/(?:(o-[a-z0-9]+)/)?(\d{12})/CloudTrail/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/\d{12}_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json\.gz$`)

// IsDigestKey reports whether key is a CloudTrail digest file's.
func IsDigestKey(key string) bool { return digestKey.MatchString(key) }

// IsLogKey reports whether key is a CloudTrail log file's.
func IsLogKey(key string) bool { return logKey.MatchString(key) }

// DeliveredAt is the delivery time a CloudTrail log file's key names.
func DeliveredAt(key string) (time.Time, bool) {
	_, _, at, ok := logDelivered(key)
	return at, ok
}

// logDelivered is a log file's account, region and delivery time, from its
// key.
func logDelivered(key string) (account, region string, at time.Time, ok bool) {
	m := logKey.FindStringSubmatch(key)
	if m == nil {
		return "", "", time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", m[4])
	return m[2], m[3], t, err == nil
}

// LogBase is the part of a log or digest key before its account:
// "<prefix>AWSLogs/", or "<prefix>AWSLogs/<o-id>/" for an organization
// trail; ok is false for a key that is neither.
func LogBase(key string) (base, account, region string, ok bool) {
	for _, re := range []*regexp.Regexp{logKey, digestKey} {
		if loc := re.FindStringSubmatchIndex(key); loc != nil {
			return key[:loc[4]], key[loc[4]:loc[5]], key[loc[6]:loc[7]], true
		}
	}
	return "", "", "", false
}

// DigestKey is the key CloudTrail gives the digest of account's trail in
// region ending at end, under base (LogBase).
func DigestKey(base, account, region, trail string, end time.Time) string {
	end = end.UTC()
	return fmt.Sprintf("%s%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
		base, account, region, end.Format("2006/01/02"), account, region, trail, region, end.Format("20060102T150405Z"))
}
