package main

import (
	"context"
	"io"
	"strings"

	"github.com/custody-ir/custody/shared/athena"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// athenaKey is where the Athena copy of run artifact key goes:
// <run>/athena/<table dir>/<its path under the source's folder, / as _>,
// so cloudtrail/pivot-0001/extract.jsonl.gz is
// athena/cloudtrail/pivot-0001_extract.jsonl.gz. Flat names: a table reads
// its folder, and one level keeps that folder's listing the whole table.
func athenaKey(runPrefix, source, key string) string {
	rel := strings.TrimPrefix(key, runPrefix+source+"/")
	return runPrefix + athena.Folder + "/" + source + "/" + strings.ReplaceAll(rel, "/", "_")
}

// athenaCopies writes each Glue table's folder of the run (shared/athena):
// a server-side copy of every extract the timeline was built from whose
// source has a table, and the timeline itself. An Athena table reads every
// object under its location, and the extracts' own folders also hold raw
// log copies and bookkeeping, which would be read as rows; a folder per
// table holds only its rows. The copies are artifacts like the others, in
// the manifest, so the seal covers what Athena reads. A copy that fails
// is a warning (the table lacks it), never a reason to lose the timeline
// or the report.
func (h *Handler) athenaCopies(ctx context.Context, inc incident.Incident, m *evidence.Manifest, timeline io.Reader, events int64) ([]evidence.Artifact, []string) {
	runPrefix, err := evidence.RunPrefix(inc.CaseID, inc.RunID)
	if err != nil {
		return nil, []string{"seal: no Athena copies: " + err.Error()}
	}
	var arts []evidence.Artifact
	var warnings []string
	for _, a := range timelineInputs(m.Artifacts) {
		if _, ok := athena.ByDir(a.Source); !ok {
			continue
		}
		art, err := h.Writer.Copy(ctx, h.Writer.Bucket(), a.Key, a.VersionID, athenaKey(runPrefix, a.Source, a.Key), evidence.PutMeta{
			Source: evidence.SourceCase, API: "custody:AthenaCopy", Collector: "seal", CollectorVersion: h.Version,
			ContentType: a.ContentType, Records: a.Records, FirstEvent: a.FirstEvent, LastEvent: a.LastEvent,
			// A Seal retried after the copy was stored copies the same object.
			AcceptIdentical: true,
		})
		if err != nil {
			warnings = append(warnings, "seal: "+a.Key+" is not in Athena table custody_"+a.Source+": "+err.Error())
			continue
		}
		arts = append(arts, art)
	}
	art, err := h.Writer.Put(ctx, runPrefix+athena.Folder+"/timeline/"+timelineFile, timeline, evidence.PutMeta{
		Source: evidence.SourceCase, API: "custody:AthenaCopy", Collector: "seal", CollectorVersion: h.Version,
		ContentType: "application/x-ndjson", Records: events, AcceptIdentical: true,
	})
	if err != nil {
		return arts, append(warnings, "seal: the timeline is not in Athena table custody_timeline: "+err.Error())
	}
	return append(arts, art), warnings
}
