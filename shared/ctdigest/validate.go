package ctdigest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// PublicKey is one CloudTrail public key as ListPublicKeys returns it,
// with the region it was listed in (each region signs with its own keys).
type PublicKey struct {
	Region string `json:"region"`
	// Value is the DER of the RSA public key (PKCS#1 RSAPublicKey).
	Value             []byte    `json:"value"`
	ValidityStartTime time.Time `json:"validityStartTime"`
	ValidityEndTime   time.Time `json:"validityEndTime"`
	Fingerprint       string    `json:"fingerprint"`
}

// DigestFile is one copied digest: where CloudTrail delivered it, its
// bytes as stored (gzip) and the hex signature from its
// x-amz-meta-signature.
type DigestFile struct {
	Bucket    string
	Key       string
	Stored    []byte
	Signature string
	// CopyKey is where the copy is in the case.
	CopyKey string
}

// LogCopy is one copied log file: where CloudTrail delivered it and the hex
// SHA-256 of its uncompressed content.
type LogCopy struct {
	Bucket string
	Key    string
	SHA256 string
	// CopyKey is where the copy is in the case.
	CopyKey string
}

// Input is what one validation reads.
type Input struct {
	Digests []DigestFile
	Logs    []LogCopy
	Keys    []PublicKey
	// ValidationOff names the trails (by bucket) whose log file validation
	// is off: their logs have no digest to be checked by.
	ValidationOff map[string]bool
}

// Per log file results.
const (
	LogValid         = "valid"             // listed in a valid, chained digest with the copy's SHA-256
	LogChanged       = "changed"           // listed in a valid digest with another SHA-256
	LogNotInDigest   = "not-in-any-digest" // a valid digest covers its delivery time but does not list it
	LogDigestMissing = "digest-missing"    // no copied digest covers its delivery time
	LogDigestInvalid = "digest-invalid"    // only digests that do not validate list it
	LogChainGap      = "chain-gap"         // listed in a valid digest outside an unbroken chain
	LogValidationOff = "validation-off"    // its trail does not write digests (EnableLogFileValidation)
)

// Per digest results.
const (
	DigestValid        = "valid"
	DigestBadSignature = "bad-signature" // the signature does not verify
	DigestNoKey        = "no-key"        // no public key of its region has its fingerprint
	DigestMoved        = "moved"         // it names another bucket/key than where it was delivered
	DigestMalformed    = "malformed"     // not a digest file
)

// LogResult is one log file's outcome.
type LogResult struct {
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`
	CopyKey string `json:"copyKey,omitempty"`
	Status  string `json:"status"`
	Digest  string `json:"digest,omitempty"` // the digest key that lists it
	Reason  string `json:"reason,omitempty"`
}

// DigestResult is one digest file's outcome.
type DigestResult struct {
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`
	CopyKey string `json:"copyKey,omitempty"`
	Status  string `json:"status"`
	Region  string `json:"region,omitempty"`
	Start   string `json:"digestStartTime,omitempty"`
	End     string `json:"digestEndTime,omitempty"`
	// Signature is the hex signature CloudTrail stored with it
	// (x-amz-meta-signature): a downloaded copy keeps no S3 metadata, so
	// the report carries it for the check to re-run offline (it proves
	// itself: it verifies with CloudTrail's key or not at all).
	Signature string `json:"signature"`
	// Chained: its predecessor in the copies (when one was copied) is the
	// digest it names, by key, signature and SHA-256.
	Chained bool   `json:"chained"`
	Reason  string `json:"reason,omitempty"`
}

// Report is the outcome of one validation.
type Report struct {
	Digests []DigestResult `json:"digests"`
	Logs    []LogResult    `json:"logs"`
	// Gaps say, in a sentence each, what could not be proved and why.
	Gaps []string `json:"gaps"`
}

// Counts is the number of log files per status.
func (r *Report) Counts() map[string]int {
	c := map[string]int{}
	for _, l := range r.Logs {
		c[l.Status]++
	}
	return c
}

// OK reports whether every digest and log file is valid.
func (r *Report) OK() bool {
	for _, d := range r.Digests {
		if d.Status != DigestValid || !d.Chained {
			return false
		}
	}
	for _, l := range r.Logs {
		if l.Status != LogValid {
			return false
		}
	}
	return true
}

type parsed struct {
	file   DigestFile
	d      *Digest
	raw    []byte
	res    *DigestResult
	end    time.Time
	start  time.Time
	region string
}

