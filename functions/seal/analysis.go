package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/report"
	"github.com/custody-ir/custody/shared/timeline"
)

// Names of the analysis files in the run folder.
const (
	timelineFile = "timeline.jsonl"
	timelineCSV  = "timeline.csv"
	untimedFile  = "untimed.jsonl"
)

// maxReportEvents bounds the timeline events the report keeps in memory:
// the report shows a few hundred; the whole timeline is in timeline.jsonl.
const maxReportEvents = 5000

// timelineInputs picks the artifacts the timeline is built from: each
// collector's record extracts (JSON Lines), the finding, the related
// GuardDuty findings and the Inspector findings. Copies of
// original log objects are not inputs (their records are in the extracts),
// and neither are vpcflow's raw CloudWatch events (cwl-*), which its extract
// holds parsed.
func timelineInputs(arts []evidence.Artifact) []evidence.Artifact {
	var out []evidence.Artifact
	for _, a := range arts {
		base := path.Base(a.Key)
		switch {
		case a.API == "s3:CopyObject" || !timeline.Supported(a.Source) || isBaseline(a):
		case a.Source == evidence.SourceGuardDuty && (base == "finding.json" || base == "related.json"),
			a.Source == evidence.SourceInspector && base == "findings.json":
			out = append(out, a)
		case strings.HasSuffix(base, ".jsonl.gz") || strings.HasSuffix(base, ".jsonl"):
			if a.Source == evidence.SourceVPCFlow && strings.HasPrefix(base, "cwl-") {
				continue
			}
			out = append(out, a)
		}
	}
	return out
}

// analyse builds the run's timeline (timeline.jsonl, timeline.csv,
// untimed.jsonl) from the extracts in the bucket, streaming, and the report
// (report.md, report.html) over the manifest so far; it returns their
// artifacts. The timeline spills to dir: its memory does not grow with the
// number of events.
func (h *Handler) analyse(ctx context.Context, inc incident.Incident, m *evidence.Manifest) ([]evidence.Artifact, error) {
	dir, err := os.MkdirTemp(h.TempDir, "seal-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var inputs []timeline.Input
	for _, a := range timelineInputs(m.Artifacts) {
		inputs = append(inputs, timeline.Input{Source: a.Source, ArtifactKey: a.Key, Open: h.opener(ctx, a)})
	}
	files := map[string]*os.File{}
	for _, name := range []string{timelineFile, timelineCSV, untimedFile} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		files[name] = f
	}
	bufs := map[string]*bufio.Writer{}
	for name, f := range files {
		bufs[name] = bufio.NewWriterSize(f, 1<<20)
	}
	stats, err := timeline.Build(ctx, inputs, bufs[timelineFile], bufs[timelineCSV], bufs[untimedFile], dir, timeline.Options{Now: h.Now()})
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	for _, b := range bufs {
		if err := b.Flush(); err != nil {
			return nil, err
		}
	}

	var arts []evidence.Artifact
	put := func(name, contentType string, body io.Reader, records int64) error {
		key, err := evidence.RunFileKey(inc.CaseID, inc.RunID, name)
		if err != nil {
			return err
		}
		meta := evidence.PutMeta{Source: evidence.SourceCase, API: "custody:Analyse", Collector: "seal", CollectorVersion: h.Version,
			ContentType: contentType, Records: records,
			// A Seal retried after these were stored writes the same bytes.
			AcceptIdentical: true}
		if name == timelineFile || name == timelineCSV {
			meta.FirstEvent, meta.LastEvent = timePtr(stats.FirstTime), timePtr(stats.LastTime)
		}
		a, err := h.Writer.Put(ctx, key, body, meta)
		if err != nil {
			return err
		}
		arts = append(arts, a)
		return nil
	}
	for _, f := range []struct {
		name, contentType string
		records           int64
	}{
		{timelineFile, "application/x-ndjson", stats.TotalEvents},
		{timelineCSV, "text/csv", stats.TotalEvents},
		{untimedFile, "application/x-ndjson", stats.TotalUntimed},
	} {
		if _, err := files[f.name].Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if err := put(f.name, f.contentType, files[f.name], f.records); err != nil {
			return nil, err
		}
	}

	// The Athena tables' folders: the extracts and the timeline again,
	// each table's alone (athena.go).
	if _, err := files[timelineFile].Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	copies, warnings := h.athenaCopies(ctx, inc, m, files[timelineFile], stats.TotalEvents)
	arts = append(arts, copies...)
	m.Warnings = append(m.Warnings, warnings...)

	// A record in two extracts (two trails, two shards) is on the timeline
	// once; the manifest and the report say so.
	for _, src := range slices.Sorted(maps.Keys(stats.Duplicates)) {
		m.Warnings = append(m.Warnings, fmt.Sprintf("seal: %d %s records were in more than one extract (two trails delivering them, or two shards reading them) and are on the timeline once",
			stats.Duplicates[src], src))
	}

	// The entity view, from the timeline and the CloudTrail extracts.
	if _, err := files[timelineFile].Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	view, err := h.entityView(ctx, inc, m, files[timelineFile])
	if err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	body, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := put(entitiesFile, evidence.ContentTypeJSON, bytes.NewReader(body), int64(len(view.Entities))); err != nil {
		return nil, err
	}

	// The report lists the timeline among the evidence.
	withTimeline := *m
	withTimeline.Artifacts = append(append([]evidence.Artifact{}, m.Artifacts...), arts...)
	data := reportData(inc, &withTimeline)
	data.Counts = &report.Counts{ByAction: stats.Actions, ByActor: stats.Actors, Events: stats.TotalEvents, Untimed: stats.TotalUntimed}
	data.Entities = reportEntities(view)
	if data.Chain, err = h.reportChain(ctx, m); err != nil {
		m.Warnings = append(m.Warnings, "seal: the pivot chain is not in the report: "+err.Error())
	}
	if _, err := files[timelineFile].Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// The chart counts every event, not only those the report keeps.
	data.Activity = report.NewActivity(stats.FirstTime, stats.LastTime, 0)
	if data.Events, err = reportEvents(files[timelineFile], data); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name        string
		format      report.Format
		contentType string
	}{
		{report.MarkdownFile, report.Markdown, "text/markdown; charset=utf-8"},
		{report.HTMLFile, report.HTML, "text/html; charset=utf-8"},
	} {
		var buf bytes.Buffer
		if err := report.Write(&buf, data, f.format); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if err := put(f.name, f.contentType, &buf, 0); err != nil {
			return nil, err
		}
	}
	return arts, nil
}

