package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// extractName is the CloudTrail collector's extract in its folder of the
// run: one CloudTrail record per line, gzip.
const extractName = "extract.jsonl.gz"

// cloudtrailCollector is the CloudTrail collector's name: its result lists
// its extracts.
const cloudtrailCollector = "cloudtrail"

// maxInventory bounds the first pass's inventory as read back.
const maxInventory = 16 << 20

const (
	dynamodbEventSource = "dynamodb.amazonaws.com"
	tableResourceType   = "AWS::DynamoDB::Table"
)

// ctRecord is the part of a CloudTrail record that names tables.
type ctRecord struct {
	EventSource       string `json:"eventSource"`
	RequestParameters *struct {
		TableName json.RawMessage `json:"tableName"`
		TableArn  json.RawMessage `json:"tableArn"`
	} `json:"requestParameters"`
	Resources []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
}

// tablesOf adds the tables one CloudTrail record names: requestParameters
// tableName (and tableArn) of a DynamoDB call, and every resource of type
// AWS::DynamoDB::Table.
func (r *ctRecord) tablesOf(add func(string)) {
	if r.EventSource == dynamodbEventSource && r.RequestParameters != nil {
		for _, raw := range []json.RawMessage{r.RequestParameters.TableName, r.RequestParameters.TableArn} {
			var s string
			if len(raw) > 0 && json.Unmarshal(raw, &s) == nil {
				add(s)
			}
		}
	}
	for _, res := range r.Resources {
		if res.Type == tableResourceType {
			add(res.ARN)
		}
	}
}

// missing reports an S3 error that says the key (or bucket) is not there.
func missing(err error) bool {
	var nsk *s3types.NoSuchKey
	var nsb *s3types.NoSuchBucket
	switch apiCode(err) {
	case "NoSuchKey", "NotFound", "NoSuchBucket":
		return true
	}
	return errors.As(err, &nsk) || errors.As(err, &nsb)
}

// s3Denied reports an S3 refusal.
func s3Denied(err error) bool {
	switch apiCode(err) {
	case "AccessDenied", "Forbidden", "AllAccessDisabled":
		return true
	}
	return false
}

// readExtract reads the run's CloudTrail extracts and returns the tables
// they name, in the order first named. The extracts are those the
// cloudtrail collector's stored result lists (extractKeys); before it has
// stored one, extract.jsonl.gz is looked for. No extract is
// extractNotReady, a refused read extractDenied; a line that is not a
// record is skipped, and an extract that ends early is extractUnreadable
// with the tables named before. Throttling and transient errors are
// returned for a retry.
func (c *StreamsCollector) readExtract(ctx context.Context, inc *incident.Incident) (*extractState, []string, error) {
	key, err := evidence.ArtifactKey(inc.CaseID, inc.RunID, evidence.SourceCloudTrail, extractName)
	if err != nil {
		return nil, nil, err
	}
	st := &extractState{Key: key}
	if c.Objects == nil || c.Bucket == "" {
		st.Status, st.Detail = extractNotReady, "no evidence bucket configured to read it from"
		return st, nil, nil
	}
	keys, listed, err := c.extractKeys(ctx, inc)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !listed:
		keys = []string{key}
	case len(keys) == 0:
		st.Status, st.Detail = extractNotReady, "the cloudtrail collector's result lists no extract"
		return st, nil, nil
	default:
		st.Key = keys[0]
		if len(keys) > 1 {
			st.Parts = keys
		}
	}
	var names []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	bad := 0
	var problems []string
	for _, k := range keys {
		obj, err := c.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(k)})
		if err != nil {
			switch {
			case missing(err) && !listed:
				st.Status = extractNotReady
				return st, nil, nil
			case missing(err):
				problems = append(problems, k+": listed by the cloudtrail result but not there")
				continue
			case s3Denied(err):
				st.Status, st.Detail = extractDenied, err.Error()
				return st, nil, nil
			}
			return nil, nil, faults.Classify(apiGetObject+" "+k, err, func(err error) error {
				return &faults.EvidenceError{Key: k, Err: err}
			})
		}
		n, err := scanExtract(obj.Body, add)
		obj.Body.Close()
		bad += n
		if err != nil {
			// A truncated or corrupt extract stays so: no retry would help.
			problems = append(problems, k+": "+err.Error())
		}
	}
	st.Status, st.Tables = extractRead, names
	if bad > 0 {
		st.Detail = fmt.Sprintf("%d lines were not CloudTrail records and were skipped", bad)
	}
	if len(problems) > 0 {
		st.Status = extractUnreadable
		st.Detail = strings.TrimSpace(st.Detail + " " + strings.Join(problems, "; "))
	}
	return st, names, nil
}