// Validate checks the copies: every digest's signature and place, the
// chain across them, and every log file against the digest that lists it.
func Validate(in Input) *Report {
	rep := &Report{Digests: []DigestResult{}, Logs: []LogResult{}, Gaps: []string{}}
	var ds []*parsed
	for _, f := range in.Digests {
		p := &parsed{file: f, res: &DigestResult{Bucket: f.Bucket, Key: f.Key, CopyKey: f.CopyKey, Signature: f.Signature}}
		ds = append(ds, p)
		if m := digestKey.FindStringSubmatch(f.Key); m != nil {
			p.region = m[3]
		}
		p.res.Region = p.region
		raw, err := Inflate(f.Stored)
		if err == nil {
			p.raw = raw
			p.d, err = ParseDigest(raw)
		}
		if err != nil {
			p.res.Status, p.res.Reason = DigestMalformed, err.Error()
			continue
		}
		p.res.Start, p.res.End = p.d.DigestStartTime, p.d.DigestEndTime
		p.start, _ = time.Parse(time.RFC3339, p.d.DigestStartTime)
		p.end, _ = time.Parse(time.RFC3339, p.d.DigestEndTime)
		p.res.Status, p.res.Reason = checkSignature(p, in.Keys)
	}

	// The chain, per account, region and trail bucket: in end-time order,
	// each digest must name the one before it.
	chains := map[string][]*parsed{}
	for _, p := range ds {
		if p.d == nil {
			continue
		}
		k := p.file.Bucket + "|" + p.d.AWSAccountID + "|" + p.region
		chains[k] = append(chains[k], p)
	}
	for _, c := range chains {
		sort.Slice(c, func(i, j int) bool { return c[i].end.Before(c[j].end) })
		for i, p := range c {
			if i == 0 {
				p.res.Chained = true // its predecessor is outside the copies
				continue
			}
			prev := c[i-1]
			why := link(prev, p)
			if why == "" {
				p.res.Chained = true
				continue
			}
			p.res.Reason = strings.TrimPrefix(p.res.Reason+"; ", "; ") + why
			rep.Gaps = append(rep.Gaps, fmt.Sprintf("CloudTrail digest chain broken between %s and %s: %s", prev.file.Key, p.file.Key, why))
		}
	}

	// Which digests list which log files, and which cover which times.
	type listing struct {
		p  *parsed
		lf LogFile
	}
	listed := map[string][]listing{}
	for _, p := range ds {
		if p.d == nil {
			continue
		}
		for _, lf := range p.d.LogFiles {
			listed[lf.S3Bucket+"/"+lf.S3Object] = append(listed[lf.S3Bucket+"/"+lf.S3Object], listing{p, lf})
		}
	}
	// A digest is trusted for its logs when it validates and sits in an
	// unbroken chain: its own link to the one before, and the next one's
	// link to it.
	unchained := map[*parsed]bool{}
	for _, c := range chains {
		for i, p := range c {
			if !p.res.Chained || (i+1 < len(c) && !c[i+1].res.Chained) {
				unchained[p] = true
			}
		}
	}
	for _, l := range in.Logs {
		r := LogResult{Bucket: l.Bucket, Key: l.Key, CopyKey: l.CopyKey}
		ls := listed[l.Bucket+"/"+l.Key]
		var valid *listing
		for i := range ls {
			if ls[i].p.res.Status == DigestValid {
				valid = &ls[i]
				break
			}
		}
		switch {
		case valid != nil:
			r.Digest = valid.p.file.Key
			switch {
			case !strings.EqualFold(valid.lf.HashValue, l.SHA256):
				r.Status = LogChanged
				r.Reason = fmt.Sprintf("sha256 of the uncompressed copy is %s, the digest says %s", l.SHA256, valid.lf.HashValue)
			case unchained[valid.p]:
				r.Status, r.Reason = LogChainGap, "its digest validates but is not linked to the digests around it"
			default:
				r.Status = LogValid
			}
		case len(ls) > 0:
			r.Status, r.Digest = LogDigestInvalid, ls[0].p.file.Key
			r.Reason = "the only digests that list it do not validate (" + ls[0].p.res.Status + ")"
		case in.ValidationOff[l.Bucket]:
			r.Status = LogValidationOff
			r.Reason = "log file validation is off on its trail"
		default:
			r.Status, r.Reason = LogDigestMissing, "no copied digest covers its delivery time"
			if acct, region, at, ok := logDelivered(l.Key); ok {
				for _, p := range ds {
					if p.d != nil && p.res.Status == DigestValid && p.file.Bucket == l.Bucket && p.d.AWSAccountID == acct &&
						p.region == region && !at.Before(p.start.Truncate(time.Minute)) && !at.After(p.end) {
						r.Status, r.Digest = LogNotInDigest, p.file.Key
						r.Reason = "a valid digest covers its delivery time and does not list it"
						break
					}
				}
			}
		}
		rep.Logs = append(rep.Logs, r)
	}
	for _, p := range ds {
		rep.Digests = append(rep.Digests, *p.res)
	}
	sort.Slice(rep.Digests, func(i, j int) bool { return rep.Digests[i].Key < rep.Digests[j].Key })
	sort.Slice(rep.Logs, func(i, j int) bool { return rep.Logs[i].Key < rep.Logs[j].Key })
	if n := rep.Counts()[LogValidationOff]; n > 0 {
		rep.Gaps = append(rep.Gaps, fmt.Sprintf("%d CloudTrail log file(s) from trails with log file validation off: nothing proves they are what CloudTrail delivered (fix: EnableLogFileValidation on the trail)", n))
	}
	if n := rep.Counts()[LogDigestMissing]; n > 0 {
		rep.Gaps = append(rep.Gaps, fmt.Sprintf("%d CloudTrail log file(s) with no copied digest covering their delivery time", n))
	}
	return rep
}

