package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// objectLister reads the run's collector results.
type objectLister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// manifestWriter stores the manifest, the timeline and the Athena copies.
type manifestWriter interface {
	Put(ctx context.Context, key string, body io.Reader, meta evidence.PutMeta) (evidence.Artifact, error)
	Copy(ctx context.Context, srcBucket, srcKey, srcVersion, dstKey string, meta evidence.PutMeta) (evidence.Artifact, error)
	Bucket() string
}

// publisher announces the sealed run.
type publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Input is what the state machine hands Seal: the incident and one result
// per plan item, failed ones as the Catch recorded them.
type Input struct {
	Incident incident.Incident `json:"incident"`
	Results  []incident.Result `json:"results"`
	// SecondPass is the second pass's result; empty when the run had none.
	SecondPass *incident.Result `json:"secondPass,omitempty"`
	// Pivot is the pivot loop's state: every pivot pass's result and the
	// chain's, and the loop's own failure when the state machine caught
	// one (results no collector could store are only here).
	Pivot *PivotResults `json:"pivot,omitempty"`
}

// PivotResults is the part of the pivot loop's state Seal reads.
type PivotResults struct {
	Results []incident.Result `json:"results,omitempty"`
	Failed  *incident.Result  `json:"failed,omitempty"`
	// Principals are the IAM collector's passes over the principals the
	// chain derived (iam-pivot-<account>), as the PivotPrincipals Map
	// returned them (a failed one as its Catch made it).
	Principals []incident.Result `json:"principals,omitempty"`
}

// Output is what Seal returns and announces.
type Output struct {
	CaseID            string         `json:"caseId"`
	RunID             string         `json:"runId"`
	Status            string         `json:"status"`
	Location          string         `json:"location"`
	ManifestKey       string         `json:"manifestKey"`
	ManifestSHA256    string         `json:"manifestSha256"`
	ManifestVersionID string         `json:"manifestVersionId"`
	Artifacts         int            `json:"artifacts"`
	ArtifactsBySource map[string]int `json:"artifactsBySource"`
	Gaps              []evidence.Gap `json:"gaps"`
	FailedCollectors  []string       `json:"failedCollectors,omitempty"`
	// Seal is the signed seal statement over the manifest.
	Seal *Signed `json:"seal"`
	// SealActions are Seal's own AWS calls after its action log closed
	// (the puts of that log and of the manifest, the signature, the puts
	// of the seal files): they cannot be in the manifest, so the
	// notification carries them. Only the Publish that carries them is in
	// neither.
	SealActions []awsconfig.Action `json:"sealActions,omitempty"`
}

// Handler seals a run: it gathers every collector result in the run folder,
// writes manifest.json (schema-checked), and publishes one notification.
type Handler struct {
	Objects  objectLister
	Writer   manifestWriter
	Notifier publisher
	// Trail lists CloudTrail's public keys, to validate the digests of
	// the run's CloudTrail copies.
	Trail publicKeyLister
	// Actions, when set, is the log Seal's calls are recorded in (bound to
	// each invocation's context, reset at its start; its Account names the
	// function's own account); a fresh one each invocation when nil.
	Actions *awsconfig.ActionLog
	// Signer signs the seal statement with the key SigningKeyARN names.
	Signer        signer
	SigningKeyARN string
	Bucket        string
	TopicARN      string
	Version       string
	Now           func() time.Time
	// TempDir is where the timeline spills (Lambda's ephemeral storage).
	TempDir string
}

