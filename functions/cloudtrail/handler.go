package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
	ctlog "github.com/custody-ir/custody/shared/logs/cloudtrail"
	"github.com/custody-ir/custody/shared/s3logs"
)

// CollectorName is the collector's name in the Plan and the manifest.
const CollectorName = "cloudtrail"

// ExtractName is the extract's name in the collector's folder; a shard's
// is collect.Output.PartName of it (extract-shard0003.jsonl.gz).
const ExtractName = "extract.jsonl.gz"

// DefaultPad is how late CloudTrail may deliver a log file after its
// events (about 5 to 15 minutes): keys are listed with this pad.
const DefaultPad = 15 * time.Minute

// digestLag widens the digest listing: a digest file is delivered about an
// hour after the log files it covers.
const digestLag = time.Hour

// Gap fixes.
const (
	fixEnableTrail = "enable a CloudTrail trail (with S3 data events for buckets in scope)"
	fixReadBucket  = "grant the collector role s3:ListBucket and s3:GetObject on the trail bucket (for a bucket in a log-archive account, in its bucket policy too), or run custody where the bucket is"
	fixKMS         = "allow the collector role kms:Decrypt on the trail's KMS key (in the key policy)"
	fixLookup      = "allow the collector role cloudtrail:LookupEvents"
)