// extractKeys returns the record extracts the cloudtrail collector's
// stored result lists: its .jsonl.gz artifacts that are not copies
// (extract.jsonl.gz, a fan-out's extract-shardNNNN.jsonl.gz,
// lookup-events.jsonl.gz). listed is false when it has stored no result.
func (c *StreamsCollector) extractKeys(ctx context.Context, inc *incident.Incident) (keys []string, listed bool, err error) {
	key, err := evidence.ResultKey(inc.CaseID, inc.RunID, cloudtrailCollector)
	if err != nil {
		return nil, false, err
	}
	obj, err := c.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)})
	if err != nil {
		if missing(err) || s3Denied(err) {
			return nil, false, nil
		}
		return nil, false, faults.Classify(apiGetObject+" "+key, err, func(err error) error {
			return &faults.EvidenceError{Key: key, Err: err}
		})
	}
	defer obj.Body.Close()
	var r evidence.CollectorResult
	if err := json.NewDecoder(io.LimitReader(obj.Body, maxInventory)).Decode(&r); err != nil {
		return nil, false, &faults.EvidenceError{Key: key, Err: fmt.Errorf("decode the cloudtrail collector's result: %w", err)}
	}
	for _, a := range r.Artifacts {
		if a.Source == evidence.SourceCloudTrail && a.API != "s3:CopyObject" && strings.HasSuffix(a.Key, ".jsonl.gz") {
			keys = append(keys, a.Key)
		}
	}
	return keys, true, nil
}

// maxLine bounds one extract line (a CloudTrail record is at most a few
// hundred KiB); a longer line is skipped and counted.
const maxLine = 8 << 20

// scanExtract reads a gzip JSONL extract line by line (never whole) and
// calls add for each table a record names. It returns how many lines were
// not records, and an error when the extract cannot be read to its end
// (the lines before it were read).
func scanExtract(body io.Reader, add func(string)) (bad int, err error) {
	zr, err := gzip.NewReader(body)
	if err != nil {
		return 0, fmt.Errorf("not gzip: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 64<<10)
	var line []byte
	long := false
	records := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) <= maxLine {
			line = append(line, chunk...)
		} else {
			long = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			var rec ctRecord
			switch {
			case long, trimmed[0] != '{', json.Unmarshal(trimmed, &rec) != nil:
				bad++
			default:
				records++
				rec.tablesOf(add)
			}
		}
		line, long = line[:0], false
		if errors.Is(err, io.EOF) {
			return bad, nil
		}
		if err != nil {
			return bad, fmt.Errorf("after %d records: %w", records, err)
		}
	}
}

// readInventory reads the first pass's inventory from the run, or nil
// when it is not there.
func (c *StreamsCollector) readInventory(ctx context.Context, inc *incident.Incident) (*inventory, error) {
	key, err := evidence.ArtifactKey(inc.CaseID, inc.RunID, evidence.SourceDynamoDB, inventoryFirst)
	if err != nil {
		return nil, err
	}
	if c.Objects == nil || c.Bucket == "" {
		return nil, nil
	}
	obj, err := c.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)})
	if err != nil {
		if missing(err) {
			return nil, nil
		}
		return nil, faults.Classify(apiGetObject+" "+key, err, func(err error) error {
			return &faults.EvidenceError{Key: key, Err: err}
		})
	}
	defer obj.Body.Close()
	var inv inventory
	if err := json.NewDecoder(io.LimitReader(obj.Body, maxInventory)).Decode(&inv); err != nil {
		return nil, &faults.EvidenceError{Key: key, Err: fmt.Errorf("decode the first pass's inventory: %w", err)}
	}
	return &inv, nil
}
