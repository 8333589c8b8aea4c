package scenario

import (
	"github.com/custody-ir/custody/shared/ctdigest"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PutLogEvents limits (as AWS documents them).
const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1048576
	eventOverhead  = 26
	maxBatchSpan   = 24 * time.Hour
	// CloudWatch Logs (and moto) accept events from 14 days ago to 2 hours ahead.
	maxEventAge   = 14 * 24 * time.Hour
	maxEventAhead = 2 * time.Hour
)

type objectFile struct {
	rel    string // relative to the seed folder, slash-separated
	bucket string // may hold placeholders
	key    string
}

type streamFile struct {
	rel    string
	group  string
	stream string
}

type seedFiles struct {
	objects []objectFile
	streams []streamFile
}

func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || name == "README.md"
}

// scanFiles lists <dir>/s3 and <dir>/logs. Hidden files (".gitkeep") are
// skipped, and README.md too in logs/.
func scanFiles(dir string) (*seedFiles, error) {
	sf := &seedFiles{}
	s3dir := filepath.Join(dir, "s3")
	err := filepath.WalkDir(s3dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == s3dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(s3dir, p)
		parts := strings.SplitN(filepath.ToSlash(rel), "/", 2)
		if len(parts) != 2 {
			return fmt.Errorf("scenario: s3/%s: want s3/<bucket>/<key>", filepath.ToSlash(rel))
		}
		sf.objects = append(sf.objects, objectFile{rel: "s3/" + filepath.ToSlash(rel), bucket: parts[0], key: parts[1]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	logsdir := filepath.Join(dir, "logs")
	err = filepath.WalkDir(logsdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == logsdir {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || ignored(d.Name()) {
			return nil
		}
		rel, _ := filepath.Rel(logsdir, p)
		rel = filepath.ToSlash(rel)
		i := strings.LastIndex(rel, "/")
		if i < 0 || !strings.HasSuffix(rel, ".jsonl") {
			return fmt.Errorf("scenario: logs/%s: want logs/<group>/<stream>.jsonl", rel)
		}
		sf.streams = append(sf.streams, streamFile{rel: "logs/" + rel, group: rel[:i], stream: strings.TrimSuffix(rel[i+1:], ".jsonl")})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sf, nil
}

func (a *applier) markRewritten(rel string) {
	for _, r := range a.out.Rewritten {
		if r == rel {
			return
		}
	}
	a.out.Rewritten = append(a.out.Rewritten, rel)
}

func (a *applier) uploadObjects(ctx context.Context, files *seedFiles) error {
	for _, f := range files.objects {
		body, err := os.ReadFile(filepath.Join(a.dir, filepath.FromSlash(f.rel)))
		if err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		out, changed, err := a.out.rewriteFile(body, f.rel)
		if err != nil {
			return err
		}
		bucket, err := a.out.rewrite([]byte(f.bucket), f.rel)
		if err != nil {
			return err
		}
		key, err := a.out.rewriteTimed([]byte(f.key), f.rel)
		if err != nil {
			return err
		}
		renamed := string(bucket) != f.bucket || string(key) != f.key
		if changed || renamed {
			a.markRewritten(f.rel)
		}
		if _, err := a.c.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(string(bucket)), Key: aws.String(string(key)),
			Body: bytes.NewReader(out), ContentLength: aws.Int64(int64(len(out))),
			// A locked bucket refuses a put without a checksum (moto too).
			ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		}); err != nil {
			return fmt.Errorf("scenario: %s: PutObject s3://%s/%s: %w", f.rel, bucket, key, err)
		}
		if ctdigest.IsLogKey(string(key)) {
			raw, err := ctdigest.Inflate(out)
			if err != nil {
				return fmt.Errorf("scenario: %s: a CloudTrail log file that does not decompress: %w", f.rel, err)
			}
			a.ctLogs = append(a.ctLogs, ctdigest.Delivered{Bucket: string(bucket), Key: string(key), Raw: raw})
		}
		a.out.Objects = append(a.out.Objects, SeededObject{File: f.rel, Bucket: string(bucket), Key: string(key), Size: int64(len(out)), Rewritten: changed || renamed})
	}
	return nil
}

// LogEventsRejectedError is a logs/ file with events CloudWatch Logs would
// refuse: older than 14 days or more than 2 hours ahead of now.
type LogEventsRejectedError struct {
	File            string
	TooOld, TooNew  int
	FirstLine       int
	Earliest, Limit time.Time
}

func (e *LogEventsRejectedError) Error() string {
	return fmt.Sprintf("scenario: %s: %d events older than 14 days and %d more than 2h ahead (first at line %d); CloudWatch Logs (and the emulator) accept only %s .. +2h: give the scenario a timeShift or use {{epochms:-1h}} style times",
		e.File, e.TooOld, e.TooNew, e.FirstLine, e.Limit.UTC().Format(time.RFC3339))
}

type logLine struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}

func (a *applier) uploadLogs(ctx context.Context, files *seedFiles) error {
	now := a.out.now()
	oldest, newest := now.Add(-maxEventAge).UnixMilli(), now.Add(maxEventAhead).UnixMilli()
	for _, f := range files.streams {
		raw, err := os.ReadFile(filepath.Join(a.dir, filepath.FromSlash(f.rel)))
		if err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		body, changed, err := a.out.rewriteFile(raw, f.rel)
		if err != nil {
			return err
		}
		group, err := a.groupFor(f)
		if err != nil {
			return err
		}
		streamB, err := a.out.rewriteTimed([]byte(f.stream), f.rel)
		if err != nil {
			return err
		}
		stream := string(streamB)
		if changed || stream != f.stream || group != f.group && group != "/"+f.group {
			a.markRewritten(f.rel)
			changed = true
		}
		var events []cwltypes.InputLogEvent
		rej := &LogEventsRejectedError{File: f.rel, Limit: time.UnixMilli(oldest)}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 0, 1<<20), 1<<20+1024)
		for n := 1; sc.Scan(); n++ {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var l logLine
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil || l.Timestamp == nil || l.Message == nil {
				if err == nil {
					err = fmt.Errorf("want {\"timestamp\": <epoch ms>, \"message\": \"...\"}")
				}
				return fmt.Errorf("scenario: %s:%d: %w", f.rel, n, err)
			}
			switch {
			case *l.Timestamp < oldest:
				rej.TooOld++
			case *l.Timestamp > newest:
				rej.TooNew++
			default:
				events = append(events, cwltypes.InputLogEvent{Timestamp: l.Timestamp, Message: l.Message})
				continue
			}
			if rej.FirstLine == 0 {
				rej.FirstLine = n
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("scenario: %s: %w", f.rel, err)
		}
		if rej.TooOld+rej.TooNew > 0 {
			return rej
		}
		if _, err := a.c.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
			return fmt.Errorf("scenario: %s: CreateLogStream %s %s: %w", f.rel, group, stream, err)
		}
		sort.SliceStable(events, func(i, j int) bool { return *events[i].Timestamp < *events[j].Timestamp })
		for _, batch := range batches(events) {
			out, err := a.c.logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: batch})
			if err != nil {
				return fmt.Errorf("scenario: %s: PutLogEvents: %w", f.rel, err)
			}
			if r := out.RejectedLogEventsInfo; r != nil && (r.TooOldLogEventEndIndex != nil || r.TooNewLogEventStartIndex != nil || r.ExpiredLogEventEndIndex != nil) {
				return fmt.Errorf("scenario: %s: PutLogEvents rejected events (tooOldEnd=%v tooNewStart=%v expiredEnd=%v)", f.rel,
					aws.ToInt32(r.TooOldLogEventEndIndex), aws.ToInt32(r.TooNewLogEventStartIndex), aws.ToInt32(r.ExpiredLogEventEndIndex))
			}
		}
		a.out.Streams = append(a.out.Streams, SeededStream{File: f.rel, Group: group, Stream: stream, Events: len(events), Rewritten: changed})
	}
	return nil
}

// batches splits time-sorted events into PutLogEvents calls: at most 10,000
// events, 1 MiB (message bytes plus 26 each) and 24 hours each.
func batches(events []cwltypes.InputLogEvent) [][]cwltypes.InputLogEvent {
	var out [][]cwltypes.InputLogEvent
	start, size := 0, 0
	for i, e := range events {
		sz := len(aws.ToString(e.Message)) + eventOverhead
		if i > start && (i-start >= maxBatchEvents || size+sz > maxBatchBytes ||
			*e.Timestamp-*events[start].Timestamp >= maxBatchSpan.Milliseconds()) {
			out = append(out, events[start:i])
			start, size = i, 0
		}
		size += sz
	}
	if start < len(events) {
		out = append(out, events[start:])
	}
	return out
}