// trailReader finds the trails and their state.
type trailReader interface {
	DescribeTrails(ctx context.Context, in *cloudtrail.DescribeTrailsInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error)
	GetTrailStatus(ctx context.Context, in *cloudtrail.GetTrailStatusInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
}

// eventLooker is the LookupEvents fallback (cloudtrail.LookupEventsAPIClient).
type eventLooker interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// logBucket reads a trail's bucket.
type logBucket interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Limiter paces LookupEvents calls: Wait returns when the next call may be
// made. LookupEvents allows 2 requests a second per account and region,
// shared by every case running at once; *rate.Limiter satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Collector collects CloudTrail: the trails' log objects and digests for
// the window, copied unchanged, and a filtered extract of the records in
// scope; where no trail bucket can be read, LookupEvents.
type Collector struct {
	Trails  trailReader
	Logs    logBucket
	Lookup  eventLooker // nil: no fallback
	Limiter Limiter     // paces Lookup; nil: unpaced (tests only)
	// Pad is the delivery pad for listing keys (DefaultPad when zero).
	Pad time.Duration
	// AccountID and Region stand in where the incident's scope names none.
	AccountID, Region string
	// Concurrency bounds the server-side copies in flight (4 when zero).
	Concurrency int
	// Now is the clock for the 90-day LookupEvents horizon.
	Now func() time.Time
	// OrgTrail is "bucket" or "bucket/prefix" of an organization trail
	// (custody:organizationTrailBucket), read for the incident's account
	// beside the trails DescribeTrails names: in an organization the trail
	// and its bucket are the management and log archive accounts'.
	OrgTrail string
	// HubTrails, when set, are the hub's own trails (HubAccountID's): an
	// organization trail the hub's account owns (the management account's,
	// or a delegated administrator's) logs every member, so a member's
	// invocation reads it too, as AWS shows it to members as a shadow trail
	// (and an emulator does not).
	HubTrails    trailReader
	HubAccountID string
	// LogsReadWith is what Logs reads with (the hub's own role, which the
	// log archive's bucket policy admits), recorded on the copies and
	// extracts; nil: the invocation's.
	LogsReadWith *evidence.ReadWith
	// BaselineDays, when positive, is the baseline before the window the
	// first pass also extracts (baseline.go).
	BaselineDays int

	// pass, in a pivot pass (pivot.go), is what differs from the first
	// pass: the identities followed, the accounts they live in, and the
	// log files the first pass copied already.
	pass *pivotPass
}

// Name implements collect.Collector: "cloudtrail", or a pivot pass's name
// (cloudtrail-pivot-N).
func (c *Collector) Name() string {
	if c.pass != nil {
		return PivotCollectorName(c.pass.n)
	}
	return CollectorName
}

// name is an artifact's name for this pass: unchanged in the first pass,
// under the pass's folder (pivot-0001/…) in a pivot pass, so no pass
// writes another's key.
func (c *Collector) name(n string) string {
	if c.pass != nil {
		return fmt.Sprintf("pivot-%04d/%s", c.pass.n, n)
	}
	return n
}

// keeper is the extract's test of a record: the scope's matcher in the
// first pass; in a pivot pass, exactly the followed identities' records.
func (c *Collector) keeper(match *ctlog.Matcher) func(*ctlog.Event) bool {
	if c.pass != nil {
		return c.pass.follow.Match
	}
	return match.Match
}

// Source implements collect.Collector.
func (c *Collector) Source() string { return evidence.SourceCloudTrail }

// Key times: log files name their delivery minute
// (..._CloudTrail_us-east-1_20240802T0825Z_abc.json.gz), digests their
// second (..._CloudTrail-Digest_us-east-1_trail_us-east-1_20240802T090012Z.json.gz).
var keyTime = s3logs.KeyTimePattern(regexp.MustCompile(`_(\d{8}T\d{4}(?:\d{2})?Z)[_.]`), "20060102T1504Z", "20060102T150405Z")

// KeyTime is the delivery time a CloudTrail log or digest key names.
func KeyTime(key string) (time.Time, bool) { return keyTime(key) }

var orgFolder = regexp.MustCompile(`^o-[a-z0-9]{10,32}/$`)

// location is one trail bucket and prefix, with the trails that write it.
type location struct {
	bucket, prefix string
	trails         []string
	kmsKey         string
	org            bool
	global         bool // delivers global service events (us-east-1 folder)
	multiRegion    bool // a multi-region or organization trail writes it
	// regionFolders are the account/region folders listed (…/CloudTrail/<region>/).
	regionFolders []string
	// accounts are the accounts with a CloudTrail folder here.
	accounts []string
	// prefixes and objects are the log prefixes listed and the log files
	// chosen for the window.
	prefixes []string
	objects  []s3logs.Object
	// denied lists the copies and reads S3 refused.
	denied []string
}

// trailInfo is what trails.json records of one trail.
type trailInfo struct {
	Trail  cttypes.Trail                    `json:"trail"`
	Status *cloudtrail.GetTrailStatusOutput `json:"status,omitempty"`
	Error  string                           `json:"statusError,omitempty"`
}

// Collect implements collect.Collector.
func (c *Collector) Collect(ctx context.Context, inc *incident.Incident, out *collect.Output) error {
	account, region := inc.Scope.AccountID, inc.Scope.Region
	if account == "" {
		account = c.AccountID
	}
	if region == "" {
		region = c.Region
	}
	if account == "" || region == "" {
		return faults.Invalid("incident.scope", "no account or region to collect CloudTrail for")
	}
	match := ctlog.NewMatcher(inc.Scope)
	if match.Empty() {
		out.Warn("the scope names no principal, key, resource or address a CloudTrail record could match: the extract is empty")
	}

	locs, err := c.trails(ctx, out, region)
	if err != nil {
		return err
	}
	locs = c.withOrgTrail(locs)
	locs = c.withHubOrgTrails(ctx, out, locs, account)
	var read []*location
	for _, loc := range locs {
		ok, err := c.collectLocation(ctx, out, inc, loc, account, region)
		if err != nil {
			return err
		}
		if ok {
			read = append(read, loc)
		}
	}
	if c.pass == nil {
		c.regionGap(out, read, region)
	} else {
		c.accountGaps(out, read)
	}
	if len(read) > 0 && c.pass == nil && c.BaselineDays > 0 {
		if err := c.baseline(ctx, out, inc, read, match); err != nil {
			return err
		}
	}
	if len(read) > 0 {
		if pieces := c.split(read, out.Budget()); len(pieces) > 1 {
			// Too much for one invocation: the digests are copied, and
			// the log files go to shards (CollectShard), a piece each.
			c.gaps(out, read)
			return out.FanOut(pieces...)
		}
		return c.readLogs(ctx, out, inc, read, match)
	}
	if len(locs) == 0 {
		out.Warn("no CloudTrail trail delivers %s's events to S3: falling back to LookupEvents (management events only, 90 days)", region)
	} else {
		out.Warn("no trail bucket could be read: falling back to LookupEvents (management events only, 90 days)")
	}
	return c.lookup(ctx, out, inc, len(locs) == 0)
}

// trails describes the trails that log region (org and multi-region trails
// included), stores what it found as trails.json, and returns their
// distinct bucket locations.
func (c *Collector) trails(ctx context.Context, out *collect.Output, region string) ([]*location, error) {
	if c.Trails == nil {
		return nil, nil // the account's trails are out of reach (its gap says why)
	}
	resp, err := c.Trails.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		if accessDenied(err) {
			out.Gap("cloudtrail:DescribeTrails was denied: the trails and their buckets are unknown", "allow the collector role cloudtrail:DescribeTrails and cloudtrail:GetTrailStatus")
			return nil, nil
		}
		return nil, faults.Classify("cloudtrail:DescribeTrails", err, func(err error) error { return err })
	}
	var infos []trailInfo
	byPlace := map[string]*location{}
	var locs []*location
	for _, t := range resp.TrailList {
		name := firstOf(aws.ToString(t.TrailARN), aws.ToString(t.Name))
		if !aws.ToBool(t.IsMultiRegionTrail) && t.HomeRegion != nil && aws.ToString(t.HomeRegion) != region {
			continue // a single-region trail of another region logs nothing here
		}
		info := trailInfo{Trail: t}
		multi := aws.ToBool(t.IsMultiRegionTrail) || aws.ToBool(t.IsOrganizationTrail)
		st, err := c.Trails.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(name)})
		switch {
		case err == nil:
			info.Status = st
			if !aws.ToBool(st.IsLogging) {
				stopped := ""
				if st.StopLoggingTime != nil {
					stopped = " since " + st.StopLoggingTime.UTC().Format(time.RFC3339)
				}
				out.Warn("trail %s is not logging%s: events after it stopped are missing from its logs", name, stopped)
			}
			if e := aws.ToString(st.LatestDeliveryError); e != "" {
				out.Warn("trail %s reports a delivery error: %s", name, e)
			}
		case accessDenied(err):
			info.Error = err.Error()
		default:
			if r := faults.Of("cloudtrail:GetTrailStatus", err).Retryable(); r != nil {
				return nil, r
			}
			info.Error = err.Error()
		}
		infos = append(infos, info)
		bucket := aws.ToString(t.S3BucketName)
		if bucket == "" {
			out.Warn("trail %s delivers to no S3 bucket", name)
			continue
		}
		prefix := strings.Trim(aws.ToString(t.S3KeyPrefix), "/")
		if prefix != "" {
			prefix += "/"
		}
		loc := byPlace[bucket+"/"+prefix]
		if loc == nil {
			loc = &location{bucket: bucket, prefix: prefix}
			byPlace[bucket+"/"+prefix] = loc
			locs = append(locs, loc)
		}
		loc.trails = append(loc.trails, name)
		loc.org = loc.org || aws.ToBool(t.IsOrganizationTrail)
		loc.global = loc.global || aws.ToBool(t.IncludeGlobalServiceEvents)
		loc.multiRegion = loc.multiRegion || multi
		if k := aws.ToString(t.KmsKeyId); k != "" {
			loc.kmsKey = k
		}
	}
	if len(infos) > 0 && c.pass == nil { // a pivot pass reads the trails the first pass recorded
		meta := out.Meta("cloudtrail:DescribeTrails", map[string]any{"includeShadowTrails": true}, &evidence.Origin{Description: "trails logging " + region + ", with cloudtrail:GetTrailStatus"})
		meta.Records = int64(len(infos))
		if _, err := out.PutJSON(ctx, "trails.json", infos, meta); err != nil {
			return nil, err
		}
	}
	return locs, nil
}

