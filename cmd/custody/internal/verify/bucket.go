package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/evidence"
)

// BucketAPI is the part of the S3 client a bucket verify calls; an
// investigator's read-only role needs s3:ListBucketVersions,
// s3:GetObjectVersion and s3:GetObjectVersion* for the lock headers.
type BucketAPI interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// SetupError is a verify that could not read the bucket (credentials,
// network, throttling, access denied): nothing was verified.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// ParseS3 splits s3://bucket/cases/<caseId>[/] into bucket and case ID.
func ParseS3(u string) (bucket, caseID string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", usage("%q is not an s3:// location", u)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	key = strings.TrimSuffix(key, "/")
	caseID, ok = strings.CutPrefix(key, evidence.CasesRoot)
	if bucket == "" || !ok || caseID == "" || strings.Contains(caseID, "/") {
		return "", "", usage("%q: want s3://<bucket>/cases/<caseId>", u)
	}
	if _, err := evidence.CasePrefix(caseID); err != nil {
		return "", "", usage("%q: %v", u, err)
	}
	return bucket, caseID, nil
}

// version is one entry of the case prefix's version listing.
type version struct {
	key, id      string
	deleteMarker bool
	latest       bool
	modified     time.Time
	size         int64
}

// Bucket verifies a case in the evidence bucket. It lists every version
// and delete marker under cases/<caseId>/; each run folder's manifest is
// read by version (the one Seal announced when ann names it, else the
// latest), streamed through SHA-256, checked against ann, the schema and
// its own lock, and must be the key's only version; then every artifact it
// lists is checked by evidence.VerifyBucket: the version exists, its size
// and SHA-256 (the version streamed through the hash) match, and its
// Object Lock holds (a retention mode with a retain-until date ahead, or a
// legal hold, read from HeadObject). Every other version under the case
// prefix is unlisted unless exempt (package comment). AWS errors other than
// "not found" return a *SetupError.
func Bucket(ctx context.Context, client BucketAPI, bucket, caseID string, ann Announced, trust Trust) (*Result, error) {
	prefix, err := evidence.CasePrefix(caseID)
	if err != nil {
		return nil, usage("%v", err)
	}
	versions, err := listVersions(ctx, client, bucket, prefix)
	if err != nil {
		return nil, err
	}
	runSet := map[string]bool{}
	for _, v := range versions {
		rel := strings.TrimPrefix(v.key, prefix)
		if parts := strings.SplitN(rel, "/", 3); len(parts) == 3 && parts[0] == "runs" && parts[1] != "" {
			runSet[parts[1]] = true
		}
	}
	if len(runSet) == 0 {
		return nil, usage("s3://%s/%s holds no runs", bucket, prefix)
	}
	runIDs := make([]string, 0, len(runSet))
	for r := range runSet {
		runIDs = append(runIDs, r)
	}
	sort.Strings(runIDs)
	target, err := announcedRun(ann, runIDs)
	if err != nil {
		return nil, err
	}

	res := &Result{Location: "s3://" + bucket + "/" + prefix, CaseID: caseID, Unlisted: []Unlisted{}}
	type kv struct{ key, id string }
	listed := map[kv]bool{}
	listedKeys := map[string]bool{}
	for _, runID := range runIDs {
		mkey, err := evidence.ManifestKey(caseID, runID)
		if err != nil {
			return nil, usage("run %q: %v", runID, err)
		}
		run := Run{RunID: runID, Manifest: mkey, Report: emptyReport()}
		var mvers []version
		for _, v := range versions {
			if v.key != mkey {
				continue
			}
			if v.deleteMarker {
				run.ManifestProblems = append(run.ManifestProblems, fmt.Sprintf("a delete marker (%s) sits on the manifest", v.id))
				continue
			}
			mvers = append(mvers, v)
		}
		want := ""
		switch {
		case runID == target && ann.VersionID != "":
			want = ann.VersionID
		case len(mvers) > 0:
			want = newest(mvers).id
		}
		if want == "" {
			run.NoManifest = true
			res.Runs = append(res.Runs, run)
			continue
		}
		if len(mvers) > 1 {
			ids := make([]string, len(mvers))
			for i, v := range mvers {
				ids[i] = v.id
			}
			run.ManifestProblems = append(run.ManifestProblems,
				fmt.Sprintf("the manifest has %d versions (%s); Seal writes it once", len(mvers), strings.Join(ids, ", ")))
		}
		data, sum, err := getManifest(ctx, client, bucket, mkey, want)
		if isNotFound(err) && runID == target && ann.VersionID != "" {
			run.ManifestProblems = append(run.ManifestProblems, fmt.Sprintf("Seal announced version %s: no such version", want))
			if len(mvers) > 0 {
				// Check the run against the manifest that is there, so
				// its artifacts are not all reported unlisted.
				want = newest(mvers).id
				data, sum, err = getManifest(ctx, client, bucket, mkey, want)
			}
		}
		if isNotFound(err) {
			run.NoManifest = len(run.ManifestProblems) == 0
			res.Runs = append(res.Runs, run)
			continue
		}
		run.ManifestVersion = want
		if err != nil {
			var ue *UsageError
			if errors.As(err, &ue) {
				run.ManifestProblems = append(run.ManifestProblems, err.Error())
				res.Runs = append(res.Runs, run)
				continue
			}
			return nil, err
		}
		run.ManifestSHA256 = sum
		listed[kv{mkey, want}] = true
		if runID == target && ann.SHA256 != "" && !strings.EqualFold(ann.SHA256, sum) {
			run.ManifestProblems = append(run.ManifestProblems, fmt.Sprintf("sha256 %s, Seal announced %s", sum, strings.ToLower(ann.SHA256)))
		}
		// The manifest's own lock (and, again, its bytes).
		self := &evidence.Manifest{CaseID: caseID, RunID: runID, Artifacts: []evidence.Artifact{{Key: mkey, VersionID: want, Size: int64(len(data)), SHA256: sum}}}
		selfRep, err := evidence.VerifyBucket(ctx, client, bucket, self)
		if err != nil {
			return nil, &SetupError{Err: err}
		}
		run.Report.Unlocked = append(run.Report.Unlocked, selfRep.Unlocked...)
		for _, p := range append(selfRep.Changed, selfRep.Missing...) {
			run.ManifestProblems = append(run.ManifestProblems, "manifest "+p.Reason)
		}
		m, err := evidence.ParseManifest(data)
		if err != nil {
			run.ManifestProblems = append(run.ManifestProblems, err.Error())
			res.Runs = append(res.Runs, run)
			continue
		}
		runPrefix := strings.TrimSuffix(mkey, "manifest.json")
		run.Seal = trust.check(func(name string) ([]byte, error) {
			return getSealFile(ctx, client, bucket, runPrefix+name)
		}, caseID, runID, data, want)
		run.ManifestProblems = append(run.ManifestProblems, checkManifest(caseID, runID, m)...)
		rep, err := evidence.VerifyBucket(ctx, client, bucket, m)
		if err != nil {
			return nil, &SetupError{Err: err}
		}
		// CloudTrail's own chain over the run's copies, as for a local
		// download, on the versions the manifest lists.
		files := &bucketFiles{ctx: ctx, client: client, bucket: bucket, versions: map[string]string{}}
		for _, a := range m.Artifacts {
			files.versions[a.Key] = a.VersionID
		}
		run.CloudTrail = checkCloudTrail(files, runPrefix)
		rep.Unlocked = append(run.Report.Unlocked, rep.Unlocked...)
		run.Report = rep
		for _, a := range m.Artifacts {
			run.Bytes += a.Size
		}
		for _, a := range m.Artifacts {
			listed[kv{a.Key, a.VersionID}] = true
			listedKeys[a.Key] = true
		}
		res.Runs = append(res.Runs, run)
	}

	for i := range res.Runs {
		runPrefix := prefix + "runs/" + res.Runs[i].RunID + "/"
		res.Runs[i].Containment = bucketContainment(ctx, client, bucket, runPrefix, versions, caseID, res.Runs[i].RunID, trust)
	}

	for _, v := range versions {
		rel := strings.TrimPrefix(v.key, prefix)
		if listed[kv{v.key, v.id}] || exempt(rel) {
			continue // manifests' other versions are manifest problems above
		}
		u := Unlisted{Path: v.key, VersionID: v.id}
		switch {
		case listedKeys[v.key] && v.deleteMarker:
			u.Reason = "a delete marker over a listed artifact: the key no longer serves the listed version"
		case listedKeys[v.key]:
			u.Reason = fmt.Sprintf("a version the manifest does not list, over a listed artifact (%d bytes, %s): the key serves bytes no manifest vouches for", v.size, v.modified.UTC().Format(time.RFC3339))
			if !v.latest {
				u.Reason = fmt.Sprintf("a version the manifest does not list, of a listed artifact (%d bytes, %s)", v.size, v.modified.UTC().Format(time.RFC3339))
			}
		case v.deleteMarker:
			u.Reason = "a delete marker; no manifest lists this key"
		default:
			u.Reason = "no manifest lists it"
		}
		res.Unlisted = append(res.Unlisted, u)
	}
	res.sort()
	return res, nil
}

