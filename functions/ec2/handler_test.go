package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

func tagsOf(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func wantSnapshotTags(inc incident.Incident, id string) map[string]string {
	return map[string]string{TagCaseID: inc.CaseID, TagFindingID: findingID, TagRunID: inc.RunID, TagInstanceID: id}
}

func run(t *testing.T, h *Handler, inc incident.Incident) (incident.Result, error) {
	t.Helper()
	return h.Handle(context.Background(), collect.Input{Incident: inc, Item: inc.Plan[0]})
}

func storedResult(t *testing.T, w *world, inc incident.Incident) evidence.CollectorResult {
	t.Helper()
	key, err := evidence.ResultKey(inc.CaseID, inc.RunID, collectorName)
	must(t, "ResultKey", err)
	var r evidence.CollectorResult
	s3test.ObjectJSON(t, w.s3, testBucket, key, &r)
	return r
}

// names are the artifacts' names under ec2/<instance>/, sorted.
func names(r evidence.CollectorResult, inc incident.Incident, id string) []string {
	prefix := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/ec2/" + id + "/"
	var out []string
	for _, a := range r.Artifacts {
		out = append(out, strings.TrimPrefix(a.Key, prefix))
	}
	sort.Strings(out)
	return out
}

var allArtifacts = []string{"console-output.json", "instance-profile.json", "instance.json", "network-interfaces.json",
	"security-groups.json", "snapshots.json", "user-data.json", "volumes.json"}

func TestCollectInstance(t *testing.T) {
	w := newWorld(t)
	before := w.describe(t, w.instance)
	inc := incidentFor(w.instance)
	res, err := run(t, w.handler(t, w.collector()), inc)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	runDir := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/"
	// Records: 1 instance, 2 snapshots, 1 console output, 1 user data,
	// 1 ENI, 2 volumes, 1 group + 2 rules (the ingress rule and the
	// default egress), 1 instance profile.
	want := incident.Result{Collector: collectorName, Status: incident.StatusOK, ResultKey: runDir + "results/ec2.json", Artifacts: 8, Records: 12}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	stored := storedResult(t, w, inc)
	if len(stored.Gaps) != 0 || len(stored.Warnings) != 0 {
		t.Errorf("gaps %+v warnings %q", stored.Gaps, stored.Warnings)
	}
	if got := names(stored, inc, w.instance); !reflect.DeepEqual(got, allArtifacts) {
		t.Fatalf("artifacts %q, want %q", got, allArtifacts)
	}
	if keys := s3test.Keys(t, w.s3, testBucket, runDir+"ec2/"); len(keys) != 8 {
		t.Errorf("stored under ec2/: %q", keys)
	}

	id := w.instance
	idFilter := []any{map[string]any{"Name": "attachment.instance-id", "Values": []any{id}}}
	snapTags := []any{}
	for _, k := range []string{TagCaseID, TagFindingID, TagRunID, TagInstanceID} {
		snapTags = append(snapTags, map[string]any{"Key": k, "Value": wantSnapshotTags(inc, id)[k]})
	}
	dir := runDir + "ec2/" + id + "/"
	artifacts := map[string]evidence.Artifact{}
	for _, a := range stored.Artifacts {
		artifacts[strings.TrimPrefix(a.Key, dir)] = a
	}

	cases := []struct {
		name    string
		api     string
		records int64
		request map[string]any
		check   func(t *testing.T, key string)
	}{
		{"instance.json", "ec2:DescribeInstances", 1, map[string]any{"InstanceIds": []any{id}}, func(t *testing.T, key string) {
			var doc struct{ Reservations []ec2types.Reservation }
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			if len(doc.Reservations) != 1 || len(doc.Reservations[0].Instances) != 1 {
				t.Fatalf("reservations %+v", doc.Reservations)
			}
			inst := doc.Reservations[0].Instances[0]
			if aws.ToString(inst.InstanceId) != id || inst.MetadataOptions == nil || inst.MetadataOptions.HttpTokens == "" ||
				inst.IamInstanceProfile == nil || aws.ToString(inst.IamInstanceProfile.Arn) != w.profileArn ||
				len(inst.SecurityGroups) != 1 || aws.ToString(inst.SecurityGroups[0].GroupId) != w.sg {
				t.Errorf("instance %s metadata options %+v profile %+v groups %+v", aws.ToString(inst.InstanceId), inst.MetadataOptions, inst.IamInstanceProfile, inst.SecurityGroups)
			}
		}},
		{"snapshots.json", "ec2:CreateSnapshots", 2, map[string]any{
			"InstanceSpecification": map[string]any{"InstanceId": id, "ExcludeBootVolume": false},
			"Description":           snapshotDescription(&inc, id),
			"TagSpecifications":     []any{map[string]any{"ResourceType": "snapshot", "Tags": snapTags}},
		}, func(t *testing.T, key string) {
			var doc struct{ Snapshots []ec2types.SnapshotInfo }
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			var vols []string
			for _, s := range doc.Snapshots {
				vols = append(vols, aws.ToString(s.VolumeId))
				// moto leaves State out of CreateSnapshots' answer (AWS
				// says "pending"): whatever EC2 said is what is kept.
				if aws.ToString(s.SnapshotId) == "" || !reflect.DeepEqual(tagsOf(s.Tags), wantSnapshotTags(inc, id)) {
					t.Errorf("snapshot %s tags %v", aws.ToString(s.SnapshotId), tagsOf(s.Tags))
				}
			}
			sort.Strings(vols)
			if wantVols := sorted(w.bootVol, w.dataVol); !reflect.DeepEqual(vols, wantVols) {
				t.Errorf("snapshots of %q, want %q", vols, wantVols)
			}
		}},
		{"console-output.json", "ec2:GetConsoleOutput", 1, map[string]any{"InstanceId": id, "Latest": true}, func(t *testing.T, key string) {
			var doc consoleDoc
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			raw, err := base64.StdEncoding.DecodeString(aws.ToString(doc.Output))
			if aws.ToString(doc.InstanceId) != id || !doc.Latest || err != nil || doc.Decoded == nil || *doc.Decoded != string(raw) ||
				!strings.Contains(*doc.Decoded, "Linux version") || doc.Timestamp == nil {
				t.Errorf("console output %+v (%v)", doc, err)
			}
		}},
		{"user-data.json", "ec2:DescribeInstanceAttribute", 1, map[string]any{"InstanceId": id, "Attribute": "userData"}, func(t *testing.T, key string) {
			var doc userDataDoc
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			if aws.ToString(doc.InstanceId) != id || doc.UserData == nil ||
				aws.ToString(doc.UserData.Value) != base64.StdEncoding.EncodeToString([]byte(testUserData)) ||
				doc.Decoded == nil || *doc.Decoded != testUserData || doc.Gzipped || doc.DecodeError != "" {
				t.Errorf("user data %+v", doc)
			}
		}},
		{"network-interfaces.json", "ec2:DescribeNetworkInterfaces", 1, map[string]any{"Filters": idFilter}, func(t *testing.T, key string) {
			var doc struct{ NetworkInterfaces []ec2types.NetworkInterface }
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			if len(doc.NetworkInterfaces) != 1 || aws.ToString(doc.NetworkInterfaces[0].NetworkInterfaceId) != w.eni ||
				aws.ToString(doc.NetworkInterfaces[0].Attachment.InstanceId) != id || aws.ToString(doc.NetworkInterfaces[0].SubnetId) != w.subnet {
				t.Errorf("network interfaces %+v", doc.NetworkInterfaces)
			}
		}},
		{"volumes.json", "ec2:DescribeVolumes", 2, map[string]any{"Filters": idFilter}, func(t *testing.T, key string) {
			var doc struct{ Volumes []ec2types.Volume }
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			var vols []string
			for _, v := range doc.Volumes {
				vols = append(vols, aws.ToString(v.VolumeId))
			}
			sort.Strings(vols)
			if wantVols := sorted(w.bootVol, w.dataVol); !reflect.DeepEqual(vols, wantVols) {
				t.Errorf("volumes %q, want %q", vols, wantVols)
			}
		}},
		{"security-groups.json", "ec2:DescribeSecurityGroups,ec2:DescribeSecurityGroupRules", 3, map[string]any{
			"ec2:DescribeSecurityGroups":     map[string]any{"GroupIds": []any{w.sg}},
			"ec2:DescribeSecurityGroupRules": map[string]any{"Filters": []any{map[string]any{"Name": "group-id", "Values": []any{w.sg}}}},
		}, func(t *testing.T, key string) {
			var doc securityGroupsDoc
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			if len(doc.SecurityGroups) != 1 || aws.ToString(doc.SecurityGroups[0].GroupId) != w.sg || aws.ToString(doc.SecurityGroups[0].VpcId) != w.vpc {
				t.Errorf("groups %+v", doc.SecurityGroups)
			}
			var ingress []string
			for _, r := range doc.SecurityGroupRules {
				if aws.ToString(r.GroupId) != w.sg {
					t.Errorf("rule %s of group %s", aws.ToString(r.SecurityGroupRuleId), aws.ToString(r.GroupId))
				}
				if !aws.ToBool(r.IsEgress) {
					ingress = append(ingress, aws.ToString(r.IpProtocol)+"/"+aws.ToString(r.CidrIpv4))
				}
			}
			if len(doc.SecurityGroupRules) != 2 || !reflect.DeepEqual(ingress, []string{"tcp/10.0.0.0/8"}) {
				t.Errorf("rules %+v", doc.SecurityGroupRules)
			}
		}},
		{"instance-profile.json", "iam:GetInstanceProfile", 1, map[string]any{"InstanceProfileName": "web-profile"}, func(t *testing.T, key string) {
			var doc struct{ InstanceProfile *iamtypes.InstanceProfile }
			s3test.ObjectJSON(t, w.s3, testBucket, key, &doc)
			p := doc.InstanceProfile
			if p == nil || aws.ToString(p.Arn) != w.profileArn || len(p.Roles) != 1 || aws.ToString(p.Roles[0].RoleName) != "web-role" {
				t.Errorf("instance profile %+v", p)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ok := artifacts[c.name]
			if !ok {
				t.Fatalf("no %s", c.name)
			}
			if a.API != c.api || a.Records != c.records || a.Source != evidence.SourceEC2 || a.Collector != collectorName ||
				a.ContentType != evidence.ContentTypeJSON || a.SHA256 == "" || a.VersionID == "" {
				t.Errorf("entry %+v", a)
			}
			if a.Origin == nil || !strings.HasPrefix(a.Origin.Description, "instance "+id) {
				t.Errorf("origin %+v", a.Origin)
			}
			if !reflect.DeepEqual(a.Request, c.request) {
				t.Errorf("request\n%#v\nwant\n%#v", a.Request, c.request)
			}
			c.check(t, a.Key)
		})
	}

	// The snapshots: in EC2 with the case's tags, and listed in the result.
	snaps := w.snapshotsOf(t, inc.CaseID)
	var listed []evidence.Snapshot
	for _, s := range snaps {
		if !reflect.DeepEqual(tagsOf(s.Tags), wantSnapshotTags(inc, id)) || aws.ToString(s.Description) != snapshotDescription(&inc, id) {
			t.Errorf("snapshot %s tags %v description %q", aws.ToString(s.SnapshotId), tagsOf(s.Tags), aws.ToString(s.Description))
		}
		listed = append(listed, evidence.Snapshot{SnapshotID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), InstanceID: id, Tags: wantSnapshotTags(inc, id), AccountID: aws.ToString(s.OwnerId)})
	}
	if len(snaps) != 2 || !reflect.DeepEqual(stored.Snapshots, listed) {
		t.Errorf("result snapshots %+v, want %+v", stored.Snapshots, listed)
	}

	// Nothing on the instance changed.
	after := w.describe(t, id)
	if after.State.Name != ec2types.InstanceStateNameRunning || !reflect.DeepEqual(tagsOf(after.Tags), tagsOf(before.Tags)) ||
		!reflect.DeepEqual(after.SecurityGroups, before.SecurityGroups) || aws.ToString(after.IamInstanceProfile.Arn) != w.profileArn {
		t.Errorf("instance changed: state %s tags %v (before %v) groups %+v", after.State.Name, tagsOf(after.Tags), tagsOf(before.Tags), after.SecurityGroups)
	}
	if want := map[string]string{"Name": "web-1", "team": "payments"}; !reflect.DeepEqual(tagsOf(after.Tags), want) {
		t.Errorf("instance tags %v, want %v", tagsOf(after.Tags), want)
	}
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

// A Lambda that took the snapshots and died before storing its result is
// retried: the retry reuses the snapshots, and an invocation after that is
// answered from the stored result.
func TestRetryReusesSnapshots(t *testing.T) {
	w := newWorld(t)
	inc := incidentFor(w.instance)
	crashed := w.handler(t, w.collector())
	crashed.Driver.Writer = crashingWriter{crashed.Driver.Writer}
	if _, err := run(t, crashed, inc); !errors.Is(err, errCrash) {
		t.Fatalf("crashed attempt: %v, want %v", err, errCrash)
	}
	first := w.snapshotsOf(t, inc.CaseID)
	if len(first) != 2 {
		t.Fatalf("first attempt took %d snapshots, want 2", len(first))
	}

	for attempt := 2; attempt <= 3; attempt++ {
		res, err := run(t, w.handler(t, w.collector()), inc)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if res.Status != incident.StatusOK || res.Gaps != 0 {
			t.Errorf("attempt %d: %+v", attempt, res)
		}
		if now := w.snapshotsOf(t, inc.CaseID); !reflect.DeepEqual(now, first) {
			t.Fatalf("attempt %d: snapshots %+v, want the first attempt's %+v", attempt, now, first)
		}
	}
	stored := storedResult(t, w, inc)
	var ids []string
	for _, s := range stored.Snapshots {
		ids = append(ids, s.SnapshotID)
		if s.InstanceID != w.instance || !reflect.DeepEqual(s.Tags, wantSnapshotTags(inc, w.instance)) {
			t.Errorf("listed %+v", s)
		}
	}
	wantIDs := []string{aws.ToString(first[0].SnapshotId), aws.ToString(first[1].SnapshotId)}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("listed snapshots %q, want %q", ids, wantIDs)
	}
	reuse := "reused the 2 snapshots an earlier attempt of this run took (" + strings.Join(wantIDs, ", ") + "); none taken again"
	if len(stored.Warnings) == 0 || !strings.Contains(strings.Join(stored.Warnings, "\n"), reuse) {
		t.Errorf("warnings %q, want one saying %q", stored.Warnings, reuse)
	}
	// The retry records how it found them (DescribeSnapshots), beside the
	// first attempt's CreateSnapshots answer, which a locked object keeps.
	var found bool
	for _, a := range stored.Artifacts {
		if strings.HasSuffix(a.Key, "/snapshots.attempt-2.json") {
			found = true
			if a.API != "ec2:DescribeSnapshots" || a.Records != 2 {
				t.Errorf("snapshots.attempt-2.json entry %+v", a)
			}
		}
	}
	dir := "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/ec2/" + w.instance + "/"
	if keys := s3test.Keys(t, w.s3, testBucket, dir); !found || !contains(keys, dir+"snapshots.json") {
		t.Errorf("artifacts %q, stored %q: want the first attempt's snapshots.json and the retry's snapshots.attempt-2.json", names(stored, inc, w.instance), keys)
	}
	again := "an earlier attempt of this run stored a different snapshots.json; both are kept, this attempt's as " + w.instance + "/snapshots.attempt-2.json"
	if !strings.Contains(strings.Join(stored.Warnings, "\n"), again) {
		t.Errorf("warnings %q, want one saying %q", stored.Warnings, again)
	}
	if got := names(stored, inc, w.instance); len(got) != len(allArtifacts) {
		t.Errorf("artifacts %q", got)
	}
}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " (test)", Fault: smithy.FaultClient}
}

