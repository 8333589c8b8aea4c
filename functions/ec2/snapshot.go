package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// Tags every snapshot taken for a case carries, set at creation. The case
// and run tags also find the snapshots an earlier attempt of the same run
// took, so a retry does not snapshot again.
const (
	TagCaseID     = "custody:case-id"
	TagFindingID  = "custody:finding-id"
	TagRunID      = "custody:run-id"
	TagInstanceID = "custody:instance-id"
)

// lockAttempts bounds the SDK's attempts at LockSnapshot: a lock that
// cannot be set is a gap, not worth the full retry budget (an emulator
// without it answers 500).
const lockAttempts = 3

// snapshotTags are the tags of the snapshots of instance id: the finding's
// only when there is one (a manual start has none).
func snapshotTags(inc *incident.Incident, id string) []types.Tag {
	tags := []types.Tag{{Key: aws.String(TagCaseID), Value: aws.String(inc.CaseID)}}
	if inc.Finding != nil && inc.Finding.ID != "" {
		tags = append(tags, types.Tag{Key: aws.String(TagFindingID), Value: aws.String(inc.Finding.ID)})
	}
	return append(tags,
		types.Tag{Key: aws.String(TagRunID), Value: aws.String(inc.RunID)},
		types.Tag{Key: aws.String(TagInstanceID), Value: aws.String(id)})
}

// snapshotDescription is the Description of the snapshots of instance id.
func snapshotDescription(inc *incident.Incident, id string) string {
	d := fmt.Sprintf("custody case %s run %s", inc.CaseID, inc.RunID)
	if inc.Finding != nil && inc.Finding.ID != "" {
		d += " finding " + inc.Finding.ID
	}
	return d + ": instance " + id
}

func tagMap(tags []types.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// attachedVolumes are the EBS volumes the instance description lists.
func attachedVolumes(inst *types.Instance) []string {
	var ids []string
	for _, m := range inst.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.Ebs.VolumeId) != "" {
			ids = append(ids, aws.ToString(m.Ebs.VolumeId))
		}
	}
	sort.Strings(ids)
	return ids
}

// snapshots takes a crash-consistent snapshot of every EBS volume attached
// to the instance (CreateSnapshots with the boot volume), tagged at
// creation, or reuses those an earlier attempt of this run took; records
// what EC2 answered as <instance-id>/snapshots.json (their state at the
// time: they are not waited for); lists each in the result; and locks each
// when configured.
func (c *InstanceCollector) snapshots(ctx context.Context, inc *incident.Incident, out *collect.Output, inst *types.Instance, origin *evidence.Origin) error {
	id := aws.ToString(inst.InstanceId)
	prev, din, err := c.earlier(ctx, out, inc, id)
	if err != nil {
		return err
	}
	var listed []evidence.Snapshot
	var in *ec2.CreateSnapshotsInput
	var resp *ec2.CreateSnapshotsOutput
	ownCall := false // prev are this attempt's own, its answer lost
	if len(prev) == 0 {
		in = &ec2.CreateSnapshotsInput{
			InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(id), ExcludeBootVolume: aws.Bool(false)},
			Description:           aws.String(snapshotDescription(inc, id)),
			TagSpecifications:     []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: snapshotTags(inc, id)}},
		}
		var landed []types.Snapshot
		resp, landed, err = c.createSnapshots(ctx, out, inc, id, in)
		if err != nil {
			return refused(out, "ec2:CreateSnapshots", "the EBS volumes of instance "+id, err)
		}
		if len(landed) > 0 {
			prev, din, ownCall = landed, c.earlierInput(inc, id), true
		}
	}
	if len(prev) > 0 {
		var ids []string
		covered := map[string]bool{}
		for _, s := range prev {
			ids = append(ids, aws.ToString(s.SnapshotId))
			covered[aws.ToString(s.VolumeId)] = true
			listed = append(listed, evidence.Snapshot{SnapshotID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), InstanceID: id, Tags: tagMap(s.Tags)})
		}
		if !ownCall {
			out.Warn("%s: reused the %d snapshots an earlier attempt of this run took (%s); none taken again", id, len(prev), strings.Join(ids, ", "))
		}
		for _, v := range attachedVolumes(inst) {
			if !covered[v] {
				out.Warn("%s: volume %s is attached now but has no snapshot from the earlier attempt of this run: it was not snapshotted", id, v)
			}
		}
		if err := c.put(ctx, out, id, "snapshots.json", struct{ Snapshots []types.Snapshot }{prev},
			out.Meta("ec2:DescribeSnapshots", collect.Request(din), origin), int64(len(prev))); err != nil {
			return err
		}
	} else {
		if len(resp.Snapshots) == 0 {
			out.Warn("%s: CreateSnapshots took no snapshot: the instance has no EBS volume", id)
			return nil
		}
		for _, s := range resp.Snapshots {
			listed = append(listed, evidence.Snapshot{SnapshotID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), InstanceID: id, Tags: tagMap(s.Tags)})
		}
		if err := c.put(ctx, out, id, "snapshots.json", struct{ Snapshots []types.SnapshotInfo }{resp.Snapshots},
			out.Meta("ec2:CreateSnapshots", collect.Request(in), origin), int64(len(resp.Snapshots))); err != nil {
			return err
		}
	}
	sort.Slice(listed, func(i, j int) bool { return listed[i].VolumeID < listed[j].VolumeID })
	for _, s := range listed {
		locked, err := c.lock(ctx, out, s.SnapshotID)
		if err != nil {
			return err
		}
		s.Locked = locked
		if s.AccountID == "" && c.AccountID != "" {
			s.AccountID = c.AccountID
		}
		if c.HubCopy != nil {
			if err := c.HubCopy.copy(ctx, inc, out, &s); err != nil {
				return err
			}
		}
		out.Snapshot(s)
	}
	return nil
}

