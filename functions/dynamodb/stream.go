package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

// maxDescribePages bounds DescribeStream's pagination (a stream has at
// most a few thousand shards in its 24 hours; 100 shards a page).
const maxDescribePages = 1000

// maxIteratorRenewals bounds how often one shard's iterator is renewed
// after it expired or pointed at trimmed data.
const maxIteratorRenewals = 5

// stream reads every shard of e's stream into dynamodb/<table>.jsonl.gz:
// the records of the window, in shard order.
func (r *run) stream(ctx context.Context, t *tableRef, e tableEntry) (tableEntry, error) {
	streamArn := e.StreamArn
	shards, desc, err := r.shards(ctx, streamArn)
	if err != nil {
		if reason, ok := gapReason(err); ok {
			e.Status, e.Reason = statusDenied, reason
			r.out.Gap(fmt.Sprintf("table %s: stream %s: %s", t.name, streamArn, reason),
				"allow "+apiDescribeStream+", "+apiGetShardIterator+" and "+apiGetRecords+" on the table's streams (table/"+t.name+"/stream/*) to the dynamodb collector's role")
			return e, nil
		}
		if notFound(err) {
			e.Status, e.Reason = statusNoStream, "stream not found"
			r.out.Gap(fmt.Sprintf("table %s: its stream %s is gone (deleted, or disabled more than 24 hours ago)", t.name, streamArn),
				"enable DynamoDB Streams (NEW_AND_OLD_IMAGES) on table "+t.name+" and keep it on")
			return e, nil
		}
		return e, classify(apiDescribeStream, err)
	}
	if desc != nil {
		if v := desc.StreamViewType; v != "" {
			e.StreamViewType = string(v)
		}
		if c := desc.CreationRequestDateTime; c != nil && c.After(r.inc.Window.Start) {
			r.out.Warn("table %s: its stream was created at %s, after the window's start: nothing before that was recorded", t.name, c.UTC().Format(time.RFC3339))
		}
	}
	switch types.StreamViewType(e.StreamViewType) {
	case types.StreamViewTypeKeysOnly, types.StreamViewTypeNewImage, types.StreamViewTypeOldImage:
		r.out.Gap(fmt.Sprintf("table %s's stream records %s: the item images it leaves out are not in the evidence", t.name, e.StreamViewType),
			"set the stream view type of table "+t.name+" to NEW_AND_OLD_IMAGES")
	}
	e.Shards = len(shards)
	r.streamed = append(r.streamed, t.name)

	request := map[string]any{"streamArn": streamArn, "shards": shards, "shardIteratorType": string(types.ShardIteratorTypeTrimHorizon)}
	if r.c.PageLimit > 0 {
		request["limit"] = r.c.PageLimit
	}
	s, err := r.out.CreateGzip(t.name+".jsonl.gz", r.out.Meta(apiArtifact, request,
		&evidence.Origin{Table: t.name, Shard: fmt.Sprintf("%d shards", len(shards))}))
	if err != nil {
		return e, err
	}
	var st shardStats
	for _, id := range shards {
		if err := r.shard(ctx, s, t.name, streamArn, id, &st); err != nil {
			s.Abort()
			var gone *goneError
			if errors.As(err, &gone) {
				// The stream went away mid-read: keep nothing half read.
				e.Status, e.Reason = statusNoStream, gone.Error()
				r.out.Gap(fmt.Sprintf("table %s: %s; nothing of the stream was stored", t.name, gone),
					"collect the case again, and keep the table's stream enabled")
				return e, nil
			}
			if reason, ok := gapReason(err); ok {
				e.Status, e.Reason = statusDenied, reason
				r.out.Gap(fmt.Sprintf("table %s: stream %s: %s", t.name, streamArn, reason),
					"allow "+apiGetShardIterator+" and "+apiGetRecords+" on table/"+t.name+"/stream/* to the dynamodb collector's role")
				return e, nil
			}
			return e, err
		}
		if st.truncated {
			break
		}
	}
	e.Records, e.Key, e.Status = s.Records(), s.Key(), statusCollected
	if st.before > 0 || st.after > 0 {
		r.out.Warn("table %s: %d stream records before the window and %d after it were read and left out", t.name, st.before, st.after)
	}
	if st.later > 0 {
		r.out.Warn("table %s: read up to %s, when the run was opened; later records are left to a later run", t.name, r.cutoff.Format(time.RFC3339))
	}
	if st.untimed > 0 {
		r.out.Warn("table %s: %d stream records have no ApproximateCreationDateTime: kept, untimed", t.name, st.untimed)
	}
	if st.renewed > 0 {
		r.out.Warn("table %s: a shard iterator was renewed %d times (expired, or pointing at trimmed records)", t.name, st.renewed)
	}
	if st.truncated {
		e.Status, e.Reason = statusTruncated, "stopped at the deadline"
		r.out.Gap(fmt.Sprintf("table %s: reading its stream stopped at the Lambda's deadline after %d records: later records of the window were not collected", t.name, s.Records()),
			"raise the dynamodb collector's timeout (or memory), or run the collector again for the run")
	}
	if s.Records() == 0 {
		r.out.Warn("table %s: its stream has no records in the window (stored empty, as the record of the query)", t.name)
	}
	if _, err := s.Close(ctx); err != nil {
		return e, err
	}
	return e, nil
}

