package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// overShardingCollector hands out pieces pieces of work, however many.
type overShardingCollector struct{ pieces int }

func (c *overShardingCollector) Name() string   { return "oversharded" }
func (c *overShardingCollector) Source() string { return evidence.SourceS3Access }
func (c *overShardingCollector) Collect(_ context.Context, _ *incident.Incident, out *collect.Output) error {
	specs := make([]any, c.pieces)
	for i := range specs {
		specs[i] = i
	}
	return out.FanOut(specs...)
}
func (c *overShardingCollector) CollectShard(context.Context, *incident.Incident, json.RawMessage, *collect.Output) error {
	return nil
}

// TestFanOutAtMostMaxShards: a collector that cuts its work into more
// pieces than MaxShards fails (the run seals partial, naming it) instead of
// handing the state machine a Map that would outgrow the execution's
// history; MaxShards pieces still fan out.
func TestFanOutAtMostMaxShards(t *testing.T) {
	t.Run("MaxShards pieces fan out", func(t *testing.T) {
		r, err := overSharded(t, collect.MaxShards)
		if err != nil || r.Status != incident.StatusFannedOut || len(r.Shards) != collect.MaxShards {
			t.Fatalf("result %s, %d shards, err %v; want %d shards", r.Status, len(r.Shards), err, collect.MaxShards)
		}
	})
	t.Run("one more fails the collector", func(t *testing.T) {
		// The failed result is stored and returned as CollectorError, which
		// the state machine catches into CollectorFailed: the run goes on.
		_, err := overSharded(t, collect.MaxShards+1)
		var ce *faults.CollectorError
		if !errors.As(err, &ce) || ce.Collector != "oversharded" || !strings.Contains(err.Error(), "MaxShards") {
			t.Fatalf("err = %v, want a CollectorError naming MaxShards", err)
		}
	})
}

// overSharded runs a collector that cuts its work into pieces pieces.
func overSharded(t *testing.T, pieces int) (incident.Result, error) {
	t.Helper()
	client := lockedBucket(t)
	d := &collect.Driver{Writer: evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir())),
		Version: "v-test", Results: client, Bucket: testBucket, Budget: collect.Budget{Objects: 1}}
	return d.Run(context.Background(), &overShardingCollector{pieces: pieces}, testInput())
}
