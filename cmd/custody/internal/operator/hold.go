package operator

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
)

// DefaultBreakGlassRole is the break-glass role's name when
// custody:breakGlassRoleName is not set (infra's default).
const DefaultBreakGlassRole = "CustodyBreakGlass"

// ExitRefused is hold -release run by anyone but the break-glass role (the
// same number as a refused input: the request is refused, not failed).
const ExitRefused = 3

// holdAPI is what hold calls on the evidence bucket.
type holdAPI interface {
	s3.ListObjectVersionsAPIClient
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObjectLegalHold(context.Context, *s3.PutObjectLegalHoldInput, ...func(*s3.Options)) (*s3.PutObjectLegalHoldOutput, error)
}

// HoldReport is what one hold (or release) of a case did.
type HoldReport struct {
	Bucket   string `json:"bucket"`
	Prefix   string `json:"prefix"`
	Status   string `json:"status"` // ON (hold) or OFF (release)
	Versions int    `json:"versions"`
	// Changed are the versions whose legal hold this run set to Status;
	// Already those that had it.
	Changed int `json:"changed"`
	Already int `json:"already"`
	// DeleteMarkers are skipped: a delete marker has no content to hold.
	DeleteMarkers int `json:"deleteMarkers"`
	// Failed are the versions that could not be changed, with why.
	Failed []HoldFailure `json:"failed,omitempty"`
}

// HoldFailure is one version hold could not change.
type HoldFailure struct {
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Error     string `json:"error"`
}

// ReleaseRefusedError is a release asked for by a caller that is not the
// break-glass role.
type ReleaseRefusedError struct {
	Caller, Role string
}

func (e *ReleaseRefusedError) Error() string {
	return fmt.Sprintf("release refused: %s is not the break-glass role %s (assume it: releasing a legal hold lets the evidence be deleted once its retention ends)", e.Caller, e.Role)
}

// HoldError is a case whose versions could not be listed.
type HoldError struct {
	Prefix string
	Err    error
}

func (e *HoldError) Error() string { return fmt.Sprintf("list versions of %s: %v", e.Prefix, e.Err) }

func (e *HoldError) Unwrap() error { return e.Err }

// holdCase sets the legal hold of every version of every object under
// prefix to status: each version is read first (HeadObject gives its
// hold), so a second run changes nothing and says so. A version that
// cannot be changed is a failure in the report; the others go on.
func holdCase(ctx context.Context, client holdAPI, bucket, prefix string, status s3types.ObjectLockLegalHoldStatus) (*HoldReport, error) {
	rep := &HoldReport{Bucket: bucket, Prefix: prefix, Status: string(status)}
	p := s3.NewListObjectVersionsPaginator(client, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return rep, &HoldError{Prefix: prefix, Err: err}
		}
		rep.DeleteMarkers += len(page.DeleteMarkers)
		for _, v := range page.Versions {
			rep.Versions++
			key, id := aws.ToString(v.Key), aws.ToString(v.VersionId)
			fail := func(err error) {
				rep.Failed = append(rep.Failed, HoldFailure{Key: key, VersionID: id, Error: err.Error()})
			}
			head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(id)})
			if err != nil {
				fail(err)
				continue
			}
			if head.ObjectLockLegalHoldStatus == status || (status == s3types.ObjectLockLegalHoldStatusOff && head.ObjectLockLegalHoldStatus == "") {
				rep.Already++
				continue
			}
			if _, err := client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
				Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(id),
				LegalHold: &s3types.ObjectLockLegalHold{Status: status},
				// S3 requires a checksum of the request body.
				ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
			}); err != nil {
				fail(err)
				continue
			}
			rep.Changed++
		}
	}
	return rep, nil
}

// isRole says whether caller (GetCallerIdentity's ARN) is role: its
// assumed-role session, or the role itself.
func isRole(caller, role string) bool {
	a, err := arn.Parse(caller)
	if err != nil {
		return false
	}
	parts := strings.Split(a.Resource, "/")
	switch {
	case a.Service == "sts" && len(parts) >= 2 && parts[0] == "assumed-role":
		return parts[1] == role
	case a.Service == "iam" && len(parts) >= 2 && parts[0] == "role":
		return parts[len(parts)-1] == role
	}
	return false
}

// Hold places (or, with -release and the break-glass role, removes) an
// Object Lock legal hold on every version of every object of a case.
//
//	custody hold [-bucket B] [-json] CASEID
//	custody hold -release [-break-glass-role NAME] [-bucket B] [-json] CASEID
func Hold(ctx context.Context, args []string, load LoadConfig, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bucket := fs.String("bucket", "", "the evidence bucket (default: the "+HubStack+" stack's EvidenceBucketName output)")
	release := fs.Bool("release", false, "remove the legal hold instead (break-glass role only)")
	breakGlass := fs.String("break-glass-role", DefaultBreakGlassRole, "the break-glass role's name (custody:breakGlassRoleName)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: custody hold [-release] [-bucket B] [-json] CASEID")
		return ExitUsage
	}
	prefix, err := evidence.CasePrefix(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "custody hold:", err)
		return ExitUsage
	}
	cfg, err := load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "custody hold:", err)
		return ExitSetup
	}
	status := s3types.ObjectLockLegalHoldStatusOn
	if *release {
		// The bucket policy is what enforces this (README: legal holds);
		// the check here refuses early, with the reason, before any call
		// the policy would deny one version at a time.
		id, err := whoAmI(ctx, cfg, sts.NewFromConfig(cfg))
		if err != nil {
			fmt.Fprintln(stderr, "custody hold:", err)
			return ExitSetup
		}
		if caller := aws.ToString(id.Arn); !isRole(caller, *breakGlass) {
			fmt.Fprintln(stderr, "custody hold:", &ReleaseRefusedError{Caller: caller, Role: *breakGlass})
			return ExitRefused
		}
		status = s3types.ObjectLockLegalHoldStatusOff
	}
	if *bucket == "" {
		if *bucket, err = stackOutput(ctx, cloudformation.NewFromConfig(cfg), HubStack, "EvidenceBucketName"); err != nil {
			fmt.Fprintln(stderr, "custody hold:", err)
			return ExitSetup
		}
	}
	rep, err := holdCase(ctx, s3.NewFromConfig(cfg, awsconfig.S3Options), *bucket, prefix, status)
	if err != nil {
		fmt.Fprintln(stderr, "custody hold:", err)
		return ExitSetup
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		verb := "held"
		if *release {
			verb = "released"
		}
		fmt.Fprintf(stdout, "s3://%s/%s: %d object version(s): %d %s now, %d already %s, %d failed; %d delete marker(s) skipped (nothing to hold)\n",
			rep.Bucket, rep.Prefix, rep.Versions, rep.Changed, verb, rep.Already, verb, len(rep.Failed), rep.DeleteMarkers)
		for _, f := range rep.Failed {
			fmt.Fprintf(stdout, "  failed %s (version %s): %s\n", f.Key, f.VersionID, f.Error)
		}
	}
	if rep.Versions == 0 {
		fmt.Fprintf(stderr, "custody hold: no case %s in s3://%s/\n", fs.Arg(0), *bucket)
		return ExitUsage
	}
	if len(rep.Failed) > 0 {
		return ExitSetup
	}
	return ExitOK
}