func newest(vs []version) version {
	best := vs[0]
	for _, v := range vs[1:] {
		if v.latest || (!best.latest && v.modified.After(best.modified)) {
			best = v
		}
	}
	return best
}

func listVersions(ctx context.Context, client BucketAPI, bucket, prefix string) ([]version, error) {
	var out []version
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		page, err := client.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, &SetupError{Err: fmt.Errorf("list versions of s3://%s/%s: %w", bucket, prefix, err)}
		}
		for _, v := range page.Versions {
			out = append(out, version{key: aws.ToString(v.Key), id: aws.ToString(v.VersionId), latest: aws.ToBool(v.IsLatest),
				modified: aws.ToTime(v.LastModified), size: aws.ToInt64(v.Size)})
		}
		for _, d := range page.DeleteMarkers {
			out = append(out, version{key: aws.ToString(d.Key), id: aws.ToString(d.VersionId), latest: aws.ToBool(d.IsLatest),
				modified: aws.ToTime(d.LastModified), deleteMarker: true})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		if page.NextKeyMarker == nil && page.NextVersionIdMarker == nil {
			return nil, &SetupError{Err: fmt.Errorf("list versions of s3://%s/%s: truncated listing without a marker", bucket, prefix)}
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	return out, nil
}

// getManifest reads one version of a manifest, hashing it as it streams.
func getManifest(ctx context.Context, client BucketAPI, bucket, key, versionID string) ([]byte, string, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	if err != nil {
		if isNotFound(err) {
			return nil, "", err
		}
		return nil, "", &SetupError{Err: fmt.Errorf("GetObject %s version %s: %w", key, versionID, err)}
	}
	defer out.Body.Close()
	h := sha256.New()
	data, err := io.ReadAll(io.LimitReader(io.TeeReader(out.Body, h), maxManifest+1))
	if err != nil {
		return nil, "", &SetupError{Err: fmt.Errorf("read %s version %s: %w", key, versionID, err)}
	}
	if len(data) > maxManifest {
		return nil, "", usage("%s version %s is larger than a manifest can be (%d bytes)", key, versionID, maxManifest)
	}
	return data, hex.EncodeToString(h.Sum(nil)), nil
}

// getSealFile reads the latest version of a seal file (fs.ErrNotExist
// when there is none).
func getSealFile(ctx context.Context, client BucketAPI, bucket, key string) ([]byte, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxSealFile+1))
	if err == nil && len(data) > maxSealFile {
		err = fmt.Errorf("larger than a seal file can be (%d bytes)", maxSealFile)
	}
	return data, err
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchVersion", "NoSuchKey", "NotFound":
			return true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		// A malformed version ID cannot name a stored version either.
		return s == http.StatusNotFound || (s == http.StatusBadRequest && ae != nil && ae.ErrorCode() == "InvalidArgument")
	}
	return false
}