// shards lists the stream's shards (every page) and their first sequence
// numbers, ordered parents first.
func (r *run) shards(ctx context.Context, streamArn string) ([]string, *types.StreamDescription, error) {
	var ids []string
	start := map[string]string{}
	var first *types.StreamDescription
	var exclusive *string
	for page := 0; ; page++ {
		if page >= maxDescribePages {
			return nil, nil, fmt.Errorf("%s %s: more than %d pages of shards", apiDescribeStream, streamArn, maxDescribePages)
		}
		out, err := r.c.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamArn), ExclusiveStartShardId: exclusive})
		if err != nil {
			return nil, nil, err
		}
		d := out.StreamDescription
		if d == nil {
			break
		}
		if first == nil {
			first = d
		}
		for _, sh := range d.Shards {
			id := aws.ToString(sh.ShardId)
			if id == "" {
				continue
			}
			if _, seen := start[id]; seen {
				continue
			}
			ids = append(ids, id)
			start[id] = ""
			if sh.SequenceNumberRange != nil {
				start[id] = aws.ToString(sh.SequenceNumberRange.StartingSequenceNumber)
			}
		}
		next := aws.ToString(d.LastEvaluatedShardId)
		if next == "" || (exclusive != nil && next == *exclusive) {
			break
		}
		exclusive = aws.String(next)
	}
	sortShards(ids, start)
	return ids, first, nil
}

// goneError is a stream or shard that went away while it was read.
type goneError struct{ what string }

func (e *goneError) Error() string { return e.what }

// shardStats counts what reading the shards left out.
type shardStats struct {
	before, after, untimed int64
	later                  int64 // shards left at a record written after the cutoff
	renewed                int
	truncated              bool
}

