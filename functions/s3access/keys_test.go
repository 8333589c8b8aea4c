package main

import (
	"reflect"
	"testing"
	"time"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/incident"
)

func TestKeyRules(t *testing.T) {
	w := incident.Window{Start: time.Date(2023, 1, 31, 1, 0, 0, 0, time.UTC), End: time.Date(2023, 1, 31, 2, 0, 0, 0, time.UTC)}
	base := partitionBase("logs/", "123456789012", "eu-west-1", "src")
	rules := keyRules{Prefix: "logs/", PartitionBase: base, Window: w, Pad: 3 * time.Hour}
	if want := []string{"logs/2023-01-30-", "logs/2023-01-31-", base + "2023/01/30/", base + "2023/01/31/"}; !reflect.DeepEqual(rules.prefixes(), want) {
		t.Errorf("prefixes %q, want %q", rules.prefixes(), want)
	}
	cases := []struct {
		name       string
		dateSource s3types.PartitionDateSource
		key        string
		timed      bool
		keep       bool
	}{
		{"simple, in the window", "", "logs/2023-01-31-01-30-00-ABC", true, true},
		{"simple, in the pad before", "", "logs/2023-01-30-22-00-00-ABC", true, true},
		{"simple, before the pad", "", "logs/2023-01-30-21-59-59-ABC", true, false},
		{"simple, at the pad's end", "", "logs/2023-01-31-05-00-00-ABC", true, true},
		{"simple, after the pad", "", "logs/2023-01-31-05-00-01-ABC", true, false},
		{"simple, no time", "", "logs/2023-01-31-garbage", false, true},
		{"simple, no unique part", "", "logs/2023-01-31-01-30-00", false, true},
		{"event day of the window (format unknown)", "", base + "2023/01/31/2023-01-31-00-00-00-ABC", true, true},
		{"event day before the window: the pad does not move it", "", base + "2023/01/30/2023-01-30-00-00-00-ABC", true, false},
		{"event day, date source known", s3types.PartitionDateSourceEventTime, base + "2023/01/31/2023-01-31-00-00-00-ABC", true, true},
		{"delivery time in the pad", "", base + "2023/01/30/2023-01-30-23-10-00-ABC", true, true},
		{"delivery time after the pad", "", base + "2023/01/31/2023-01-31-05-10-00-ABC", true, false},
		{"midnight delivery, date source DeliveryTime", s3types.PartitionDateSourceDeliveryTime, base + "2023/01/30/2023-01-30-00-00-00-ABC", true, false},
		{"partitioned, no time", "", base + "2023/01/31/notalog", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rules
			r.DateSource = c.dateSource
			_, timed, keep := r.filter(c.key)
			if timed != c.timed || keep != c.keep {
				t.Errorf("filter(%s) = timed %v keep %v, want %v %v", c.key, timed, keep, c.timed, c.keep)
			}
		})
	}
	for loc, want := range map[s3types.BucketLocationConstraint]string{"": "us-east-1", "EU": "eu-west-1", "eu-central-1": "eu-central-1"} {
		if got := regionOf(loc); got != want {
			t.Errorf("regionOf(%q) = %s", loc, got)
		}
	}
}
