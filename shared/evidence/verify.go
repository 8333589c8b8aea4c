package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Problem is one artifact that does not check out against the manifest.
type Problem struct {
	Key       string `json:"key"`
	VersionID string `json:"versionId,omitempty"`
	// Path is the local file (VerifyDir only).
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason"`
	// Want* are the manifest's values, Got* what was found (when read).
	WantSize   int64  `json:"wantSize"`
	GotSize    int64  `json:"gotSize"`
	WantSHA256 string `json:"wantSha256"`
	GotSHA256  string `json:"gotSha256,omitempty"`
}

// Report is the outcome of checking a run's artifacts against its manifest.
type Report struct {
	// OK lists the keys whose size and SHA-256 (and, against the bucket,
	// lock) match.
	OK []string `json:"ok"`
	// Missing lists artifacts not found (no file, no such version).
	Missing []Problem `json:"missing"`
	// Changed lists artifacts whose size or SHA-256 differ.
	Changed []Problem `json:"changed"`
	// Unlocked lists bucket versions without a retention in force or a
	// legal hold (VerifyBucket only).
	Unlocked []Problem `json:"unlocked"`
	// Unlisted lists files in the run folder the manifest does not name
	// (VerifyDir only; manifest.json itself excepted). They are not a
	// failure: nothing vouches for them, so nothing should rely on them.
	Unlisted []string `json:"unlisted"`
}

// Verified reports whether every artifact was found intact (and locked,
// against the bucket). Unlisted files do not count against it.
func (r Report) Verified() bool {
	return len(r.Missing) == 0 && len(r.Changed) == 0 && len(r.Unlocked) == 0
}

// Err is nil for a verified report, else an error that counts the problems
// and names the first of each kind.
func (r Report) Err() error {
	if r.Verified() {
		return nil
	}
	var parts []string
	for _, g := range []struct {
		what string
		ps   []Problem
	}{{"missing", r.Missing}, {"changed", r.Changed}, {"unlocked", r.Unlocked}} {
		if len(g.ps) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (first: %s: %s)", len(g.ps), g.what, g.ps[0].Key, g.ps[0].Reason))
		}
	}
	return fmt.Errorf("%w: %s", ErrNotVerified, strings.Join(parts, "; "))
}

// ErrNotVerified is matched by Report.Err.
var ErrNotVerified = errors.New("run does not verify against its manifest")

func (r *Report) sort() {
	sort.Strings(r.OK)
	sort.Strings(r.Unlisted)
	for _, ps := range [][]Problem{r.Missing, r.Changed, r.Unlocked} {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	}
}

func newReport() Report {
	return Report{OK: []string{}, Missing: []Problem{}, Changed: []Problem{}, Unlocked: []Problem{}, Unlisted: []string{}}
}

// RunDir is where a local download keeps a run: <root>/<caseId>/runs/<runId>.
func RunDir(root, caseID, runID string) (string, error) {
	p, err := RunPrefix(caseID, runID)
	if err != nil {
		return "", err
	}
	return LocalPath(root, strings.TrimSuffix(p, "/"))
}

// VerifyLocalRun reads <root>/<caseId>/runs/<runId>/manifest.json, checks it
// against the schema and verifies the downloaded run with VerifyDir.
func VerifyLocalRun(root, caseID, runID string) (*Manifest, Report, error) {
	key, err := ManifestKey(caseID, runID)
	if err != nil {
		return nil, Report{}, err
	}
	path, err := LocalPath(root, key)
	if err != nil {
		return nil, Report{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Report{}, fmt.Errorf("read manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, Report{}, fmt.Errorf("%s: %w", path, err)
	}
	if m.CaseID != caseID || m.RunID != runID {
		return m, Report{}, fmt.Errorf("%s is the manifest of case %s run %s", path, m.CaseID, m.RunID)
	}
	rep, err := VerifyDir(root, m)
	return m, rep, err
}

// VerifyDir checks a downloaded run against its manifest: every artifact's
// file (its key without the leading "cases/", under root) must exist with
// the manifest's size and SHA-256, read through the hash in a stream. Files
// in the run folder that the manifest does not name are listed as
// Unlisted. The error is for a manifest that cannot be checked at all
// (an artifact key that would leave root); everything else is in the
// report.
func VerifyDir(root string, m *Manifest) (Report, error) {
	rep := newReport()
	if m == nil {
		return rep, errors.New("verify: no manifest")
	}
	runDir, err := RunDir(root, m.CaseID, m.RunID)
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	listed := map[string]bool{filepath.Join(runDir, manifestFile): true}
	for _, a := range m.Artifacts {
		path, err := LocalPath(root, a.Key)
		if err != nil {
			return rep, fmt.Errorf("verify: artifact %q: %w", a.Key, err)
		}
		listed[path] = true
		p := Problem{Key: a.Key, VersionID: a.VersionID, Path: path, WantSize: a.Size, WantSHA256: a.SHA256, GotSize: -1}
		sum, size, err := hashFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.Reason = "no such file"
			rep.Missing = append(rep.Missing, p)
			continue
		case err != nil:
			p.Reason = err.Error()
			rep.Missing = append(rep.Missing, p)
			continue
		}
		p.GotSize, p.GotSHA256 = size, sum
		if reason := mismatch(a, size, sum); reason != "" {
			p.Reason = reason
			rep.Changed = append(rep.Changed, p)
			continue
		}
		rep.OK = append(rep.OK, a.Key)
	}
	err = filepath.WalkDir(runDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == runDir {
				return nil // nothing downloaded: every artifact is already Missing
			}
			return err
		}
		if !d.IsDir() && !listed[path] {
			rep.Unlisted = append(rep.Unlisted, path)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify: list %s: %w", runDir, err)
	}
	rep.sort()
	return rep, nil
}

func mismatch(a Artifact, size int64, sum string) string {
	var why []string
	if size != a.Size {
		why = append(why, fmt.Sprintf("size %d, manifest says %d", size, a.Size))
	}
	if sum != a.SHA256 {
		why = append(why, fmt.Sprintf("sha256 %s, manifest says %s", sum, a.SHA256))
	}
	return strings.Join(why, "; ")
}

// hashFile streams a regular file through SHA-256.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return "", 0, err
	} else if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// objectReader is the part of the S3 client VerifyBucket calls.