// checkSignature checks one digest's place and signature.
func checkSignature(p *parsed, keys []PublicKey) (string, string) {
	d := p.d
	if d.DigestS3Bucket != p.file.Bucket || d.DigestS3Object != p.file.Key {
		return DigestMoved, fmt.Sprintf("it names s3://%s/%s, it was copied from s3://%s/%s", d.DigestS3Bucket, d.DigestS3Object, p.file.Bucket, p.file.Key)
	}
	if d.DigestSignatureAlgorithm != "" && d.DigestSignatureAlgorithm != SignatureAlgorithm {
		return DigestMalformed, "signature algorithm " + d.DigestSignatureAlgorithm
	}
	sig, err := hex.DecodeString(p.file.Signature)
	if err != nil || len(sig) == 0 {
		return DigestBadSignature, "no hex signature in x-amz-meta-signature"
	}
	var key *PublicKey
	for i := range keys {
		if keys[i].Region == p.region && strings.EqualFold(keys[i].Fingerprint, d.DigestPublicKeyFingerprint) {
			key = &keys[i]
		}
	}
	if key == nil {
		return DigestNoKey, fmt.Sprintf("no public key of region %s has fingerprint %s", p.region, d.DigestPublicKeyFingerprint)
	}
	pub, err := x509.ParsePKCS1PublicKey(key.Value)
	if err != nil {
		return DigestNoKey, fmt.Sprintf("public key %s: %v", key.Fingerprint, err)
	}
	h := sha256.Sum256(StringToSign(d, p.raw))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) != nil {
		return DigestBadSignature, "the signature does not verify with the key of fingerprint " + key.Fingerprint
	}
	return DigestValid, ""
}

// link says why p does not follow prev in a chain ("" when it does).
func link(prev, p *parsed) string {
	d := p.d
	switch {
	case d.PreviousDigestSignature == nil:
		return "it starts a new chain (validation was off, or logging stopped, in between)"
	case d.PreviousDigestS3Object == nil || *d.PreviousDigestS3Object != prev.file.Key ||
		(d.PreviousDigestS3Bucket != nil && *d.PreviousDigestS3Bucket != prev.file.Bucket):
		return fmt.Sprintf("it names previous digest %s, the copies hold %s before it (a digest is missing)", deref(d.PreviousDigestS3Object), prev.file.Key)
	case !strings.EqualFold(*d.PreviousDigestSignature, prev.file.Signature):
		return "it names a previous signature other than the previous digest's"
	}
	if d.PreviousDigestHashValue != nil && prev.raw != nil {
		// The SHA-256 of the previous digest file; the documentation does
		// not say of which bytes, so the uncompressed and the stored ones
		// both count (the signature link above is the binding check).
		a, b := sha256.Sum256(prev.raw), sha256.Sum256(prev.file.Stored)
		if v := strings.ToLower(*d.PreviousDigestHashValue); v != hex.EncodeToString(a[:]) && v != hex.EncodeToString(b[:]) {
			return "it names a previous digest hash other than the previous digest's"
		}
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
