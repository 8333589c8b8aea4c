package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
)

// Event is one CloudWatch Logs event as the raw artifact keeps it.
type Event struct {
	Timestamp     int64  `json:"timestamp"` // milliseconds since the epoch, as the API gives it
	IngestionTime int64  `json:"ingestionTime,omitempty"`
	LogStream     string `json:"logStream"`
	EventID       string `json:"eventId,omitempty"`
	Message       string `json:"message"`
}

// CWLName is the raw events artifact of one interface's streams in a group.
func CWLName(group, eni string) string {
	return "cwl-" + safeName(group) + "-" + eni + ".jsonl.gz"
}

// safeName makes a log group name one key segment: every character
// outside [A-Za-z0-9._-] becomes "_", leading ones dropped
// ("/aws/vpc/flowlogs" -> "aws_vpc_flowlogs").
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	out := strings.TrimLeft(string(b), "_.")
	if out == "" {
		out = "group"
	}
	return out
}

// enisFor returns the scope's interfaces whose traffic fl records: the one
// it is on, or those known to be in its subnet or VPC (and those whose
// subnet and VPC EC2 did not say).
func (r *run) enisFor(fl ec2types.FlowLog) []string {
	res := aws.ToString(fl.ResourceId)
	if strings.HasPrefix(res, "eni-") {
		for _, e := range r.scope.ENIs {
			if e == res {
				return []string{e}
			}
		}
		return nil
	}
	var out []string
	for _, e := range r.scope.ENIs {
		i, known := r.ifaces[e]
		if !known || i.vpc == res || i.subnet == res {
			out = append(out, e)
		}
	}
	return out
}

// cloudWatch collects a flow log's CloudWatch Logs destination: for each
// interface of the scope it records, the events of its streams
// (<eni>-all, <eni>-accept, <eni>-reject) in the window, every page,
// streamed to cwl-<group>-<eni>.jsonl.gz as they came, and their records
// of the scope in the extract.
func (r *run) cloudWatch(ctx context.Context, fl ec2types.FlowLog, format vpcflow.Format) (bool, error) {
	id, group := aws.ToString(fl.FlowLogId), aws.ToString(fl.LogGroupName)
	if group == "" {
		group = aws.ToString(fl.LogDestination)
		if i := strings.Index(group, ":log-group:"); i >= 0 {
			group = strings.TrimSuffix(group[i+len(":log-group:"):], ":*")
		}
	}
	enis := r.enisFor(fl)
	if len(enis) == 0 {
		r.out.Warn("flow log %s on %s writes to log group %s: no interface of the scope is known to be in it, so no stream was read", id, aws.ToString(fl.ResourceId), group)
		return false, nil
	}
	read := false
	for _, eni := range enis {
		if r.seen["cwl:"+group+"/"+eni] {
			continue
		}
		r.seen["cwl:"+group+"/"+eni] = true
		ok, err := r.cloudWatchENI(ctx, id, group, eni, format)
		if err != nil {
			return read, err
		}
		read = read || ok
	}
	return read, nil
}

func (r *run) cloudWatchENI(ctx context.Context, id, group, eni string, format vpcflow.Format) (bool, error) {
	w := r.inc.Window
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:        aws.String(group),
		LogStreamNamePrefix: aws.String(eni),
		StartTime:           aws.Int64(w.Start.UnixMilli()),
		EndTime:             aws.Int64(w.End.UnixMilli()),
	}
	meta := r.out.Meta("logs:FilterLogEvents", map[string]any{
		"logGroupName": group, "logStreamNamePrefix": eni, "startTime": w.Start.UnixMilli(), "endTime": w.End.UnixMilli(), "flowLogId": id,
	}, &evidence.Origin{LogGroup: group, Description: "the streams of " + eni + " (" + eni + "-all, -accept, -reject)"})
	raw, err := r.out.CreateGzip(CWLName(group, eni), meta)
	if err != nil {
		return false, err
	}
	p := vpcflow.NewParser(format)
	var events, malformed int64
	var problems []string
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(r.c.Logs, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			raw.Abort()
			switch {
			case notFound(err):
				r.out.Gap(fmt.Sprintf("flow log %s: log group %s does not exist", id, group),
					"check flow log "+id+"'s destination and that its delivery role may create streams in "+group)
				return false, nil
			case denied(err):
				r.out.Gap(fmt.Sprintf("flow log %s: logs:FilterLogEvents denied on %s: %v", id, group, err),
					"allow the vpcflow collector's role logs:FilterLogEvents on log group "+group)
				return false, nil
			}
			return false, faults.Classify("logs:FilterLogEvents", err, func(err error) error { return err })
		}
		for _, e := range page.Events {
			stream := aws.ToString(e.LogStreamName)
			if stream != eni && !strings.HasPrefix(stream, eni+"-") {
				// Not this interface's stream: AWS honours the prefix, not every emulator does.
				continue
			}
			ev := Event{Timestamp: aws.ToInt64(e.Timestamp), IngestionTime: aws.ToInt64(e.IngestionTime), LogStream: stream,
				EventID: aws.ToString(e.EventId), Message: aws.ToString(e.Message)}
			at := time.UnixMilli(ev.Timestamp).UTC()
			if err := raw.WriteRecord(ev, at); err != nil {
				raw.Abort()
				return false, err
			}
			events++
			rec, err := p.Parse([]byte(ev.Message))
			if errors.Is(err, vpcflow.ErrHeader) {
				continue
			}
			if err != nil {
				malformed++
				if len(problems) < 5 {
					problems = append(problems, fmt.Sprintf("%s event %s: %v", stream, ev.EventID, err))
				}
				continue
			}
			if !r.match.Match(rec) {
				continue
			}
			l := newLine(rec, id, evidence.Origin{LogGroup: group, LogStream: stream}, p, []byte(ev.Message))
			l.EventID, l.EventTime = ev.EventID, &at
			if err := r.extract.write(l); err != nil {
				raw.Abort()
				return false, err
			}
		}
	}
	if events == 0 {
		raw.Abort()
		r.out.Gap(fmt.Sprintf("flow log %s: no events in log group %s for %s in the window", id, group, eni),
			"check flow log "+id+"'s delivery status and role (DeliverLogsPermissionArn); a running flow log writes NODATA records even for an idle interface")
		return true, nil
	}
	if _, err := raw.Close(ctx); err != nil {
		return false, err
	}
	r.extract.malformed += malformed
	if malformed > 0 {
		r.out.Warn("flow log %s: %d of %d events in %s for %s could not be read as format %q and are not in the extract (the rest are): %s",
			id, malformed, events, group, eni, format.String(), strings.Join(problems, "; "))
	}
	return true, nil
}
