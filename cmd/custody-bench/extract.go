package main

// The extracts as the collectors run them, on local files: s3logs.Extract
// over every object, the collector's decoder and filter, into a gzip
// evidence stream (gzip + SHA-256 to a spool file) that is discarded at
// the end instead of uploaded.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
	"github.com/custody-ir/custody/shared/pivot"
	"github.com/custody-ir/custody/shared/s3logs"
)

// extractResult is what a child reports to its parent on stdout.
type extractResult struct {
	Objects   int   `json:"objects"`
	Records   int64 `json:"records"`
	Kept      int64 `json:"kept"`
	Written   int64 `json:"written"`
	Malformed int64 `json:"malformed"`
	Problems  int   `json:"problems"`
	// PeakRSS is the child's VmHWM (bytes): its own peak, which rusage's
	// Maxrss is not (Linux carries the parent's high-water mark into a
	// child started by vfork and exec).
	PeakRSS int64 `json:"peakRSS"`
}

// localObjects serves s3:GetObject from a folder: the bucket is ignored
// and the key is a path.
type localObjects struct{}

func (localObjects) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f, err := os.Open(aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: f}, nil
}

func objects(dir string) ([]s3logs.Object, error) {
	files, err := gzFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .gz files under %s", dir)
	}
	objs := make([]s3logs.Object, len(files))
	for i, f := range files {
		objs[i] = s3logs.Object{Bucket: "bench", Key: f}
	}
	return objs, nil
}

// spool is the evidence stream an extract writes to, never uploaded.
func spool(tmp, name, source string) (*evidence.ArtifactWriter, error) {
	w := evidence.NewWriter(nil, "bench", evidence.WithTempDir(tmp))
	return w.CreateGzip("cases/bench/"+name, evidence.PutMeta{Source: source, API: "s3:GetObject"})
}

// extractCloudTrail is the CloudTrail collector's extract
// (functions/cloudtrail: Collector.extract) over the files under dir.
func extractCloudTrail(ctx context.Context, dir string) (extractResult, error) {
	objs, err := objects(dir)
	if err != nil {
		return extractResult{}, err
	}
	stream, err := spool(os.TempDir(), "cloudtrail/extract.jsonl.gz", evidence.SourceCloudTrail)
	if err != nil {
		return extractResult{}, err
	}
	defer stream.Abort()
	match := cloudtrail.NewMatcher(benchScope())
	dedupe := &dedupeWriter{w: stream, seen: map[string]bool{}}
	st, err := s3logs.Extract(ctx, localObjects{}, objs, cloudtrail.DecodeFor(match), func(r s3logs.Record) bool {
		e, ok := r.Value.(*cloudtrail.Event)
		return ok && match.Match(e)
	}, benchWindow, dedupe)
	res := extractResult{Objects: st.Objects, Records: st.Records, Kept: st.Kept, Written: stream.Records(), Malformed: st.Malformed, Problems: len(st.Problems)}
	return res, err
}

// extractPivot is a pivot pass of the CloudTrail collector
// (functions/cloudtrail, pivot.go) at its worst: pivot.DefaultMaxIdentities
// derived access keys followed at once (the scope's key among them, so the
// generated in-scope records are what it keeps), over the same files the
// first pass read, the byte-level prefilter searching for every key and
// pivot.Follow deciding.
func extractPivot(ctx context.Context, dir string) (extractResult, error) {
	objs, err := objects(dir)
	if err != nil {
		return extractResult{}, err
	}
	stream, err := spool(os.TempDir(), "cloudtrail/pivot-0001/extract.jsonl.gz", evidence.SourceCloudTrail)
	if err != nil {
		return extractResult{}, err
	}
	defer stream.Abort()
	ids := []pivot.Identity{{Kind: pivot.KindAccessKey, AccessKeyID: scopeAccessKey}}
	for i := 1; i < pivot.DefaultMaxIdentities; i++ {
		ids = append(ids, pivot.Identity{Kind: pivot.KindAccessKey, AccessKeyID: fmt.Sprintf("ASIAQBENCHPIVOT%05d", i)})
	}
	follow := pivot.NewFollow(ids)
	match := cloudtrail.NewMatcher(follow.Scope(scopeAccount, region))
	dedupe := &dedupeWriter{w: stream, seen: map[string]bool{}}
	st, err := s3logs.Extract(ctx, localObjects{}, objs, cloudtrail.DecodeFor(match), func(r s3logs.Record) bool {
		e, ok := r.Value.(*cloudtrail.Event)
		return ok && follow.Match(e)
	}, benchWindow, dedupe)
	res := extractResult{Objects: st.Objects, Records: st.Records, Kept: st.Kept, Written: stream.Records(), Malformed: st.Malformed, Problems: len(st.Problems)}
	return res, err
}

// dedupeWriter is the collector's: a record whose eventID was written is
// written once.
type dedupeWriter struct {
	w    s3logs.RecordWriter
	seen map[string]bool
}

func (d *dedupeWriter) WriteRecord(v any, at time.Time) error {
	if e, ok := v.(*cloudtrail.Event); ok && e.EventID != "" {
		if d.seen[e.EventID] {
			return nil
		}
		d.seen[e.EventID] = true
	}
	return d.w.WriteRecord(v, at)
}

// extractFlowLogs is the flow log collector's S3 extract
// (functions/vpcflow: run.readObjects): s3logs.ExtractEach with the
// collector's decoder per object (vpcflow.ObjectDecoder) and its filter
// (vpcflow.Matcher.Keep).
func extractFlowLogs(ctx context.Context, dir string) (extractResult, error) {
	objs, err := objects(dir)
	if err != nil {
		return extractResult{}, err
	}
	stream, err := spool(os.TempDir(), "vpcflow/extract.jsonl.gz", evidence.SourceVPCFlow)
	if err != nil {
		return extractResult{}, err
	}
	defer stream.Abort()
	match := vpcflow.NewMatcher(benchScope(), benchWindow)
	var lines atomic.Int64
	decodeFor := func(o s3logs.Object) s3logs.Decoder {
		return vpcflow.ObjectDecoder(match, "fl-0bench0000000001", vpcflow.Default, evidence.Origin{Bucket: o.Bucket, Key: o.Key}, &lines)
	}
	st, err := s3logs.ExtractEach(ctx, localObjects{}, objs, decodeFor, match.Keep, benchWindow, flowWriter{stream})
	res := extractResult{Objects: st.Objects, Records: st.Records, Kept: st.Kept, Malformed: st.Malformed, Problems: len(st.Problems)}
	if err != nil {
		return res, err
	}
	res.Written = stream.Records()
	return res, nil
}

// flowWriter is the collector's extractWriter: each line timed by its
// record.
type flowWriter struct{ s *evidence.ArtifactWriter }

func (w flowWriter) WriteRecord(v any, _ time.Time) error {
	l, ok := v.(*vpcflow.Line)
	if !ok {
		return fmt.Errorf("unexpected record %T", v)
	}
	return w.s.WriteRecord(l, l.Parsed().Time())
}

func printResult(r extractResult) error {
	r.PeakRSS = peakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// peakRSS is this process's VmHWM from /proc/self/status (0 elsewhere).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
