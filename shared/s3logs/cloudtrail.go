package s3logs

// Generic helpers the CloudTrail collector needed and the driver did not
// have: a key time read by a pattern, the folders under a prefix, and a
// record of which objects a read was denied.

import (
	"context"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// KeyTimePattern returns a KeyTime that takes the first submatch of re in
// the key's last path element and parses it with the first layout that
// fits (UTC).
func KeyTimePattern(re *regexp.Regexp, layouts ...string) KeyTime {
	return func(key string) (time.Time, bool) {
		base := key
		for i := len(key) - 1; i >= 0; i-- {
			if key[i] == '/' {
				base = key[i+1:]
				break
			}
		}
		m := re.FindStringSubmatch(base)
		if len(m) < 2 {
			return time.Time{}, false
		}
		for _, l := range layouts {
			if t, err := time.Parse(l, m[1]); err == nil {
				return t.UTC(), true
			}
		}
		return time.Time{}, false
	}
}

// Folders lists the folders directly under prefix (the common prefixes
// with delimiter "/"), every page, sorted. Each is returned whole
// (prefix + name + "/").
func Folders(ctx context.Context, client ObjectLister, bucket, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, err
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, aws.ToString(cp.Prefix))
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeniedGetter is an ObjectGetter that remembers the objects whose read was
// denied (Extract reports them only as problems): a collector tells a key
// it may not use (SSE-KMS) or a bucket policy that refuses it from a
// malformed file by them.
type DeniedGetter struct {
	ObjectGetter
	mu     sync.Mutex
	denied map[string]error
}

// GetObject reads through the wrapped getter and records a denial.
func (g *DeniedGetter) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := g.ObjectGetter.GetObject(ctx, in, optFns...)
	if err != nil && Denied(err) {
		g.mu.Lock()
		if g.denied == nil {
			g.denied = map[string]error{}
		}
		g.denied["s3://"+aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] = err
		g.mu.Unlock()
	}
	return out, err
}

// Denied returns the objects ("s3://bucket/key") whose read was denied,
// with the error.
func (g *DeniedGetter) Denied() map[string]error {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]error, len(g.denied))
	for k, v := range g.denied {
		out[k] = v
	}
	return out
}