// withOrgTrail adds the configured organization trail's location to locs
// (or marks the one DescribeTrails already named as an organization's).
func (c *Collector) withOrgTrail(locs []*location) []*location {
	if c.OrgTrail == "" {
		return locs
	}
	bucket, prefix, _ := strings.Cut(c.OrgTrail, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	for _, l := range locs {
		if l.bucket == bucket && l.prefix == prefix {
			l.org, l.global = true, true
			return locs
		}
	}
	// Taken as multi-region: an organization trail made in the console
	// always is, and the hub is told this one is the organization's.
	return append(locs, &location{bucket: bucket, prefix: prefix, org: true, global: true, multiRegion: true,
		trails: []string{"the organization trail (custody:organizationTrailBucket)"}})
}

// withHubOrgTrails adds the hub's own organization trails to locs when
// the invocation reads another account (a location already named is
// marked an organization's). A hub DescribeTrails that fails is a warning:
// the member's own trails and the configured one are still read.
func (c *Collector) withHubOrgTrails(ctx context.Context, out *collect.Output, locs []*location, account string) []*location {
	if c.HubTrails == nil || c.HubAccountID == "" || account == c.HubAccountID {
		return locs
	}
	resp, err := c.HubTrails.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		out.Warn("the hub's own trails (an organization trail of account %s) not described: %s", c.HubAccountID, firstLine(err))
		return locs
	}
	for _, t := range resp.TrailList {
		bucket := aws.ToString(t.S3BucketName)
		if !aws.ToBool(t.IsOrganizationTrail) || bucket == "" {
			continue
		}
		prefix := strings.Trim(aws.ToString(t.S3KeyPrefix), "/")
		if prefix != "" {
			prefix += "/"
		}
		name := firstOf(aws.ToString(t.TrailARN), aws.ToString(t.Name)) + " (the hub's organization trail)"
		var loc *location
		for _, l := range locs {
			if l.bucket == bucket && l.prefix == prefix {
				loc = l
			}
		}
		if loc == nil {
			loc = &location{bucket: bucket, prefix: prefix}
			locs = append(locs, loc)
		}
		loc.trails = append(loc.trails, name)
		loc.org = true
		loc.global = loc.global || aws.ToBool(t.IncludeGlobalServiceEvents)
		loc.multiRegion = loc.multiRegion || aws.ToBool(t.IsMultiRegionTrail)
		if k := aws.ToString(t.KmsKeyId); k != "" {
			loc.kmsKey = k
		}
	}
	return locs
}

