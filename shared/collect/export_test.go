package collect

import "github.com/custody-ir/custody/shared/incident"

// PartNameForTest is Output.PartName in shard n.
func PartNameForTest(name string, n int) string {
	o := &Output{shard: &incident.ShardRef{Index: n, Of: n}}
	return o.PartName(name)
}