// Handle seals one run.
func (h *Handler) Handle(ctx context.Context, in Input) (*Output, error) {
	inc := in.Incident
	// Seal's own calls: every one until the manifest is written goes in
	// its action log (actions/seal.jsonl, listed in the manifest); the
	// rest (that log's put, the manifest's, the signature) in the
	// notification, which is the only thing after them.
	actions := h.Actions
	if actions == nil {
		actions = awsconfig.NewActionLog()
	}
	actions.Reset()
	ctx = awsconfig.WithActionLog(ctx, actions)
	if h.Signer == nil || h.SigningKeyARN == "" {
		return nil, &faults.EvidenceError{Key: "manifest.json", Err: errors.New("no signing key configured (CUSTODY_SIGNING_KEY_ARN): a manifest is not sealed unsigned")}
	}
	runPrefix, err := evidence.RunPrefix(inc.CaseID, inc.RunID)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	stored, err := h.results(ctx, runPrefix+"results/")
	if err != nil {
		return nil, err
	}
	results := in.Results
	if in.SecondPass != nil && in.SecondPass.Collector != "" { // {} when the run had none
		results = append(append([]incident.Result{}, results...), *in.SecondPass)
	}
	if p := in.Pivot; p != nil {
		results = append(append([]incident.Result{}, results...), p.Results...)
		results = append(results, p.Principals...)
		if p.Failed != nil && p.Failed.Collector != "" {
			results = append(results, *p.Failed)
		}
	}
	m := h.manifest(inc, results, stored)
	// CloudTrail's own signatures over its copies: a failure to check
	// them is a warning, never a reason not to seal.
	if arts, gaps, err := h.validateCloudTrail(ctx, m, runPrefix); err != nil {
		m.Warnings = append(m.Warnings, "seal: CloudTrail digests not validated: "+err.Error())
	} else {
		m.Artifacts = append(m.Artifacts, arts...)
		m.Gaps = append(m.Gaps, gaps...)
		sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].Key < m.Artifacts[j].Key })
	}
	// The timeline and the report are built from the evidence; a failure
	// to build them is a warning, never a reason not to seal.
	if arts, err := h.analyse(ctx, inc, m); err != nil {
		m.Warnings = append(m.Warnings, "seal: timeline and report not built: "+err.Error())
	} else {
		m.Artifacts = append(m.Artifacts, arts...)
		sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].Key < m.Artifacts[j].Key })
	}

	// The action logs of retried attempts, which no result names.
	if arts, err := h.retriedActionLogs(ctx, runPrefix, m); err != nil {
		m.Warnings = append(m.Warnings, "seal: retried attempts' action logs not listed: "+err.Error())
	} else {
		m.Artifacts = append(m.Artifacts, arts...)
	}
	key, err := evidence.ManifestKey(inc.CaseID, inc.RunID)
	if err != nil {
		return nil, faults.Invalid("incident", "%v", err)
	}
	// Seal's log closes here, before the manifest that lists it; a Seal
	// retried after the manifest was stored stores none (no manifest could
	// list it), and announces all its calls instead.
	mark := 0
	if _, _, err := h.sealed(ctx, key); err != nil {
		mark = actions.Len()
		if art, err := collect.StoreActions(ctx, h.Writer, inc.CaseID, inc.RunID, "seal.jsonl", "seal", h.Version, actions.Actions()); err != nil {
			m.Warnings = append(m.Warnings, "seal: action log not stored: "+err.Error())
		} else {
			m.Artifacts = append(m.Artifacts, art)
		}
	}
	sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].Key < m.Artifacts[j].Key })

	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, &faults.EvidenceError{Key: "manifest.json", Err: err}
	}
	if err := evidence.ValidateManifest(body); err != nil {
		// A manifest that breaks its own schema is a bug; refuse to seal
		// with it rather than publish a broken chain of custody.
		return nil, &faults.EvidenceError{Key: "manifest.json", Err: fmt.Errorf("manifest fails its schema: %w", err)}
	}
	art, err := h.Writer.Put(ctx, key, strings.NewReader(string(body)), evidence.PutMeta{
		Source: evidence.SourceCase, API: "custody:Seal", Collector: "seal", CollectorVersion: h.Version,
		ContentType: evidence.ContentTypeJSON,
	})
	if errors.Is(err, evidence.ErrExists) {
		// A retry after the manifest was stored (the notification failed,
		// or the response was lost): the run is sealed with the manifest
		// that is there; announce that one.
		m, art, err = h.sealed(ctx, key)
	}
	if err != nil {
		return nil, faults.Classify("store manifest", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	out := h.output(m, art, runPrefix)
	if out.Seal, err = h.sign(ctx, m, art, runPrefix); err != nil {
		return nil, err
	}
	out.SealActions = actions.Since(mark)
	if err := h.notify(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// output is what Seal announces for manifest m stored as art.
func (h *Handler) output(m *evidence.Manifest, art evidence.Artifact, runPrefix string) *Output {
	out := &Output{
		CaseID: m.CaseID, RunID: m.RunID, Status: m.Status,
		Location:    fmt.Sprintf("s3://%s/%s", h.Bucket, runPrefix),
		ManifestKey: art.Key, ManifestSHA256: art.SHA256, ManifestVersionID: art.VersionID,
		Artifacts: len(m.Artifacts), ArtifactsBySource: map[string]int{}, Gaps: m.Gaps,
	}
	for _, a := range m.Artifacts {
		out.ArtifactsBySource[a.Source]++
	}
	for _, c := range m.Collectors {
		if c.Status == incident.StatusFailed {
			out.FailedCollectors = append(out.FailedCollectors, c.Name)
		}
	}
	return out
}

// sealed reads the manifest an earlier attempt stored: its content, version
// and SHA-256, hashed as it streams.
func (h *Handler) sealed(ctx context.Context, key string) (*evidence.Manifest, evidence.Artifact, error) {
	obj, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, evidence.Artifact{}, err
	}
	defer obj.Body.Close()
	sum := sha256.New()
	data, err := io.ReadAll(io.TeeReader(obj.Body, sum))
	if err != nil {
		return nil, evidence.Artifact{}, err
	}
	m, err := evidence.ParseManifest(data)
	if err != nil {
		return nil, evidence.Artifact{}, &faults.EvidenceError{Key: key, Err: fmt.Errorf("the stored manifest: %w", err)}
	}
	return m, evidence.Artifact{Key: key, VersionID: aws.ToString(obj.VersionId), Size: int64(len(data)), SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

// results reads every stored collector result of the run, Triage's too:
// the objects directly in results/, not a fanned-out collector's plan and
// shard results in results/<collector>/ (its merged result lists what
// they hold).
func (h *Handler) results(ctx context.Context, prefix string) (map[string]evidence.CollectorResult, error) {
	out := map[string]evidence.CollectorResult{}
	p := s3.NewListObjectsV2Paginator(h.Objects, &s3.ListObjectsV2Input{Bucket: aws.String(h.Bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, faults.Classify("list results", err, func(err error) error { return &faults.EvidenceError{Key: prefix, Err: err} })
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasSuffix(key, ".json") {
				continue
			}
			r, err := h.readResult(ctx, key)
			if err != nil {
				return nil, err
			}
			out[r.Collector] = r
		}
	}
	return out, nil
}

func (h *Handler) readResult(ctx context.Context, key string) (evidence.CollectorResult, error) {
	var r evidence.CollectorResult
	obj, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	if err != nil {
		return r, faults.Classify("read result", err, func(err error) error { return &faults.EvidenceError{Key: key, Err: err} })
	}
	defer obj.Body.Close()
	if err := json.NewDecoder(obj.Body).Decode(&r); err != nil {
		return r, &faults.EvidenceError{Key: key, Err: fmt.Errorf("decode collector result: %w", err)}
	}
	return r, nil
}

// manifest merges the state machine's view of each collector (which knows
// about failures the collector could not record) with what each stored.
func (h *Handler) manifest(inc incident.Incident, results []incident.Result, stored map[string]evidence.CollectorResult) *evidence.Manifest {
	m := &evidence.Manifest{
		SchemaVersion: evidence.ManifestSchemaVersion,
		CaseID:        inc.CaseID, RunID: inc.RunID, Manual: inc.Manual,
		Window:     evidence.ManifestWindow{Start: inc.Window.Start.UTC(), End: inc.Window.End.UTC()},
		Status:     evidence.RunComplete,
		Bucket:     h.Bucket,
		Gaps:       []evidence.Gap{},
		Warnings:   append([]string{}, inc.Warnings...),
		Collectors: []evidence.CollectorStatus{}, Snapshots: []evidence.Snapshot{}, Artifacts: []evidence.Artifact{},
		OpenedAt: inc.OpenedAt.UTC(), SealedAt: h.Now().UTC(), SealedBy: "seal " + h.Version,
	}
	if f := inc.Finding; f != nil {
		m.Finding = &evidence.ManifestFinding{ID: f.ID, Type: f.Type, Severity: f.Severity,
			AccountID: f.AccountID, Region: f.Region, UpdatedAt: f.UpdatedAt.UTC()}
	}
	seen := map[string]bool{}
	addStored := func(r evidence.CollectorResult) {
		m.Artifacts = append(m.Artifacts, r.Artifacts...)
		m.Gaps = append(m.Gaps, r.Gaps...)
		for _, w := range r.Warnings {
			m.Warnings = append(m.Warnings, r.Collector+": "+w)
		}
		m.Snapshots = append(m.Snapshots, r.Snapshots...)
	}
	for _, res := range results {
		cs := evidence.CollectorStatus{Name: res.Collector, Status: res.Status}
		if r, ok := stored[res.Collector]; ok {
			cs.Version = r.CollectorVersion
			if r.Error != "" {
				cs.Error = r.Error
			}
			addStored(r)
		}
		if res.Error != nil {
			cs.Status = incident.StatusFailed
			if cs.Error == "" {
				cs.Error = res.Error.Error + ": " + res.Error.Cause
			}
		}
		if cs.Status == incident.StatusFailed {
			m.Status = evidence.RunPartial
		}
		seen[res.Collector] = true
		m.Collectors = append(m.Collectors, cs)
	}
	// Results no plan item reported (Triage's own) are listed too.
	var rest []string
	for name := range stored {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		r := stored[name]
		m.Collectors = append(m.Collectors, evidence.CollectorStatus{Name: name, Version: r.CollectorVersion, Status: r.Status, Error: r.Error})
		if r.Status == incident.StatusFailed {
			m.Status = evidence.RunPartial
		}
		addStored(r)
	}
	sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].Key < m.Artifacts[j].Key })
	return m
}

// notify publishes the sealed run: enough to find it and to check later
// that its manifest is the one sealed.
func (h *Handler) notify(ctx context.Context, out *Output) error {
	msg, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	subject := fmt.Sprintf("custody: case %s run %s sealed %s", out.CaseID, out.RunID, out.Status)
	if len(subject) > 100 {
		subject = subject[:100]
	}
	_, err = h.Notifier.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(h.TopicARN), Subject: aws.String(subject), Message: aws.String(string(msg)),
	})
	if err != nil {
		return faults.Classify("publish", err, func(err error) error {
			return &faults.EvidenceError{Key: out.ManifestKey, Err: fmt.Errorf("sealed, but the notification failed: %w", err)}
		})
	}
	return nil
}

