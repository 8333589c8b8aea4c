package main

import (
	"context"
	"fmt"
	"time"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
	"github.com/custody-ir/custody/shared/s3logs"
)

// ExtractName is the extract's name in the collector's folder (a shard's
// is Output.PartName of it: extract-shard0003.jsonl.gz).
const ExtractName = "extract.jsonl.gz"

// Line is one record of the extract (one JSON object a line).
type Line struct {
	// Start and End are the record's capture window (its start and end
	// fields); absent when the format has none.
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
	// FlowLogID is the flow log that wrote the record.
	FlowLogID string `json:"flowLogId"`
	// Origin is where the line is: the S3 object (bucket, key) or the
	// CloudWatch Logs group and stream; EventID and EventTime name the
	// CloudWatch Logs event.
	Origin    evidence.Origin `json:"origin"`
	EventID   string          `json:"eventId,omitempty"`
	EventTime *time.Time      `json:"eventTime,omitempty"`
	// Format is the format the line was read with, as a LogFormat string;
	// FormatFrom says where it came from: "header" (the S3 file's first
	// line) or "logFormat" (the flow log's definition).
	Format     string `json:"format"`
	FormatFrom string `json:"formatFrom"`
	// Message is the line exactly as the flow log wrote it.
	Message string `json:"message"`
	// Record maps each field of the format to its value: numbers for
	// ports, counts and times, text otherwise, null for "-" (NODATA and
	// SKIPDATA records keep their log-status).
	Record map[string]any `json:"record"`

	rec vpcflow.Record
}

func newLine(rec vpcflow.Record, flowLogID string, origin evidence.Origin, p *vpcflow.Parser, message []byte) *Line {
	l := &Line{FlowLogID: flowLogID, Origin: origin, Format: p.Format().String(), FormatFrom: "logFormat",
		Message: string(message), Record: rec.Fields, rec: rec}
	if p.FromHeader() {
		l.FormatFrom = "header"
	}
	if !rec.Start.IsZero() {
		s := rec.Start
		l.Start = &s
	}
	if !rec.End.IsZero() {
		e := rec.End
		l.End = &e
	}
	return l
}

// extractWriter is an invocation's one extract: every destination it reads,
// of every flow log, writes to it. It is an s3logs.RecordWriter whose
// records carry their own time: the extract's first and last event are the
// records' starts.
type extractWriter struct {
	s *collect.Stream
	// Stats over every destination.
	malformed int64
	kept      int64
}

// newExtractWriter starts the extract called name, of the records of the
// flow logs ids that touch sc in w.
func newExtractWriter(out *collect.Output, name string, w incident.Window, sc incident.Scope, ids []string) (*extractWriter, error) {
	meta := out.Meta("custody:ExtractFlowLogRecords", map[string]any{
		"flowLogIds": ids,
		"enis":       sc.ENIs,
		"addresses":  union(sc.PrivateIPs, sc.PublicIPs, sc.RemoteIPs),
		"window":     map[string]any{"start": w.Start.UTC().Format(time.RFC3339), "end": w.End.UTC().Format(time.RFC3339)},
		"match":      "interface-id/tgw-src-eni/tgw-dst-eni in enis, or srcaddr/dstaddr/pkt-srcaddr/pkt-dstaddr in addresses; [start,end] overlaps window",
	}, &evidence.Origin{Description: "flow log records of the scope from the flow logs' S3 objects (s3:GetObject) and CloudWatch Logs events (logs:FilterLogEvents)"})
	s, err := out.CreateGzip(name, meta)
	if err != nil {
		return nil, err
	}
	return &extractWriter{s: s}, nil
}

// WriteRecord implements s3logs.RecordWriter.
func (x *extractWriter) WriteRecord(v any, _ time.Time) error {
	l, ok := v.(*Line)
	if !ok {
		return fmt.Errorf("vpcflow extract: unexpected record %T", v)
	}
	return x.write(l)
}

func (x *extractWriter) write(l *Line) error {
	x.kept++
	return x.s.WriteRecord(l, l.rec.Time())
}

func (x *extractWriter) abort() { x.s.Abort() }

func (x *extractWriter) close(ctx context.Context) error {
	_, err := x.s.Close(ctx)
	return err
}

var _ s3logs.RecordWriter = (*extractWriter)(nil)