// collectLocation lists the logs and digests of one trail location for
// the window and copies them unchanged. It reports false when the bucket
// could not be read at all.
func (c *Collector) collectLocation(ctx context.Context, out *collect.Output, inc *incident.Incident, loc *location, account, region string) (bool, error) {
	trails := strings.Join(loc.trails, ", ")
	where := "s3://" + loc.bucket + "/" + loc.prefix
	if _, err := c.Logs.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.bucket)}); err != nil {
		switch {
		case s3logs.Missing(err):
			out.Gap(fmt.Sprintf("trail %s delivers to bucket %s, which does not exist", trails, loc.bucket), "point the trail at an existing bucket (cloudtrail:UpdateTrail), then "+fixEnableTrail)
			return false, nil
		case s3logs.Denied(err):
			out.Gap(fmt.Sprintf("trail %s delivers to bucket %s, which the collector may not read (a bucket in another account, or a policy that refuses this role)", trails, loc.bucket), fixReadBucket)
			return false, nil
		default:
			return false, faults.Classify("s3:HeadBucket "+loc.bucket, err, func(err error) error { return err })
		}
	}
	accounts := []string{account}
	if c.pass != nil {
		accounts = append(accounts, c.pass.accounts...)
	}
	var bases []string
	for _, a := range accounts {
		bases = append(bases, loc.prefix+"AWSLogs/"+a+"/")
	}
	if loc.org {
		folders, err := s3logs.Folders(ctx, c.Logs, loc.bucket, loc.prefix+"AWSLogs/")
		if err != nil {
			return c.listFailed(out, loc, err)
		}
		for _, f := range folders {
			if orgFolder.MatchString(strings.TrimPrefix(f, loc.prefix+"AWSLogs/")) {
				for _, a := range accounts {
					bases = append(bases, f+a+"/")
				}
			}
		}
	}
	pad := c.pad()
	var digestPrefixes []string
	for _, b := range bases {
		regions, found, err := c.regions(ctx, loc, b, region)
		if err != nil {
			return c.listFailed(out, loc, err)
		}
		if found {
			loc.accounts = append(loc.accounts, path.Base(strings.TrimSuffix(b, "/")))
		}
		for _, r := range regions {
			loc.regionFolders = append(loc.regionFolders, b+"CloudTrail/"+r+"/")
			loc.prefixes = append(loc.prefixes, s3logs.DayPrefixes(b+"CloudTrail/"+r+"/", "2006/01/02/", inc.Window, pad)...)
			digestPrefixes = append(digestPrefixes, s3logs.DayPrefixes(b+"CloudTrail-Digest/"+r+"/", "2006/01/02/", digestWindow(inc.Window), pad)...)
		}
	}
	logs, err := s3logs.List(ctx, c.Logs, loc.bucket, loc.prefixes, KeyTime, inc.Window, pad)
	if err != nil {
		return c.listFailed(out, loc, err)
	}
	// A digest covers the hour before its delivery.
	digests, err := s3logs.List(ctx, c.Logs, loc.bucket, digestPrefixes, KeyTime, digestWindow(inc.Window), pad)
	if err != nil {
		return c.listFailed(out, loc, err)
	}
	loc.objects = logs.Objects
	if len(logs.Objects) == 0 {
		out.Warn("trail %s: no log file in %s for the window (%d listed under the window's days, %d delivered outside it)", trails, where, logs.Listed, logs.OutOfWindow)
	}
	if len(digests.Objects) == 0 && len(logs.Objects) > 0 {
		out.Warn("trail %s: no digest file for the window in %s: log file integrity validation may be off (cloudtrail:UpdateTrail --enable-log-file-validation)", trails, where)
	}
	// The digests are copied here; the log files by readLogs, here or in
	// shards.
	if err := c.copyAll(ctx, out, loc, digests.Objects, "digest"); err != nil {
		return false, err
	}
	return true, nil
}

