package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Environment of the hub copy (custody:copySnapshotsToHub).
const (
	// EnvSnapshotKey is the ARN of custody's snapshot key in the hub: the
	// key a member's copy is re-encrypted under (its policy lets the
	// organization's accounts use it through EC2) and the hub copy's.
	// Empty: no hub copy.
	EnvSnapshotKey = "CUSTODY_SNAPSHOT_KEY_ARN"
)

// TagHubShare marks the member-side copy made only to share a snapshot
// with the hub (re-encrypted under a key the hub can use).
const TagHubShare = "custody:hub-share"

// DefaultCopyWait is how long the collector waits for a snapshot to
// complete before it can be copied (EBS copies only completed snapshots).
const DefaultCopyWait = 10 * time.Minute

// memberSnapshots are the member-side calls of a hub copy.
type memberSnapshots interface {
	ec2.DescribeSnapshotsAPIClient
	CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, optFns ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error)
	ModifySnapshotAttribute(ctx context.Context, in *ec2.ModifySnapshotAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifySnapshotAttributeOutput, error)
}

// hubSnapshots are the hub-side calls.
type hubSnapshots interface {
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, optFns ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error)
	LockSnapshot(ctx context.Context, in *ec2.LockSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.LockSnapshotOutput, error)
}

// HubCopy copies a member's snapshot into the hub account, so that the
// evidence does not depend on the member account (whose administrators
// may be the attacker): an unencrypted snapshot is shared with the hub as
// it is; an encrypted one (its key, often aws/ebs, cannot be shared) is
// first copied in the member re-encrypted under custody's snapshot key,
// and that copy is shared. The hub then copies the shared snapshot,
// encrypted under the same key, tagged with the case, and locked when
// configured. The hub copy completes on its own; its ID is in the
// manifest at once.
type HubCopy struct {
	Member     memberSnapshots
	Hub        hubSnapshots
	HubAccount string
	KeyARN     string
	// Region is the snapshots' region (the copies' source region).
	Region string
	// Lock is the hub copy's Snapshot Lock (0: none).
	Lock time.Duration
	// Wait bounds the wait for a snapshot to complete (DefaultCopyWait
	// when zero).
	Wait time.Duration
}

