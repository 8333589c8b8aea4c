package collect

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/version"
)

// EnvBucket names the locked evidence bucket in every collector's
// environment (the stack sets it).
const EnvBucket = "EVIDENCE_BUCKET"

// DriverFromEnv is the driver a collector Lambda runs: it writes evidence
// to the bucket EnvBucket names with objects, answers a repeated
// invocation from the result stored there, and lets a ShardCollector fan
// out past the budget EnvShardBytes and EnvShardObjects set; each
// invocation stores its action log, naming the calls of the hub's own
// clients as made in accounts.EnvAccountID. A missing
// bucket or a bad budget is a ConfigurationError naming the setting.
func DriverFromEnv(getenv func(string) string, objects *s3.Client) (*Driver, error) {
	bucket := getenv(EnvBucket)
	if bucket == "" {
		return nil, &faults.ConfigurationError{Setting: EnvBucket, Reason: "not set: the evidence bucket is required"}
	}
	budget, err := BudgetFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return &Driver{
		Writer: evidence.NewWriter(objects, bucket), Version: version.String(), Now: time.Now,
		Results: objects, Bucket: bucket, Budget: budget, ActionLogs: true, Account: getenv(accounts.EnvAccountID),
	}, nil
}