// retriedActionLogs are the action logs under the run's actions/ that no
// artifact of m names: those of attempts the state machine retried
// (throttling, a transient error), stored by the driver under
// <name>-attemptN.jsonl before the attempt that stored the result. Seal
// hashes each as it streams, so the manifest vouches for them too.
func (h *Handler) retriedActionLogs(ctx context.Context, runPrefix string, m *evidence.Manifest) ([]evidence.Artifact, error) {
	listed := map[string]bool{}
	for _, a := range m.Artifacts {
		listed[a.Key] = true
	}
	prefix := runPrefix + evidence.SourceActions + "/"
	var out []evidence.Artifact
	p := s3.NewListObjectsV2Paginator(h.Objects, &s3.ListObjectsV2Input{Bucket: aws.String(h.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if listed[key] || !strings.HasSuffix(key, ".jsonl") {
				continue
			}
			obj, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
			if err != nil {
				return nil, err
			}
			sum, lines := sha256.New(), &lineCounter{}
			n, err := io.Copy(io.MultiWriter(sum, lines), obj.Body)
			obj.Body.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, evidence.Artifact{
				Key: key, VersionID: aws.ToString(obj.VersionId), Size: n, SHA256: hex.EncodeToString(sum.Sum(nil)),
				ContentType: aws.ToString(obj.ContentType), Source: evidence.SourceActions, API: "custody:ActionLog",
				Origin:  &evidence.Origin{Description: "the AWS calls of an attempt the state machine retried, listed by Seal"},
				Records: lines.n, CollectedAt: aws.ToTime(obj.LastModified).UTC(), Collector: "seal", CollectorVersion: h.Version,
			})
		}
	}
	return out, nil
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
