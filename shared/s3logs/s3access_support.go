package s3logs

import (
	"context"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// KeyFilter decides one listed key: t is the time its key names and timed
// whether it names one; keep whether the object is for the case. List's
// rule is "keep when timed and t is in the window widened by the pad";
// a source whose keys name a span rather than an instant (S3 server access
// logs partitioned by event time name a whole day) supplies its own.
type KeyFilter func(key string) (t time.Time, timed, keep bool)

// ListFiltered lists bucket under each prefix (every page) and keeps the
// objects filter keeps, counting the others as OutOfWindow. An untimed key
// filter keeps is counted as Untimed. A key listed under two prefixes is
// kept once.
func ListFiltered(ctx context.Context, client ObjectLister, bucket string, prefixes []string, filter KeyFilter) (Listing, error) {
	var l Listing
	seen := map[string]bool{}
	for _, prefix := range prefixes {
		p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return l, err
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if seen[key] {
					continue
				}
				seen[key] = true
				l.Listed++
				t, timed, keep := filter(key)
				if !keep {
					l.OutOfWindow++
					continue
				}
				obj := Object{Bucket: bucket, Key: key, Size: aws.ToInt64(o.Size)}
				if timed {
					obj.KeyTime = t
				} else {
					l.Untimed++
				}
				l.Objects = append(l.Objects, obj)
			}
		}
	}
	sort.Slice(l.Objects, func(i, j int) bool { return l.Objects[i].Key < l.Objects[j].Key })
	return l, nil
}