// bucketFiles are a case's objects in the bucket: the version the manifest
// lists of each key (the one whose SHA-256 was just checked), else the
// latest.
type bucketFiles struct {
	ctx      context.Context
	client   BucketAPI
	bucket   string
	versions map[string]string
}

func (b *bucketFiles) open(key string) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)}
	if v := b.versions[key]; v != "" {
		in.VersionId = aws.String(v)
	}
	out, err := b.client.GetObject(b.ctx, in)
	if isNotFound(err) {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("GetObject %s: %w", key, err)
	}
	return out.Body, nil
}

func (b *bucketFiles) read(key string, max int64) ([]byte, error) {
	body, err := b.open(key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%s is more than it can be (%d bytes)", key, max)
	}
	return data, err
}

func (b *bucketFiles) inflatedSHA256(key string) (string, error) {
	body, err := b.open(key)
	if err != nil {
		return "", err
	}
	defer body.Close()
	return inflatedSHA256(body)
}

// bucketContainment checks a run's containment folder in the bucket: every
// version and delete marker directly under it, each record read by the
// version its statement names (nil when the run has none).
func bucketContainment(ctx context.Context, client BucketAPI, bucket, runPrefix string, versions []version, caseID, runID string, trust Trust) *ContainCheck {
	dir := runPrefix + attest.ContainmentDir
	var files []containFile
	for _, v := range versions {
		name, ok := strings.CutPrefix(v.key, dir)
		if ok && name != "" && !strings.Contains(name, "/") {
			files = append(files, containFile{name: name, version: v.id, deleteMarker: v.deleteMarker})
		}
	}
	return checkContainment(files, func(name, version string) ([]byte, error) {
		in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(dir + name)}
		if version != "" {
			in.VersionId = aws.String(version)
		}
		out, err := client.GetObject(ctx, in)
		if isNotFound(err) {
			return nil, fs.ErrNotExist
		}
		if err != nil {
			return nil, fmt.Errorf("GetObject %s%s: %w", dir, name, err)
		}
		defer out.Body.Close()
		data, err := io.ReadAll(io.LimitReader(out.Body, maxContainFile+1))
		if err == nil && len(data) > maxContainFile {
			err = fmt.Errorf("%s%s is larger than a containment record can be (%d bytes)", dir, name, maxContainFile)
		}
		return data, err
	}, caseID, runID, trust.ContainPin, trust.AllowUnsigned)
}
