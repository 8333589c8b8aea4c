package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/incident"
	"github.com/custody-ir/custody/shared/logs/vpcflow"
	"github.com/custody-ir/custody/shared/s3logs"
)

// Fan-out: when the S3 objects of every flow log of the run are more than
// the invocation's budget (collect.Output.Budget), the first invocation
// lists them, writes everything else (the flow log definitions, the
// CloudWatch Logs destinations and their extract) and hands the objects to
// shards in pieces (collect.Split, in listing order). Each shard copies
// its objects under the names the first invocation would have used
// (s3/<bucket>/<key>) and writes their records of the scope to its own
// extract (Output.PartName: extract-shard0003.jsonl.gz), with the same
// code (readObjects).

// piece is one shard's work, as Output.FanOut stores it: parts of one or
// more flow logs' batches, in listing order, and the scope they are
// filtered by.
type piece struct {
	Scope    shardScope `json:"scope"`
	FlowLogs []s3Batch  `json:"flowLogs"`
}

// shardScope is what the first invocation made of the scope's interfaces
// and addresses (the finding's, widened by what EC2 says of them): the
// shard's matcher and extract use it, not the finding's alone.
type shardScope struct {
	ENIs       []string `json:"enis,omitempty"`
	PrivateIPs []string `json:"privateIps,omitempty"`
	PublicIPs  []string `json:"publicIps,omitempty"`
}

// batchObject is one object of a batch, for collect.Split.
type batchObject struct {
	batch *s3Batch
	obj   s3logs.Object
}

// plan cuts the objects of every flow log's batch, in the order of logs
// and of each listing, into pieces within the budget. It returns nil when
// there is no budget or they fit in one piece: this invocation reads them.
func (r *run) plan(logs []ec2types.FlowLog) []piece {
	budget := r.out.Budget()
	if budget == (collect.Budget{}) {
		return nil
	}
	var batches []*s3Batch
	for _, fl := range logs {
		if b := r.batches[aws.ToString(fl.FlowLogId)]; b != nil {
			batches = append(batches, b)
		}
	}
	return cutPieces(batches, shardScope{ENIs: r.scope.ENIs, PrivateIPs: r.scope.PrivateIPs, PublicIPs: r.scope.PublicIPs}, budget)
}

// cutPieces cuts the batches' objects, in order, into pieces within
// budget (collect.Split), each object with its batch's flow log, format
// and destination; nil when they fit in one.
func cutPieces(batches []*s3Batch, sc shardScope, budget collect.Budget) []piece {
	var items []batchObject
	for _, b := range batches {
		for _, o := range b.Objects {
			items = append(items, batchObject{batch: b, obj: o})
		}
	}
	parts := collect.Split(items, func(it batchObject) int64 { return it.obj.Size }, budget)
	if len(parts) < 2 {
		return nil
	}
	pieces := make([]piece, 0, len(parts))
	for _, part := range parts {
		p := piece{Scope: sc}
		for _, it := range part {
			if n := len(p.FlowLogs); n == 0 || p.FlowLogs[n-1].FlowLogID != it.batch.FlowLogID {
				b := *it.batch
				b.Objects = nil
				p.FlowLogs = append(p.FlowLogs, b)
			}
			last := &p.FlowLogs[len(p.FlowLogs)-1]
			last.Objects = append(last.Objects, it.obj)
		}
		pieces = append(pieces, p)
	}
	return pieces
}

// CollectShard implements collect.ShardCollector: it copies and reads one
// piece of the S3 objects, into its own extract.
func (c *FlowLogCollector) CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *collect.Output) error {
	var p piece
	if err := json.Unmarshal(shard, &p); err != nil {
		return fmt.Errorf("vpcflow: shard: %w", err)
	}
	sc := inc.Scope
	sc.ENIs, sc.PrivateIPs, sc.PublicIPs = p.Scope.ENIs, p.Scope.PrivateIPs, p.Scope.PublicIPs
	r := &run{c: c, inc: inc, out: out, scope: sc, match: vpcflow.NewMatcher(sc, inc.Window)}
	ids := make([]string, 0, len(p.FlowLogs))
	text := false
	for _, b := range p.FlowLogs {
		ids = append(ids, b.FlowLogID)
		for _, o := range b.Objects {
			text = text || !isParquet(o.Key)
		}
	}
	ext, err := newExtractWriter(out, out.PartName(ExtractName), inc.Window, sc, ids)
	if err != nil {
		return err
	}
	r.extract = ext
	for _, b := range p.FlowLogs {
		if err := r.readObjects(ctx, b); err != nil {
			ext.abort()
			return err
		}
	}
	if !text {
		// Parquet objects only: copied, nothing to extract.
		ext.abort()
		return nil
	}
	return ext.close(ctx)
}

var _ collect.ShardCollector = (*FlowLogCollector)(nil)