// copyAll copies objs of loc unchanged under dir ("logs" or "digest"); a
// refusal is noted on loc for its gap.
func (c *Collector) copyAll(ctx context.Context, out *collect.Output, loc *location, objs []s3logs.Object, dir string) error {
	conc := c.Concurrency
	if conc < 1 {
		conc = 4
	}
	what := map[string]string{"logs": "log", "digest": "digest"}[dir]
	objs = c.notCopied(objs)
	if _, err := s3logs.CopyAll(ctx, out, objs, c.name(dir), conc, func(o s3logs.Object) evidence.PutMeta {
		m := out.Meta("s3:CopyObject", map[string]any{"bucket": o.Bucket, "key": o.Key}, &evidence.Origin{Bucket: o.Bucket, Key: o.Key})
		m.ReadWith = c.LogsReadWith
		return m
	}); err != nil {
		if s3logs.Denied(err) {
			noteDenied(loc, fmt.Sprintf("copying %s files from s3://%s/%s was denied: %v", what, loc.bucket, loc.prefix, firstLine(err)))
			return nil
		}
		return faults.Classify("s3:CopyObject", err, func(err error) error { return err })
	}
	return nil
}

// readLogs copies the log files of locs unchanged and writes the extract
// of their records in scope: the whole of the work in one invocation, or
// one shard's piece of it.
func (c *Collector) readLogs(ctx context.Context, out *collect.Output, inc *incident.Incident, locs []*location, match *ctlog.Matcher) error {
	for _, loc := range locs {
		if err := c.copyAll(ctx, out, loc, loc.objects, "logs"); err != nil {
			return err
		}
	}
	err := c.extract(ctx, out, inc, locs, match)
	c.gaps(out, locs)
	return err
}