type objectReader interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// VerifyBucket checks every artifact's version in the bucket against the
// manifest: it exists (by version ID), has the manifest's size and SHA-256
// (the version is streamed through the hash) and is locked — a retention
// mode with a retain-until date still ahead, or a legal hold. The lock is
// read from HeadObject, which reports it on real S3 and on the emulator
// (whose GetObjectRetention is broken). AWS errors other than "not found"
// (throttling, denied) are returned: the verify did not happen.
func VerifyBucket(ctx context.Context, client objectReader, bucket string, m *Manifest) (Report, error) {
	rep := newReport()
	if m == nil {
		return rep, errors.New("verify: no manifest")
	}
	now := time.Now()
	for _, a := range m.Artifacts {
		p := Problem{Key: a.Key, VersionID: a.VersionID, WantSize: a.Size, WantSHA256: a.SHA256, GotSize: -1}
		if a.VersionID == "" {
			// Without a version the manifest vouches for whatever the key
			// holds now, which proves nothing.
			p.Reason = "manifest names no version ID"
			rep.Missing = append(rep.Missing, p)
			continue
		}
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(a.Key), VersionId: aws.String(a.VersionID)})
		if isNotFound(err) {
			p.Reason = "no such object version"
			rep.Missing = append(rep.Missing, p)
			continue
		}
		if err != nil {
			return rep, classify("HeadObject", a.Key, err)
		}
		sum, size, err := hashObject(ctx, client, bucket, a.Key, a.VersionID)
		if err != nil {
			return rep, err
		}
		p.GotSize, p.GotSHA256 = size, sum
		if reason := mismatch(a, size, sum); reason != "" {
			p.Reason = reason
			rep.Changed = append(rep.Changed, p)
			continue
		}
		if reason := lockProblem(head, now); reason != "" {
			p.Reason = reason
			rep.Unlocked = append(rep.Unlocked, p)
			continue
		}
		rep.OK = append(rep.OK, a.Key)
	}
	rep.sort()
	return rep, nil
}

func lockProblem(h *s3.HeadObjectOutput, now time.Time) string {
	if h.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn {
		return ""
	}
	if h.ObjectLockMode == "" {
		return "no object lock retention and no legal hold"
	}
	if h.ObjectLockRetainUntilDate == nil || !h.ObjectLockRetainUntilDate.After(now) {
		return fmt.Sprintf("%s retention expired (until %v)", h.ObjectLockMode, aws.ToTime(h.ObjectLockRetainUntilDate))
	}
	return ""
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
	switch apiCode(err) {
	case "NoSuchVersion", "NoSuchKey", "NotFound":
		return true
	}
	// HEAD has no body: a missing version may come back as a bare 404 (or
	// 400 for a malformed version ID, which cannot name a stored version).
	s := httpStatus(err)
	return s == 404 || (s == 400 && apiCode(err) == "BadRequest")
}

// objectLister is the part of the S3 client Download calls.
type objectLister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Download copies the current version of every object under prefix (a run
// prefix, say) to root, each at LocalPath(root, key):
// cases/<caseId>/runs/<runId>/x -> <root>/<caseId>/runs/<runId>/x. Bodies are
// streamed to a temporary file beside the target and renamed into place,
// so an interrupted download never leaves a truncated file under the right
// name. It returns the files written.
func Download(ctx context.Context, client objectLister, bucket, prefix, root string) ([]string, error) {
	var files []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return files, classify("ListObjectsV2", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue // a folder marker, not an object to keep
			}
			path, err := LocalPath(root, key)
			if err != nil {
				return files, fmt.Errorf("download %s: %w", key, err)
			}
			if err := downloadOne(ctx, client, bucket, key, path); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	return files, nil
}

func downloadOne(ctx context.Context, client objectLister, bucket, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return classify("GetObject", key, err)
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	if _, err := io.Copy(tmp, out.Body); err != nil {
		tmp.Close()
		return classify("GetObject", key, fmt.Errorf("read: %w", err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	return nil
}
