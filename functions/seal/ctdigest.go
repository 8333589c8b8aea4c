package main

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/ctdigest"
	"github.com/custody-ir/custody/shared/evidence"
)

// publicKeyLister is CloudTrail's ListPublicKeys: the keys its digests are
// signed with, per region.
type publicKeyLister interface {
	ListPublicKeys(ctx context.Context, in *cloudtrail.ListPublicKeysInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.ListPublicKeysOutput, error)
}

// The CloudTrail validation's artifacts, under the run's cloudtrail/.
const (
	ctValidationFile = "cloudtrail/digest-validation.json"
	ctKeysFile       = "cloudtrail/digest-public-keys.json"
)

// maxDigestCopy bounds a copied digest read into memory (they are KBs).
const maxDigestCopy = 16 << 20

// ctValidation is digest-validation.json: what ctdigest.Validate found on
// the run's CloudTrail copies, and the counts per status.
type ctValidation struct {
	Counts map[string]int `json:"counts"`
	*ctdigest.Report
}

// validateCloudTrail validates CloudTrail's own chain of custody on the
// copies the run holds (ctdigest), with the public keys of
// cloudtrail:ListPublicKeys of every region a digest names, and stores the
// keys and the result as artifacts, so the check can be re-run offline
// from the case alone. It runs before the manifest is written: both are in
// it. A run without CloudTrail copies has nothing to validate.
func (h *Handler) validateCloudTrail(ctx context.Context, m *evidence.Manifest, runPrefix string) ([]evidence.Artifact, []evidence.Gap, error) {
	var in ctdigest.Input
	in.ValidationOff = map[string]bool{}
	regions := map[string]bool{}
	for _, a := range m.Artifacts {
		if a.Source != evidence.SourceCloudTrail || a.Origin == nil || a.Origin.Key == "" {
			if a.Source == evidence.SourceCloudTrail && strings.HasSuffix(a.Key, "/trails.json") {
				if err := h.validationOff(ctx, a, in.ValidationOff); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		switch {
		case ctdigest.IsDigestKey(a.Origin.Key):
			body, meta, err := h.read(ctx, a, maxDigestCopy)
			if err != nil {
				return nil, nil, err
			}
			in.Digests = append(in.Digests, ctdigest.DigestFile{Bucket: a.Origin.Bucket, Key: a.Origin.Key, Stored: body, Signature: meta["signature"], CopyKey: a.Key})
			if _, _, r, ok := ctdigest.LogBase(a.Origin.Key); ok {
				regions[r] = true
			}
		case ctdigest.IsLogKey(a.Origin.Key):
			sum, err := h.inflatedSHA256(ctx, a)
			if err != nil {
				return nil, nil, err
			}
			in.Logs = append(in.Logs, ctdigest.LogCopy{Bucket: a.Origin.Bucket, Key: a.Origin.Key, SHA256: sum, CopyKey: a.Key})
		}
	}
	if len(in.Digests) == 0 && len(in.Logs) == 0 {
		return nil, nil, nil
	}
	var gaps []evidence.Gap
	// Keys valid at any time around the window (a digest is delivered
	// up to an hour after the window; a key rotates rarely).
	from, to := m.Window.Start.Add(-48*time.Hour), m.Window.End.Add(48*time.Hour)
	names := make([]string, 0, len(regions))
	for r := range regions {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		keys, err := h.publicKeys(ctx, r, from, to)
		if err != nil {
			gaps = append(gaps, evidence.Gap{Source: evidence.SourceCloudTrail,
				Reason: fmt.Sprintf("cloudtrail:ListPublicKeys in %s failed (%v): the region's digests cannot be validated", r, err),
				Fix:    "allow Seal's role cloudtrail:ListPublicKeys"})
			continue
		}
		in.Keys = append(in.Keys, keys...)
	}
	rep := ctdigest.Validate(in)
	for _, g := range rep.Gaps {
		gaps = append(gaps, evidence.Gap{Source: evidence.SourceCloudTrail, Reason: g, Fix: "EnableLogFileValidation on the trail (cloudtrail:UpdateTrail --enable-log-file-validation); copy the digests of the window"})
	}
	meta := func(api string, req map[string]any) evidence.PutMeta {
		return evidence.PutMeta{Source: evidence.SourceCloudTrail, API: api, Request: req, Collector: "seal", CollectorVersion: h.Version,
			ContentType: evidence.ContentTypeJSON, AcceptIdentical: true}
	}
	if in.Keys == nil {
		in.Keys = []ctdigest.PublicKey{}
	}
	kart, err := h.putJSON(ctx, runPrefix+ctKeysFile, in.Keys, meta("cloudtrail:ListPublicKeys", map[string]any{"regions": names, "StartTime": from, "EndTime": to}))
	if err != nil {
		return nil, nil, err
	}
	kart.Records = int64(len(in.Keys))
	vart, err := h.putJSON(ctx, runPrefix+ctValidationFile, ctValidation{Counts: rep.Counts(), Report: rep}, meta("custody:ValidateCloudTrailDigests", nil))
	if err != nil {
		return nil, nil, err
	}
	vart.Records = int64(len(rep.Logs))
	return []evidence.Artifact{kart, vart}, gaps, nil
}

func (h *Handler) putJSON(ctx context.Context, key string, v any, meta evidence.PutMeta) (evidence.Artifact, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return evidence.Artifact{}, err
	}
	return h.Writer.Put(ctx, key, strings.NewReader(string(b)), meta)
}

// publicKeys lists region's CloudTrail public keys valid in [from, to].
func (h *Handler) publicKeys(ctx context.Context, region string, from, to time.Time) ([]ctdigest.PublicKey, error) {
	if h.Trail == nil {
		return nil, fmt.Errorf("no CloudTrail client")
	}
	var keys []ctdigest.PublicKey
	in := &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(from), EndTime: aws.Time(to)}
	for {
		out, err := h.Trail.ListPublicKeys(ctx, in, func(o *cloudtrail.Options) { o.Region = region })
		if err != nil {
			return nil, err
		}
		for _, k := range out.PublicKeyList {
			keys = append(keys, ctdigest.PublicKey{Region: region, Value: k.Value, Fingerprint: aws.ToString(k.Fingerprint),
				ValidityStartTime: aws.ToTime(k.ValidityStartTime).UTC(), ValidityEndTime: aws.ToTime(k.ValidityEndTime).UTC()})
		}
		if aws.ToString(out.NextToken) == "" {
			return keys, nil
		}
		in.NextToken = out.NextToken
	}
}