func TestSnapshotLock(t *testing.T) {
	cases := []struct {
		name      string
		ec2       func(w *world) *faultyEC2
		wantErr   any // pointer to a named error type
		locked    bool
		gap       string // in every gap (one per snapshot)
		lockCalls int
	}{
		// moto 5.2 does not implement LockSnapshot: a gap, snapshots listed.
		{name: "emulator without LockSnapshot", ec2: func(w *world) *faultyEC2 { return &faultyEC2{Client: w.ec2} },
			gap: "the snapshot is kept and listed unlocked", lockCalls: 2},
		{name: "locked", ec2: func(w *world) *faultyEC2 { return &faultyEC2{Client: w.ec2, lockOK: true} }, locked: true, lockCalls: 2},
		{name: "denied", ec2: func(w *world) *faultyEC2 {
			return &faultyEC2{Client: w.ec2, fail: map[string]error{"LockSnapshot": apiErr("UnauthorizedOperation")}}
		}, gap: "(governance, 30 days): denied: UnauthorizedOperation; the snapshot is kept and listed unlocked", lockCalls: 2},
		{name: "throttled", ec2: func(w *world) *faultyEC2 {
			return &faultyEC2{Client: w.ec2, fail: map[string]error{"LockSnapshot": apiErr("RequestLimitExceeded")}}
		}, wantErr: new(*faults.ThrottledError), lockCalls: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			fake := c.ec2(w)
			col := w.collector()
			col.Snapshots, col.SnapshotLock = fake, 720*time.Hour
			inc := incidentFor(w.instance)
			_, err := run(t, w.handler(t, col), inc)
			if len(fake.locks) != c.lockCalls {
				t.Errorf("%d LockSnapshot calls, want %d", len(fake.locks), c.lockCalls)
			}
			for _, l := range fake.locks {
				if l.LockMode != ec2types.LockModeGovernance || aws.ToInt32(l.LockDuration) != 30 || l.ExpirationDate != nil {
					t.Errorf("LockSnapshot %s mode %s duration %d", aws.ToString(l.SnapshotId), l.LockMode, aws.ToInt32(l.LockDuration))
				}
			}
			if n := len(w.snapshotsOf(t, inc.CaseID)); n != 2 {
				t.Errorf("%d snapshots, want 2", n)
			}
			if c.wantErr != nil {
				if !errors.As(err, c.wantErr) {
					t.Fatalf("Handle: %v (%T), want %T", err, err, c.wantErr)
				}
				// Retried by the state machine: nothing stored yet.
				if keys := s3test.Keys(t, w.s3, testBucket, "cases/"+inc.CaseID+"/runs/"+inc.RunID+"/results/"); len(keys) != 0 {
					t.Errorf("stored %q", keys)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			stored := storedResult(t, w, inc)
			if len(stored.Snapshots) != 2 {
				t.Fatalf("listed %+v", stored.Snapshots)
			}
			for _, s := range stored.Snapshots {
				if s.Locked != c.locked {
					t.Errorf("%s locked %v, want %v", s.SnapshotID, s.Locked, c.locked)
				}
			}
			wantGaps := 0
			if c.gap != "" {
				wantGaps = 2
			}
			if len(stored.Gaps) != wantGaps {
				t.Fatalf("gaps %+v, want %d", stored.Gaps, wantGaps)
			}
			for i, g := range stored.Gaps {
				s := stored.Snapshots[i]
				if g.Source != evidence.SourceEC2 || !strings.Contains(g.Reason, "EBS Snapshot Lock could not be set on "+s.SnapshotID) ||
					!strings.Contains(g.Reason, c.gap) || !strings.Contains(g.Fix, "aws ec2 lock-snapshot --snapshot-id "+s.SnapshotID+" --lock-mode governance --lock-duration 30") {
					t.Errorf("gap %+v", g)
				}
			}
		})
	}
}

func TestGaps(t *testing.T) {
	const missing = "i-0123456789abcdef0"
	cases := []struct {
		name string
		// setup returns the collector and the instance to name; nil ec2
		// keeps the emulator's.
		setup    func(t *testing.T, w *world) (*InstanceCollector, string)
		scope    func(sc *incident.Scope)
		wantErr  any
		gaps     []string // each gap's reason (exact, or a prefix ending in "…")
		warnings []string // prefixes
		stored   []string // artifact names
		snaps    int
	}{
		{name: "missing instance",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) { return w.collector(), missing },
			gaps:  []string{"instance " + missing + " not found: it may be terminated; its EBS volumes and snapshots may remain"}},
		{name: "terminated instance",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				id := w.runInstance(t, "")
				_, err := w.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
				must(t, "TerminateInstances", err)
				return w.collector(), id
			},
			gaps:   []string{"instance %s is terminated: its description is kept…"},
			stored: []string{"instance.json"}},
		{name: "another account",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) { return w.collector(), w.instance },
			scope: func(sc *incident.Scope) { sc.AccountID = "210987654321" },
			gaps:  []string{"instances %s: in account 210987654321; this invocation reads account 123456789012 only"}},
		{name: "another region",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) { return w.collector(), w.instance },
			scope: func(sc *incident.Scope) { sc.Region = "eu-west-1" },
			gaps:  []string{"instances %s: in region eu-west-1; this deployment collects in region us-east-1 only"}},
		{name: "no instance in scope",
			setup:    func(t *testing.T, w *world) (*InstanceCollector, string) { return w.collector(), "" },
			warnings: []string{"no EC2 instance in scope"}},
		{name: "DescribeInstances denied",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				c := w.collector()
				c.EC2 = &faultyEC2{Client: w.ec2, fail: map[string]error{"DescribeInstances": apiErr("UnauthorizedOperation")}}
				return c, w.instance
			},
			gaps: []string{"ec2:DescribeInstances for instance %s denied: UnauthorizedOperation (test)"}},
		{name: "DescribeInstances throttled",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				c := w.collector()
				c.EC2 = &faultyEC2{Client: w.ec2, fail: map[string]error{"DescribeInstances": apiErr("RequestLimitExceeded")}}
				return c, w.instance
			},
			wantErr: new(*faults.ThrottledError)},
		{name: "console output denied",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				c := w.collector()
				c.EC2 = &faultyEC2{Client: w.ec2, fail: map[string]error{"GetConsoleOutput": apiErr("UnauthorizedOperation")}}
				return c, w.instance
			},
			gaps:   []string{"ec2:GetConsoleOutput for instance %s denied: UnauthorizedOperation (test)"},
			stored: without(allArtifacts, "console-output.json"), snaps: 2},
		{name: "latest console output unsupported",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				c := w.collector()
				c.EC2 = &faultyEC2{Client: w.ec2, latestErr: apiErr("UnsupportedOperation")}
				return c, w.instance
			},
			warnings: []string{"%s: the latest console output is not available (UnsupportedOperation): the buffered output was collected instead"},
			stored:   allArtifacts, snaps: 2},
		{name: "CreateSnapshots denied",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				c := w.collector()
				c.Snapshots = &faultyEC2{Client: w.ec2, fail: map[string]error{"CreateSnapshots": apiErr("UnauthorizedOperation")}}
				return c, w.instance
			},
			gaps:   []string{"ec2:CreateSnapshots for the EBS volumes of instance %s denied: UnauthorizedOperation (test)"},
			stored: without(allArtifacts, "snapshots.json")},
		{name: "CreateSnapshots throttled",
			setup: func(t *testing.T, w *world) (*InstanceCollector, string) {
				c := w.collector()
				c.Snapshots = &faultyEC2{Client: w.ec2, fail: map[string]error{"CreateSnapshots": apiErr("RequestLimitExceeded")}}
				return c, w.instance
			},
			wantErr: new(*faults.ThrottledError)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			col, id := c.setup(t, w)
			var inc incident.Incident
			if id == "" {
				inc = incidentFor()
			} else {
				inc = incidentFor(id)
			}
			if c.scope != nil {
				c.scope(&inc.Scope)
			}
			res, err := run(t, w.handler(t, col), inc)
			if n := len(w.snapshotsOf(t, inc.CaseID)); n != c.snaps {
				t.Errorf("%d snapshots, want %d", n, c.snaps)
			}
			if c.wantErr != nil {
				if !errors.As(err, c.wantErr) {
					t.Fatalf("Handle: %v (%T), want %T", err, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Status != incident.StatusOK || res.Gaps != len(c.gaps) || res.Artifacts != len(c.stored) {
				t.Errorf("result %+v", res)
			}
			stored := storedResult(t, w, inc)
			if got := names(stored, inc, id); !reflect.DeepEqual(got, c.stored) {
				t.Errorf("artifacts %q, want %q", got, c.stored)
			}
			if len(stored.Gaps) != len(c.gaps) {
				t.Fatalf("gaps %+v, want %q", stored.Gaps, c.gaps)
			}
			for i, want := range c.gaps {
				want = strings.ReplaceAll(want, "%s", id)
				got := stored.Gaps[i]
				if prefix, ok := strings.CutSuffix(want, "…"); ok {
					if !strings.HasPrefix(got.Reason, prefix) {
						t.Errorf("gap %q, want %q…", got.Reason, prefix)
					}
				} else if got.Reason != want {
					t.Errorf("gap %q, want %q", got.Reason, want)
				}
				if got.Source != evidence.SourceEC2 || got.Fix == "" {
					t.Errorf("gap %+v", got)
				}
			}
			if len(stored.Warnings) != len(c.warnings) {
				t.Fatalf("warnings %q, want %q", stored.Warnings, c.warnings)
			}
			for i, want := range c.warnings {
				if want = strings.ReplaceAll(want, "%s", id); !strings.HasPrefix(stored.Warnings[i], want) {
					t.Errorf("warning %q, want %q…", stored.Warnings[i], want)
				}
			}
			if c.name == "latest console output unsupported" {
				for _, a := range stored.Artifacts {
					if strings.HasSuffix(a.Key, "/console-output.json") {
						var doc consoleDoc
						s3test.ObjectJSON(t, w.s3, testBucket, a.Key, &doc)
						if doc.Latest || doc.Decoded == nil || !reflect.DeepEqual(a.Request, map[string]any{"InstanceId": id}) {
							t.Errorf("console output %+v request %v", doc, a.Request)
						}
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func TestDecodeUserData(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("#cloud-config\nruncmd: [id]\n"))
	_ = zw.Close()
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		name, raw, decoded, decodeErr string
	}{
		{"text", b64([]byte("echo hi\n")), "echo hi\n", ""},
		{"binary", b64([]byte{0xff, 0xfe, 0x00, 0x80}), "", "binary content: kept as base64 only"},
		{"not base64", "%%%", "", "not base64: illegal base64 data at input byte 0"},
		{"empty", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := decodeText(c.raw)
			if aws.ToString(got) != c.decoded || why != c.decodeErr {
				t.Errorf("decodeText(%q) = %q, %q; want %q, %q", c.raw, aws.ToString(got), why, c.decoded, c.decodeErr)
			}
		})
	}
	got, why := gunzipText(gz.Bytes())
	if aws.ToString(got) != "#cloud-config\nruncmd: [id]\n" || why != "" {
		t.Errorf("gunzipText = %q, %q", aws.ToString(got), why)
	}
}

func TestParseSnapshotLock(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"", 0, ""},
		{"720h", 720 * time.Hour, ""},
		{"24h", 24 * time.Hour, ""},
		{"36h", 0, "is not a whole number of days"},
		{"0h", 0, "must be 1 to 36500 days"},
		{"-24h", 0, "must be 1 to 36500 days"},
		{"876024h", 0, "must be 1 to 36500 days"},
		{"30d", 0, "not a Go duration"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSnapshotLock(c.in)
			var cfgErr *faults.ConfigurationError
			switch {
			case c.wantErr == "" && (err != nil || got != c.want):
				t.Errorf("ParseSnapshotLock(%q) = %v, %v; want %v", c.in, got, err, c.want)
			case c.wantErr != "" && (!errors.As(err, &cfgErr) || cfgErr.Setting != EnvSnapshotLock || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("ParseSnapshotLock(%q) error %v, want a ConfigurationError with %q", c.in, err, c.wantErr)
			}
		})
	}
}

func TestProfileName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::123456789012:instance-profile/web-profile":        "web-profile",
		"arn:aws:iam::123456789012:instance-profile/team/a/web-profile": "web-profile",
		"arn:aws:iam::123456789012:role/web-role":                       "",
		"not an arn": "",
	} {
		if got := profileName(arn); got != want {
			t.Errorf("profileName(%q) = %q, want %q", arn, got, want)
		}
	}
}