// shard reads one shard from its trim horizon and writes the records of
// the window to s. It stops at the shard's end (a closed shard), at the
// first record after the window's end or after the run's cutoff (an open
// shard is read to the present, not forever), after MaxEmptyPolls answers
// without records in a row, or at the deadline.
func (r *run) shard(ctx context.Context, s *collect.Stream, table, streamArn, shardID string, st *shardStats) error {
	c := r.c
	w := r.inc.Window
	maxEmpty := c.MaxEmptyPolls
	if maxEmpty <= 0 {
		maxEmpty = DefaultMaxEmptyPolls
	}
	wait := c.PollWait
	if wait == 0 {
		wait = DefaultPollWait
	}
	iterator := func(typ types.ShardIteratorType, after string) (*string, error) {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamArn), ShardId: aws.String(shardID), ShardIteratorType: typ}
		if after != "" {
			in.SequenceNumber = aws.String(after)
		}
		out, err := c.Streams.GetShardIterator(ctx, in)
		if err != nil {
			if notFound(err) {
				return nil, &goneError{what: fmt.Sprintf("stream %s shard %s is gone", streamArn, shardID)}
			}
			if _, ok := gapReason(err); ok {
				return nil, err
			}
			return nil, classify(apiGetShardIterator, err)
		}
		return out.ShardIterator, nil
	}
	it, err := iterator(types.ShardIteratorTypeTrimHorizon, "")
	if err != nil {
		return err
	}
	var last string // sequence number of the last record read
	// skipThrough is set when an iterator was renewed from the trim
	// horizon: the records up to it were read already.
	var skipThrough string
	empty := 0
	for it != nil {
		if !r.deadline.IsZero() && !c.now().Before(r.deadline) {
			st.truncated = true
			return nil
		}
		in := &dynamodbstreams.GetRecordsInput{ShardIterator: it}
		if c.PageLimit > 0 {
			in.Limit = aws.Int32(c.PageLimit)
		}
		page, err := c.Streams.GetRecords(ctx, in)
		if err != nil {
			var expired *types.ExpiredIteratorException
			var trimmed *types.TrimmedDataAccessException
			switch {
			case errors.As(err, &expired) || apiCode(err) == "ExpiredIteratorException":
				if st.renewed++; st.renewed > maxIteratorRenewals {
					return classify(apiGetRecords, err)
				}
				if last != "" {
					it, err = iterator(types.ShardIteratorTypeAfterSequenceNumber, last)
				} else {
					it, err = iterator(types.ShardIteratorTypeTrimHorizon, "")
				}
				if err != nil {
					return err
				}
				continue
			case errors.As(err, &trimmed) || apiCode(err) == "TrimmedDataAccessException":
				// The records ahead aged out while the shard was read:
				// start again from what the shard still holds.
				if st.renewed++; st.renewed > maxIteratorRenewals {
					return classify(apiGetRecords, err)
				}
				if it, err = iterator(types.ShardIteratorTypeTrimHorizon, ""); err != nil {
					return err
				}
				skipThrough = last
				continue
			case notFound(err):
				return &goneError{what: fmt.Sprintf("stream %s shard %s is gone", streamArn, shardID)}
			}
			if _, ok := gapReason(err); ok {
				return err
			}
			return classify(apiGetRecords, err)
		}
		for i := range page.Records {
			rec := &page.Records[i]
			var at time.Time
			if rec.Dynamodb != nil {
				if seq := aws.ToString(rec.Dynamodb.SequenceNumber); seq != "" {
					if skipThrough != "" && !seqAfter(seq, skipThrough) {
						continue // read already, before the iterator was renewed
					}
					last = seq
				}
				if rec.Dynamodb.ApproximateCreationDateTime != nil {
					at = rec.Dynamodb.ApproximateCreationDateTime.UTC()
				}
			}
			switch {
			case at.IsZero():
				st.untimed++
			case at.Before(w.Start):
				st.before++
				continue
			case at.After(w.End):
				// A shard's records are in order: the rest are later.
				st.after++
				return nil
			case at.After(r.cutoff):
				// Written after the run was opened: the shard has been
				// read to the present.
				st.later++
				return nil
			}
			if err := s.WriteRecord(encodeRecord(rec, streamArn, table, shardID), at); err != nil {
				return &faults.EvidenceError{Key: s.Key(), Err: err}
			}
		}
		if page.NextShardIterator == nil {
			return nil // a closed shard, read to its end
		}
		it = page.NextShardIterator
		if len(page.Records) > 0 {
			empty = 0
			continue
		}
		if empty++; empty >= maxEmpty {
			return nil // an open shard, read to the present
		}
		if wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				return classify(apiGetRecords, err)
			}
		}
	}
	return nil
}

// seqAfter reports whether sequence number a comes after b (decimal
// strings of varying length).
func seqAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// notFound reports a stream, shard or table that does not exist.
func notFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf) || apiCode(err) == "ResourceNotFoundException"
}

// record is one stream record as stored: the GetRecords member names and
// DynamoDB JSON, as the API and a Lambda event carry it (each line decodes
// as an aws-lambda-go events.DynamoDBEventRecord, and is what the
// timeline's DynamoDB reader expects), plus where it was read: the stream
// (eventSourceARN, as in a Lambda event), the table and the shard.
type record struct {
	EventID        string        `json:"eventID,omitempty"`
	EventName      string        `json:"eventName,omitempty"`
	EventVersion   string        `json:"eventVersion,omitempty"`
	EventSource    string        `json:"eventSource,omitempty"`
	AWSRegion      string        `json:"awsRegion,omitempty"`
	UserIdentity   *userIdentity `json:"userIdentity,omitempty"`
	Dynamodb       *streamRecord `json:"dynamodb,omitempty"`
	EventSourceARN string        `json:"eventSourceARN"`
	TableName      string        `json:"tableName"`
	ShardID        string        `json:"shardId"`
}