// piece is one shard's work: log files of one or more trail locations.
type piece struct {
	Locations []pieceLocation `json:"locations"`
}

// pieceLocation is a location as a shard needs it: where its files are,
// which trails write them, and the files of the piece.
type pieceLocation struct {
	Bucket   string          `json:"bucket"`
	Prefix   string          `json:"prefix"`
	Trails   []string        `json:"trails"`
	KMSKey   string          `json:"kmsKey,omitempty"`
	Prefixes []string        `json:"prefixes"`
	Objects  []s3logs.Object `json:"objects"`
}

// split cuts the log files of locs into pieces within b, in order; one
// piece (or none) means the work fits one invocation.
func (c *Collector) split(locs []*location, b collect.Budget) []any {
	type file struct {
		loc int
		obj s3logs.Object
	}
	var files []file
	for i, l := range locs {
		for _, o := range l.objects {
			files = append(files, file{i, o})
		}
	}
	size := func(f file) int64 { return f.obj.Size }
	if c.pass != nil {
		b = collect.Widen(files, size, b, collect.MaxPivotShards)
	}
	parts := collect.Split(files, size, b)
	if len(parts) < 2 {
		return nil
	}
	pieces := make([]any, len(parts))
	for i, part := range parts {
		var p piece
		for j, f := range part {
			if j == 0 || part[j-1].loc != f.loc {
				l := locs[f.loc]
				p.Locations = append(p.Locations, pieceLocation{Bucket: l.bucket, Prefix: l.prefix, Trails: l.trails, KMSKey: l.kmsKey, Prefixes: l.prefixes})
			}
			pl := &p.Locations[len(p.Locations)-1]
			pl.Objects = append(pl.Objects, f.obj)
		}
		pieces[i] = p
	}
	return pieces
}

// CollectShard implements collect.ShardCollector: one piece of the log
// files, copied and extracted as Collect does when it fits.
func (c *Collector) CollectShard(ctx context.Context, inc *incident.Incident, shard json.RawMessage, out *collect.Output) error {
	var p piece
	if err := json.Unmarshal(shard, &p); err != nil {
		return fmt.Errorf("cloudtrail shard: %w", err)
	}
	locs := make([]*location, len(p.Locations))
	for i, l := range p.Locations {
		locs[i] = &location{bucket: l.Bucket, prefix: l.Prefix, trails: l.Trails, kmsKey: l.KMSKey, prefixes: l.Prefixes, objects: l.Objects}
	}
	if len(locs) == 0 {
		return errors.New("cloudtrail shard: no log files in the piece")
	}
	return c.readLogs(ctx, out, inc, locs, ctlog.NewMatcher(inc.Scope))
}