// copy makes s's hub copy, recording it on s; what cannot be done is a gap
// naming the snapshot and the command to finish by hand. A throttled call
// is returned for the state machine's retry.
func (h *HubCopy) copy(ctx context.Context, inc *incident.Incident, out *collect.Output, s *evidence.Snapshot) error {
	if s.AccountID == "" || s.AccountID == h.HubAccount {
		return nil // the hub's own snapshot: nothing to copy
	}
	if keyRegion := arnRegion(h.KeyARN); keyRegion != "" && keyRegion != h.Region {
		out.Gap(fmt.Sprintf("snapshot %s (account %s, %s) was not copied to the hub: custody's snapshot key is in %s, and EBS copies only under a key of the destination region", s.SnapshotID, s.AccountID, h.Region, keyRegion),
			fmt.Sprintf("deploy custody's hub in %s too, or copy it by hand under a key of %s the hub owns", h.Region, h.Region))
		return nil
	}
	wait := h.Wait
	if wait <= 0 {
		wait = DefaultCopyWait
	}
	gap := func(step string, err error) error {
		f := faults.Of(step, err)
		if f.Class == faults.Throttled {
			return f.Retryable()
		}
		out.Gap(fmt.Sprintf("snapshot %s of account %s was not copied to the hub account %s: %s: %v", s.SnapshotID, s.AccountID, h.HubAccount, step, err),
			fmt.Sprintf("share it and copy it by hand: aws ec2 modify-snapshot-attribute --snapshot-id %s --attribute createVolumePermission --operation-type add --user-ids %s (in %s; an encrypted one after copy-snapshot --kms-key-id %s), then in the hub: aws ec2 copy-snapshot --source-region %s --source-snapshot-id <shared> --encrypted --kms-key-id %s",
				s.SnapshotID, h.HubAccount, s.AccountID, h.KeyARN, h.Region, h.KeyARN))
		return nil
	}
	done, err := h.completed(ctx, s.SnapshotID, wait)
	if err != nil {
		return gap("ec2:DescribeSnapshots (waiting for completed)", err)
	}
	tags := append(snapshotTags(inc, s.InstanceID), types.Tag{Key: aws.String("custody:source-snapshot"), Value: aws.String(s.SnapshotID)},
		types.Tag{Key: aws.String("custody:source-account"), Value: aws.String(s.AccountID)})
	share := s.SnapshotID
	if aws.ToBool(done.Encrypted) {
		mc, err := h.Member.CopySnapshot(ctx, &ec2.CopySnapshotInput{
			SourceSnapshotId: aws.String(s.SnapshotID), SourceRegion: aws.String(h.Region),
			Encrypted: aws.Bool(true), KmsKeyId: aws.String(h.KeyARN),
			Description: aws.String(snapshotDescription(inc, s.InstanceID) + ": re-encrypted to share with the custody hub"),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
				Tags: append(tags, types.Tag{Key: aws.String(TagHubShare), Value: aws.String(h.HubAccount)})}},
		})
		if err != nil {
			return gap("ec2:CopySnapshot in the member (re-encrypt under custody's key)", err)
		}
		share = aws.ToString(mc.SnapshotId)
		if _, err := h.completed(ctx, share, wait); err != nil {
			return gap("ec2:DescribeSnapshots (waiting for the re-encrypted copy)", err)
		}
	}
	if _, err := h.Member.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
		SnapshotId: aws.String(share), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String(h.HubAccount)}}},
	}); err != nil {
		return gap("ec2:ModifySnapshotAttribute (share with the hub)", err)
	}
	// A copy an earlier attempt made (a lost answer, a retried collector)
	// is the copy: found by the tags it was made with.
	if prev, err := h.Hub.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{
		{Name: aws.String("tag:custody:source-snapshot"), Values: []string{s.SnapshotID}},
		{Name: aws.String("tag:" + TagRunID), Values: []string{inc.RunID}},
	}}); err == nil && len(prev.Snapshots) > 0 {
		s.HubCopyID = aws.ToString(prev.Snapshots[0].SnapshotId)
		out.Warn("%s: the hub copy %s an earlier attempt of this run made is the copy; none made again", s.SnapshotID, s.HubCopyID)
		return nil
	}
	hc, err := h.Hub.CopySnapshot(ctx, &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(share), SourceRegion: aws.String(h.Region),
		Encrypted: aws.Bool(true), KmsKeyId: aws.String(h.KeyARN),
		Description:       aws.String(snapshotDescription(inc, s.InstanceID) + ": hub copy of " + s.SnapshotID + " (account " + s.AccountID + ")"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: tags}},
	})
	if err != nil {
		return gap("ec2:CopySnapshot in the hub", err)
	}
	s.HubCopyID = aws.ToString(hc.SnapshotId)
	if h.Lock > 0 {
		days := lockDays(h.Lock)
		if _, err := h.Hub.LockSnapshot(ctx, &ec2.LockSnapshotInput{SnapshotId: hc.SnapshotId, LockMode: types.LockModeGovernance, LockDuration: aws.Int32(days)},
			func(o *ec2.Options) { o.RetryMaxAttempts = lockAttempts }); err != nil {
			out.Gap(fmt.Sprintf("EBS Snapshot Lock could not be set on the hub copy %s: %v; the copy is kept, unlocked", s.HubCopyID, err),
				fmt.Sprintf("lock it by hand in the hub: aws ec2 lock-snapshot --snapshot-id %s --lock-mode governance --lock-duration %d", s.HubCopyID, days))
		} else {
			s.HubCopyLocked = true
		}
	}
	out.Warn("%s: copied into the hub account %s as %s (shared from %s, encrypted under %s; the copy completes on its own)", s.SnapshotID, h.HubAccount, s.HubCopyID, share, h.KeyARN)
	return nil
}

// completed waits up to wait for snapshot id to complete (the SDK's
// waiter) and returns it.
func (h *HubCopy) completed(ctx context.Context, id string, wait time.Duration) (*types.Snapshot, error) {
	in := &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}}
	out, err := ec2.NewSnapshotCompletedWaiter(h.Member, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 2*time.Second, 15*time.Second
	}).WaitForOutput(ctx, in, wait)
	if err != nil {
		return nil, err
	}
	if len(out.Snapshots) != 1 {
		return nil, fmt.Errorf("snapshot %s: %d described", id, len(out.Snapshots))
	}
	return &out.Snapshots[0], nil
}

// arnRegion is the region field of an ARN ("" when it is not one).
func arnRegion(a string) string {
	parts := strings.SplitN(a, ":", 5)
	if len(parts) < 5 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