// createSnapshots takes the snapshots with the SDK's own retries off, and
// retries itself: a call that failed transiently (a reset, a lost answer, a
// 5xx) may have been applied, and the SDK sending it again would snapshot
// every volume twice. So before each retry it looks for the snapshots
// tagged with this run (they are tagged at creation); found, they are
// returned as landed, and none is taken again. A throttled call was
// refused, not applied: it is retried without looking. (EC2's
// DescribeSnapshots is eventually consistent: a snapshot a moment old may
// not show yet, and is then taken again, listed once.)
func (c *InstanceCollector) createSnapshots(ctx context.Context, out *collect.Output, inc *incident.Incident, id string, in *ec2.CreateSnapshotsInput) (*ec2.CreateSnapshotsOutput, []types.Snapshot, error) {
	for attempt := 1; ; attempt++ {
		resp, err := c.Snapshots.CreateSnapshots(ctx, in, func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
		if err == nil {
			return resp, nil, nil
		}
		f := faults.Of("ec2:CreateSnapshots", err)
		if (f.Class != faults.Throttled && f.Class != faults.Transient) || attempt >= awsconfig.MaxAttempts {
			return nil, nil, err
		}
		if f.Class == faults.Transient {
			landed, _, lerr := c.earlier(ctx, out, inc, id)
			if lerr != nil {
				return nil, nil, lerr
			}
			if len(landed) > 0 {
				out.Warn("%s: ec2:CreateSnapshots failed (%v) after EC2 took the snapshots; they are listed, none taken again", id, err)
				return nil, landed, nil
			}
		}
		backoff := time.Duration(1<<min(attempt, 5)) * 100 * time.Millisecond
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// earlier returns the snapshots of instance id an earlier attempt of this
// run took (tagged with this case, run and instance), and the request that
// found them. A refused DescribeSnapshots is a gap, and snapshots are then
// taken (a retry may take them again).
func (c *InstanceCollector) earlier(ctx context.Context, out *collect.Output, inc *incident.Incident, id string) ([]types.Snapshot, *ec2.DescribeSnapshotsInput, error) {
	in := c.earlierInput(inc, id)
	var snaps []types.Snapshot
	p := ec2.NewDescribeSnapshotsPaginator(c.Snapshots, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if err := refused(out, "ec2:DescribeSnapshots", "the snapshots an earlier attempt of this run took of instance "+id, err); err != nil {
				return nil, in, err
			}
			out.Warn("%s: could not look for snapshots an earlier attempt of this run took: if there was one, its snapshots are taken again", id)
			return nil, in, nil
		}
		snaps = append(snaps, page.Snapshots...)
	}
	sort.Slice(snaps, func(i, j int) bool { return aws.ToString(snaps[i].VolumeId) < aws.ToString(snaps[j].VolumeId) })
	return snaps, in, nil
}

// earlierInput finds the snapshots of instance id tagged with this run.
func (c *InstanceCollector) earlierInput(inc *incident.Incident, id string) *ec2.DescribeSnapshotsInput {
	return &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters: []types.Filter{
			{Name: aws.String("tag:" + TagCaseID), Values: []string{inc.CaseID}},
			{Name: aws.String("tag:" + TagRunID), Values: []string{inc.RunID}},
			{Name: aws.String("tag:" + TagInstanceID), Values: []string{id}},
		},
	}
}

// lock sets EBS Snapshot Lock on snapshot id in governance mode when
// configured. It reports whether the snapshot is locked. A throttled call
// is returned (the collector is retried and reuses its snapshots); any
// other failure is a gap, and the snapshot stays listed, unlocked.
func (c *InstanceCollector) lock(ctx context.Context, out *collect.Output, id string) (bool, error) {
	if c.SnapshotLock <= 0 {
		return false, nil
	}
	days := lockDays(c.SnapshotLock)
	_, err := c.Snapshots.LockSnapshot(ctx, &ec2.LockSnapshotInput{
		SnapshotId: aws.String(id), LockMode: types.LockModeGovernance, LockDuration: aws.Int32(days),
	}, func(o *ec2.Options) { o.RetryMaxAttempts = lockAttempts })
	if err == nil {
		return true, nil
	}
	f := faults.Of("ec2:LockSnapshot", err)
	if f.Class == faults.Throttled {
		return false, f.Retryable()
	}
	why := err.Error()
	switch {
	case f.Class == faults.Denied:
		why = "denied: " + f.Code
	case f.Code != "":
		why = f.Code
	}
	out.Gap(fmt.Sprintf("EBS Snapshot Lock could not be set on %s (governance, %d days): %s; the snapshot is kept and listed unlocked", id, days, why),
		fmt.Sprintf("grant ec2:LockSnapshot on snapshots to the ec2 collector's role, or lock it by hand: aws ec2 lock-snapshot --snapshot-id %s --lock-mode governance --lock-duration %d", id, days))
	return false, nil
}