// extract writes one extract, extract.jsonl.gz, of the records in scope
// whose own eventTime is in the window, from the log files of every
// readable location (a record two trails delivered is written once).
func (c *Collector) extract(ctx context.Context, out *collect.Output, inc *incident.Incident, locs []*location, match *ctlog.Matcher) error {
	var objs []s3logs.Object
	var sources []map[string]any
	for _, l := range locs {
		objs = append(objs, l.objects...)
		sources = append(sources, map[string]any{"bucket": l.bucket, "prefixes": l.prefixes, "trails": l.trails})
	}
	req := map[string]any{"window": map[string]string{"start": inc.Window.Start.Format(time.RFC3339), "end": inc.Window.End.Format(time.RFC3339)}}
	if len(sources) == 1 {
		for k, v := range sources[0] {
			req[k] = v
		}
	} else {
		req["sources"] = sources
	}
	origin := &evidence.Origin{Bucket: locs[0].bucket, Key: locs[0].prefix + "AWSLogs/",
		Description: fmt.Sprintf("records in scope whose eventTime is in the window, from %d CloudTrail log files", len(objs))}
	if c.pass != nil {
		req["pivotPass"], req["identities"] = c.pass.n, c.pass.ids
		origin.Description = fmt.Sprintf("records of the identities pivot pass %d follows whose eventTime is in the window, from %d CloudTrail log files", c.pass.n, len(objs))
	}
	meta := out.Meta("s3:GetObject", req, origin)
	meta.ReadWith = c.LogsReadWith
	stream, err := out.CreateGzip(out.PartName(c.name(ExtractName)), meta)
	if err != nil {
		return err
	}
	getter := &s3logs.DeniedGetter{ObjectGetter: c.Logs}
	dedupe := &dedupeWriter{w: stream, seen: map[string]bool{}}
	if c.pass != nil {
		dedupe.prior = c.pass.prior
	}
	keep := c.keeper(match)
	stats, err := s3logs.Extract(ctx, getter, objs, ctlog.DecodeFor(match), func(r s3logs.Record) bool {
		e, ok := r.Value.(*ctlog.Event)
		return ok && keep(e)
	}, inc.Window, dedupe)
	if err != nil {
		stream.Abort()
		return faults.Classify("extract", err, func(err error) error { return err })
	}
	if _, err := stream.Close(ctx); err != nil {
		return err
	}
	denied := getter.Denied()
	if len(denied) > 0 {
		keys := make([]string, 0, len(denied))
		for k := range denied {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, l := range locs {
			n, first := 0, ""
			for _, k := range keys {
				if strings.HasPrefix(k, "s3://"+l.bucket+"/") {
					if n++; first == "" {
						first = k
					}
				}
			}
			if n > 0 {
				noteDenied(l, fmt.Sprintf("reading %d log files was denied (first %s: %v)", n, first, firstLine(denied[first])))
			}
		}
	}
	var problems []string
	for _, p := range stats.Problems {
		if !deniedProblem(p, denied) {
			problems = append(problems, p)
		}
	}
	if stats.Malformed > 0 || len(problems) > 0 {
		stopped := 0
		for _, p := range problems {
			if strings.Contains(p, ": read stopped: ") {
				stopped++
			}
		}
		out.Warn("cloudtrail extract: %d malformed records skipped, %d log files not read to the end (truncated or unreadable); every other record was read: %s",
			stats.Malformed, stopped, strings.Join(problems, "; "))
	}
	for _, w := range stats.BoundWarnings() {
		out.Warn("cloudtrail extract: %s", w)
	}
	if dedupe.dups > 0 {
		out.Warn("cloudtrail extract: %d duplicate records (same eventID) written once", dedupe.dups)
	}
	if dedupe.earlier > 0 {
		out.Warn("pivot pass %d: %d records of its identities are in an earlier pass's extract and were not written again", c.pass.n, dedupe.earlier)
	}
	return nil
}

func deniedProblem(p string, denied map[string]error) bool {
	for k := range denied {
		if strings.HasPrefix(p, k+": ") {
			return true
		}
	}
	return false
}

func (c *Collector) listFailed(out *collect.Output, loc *location, err error) (bool, error) {
	trails := strings.Join(loc.trails, ", ")
	switch {
	case s3logs.Denied(err):
		out.Gap(fmt.Sprintf("trail %s: listing bucket %s was denied (a bucket in another account, or a policy that refuses this role)", trails, loc.bucket), fixReadBucket)
		return false, nil
	case s3logs.Missing(err):
		out.Gap(fmt.Sprintf("trail %s delivers to bucket %s, which does not exist", trails, loc.bucket), fixEnableTrail)
		return false, nil
	}
	return false, faults.Classify("s3:ListObjectsV2 "+loc.bucket, err, func(err error) error { return err })
}

// noteDenied notes a denied copy or read; gaps reports one gap per
// location for all of them.
func noteDenied(loc *location, what string) {
	loc.denied = append(loc.denied, what)
}

// gaps turns each location's denials into one gap: the trail's KMS key
// when it has one, else the bucket's policy.
func (c *Collector) gaps(out *collect.Output, locs []*location) {
	for _, loc := range locs {
		if len(loc.denied) == 0 {
			continue
		}
		trails := strings.Join(loc.trails, ", ")
		what := strings.Join(loc.denied, "; ")
		if loc.kmsKey != "" {
			out.Gap(fmt.Sprintf("trail %s encrypts its logs with KMS key %s, which the collector may not use: %s", trails, loc.kmsKey, what), fixKMS)
			continue
		}
		out.Gap(fmt.Sprintf("trail %s: %s", trails, what), fixReadBucket)
	}
}

func (c *Collector) pad() time.Duration {
	if c.Pad > 0 {
		return c.Pad
	}
	return DefaultPad
}

// dedupeWriter drops a record whose eventID it already wrote (CloudTrail
// may deliver a record twice; two trails deliver the same records).
type dedupeWriter struct {
	w    s3logs.RecordWriter
	seen map[string]bool
	dups int
	// prior, in a pivot pass, are the eventIDs earlier passes wrote:
	// earlier counts the records left out for them.
	prior   map[string]bool
	earlier int
}

func (d *dedupeWriter) WriteRecord(v any, at time.Time) error {
	if e, ok := v.(*ctlog.Event); ok && e.EventID != "" {
		if d.prior[e.EventID] {
			d.earlier++
			return nil
		}
		if d.seen[e.EventID] {
			d.dups++
			return nil
		}
		d.seen[e.EventID] = true
	}
	return d.w.WriteRecord(v, at)
}

// accessDenied reports an error of class Denied (faults.Of).
func accessDenied(err error) bool { return faults.Is(err, faults.Denied) }

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// regions lists the region folders under base's CloudTrail/ folder: every
// region a trail logged for that account (an access key, a user, a
// session is global: its calls are in whichever region it made them). It
// costs one listing per account folder; each region's day prefixes are
// then listed as before. A folder with no region under it gives region
// alone, so its absence is reported as it was.
func (c *Collector) regions(ctx context.Context, loc *location, base, region string) (regions []string, found bool, err error) {
	folders, err := s3logs.Folders(ctx, c.Logs, loc.bucket, base+"CloudTrail/")
	if err != nil {
		return nil, false, err
	}
	for _, f := range folders {
		if r := strings.TrimSuffix(strings.TrimPrefix(f, base+"CloudTrail/"), "/"); r != "" {
			regions = append(regions, r)
		}
	}
	if len(regions) == 0 {
		return []string{region}, false, nil
	}
	return regions, true, nil
}

// accountGaps names, in a pivot pass, each account a followed identity
// lives in (a role assumed across accounts) whose CloudTrail logs no
// trail bucket readable here holds: its calls there are not collected.
func (c *Collector) accountGaps(out *collect.Output, locs []*location) {
	have := map[string]bool{}
	for _, l := range locs {
		for _, a := range l.accounts {
			have[a] = true
		}
	}
	for _, a := range c.pass.accounts {
		if !have[a] {
			out.Gap(fmt.Sprintf("pivot pass %d follows identities of account %s, whose CloudTrail logs are in no trail bucket custody reads here: their calls in that account are not collected", c.pass.n, a),
				"deliver that account's trail to a bucket custody reads (an organization trail), or collect from it through a member role")
		}
	}
}

// regionGap names the regions no trail reads: without a multi-region or
// organization trail, an identity's calls in other regions are in no log.
// Only the locations read count: a multi-region trail whose bucket could
// not be read covers nothing.
func (c *Collector) regionGap(out *collect.Output, locs []*location, region string) {
	if len(locs) == 0 {
		return
	}
	for _, l := range locs {
		if l.multiRegion {
			return
		}
	}
	out.Gap(fmt.Sprintf("no multi-region or organization trail: only %s is logged, so calls the identities in scope made in any other region are in no log", region),
		"make the trail multi-region (cloudtrail:UpdateTrail --is-multi-region-trail) or use an organization trail")
}

// notCopied drops, in a pivot pass, the log files the first pass copied:
// the case holds each original once.
func (c *Collector) notCopied(objs []s3logs.Object) []s3logs.Object {
	if c.pass == nil || len(c.pass.copied) == 0 {
		return objs
	}
	var out []s3logs.Object
	for _, o := range objs {
		if !c.pass.copied[o.Bucket+"/"+o.Key] {
			out = append(out, o)
		}
	}
	return out
}
