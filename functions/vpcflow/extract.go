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

// Line is one record of the extract (one JSON object a line); the S3
// path's decoder, which custody-bench times, builds it too.
type Line = vpcflow.Line

// newLine is the extract line of rec (vpcflow.NewLine).
func newLine(rec vpcflow.Record, flowLogID string, origin evidence.Origin, p *vpcflow.Parser, message []byte) *Line {
	return vpcflow.NewLine(rec, flowLogID, origin, p, message)
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
	return x.s.WriteRecord(l, l.Parsed().Time())
}

func (x *extractWriter) abort() { x.s.Abort() }

func (x *extractWriter) close(ctx context.Context) error {
	_, err := x.s.Close(ctx)
	return err
}

var _ s3logs.RecordWriter = (*extractWriter)(nil)
