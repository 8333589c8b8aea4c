package ctdigest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Signer writes digest files the way CloudTrail does, signed with a key of
// its own: for the emulator, which has no CloudTrail digests and no
// ListPublicKeys (the local run's fake serves Signer.PublicKey), and for
// tests. Real digests validate with the same Validate.
type Signer struct {
	Region string
	key    *rsa.PrivateKey
	pub    PublicKey
}

// NewSigner makes a signer for region with a new RSA 2048 key, valid from
// notBefore for a year. Its fingerprint is the hex MD5 of the key's DER,
// the 32 hex digits real digests name.
func NewSigner(region string, notBefore time.Time) (*Signer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der := x509.MarshalPKCS1PublicKey(&k.PublicKey)
	fp := md5.Sum(der)
	return &Signer{Region: region, key: k, pub: PublicKey{
		Region: region, Value: der, Fingerprint: hex.EncodeToString(fp[:]),
		ValidityStartTime: notBefore.UTC(), ValidityEndTime: notBefore.UTC().AddDate(1, 0, 0),
	}}, nil
}

// PublicKey is the key as ListPublicKeys would list it.
func (s *Signer) PublicKey() PublicKey { return s.pub }

// Delivered is a log file as CloudTrail delivered it.
type Delivered struct {
	Bucket, Key string
	// Raw is its uncompressed content.
	Raw []byte
}

// Written is one digest file as CloudTrail stores it.
type Written struct {
	Bucket, Key string
	// Stored is the gzip'd digest, as the object holds it.
	Stored []byte
	// Signature is the hex signature for x-amz-meta-signature.
	Signature string
	raw       []byte
}

// Digest writes the digest of account's trail in bucket (under base, see
// LogBase) for the hour [start, end], covering logs, chained to prev (nil:
// the first of a chain).
func (s *Signer) Digest(bucket, base, account, trail string, start, end time.Time, logs []Delivered, prev *Written) (*Written, error) {
	key := DigestKey(base, account, s.Region, trail, end)
	d := Digest{
		AWSAccountID: account, DigestStartTime: start.UTC().Format(time.RFC3339), DigestEndTime: end.UTC().Format(time.RFC3339),
		DigestS3Bucket: bucket, DigestS3Object: key, DigestPublicKeyFingerprint: s.pub.Fingerprint,
		DigestSignatureAlgorithm: SignatureAlgorithm, LogFiles: []LogFile{},
	}
	if prev != nil {
		sum := sha256.Sum256(prev.raw)
		h, alg := hex.EncodeToString(sum[:]), "SHA-256"
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object = &prev.Bucket, &prev.Key
		d.PreviousDigestHashValue, d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = &h, &alg, &prev.Signature
	}
	for _, l := range logs {
		sum := sha256.Sum256(l.Raw)
		d.LogFiles = append(d.LogFiles, LogFile{S3Bucket: l.Bucket, S3Object: l.Key, HashValue: hex.EncodeToString(sum[:]), HashAlgorithm: "SHA-256"})
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(StringToSign(&d, raw))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, h[:])
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &Written{Bucket: bucket, Key: key, Stored: gz.Bytes(), Signature: hex.EncodeToString(sig), raw: raw}, nil
}
