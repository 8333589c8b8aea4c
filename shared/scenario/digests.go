package scenario

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/ctdigest"
)

// trailDigests writes what CloudTrail writes beside the logs it delivers
// and the emulator's trails do not: an hourly digest file for every hour
// the seeded log files of one trail location (bucket, account, region)
// were delivered in, plus the hour after, chained, each signed with a key
// of its region (x-amz-meta-signature, hex), as "CloudTrail digest file
// structure" describes. The keys are the ones the local run's
// ListPublicKeys fake serves (Seeded.DigestKeys): the same validator that
// passes these passes CloudTrail's own.
func (a *applier) trailDigests(ctx context.Context) error {
	type location struct{ bucket, base, account, region string }
	byLoc := map[location][]ctdigest.Delivered{}
	var locs []location
	for _, l := range a.ctLogs {
		base, account, region, ok := ctdigest.LogBase(l.Key)
		if !ok {
			continue
		}
		k := location{l.Bucket, base, account, region}
		if _, seen := byLoc[k]; !seen {
			locs = append(locs, k)
		}
		byLoc[k] = append(byLoc[k], l)
	}
	sort.Slice(locs, func(i, j int) bool { return fmt.Sprint(locs[i]) < fmt.Sprint(locs[j]) })
	signers := map[string]*ctdigest.Signer{}
	for _, loc := range locs {
		s := signers[loc.region]
		if s == nil {
			var err error
			if s, err = ctdigest.NewSigner(loc.region, a.out.now().AddDate(0, -1, 0)); err != nil {
				return fmt.Errorf("scenario: CloudTrail digest key: %w", err)
			}
			signers[loc.region] = s
			a.out.DigestKeys = append(a.out.DigestKeys, s.PublicKey())
		}
		trail, validates := "trail", true
		for _, t := range a.sc.Trails {
			if t.Bucket == loc.bucket {
				trail, validates = t.Name, t.Validates()
			}
		}
		if !validates {
			continue // a trail without validation delivers no digests
		}
		logs := byLoc[loc]
		hours := map[time.Time][]ctdigest.Delivered{}
		var first, last time.Time
		for _, l := range logs {
			at, ok := ctdigest.DeliveredAt(l.Key)
			if !ok {
				continue
			}
			h := at.Truncate(time.Hour)
			hours[h] = append(hours[h], l)
			if first.IsZero() || h.Before(first) {
				first = h
			}
			if h.After(last) {
				last = h
			}
		}
		if first.IsZero() {
			continue
		}
		var prev *ctdigest.Written
		for h := first; !h.After(last.Add(time.Hour)); h = h.Add(time.Hour) {
			// CloudTrail delivers a digest every hour, empty ones too,
			// a few minutes after the hour it covers.
			end := h.Add(time.Hour).Add(4*time.Minute + 12*time.Second)
			w, err := s.Digest(loc.bucket, loc.base, loc.account, trail, h.Add(4*time.Minute+12*time.Second), end, hours[h], prev)
			if err != nil {
				return fmt.Errorf("scenario: CloudTrail digest: %w", err)
			}
			if _, err := a.c.s3.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(w.Bucket), Key: aws.String(w.Key), Body: bytes.NewReader(w.Stored),
				ContentLength: aws.Int64(int64(len(w.Stored))), ContentType: aws.String("application/json"),
				ContentEncoding: aws.String("gzip"), Metadata: map[string]string{"signature": w.Signature},
				ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
			}); err != nil {
				return fmt.Errorf("scenario: PutObject s3://%s/%s: %w", w.Bucket, w.Key, err)
			}
			a.out.Digests = append(a.out.Digests, SeededObject{File: "(CloudTrail digest)", Bucket: w.Bucket, Key: w.Key, Size: int64(len(w.Stored)), Rewritten: true})
			prev = w
		}
	}
	return nil
}
