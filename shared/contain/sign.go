package contain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
)

// EnvSigningKey names the containment key: the asymmetric KMS key the
// function signs each step's containment statement with. It is never the
// seal key, whose policy lets Seal alone sign: a compromised contain role
// must not be able to forge a seal (infra/signing.go).
const EnvSigningKey = "CUSTODY_CONTAIN_SIGNING_KEY_ARN"

// signer is the containment key: the function signs the containment
// statement with it and stores its public half beside the signature.
type signer interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// recordLister lists the run's containment folder: every record so far,
// including those earlier steps (other invocations) wrote.
type recordLister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Steps name the statement each action signs (attest.ContainmentStatement.Step).
const (
	StepPlan     = ActionPlan
	StepRequest  = ActionRequest
	StepApply    = ActionApply
	StepReject   = ActionReject
	StepRollback = ActionRollback
)

// recordAPI is the API that made a containment record, by its name; ok is
// false for a name the function never writes. Such a file is left out of
// the statement, so verify reports it as unsigned instead of the function
// vouching for bytes it did not write.
func recordAPI(name string) (api string, ok bool) {
	switch name {
	case PlanFile:
		return "custody:ContainPlan", true
	case AppliedFile:
		return "custody:ContainApply", true
	case ApprovedFile:
		return "custody:ContainApprove", true
	case RejectedFile:
		return "custody:ContainReject", true
	case RollbackFile:
		return "custody:ContainRollback", true
	}
	if strings.HasPrefix(name, PendingPrefix) && strings.HasSuffix(name, ".json") && !strings.Contains(name, "/") {
		return "custody:ContainRequest", true
	}
	return "", false
}

// UnsignedError is a step whose records are stored (and whose changes, if
// any, are applied and recorded) but whose containment statement could not
// be signed or stored. It is never retried: a retried step would plan or
// apply again over what it recorded. The records stay as written; verify
// reports them as unsigned until a later step signs a statement over them.
type UnsignedError struct {
	Step string
	// Records are the containment folder's records the statement was to
	// cover (their keys).
	Records []string
	Err     error
}

func (e *UnsignedError) Error() string {
	return fmt.Sprintf("contain: the %s step's records are stored (%s) but their containment statement is not signed: %v",
		e.Step, strings.Join(e.Records, ", "), e.Err)
}

func (e *UnsignedError) Unwrap() error { return e.Err }

// maxRecord bounds a containment record read to hash it (a plan of many
// resources is a few hundred KB).
const maxRecord = 64 << 20