// lostAnswerEC2 is the emulator's EC2 whose first CreateSnapshots is
// applied and its answer then lost (a connection reset after EC2 took the
// snapshots), which the emulator cannot do itself.
type lostAnswerEC2 struct {
	*ec2.Client
	lost  int
	calls int
}

func (l *lostAnswerEC2) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	l.calls++
	out, err := l.Client.CreateSnapshots(ctx, in, opts...)
	if err == nil && l.calls <= l.lost {
		return nil, &smithyhttp.RequestSendError{Err: errors.New("read tcp: connection reset by peer")}
	}
	return out, err
}

// TestLostCreateSnapshotsAnswer: CreateSnapshots applied with its answer
// lost is not sent again blindly: the snapshots it took are found by their
// tags and listed, and none is taken twice.
func TestLostCreateSnapshotsAnswer(t *testing.T) {
	tests := []struct {
		name      string
		lost      int
		wantCalls int
	}{
		{"answered", 0, 1},
		{"first answer lost", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			inc := incidentFor(w.instance)
			ec := &lostAnswerEC2{Client: w.ec2, lost: tt.lost}
			c := w.collector()
			c.Snapshots = ec
			res, err := run(t, w.handler(t, c), inc)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != incident.StatusOK {
				t.Fatalf("result %+v", res)
			}
			if ec.calls != tt.wantCalls {
				t.Errorf("CreateSnapshots called %d times, want %d", ec.calls, tt.wantCalls)
			}
			snaps := w.snapshotsOf(t, inc.CaseID)
			if len(snaps) != 2 {
				t.Fatalf("%d snapshots in EC2, want the 2 volumes' once", len(snaps))
			}
			stored := storedResult(t, w, inc)
			if len(stored.Snapshots) != 2 {
				t.Errorf("%d snapshots listed, want 2", len(stored.Snapshots))
			}
		})
	}
}