// userIdentity is set for records written by DynamoDB itself (TTL
// deletes). Its members are spelled as a Lambda event spells them ("type",
// "principalId"), which the timeline and aws-lambda-go read; the API's own
// answer spells them "Type" and "PrincipalId".
type userIdentity struct {
	Type        string `json:"type,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
}

type streamRecord struct {
	ApproximateCreationDateTime *epochSeconds  `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        map[string]any `json:"Keys,omitempty"`
	NewImage                    map[string]any `json:"NewImage,omitempty"`
	OldImage                    map[string]any `json:"OldImage,omitempty"`
	SequenceNumber              string         `json:"SequenceNumber,omitempty"`
	SizeBytes                   *int64         `json:"SizeBytes,omitempty"`
	StreamViewType              string         `json:"StreamViewType,omitempty"`
}

// epochSeconds is a time as the API writes it: seconds since the epoch,
// a JSON number, with a fraction only when there is one.
type epochSeconds time.Time

func (e epochSeconds) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	sec, ns := t.Unix(), t.Nanosecond()
	if ns == 0 {
		return strconv.AppendInt(nil, sec, 10), nil
	}
	if sec < 0 {
		sec, ns = sec+1, 1e9-ns
		if sec == 0 {
			return []byte("-0." + trimZeros(fmt.Sprintf("%09d", ns))), nil
		}
	}
	return []byte(strconv.FormatInt(sec, 10) + "." + trimZeros(fmt.Sprintf("%09d", ns))), nil
}

// UnmarshalJSON reads a JSON number of seconds, as MarshalJSON writes it
// and the API sends it.
func (e *epochSeconds) UnmarshalJSON(b []byte) error {
	r, ok := new(big.Rat).SetString(string(b))
	if !ok {
		return fmt.Errorf("epoch seconds: %s is not a number", b)
	}
	ns := new(big.Rat).Mul(r, big.NewRat(1e9, 1))
	n := new(big.Int).Quo(ns.Num(), ns.Denom())
	if !n.IsInt64() {
		return fmt.Errorf("epoch seconds: %s is out of range", b)
	}
	*e = epochSeconds(time.Unix(0, n.Int64()).UTC())
	return nil
}

func trimZeros(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s
}

// encodeRecord is rec as stored, read from streamArn's shard of table.
func encodeRecord(rec *types.Record, streamArn, table, shardID string) record {
	out := record{
		EventID:        aws.ToString(rec.EventID),
		EventName:      string(rec.EventName),
		EventVersion:   aws.ToString(rec.EventVersion),
		EventSource:    aws.ToString(rec.EventSource),
		AWSRegion:      aws.ToString(rec.AwsRegion),
		EventSourceARN: streamArn,
		TableName:      table,
		ShardID:        shardID,
	}
	if u := rec.UserIdentity; u != nil {
		out.UserIdentity = &userIdentity{Type: aws.ToString(u.Type), PrincipalID: aws.ToString(u.PrincipalId)}
	}
	if d := rec.Dynamodb; d != nil {
		sr := &streamRecord{
			Keys: attributes(d.Keys), NewImage: attributes(d.NewImage), OldImage: attributes(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: d.SizeBytes, StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			t := epochSeconds(*d.ApproximateCreationDateTime)
			sr.ApproximateCreationDateTime = &t
		}
		out.Dynamodb = sr
	}
	return out
}

// attributes is an item (or its keys) in DynamoDB JSON; nil for none.
func attributes(m map[string]types.AttributeValue) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = attribute(v)
	}
	return out
}

// attribute is one value in DynamoDB JSON ({"S": "x"}, {"N": "1"}, …):
// the SDK's union types have no tag of their own when marshalled. Sets
// and lists are never null; binary values are base64, as in the API.
func attribute(v types.AttributeValue) map[string]any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": nonNilBytes(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": nonNil(v.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": nonNil(v.Value)}
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = nonNilBytes(b)
		}
		return map[string]any{"BS": bs}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = attribute(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		m := attributes(v.Value)
		if m == nil {
			m = map[string]any{}
		}
		return map[string]any{"M": m}
	case *types.UnknownUnionMember:
		// A type newer than this SDK: kept, as the bytes it came with.
		if json.Valid(v.Value) {
			return map[string]any{v.Tag: json.RawMessage(v.Value)}
		}
		return map[string]any{v.Tag: v.Value}
	case nil:
		return map[string]any{}
	}
	return map[string]any{"unknown": fmt.Sprintf("%T", v)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