// sign writes the run's containment statement after a step: every record
// of the run's containment folder so far (name, version, size, SHA-256,
// the API that made it), signed with the containment key, stored beside
// them as statement-<n>-<step>.json and .sig (n the number of records),
// and the key's public half as public-key.pem. Each part is deterministic
// (the statement's time is the newest record's, PKCS#1 v1.5 signatures
// carry no randomness): a retried step that finds the same records writes
// the same bytes under the same names, and the writer accepts them as
// already there; a step that adds a record makes a new name. It returns
// the statement's key, or an *UnsignedError.
func (h *Handler) sign(ctx context.Context, caseID, runID, step string) (string, error) {
	prefix, err := evidence.RunPrefix(caseID, runID)
	if err != nil {
		return "", faults.Invalid("case", "%v", err)
	}
	dir := prefix + attest.ContainmentDir
	recs, keys, err := h.containmentRecords(ctx, dir)
	unsigned := func(err error) error { return &UnsignedError{Step: step, Records: keys, Err: err} }
	if err != nil {
		return "", unsigned(err)
	}
	if h.Signer == nil || h.SigningKeyARN == "" {
		return "", unsigned(errors.New("no containment key (" + EnvSigningKey + ")"))
	}
	if len(recs) == 0 {
		return "", unsigned(fmt.Errorf("no containment record under %s", dir))
	}
	der, err := attest.PublicKey(ctx, h.Signer, h.SigningKeyARN)
	if err != nil {
		return "", unsigned(err)
	}
	// The configured ARN, not GetPublicKey's KeyId (the emulator answers
	// with the bare key ID), as Seal names its key.
	st := attest.ContainmentStatement{
		Type: attest.ContainmentStatementType, CaseID: caseID, RunID: runID, Step: step,
		KeyARN: h.SigningKeyARN, SigningAlgorithm: attest.SigningAlgorithm, PublicKeyFingerprint: attest.Fingerprint(der),
	}
	for _, r := range recs {
		if r.at.After(st.At) {
			st.At = r.at
		}
	}
	st.Records = make([]attest.ContainmentRecord, len(recs))
	for i, r := range recs {
		st.Records[i] = r.ContainmentRecord
	}
	msg, err := st.Marshal()
	if err != nil {
		return "", unsigned(err)
	}
	sig, err := attest.Sign(ctx, h.Signer, h.SigningKeyARN, msg)
	if err != nil {
		return "", unsigned(err)
	}
	stKey := prefix + st.File()
	for _, f := range []struct {
		key, api, contentType string
		body                  []byte
	}{
		{prefix + attest.ContainmentPublicKeyFile, "kms:GetPublicKey", "application/x-pem-file", attest.EncodePEM(der)},
		{stKey, "custody:ContainStatement", evidence.ContentTypeJSON, msg},
		{prefix + attest.ContainmentSignatureFile(st.File()), "kms:Sign", "application/octet-stream", sig},
	} {
		meta := evidence.PutMeta{Source: evidence.SourceCase, API: f.api, Collector: "contain", CollectorVersion: h.Version,
			ContentType: f.contentType, AcceptIdentical: true, Request: map[string]any{"KeyId": h.SigningKeyARN}}
		if _, err := h.Writer.Put(ctx, f.key, bytes.NewReader(f.body), meta); err != nil {
			return "", unsigned(fmt.Errorf("store %s: %w", f.key, err))
		}
	}
	return stKey, nil
}

// record is one containment record with the time S3 stored it.
type record struct {
	attest.ContainmentRecord
	at time.Time
}

// containmentRecords lists dir (the run's containment folder) and reads
// each record the function writes, hashing its bytes: the statement
// vouches for what is stored, not for what this invocation meant to
// write. keys are every record's key, for the error of a failed step.
func (h *Handler) containmentRecords(ctx context.Context, dir string) ([]record, []string, error) {
	if h.Lister == nil || h.Reader == nil {
		return nil, nil, errors.New("no S3 reader to list the containment records")
	}
	var names []string
	in := &s3.ListObjectsV2Input{Bucket: aws.String(h.Bucket), Prefix: aws.String(dir)}
	for {
		page, err := h.Lister.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("list s3://%s/%s: %w", h.Bucket, dir, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), dir)
			if _, ok := recordAPI(name); ok {
				names = append(names, name)
			}
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	slices.Sort(names)
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = dir + n
	}
	recs := make([]record, 0, len(names))
	for _, name := range names {
		api, _ := recordAPI(name)
		r, err := h.readForStatement(ctx, dir+name)
		if err != nil {
			return nil, keys, err
		}
		r.Name, r.API = name, api
		recs = append(recs, r)
	}
	return recs, keys, nil
}

func (h *Handler) readForStatement(ctx context.Context, key string) (record, error) {
	out, err := h.Reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	if err != nil {
		return record{}, fmt.Errorf("read s3://%s/%s: %w", h.Bucket, key, err)
	}
	defer out.Body.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, io.LimitReader(out.Body, maxRecord+1))
	if err != nil {
		return record{}, fmt.Errorf("read s3://%s/%s: %w", h.Bucket, key, err)
	}
	if n > maxRecord {
		return record{}, fmt.Errorf("s3://%s/%s is more than a containment record can be (%d bytes)", h.Bucket, key, maxRecord)
	}
	return record{ContainmentRecord: attest.ContainmentRecord{VersionID: aws.ToString(out.VersionId), Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))},
		at: aws.ToTime(out.LastModified).UTC()}, nil
}
