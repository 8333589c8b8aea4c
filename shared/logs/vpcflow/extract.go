package vpcflow

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/s3logs"
)

// Line is one record of a flow log extract (one JSON object a line), as
// the flow log collector writes it.
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

	rec Record
}

// NewLine is the extract line of rec, read by p from message, a line of
// flow log flowLogID found at origin.
func NewLine(rec Record, flowLogID string, origin evidence.Origin, p *Parser, message []byte) *Line {
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

// Parsed is the record the line was read as (for Matcher.Match and
// Record.Time).
func (l *Line) Parsed() Record { return l.rec }

// Keep is the extract's filter for the records ObjectDecoder emits: the
// record touches the scope and its capture window overlaps the case's.
func (m *Matcher) Keep(rec s3logs.Record) bool {
	l, ok := rec.Value.(*Line)
	return ok && m.Match(l.rec)
}

// ObjectDecoder reads one flow log object delivered to S3, of flow log
// flowLogID, found at origin, whose lines without a header are in format:
// its header line, if any, sets the format; each other line is a record,
// emitted as a *Line. Records carry no time for s3logs.Extract: Keep
// judges their window as an overlap of [start, end].
//
// A line that names none of m's interfaces or addresses cannot match: it
// is only checked for its number of fields (a malformed line is counted
// either way) and skipped unparsed. lines, when not nil, counts every line
// but headers.
func ObjectDecoder(m *Matcher, flowLogID string, format Format, origin evidence.Origin, lines *atomic.Int64) s3logs.Decoder {
	return func(rd io.Reader, emit func(s3logs.Record) error, bad func(error)) error {
		p := NewParser(format)
		var n int64
		if lines != nil {
			// Counted here and added once: a counter every reader of
			// the run shares would bounce between cores on each line.
			defer func() { lines.Add(n) }()
		}
		return s3logs.Lines(func(line []byte) (s3logs.Record, error) {
			if _, header := HeaderFormat(line); !header {
				n++
				if !m.MayMatch(line) {
					if got, want := CountFields(line), p.Format().Len(); got != want {
						return s3logs.Record{}, fmt.Errorf("%w: %d fields, the format has %d", ErrMalformed, got, want)
					}
					return s3logs.Record{}, s3logs.ErrSkip
				}
			}
			rec, err := p.Parse(line)
			if errors.Is(err, ErrHeader) {
				return s3logs.Record{}, s3logs.ErrSkip
			}
			if err != nil {
				return s3logs.Record{}, err
			}
			return s3logs.Record{Value: NewLine(rec, flowLogID, origin, p, line)}, nil
		})(rd, emit, bad)
	}
}