// opener streams one artifact's stored version from the bucket. A JSON
// document (a finding, a findings list: small, possibly indented) is
// compacted to one line, the record the timeline reads.
func (h *Handler) opener(ctx context.Context, a evidence.Artifact) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		in := &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(a.Key)}
		if a.VersionID != "" {
			in.VersionId = aws.String(a.VersionID)
		}
		out, err := h.Objects.GetObject(ctx, in)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(a.Key, ".jsonl") || strings.HasSuffix(a.Key, ".jsonl.gz") {
			return out.Body, nil
		}
		defer out.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(out.Body, timeline.MaxRecordBytes+1))
		if err != nil {
			return nil, err
		}
		if len(raw) > timeline.MaxRecordBytes {
			// Never cut and compacted as if whole: untimed, in its artifact.
			return nil, fmt.Errorf("%s: more than %d bytes: %w", a.Key, timeline.MaxRecordBytes, timeline.ErrRecordTooLong)
		}
		var line bytes.Buffer
		if err := json.Compact(&line, raw); err != nil {
			return nil, err
		}
		line.WriteByte('\n')
		return io.NopCloser(&line), nil
	}
}

// reportData is what the report shows of the incident.
func reportData(inc incident.Incident, m *evidence.Manifest) report.Data {
	d := report.Data{Manifest: m}
	if f := inc.Finding; f != nil {
		d.Finding = report.Finding{ID: f.ID, Type: f.Type, Title: f.Title, Severity: f.Severity, ResourceType: f.ResourceType,
			AccountID: f.AccountID, Region: f.Region, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, RemoteIPs: inc.Scope.RemoteIPs}
	}
	sc := inc.Scope
	if d.Finding.ResourceID == "" {
		for _, ids := range [][]string{sc.Instances, sc.AccessKeys, sc.Buckets, sc.Principals, sc.Functions, sc.Clusters} {
			if len(ids) > 0 {
				d.Finding.ResourceID = ids[0]
				break
			}
		}
	}
	for _, e := range []struct {
		kind string
		ids  []string
	}{
		{"instances", sc.Instances}, {"network interfaces", sc.ENIs}, {"private IPs", sc.PrivateIPs}, {"public IPs", sc.PublicIPs},
		{"VPCs", sc.VPCs}, {"subnets", sc.Subnets}, {"principals", sc.Principals}, {"access keys", sc.AccessKeys},
		{"user names", sc.UserNames}, {"buckets", sc.Buckets}, {"tables", sc.Tables}, {"clusters", sc.Clusters},
		{"functions", sc.Functions}, {"log groups", sc.LogGroups}, {"remote IPs", sc.RemoteIPs},
	} {
		if len(e.ids) > 0 {
			d.Scope = append(d.Scope, report.ScopeEntry{Kind: e.kind, IDs: e.ids})
		}
	}
	return d
}

// reportEvents streams the timeline and keeps what the report can show:
// the events it classifies as key (the scope's writes, denials, logins, new
// credentials, flows to the remote IPs) first, then the others in time
// order, maxReportEvents in all. It counts every event into d.Activity
// when there is one.
func reportEvents(r io.Reader, d report.Data) ([]report.Event, error) {
	var scopeIDs []string
	for _, s := range d.Scope {
		scopeIDs = append(scopeIDs, s.IDs...)
	}
	var key, other []report.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e report.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("timeline line: %w", err)
		}
		if d.Activity != nil {
			if t, err := time.Parse(time.RFC3339Nano, e.Datetime); err == nil {
				d.Activity.Add(e.Source, t)
			}
		}
		switch {
		case len(report.Classify(e, scopeIDs, d.Finding.RemoteIPs)) > 0 && len(key) < maxReportEvents:
			key = append(key, e)
		case len(key)+len(other) < maxReportEvents:
			other = append(other, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if room := maxReportEvents - len(key); len(other) > room {
		other = other[:room]
	}
	return append(key, other...), nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