// read reads artifact a's stored version (up to max bytes) and its
// metadata.
func (h *Handler) read(ctx context.Context, a evidence.Artifact, max int64) ([]byte, map[string]string, error) {
	out, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(a.Key), VersionId: versionOf(a)})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", a.Key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", a.Key, err)
	}
	if int64(len(b)) > max {
		return nil, nil, fmt.Errorf("read %s: larger than %d bytes", a.Key, max)
	}
	return b, out.Metadata, nil
}

// inflatedSHA256 is the hex SHA-256 of artifact a's uncompressed content,
// streamed.
func (h *Handler) inflatedSHA256(ctx context.Context, a evidence.Artifact) (string, error) {
	out, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(a.Key), VersionId: versionOf(a)})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", a.Key, err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", a.Key, err)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, zr); err != nil {
		return "", fmt.Errorf("read %s: %w", a.Key, err)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func versionOf(a evidence.Artifact) *string {
	if a.VersionID == "" {
		return nil
	}
	return aws.String(a.VersionID)
}

// validationOff marks the buckets of the trails trails.json says do not
// validate their log files.
func (h *Handler) validationOff(ctx context.Context, a evidence.Artifact, off map[string]bool) error {
	b, _, err := h.read(ctx, a, 64<<20)
	if err != nil {
		return err
	}
	var trails []struct {
		Trail struct {
			S3BucketName             *string
			LogFileValidationEnabled *bool
		} `json:"trail"`
	}
	if json.Unmarshal(b, &trails) != nil {
		return nil // not the shape expected: nothing is marked off
	}
	for _, t := range trails {
		if t.Trail.LogFileValidationEnabled != nil && !*t.Trail.LogFileValidationEnabled && t.Trail.S3BucketName != nil {
			off[*t.Trail.S3BucketName] = true
		}
	}
	return nil
}
