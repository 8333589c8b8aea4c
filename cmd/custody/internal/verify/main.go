package verify

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
)

// ClientFunc builds the S3 client of a bucket verify.
type ClientFunc func(ctx context.Context) (BucketAPI, error)

// DefaultClient is an S3 client from the environment (region,
// credentials, AWS_ENDPOINT_URL for the emulator).
func DefaultClient(ctx context.Context) (BucketAPI, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, awsconfig.S3Options), nil
}

const usageLine = "usage: custody verify [-key FILE|FINGERPRINT] [-contain-key FILE|FINGERPRINT] [-allow-unsigned] [-run RUNID] [-manifest-sha256 HEX] [-manifest-version ID] [-json] <OUT/<caseId> | s3://<bucket>/cases/<caseId>>"

var hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// Main is `custody verify`: it parses args (flags may come before or after
// the location), verifies, prints the result to stdout (or JSON with
// -json) and returns the exit status (Exit*). client builds the S3 client
// for an s3:// location; nil means DefaultClient.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, client ClientFunc) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine)
		fs.PrintDefaults()
	}
	var ann Announced
	fs.StringVar(&ann.SHA256, "manifest-sha256", "", "the manifest's SHA-256 as Seal announced it (manifestSha256 in the notification)")
	fs.StringVar(&ann.VersionID, "manifest-version", "", "the manifest's version ID as Seal announced it (manifestVersionId; s3:// only)")
	fs.StringVar(&ann.RunID, "run", "", "the run the -manifest-* values are for (needed when the case has several runs)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	keyArg := fs.String("key", "", "the seal key to trust: its public key file (PEM or DER) or fingerprint (hex SHA-256 of its DER), from the stack output or recorded at deploy")
	containKeyArg := fs.String("contain-key", "", "the containment key to trust (the stack output ContainSigningKeyArn's): its public key file (PEM or DER) or fingerprint")
	allowUnsigned := fs.Bool("allow-unsigned", false, "accept runs sealed without a signature, and containment records without a statement (cases sealed or contained before custody signed them)")
	var loc []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		loc = append(loc, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(loc) != 1 {
		fmt.Fprintln(stderr, usageLine)
		return ExitUsage
	}
	if ann.SHA256 != "" && !hexSHA256.MatchString(ann.SHA256) {
		fmt.Fprintf(stderr, "custody verify: -manifest-sha256 %q is not a hex SHA-256\n", ann.SHA256)
		return ExitUsage
	}
	if ann.RunID != "" && !ann.given() {
		fmt.Fprintln(stderr, "custody verify: -run names the run of -manifest-sha256 or -manifest-version; give one of them")
		return ExitUsage
	}

	pin, err := ParsePin(*keyArg)
	if err != nil {
		fmt.Fprintln(stderr, "custody verify:", err)
		return ExitUsage
	}
	containPin, err := ParsePin(*containKeyArg)
	if err != nil {
		fmt.Fprintln(stderr, "custody verify:", strings.Replace(err.Error(), "-key", "-contain-key", 1))
		return ExitUsage
	}
	trust := Trust{Pin: pin, AllowUnsigned: *allowUnsigned, ContainPin: containPin}
	var res *Result
	if strings.HasPrefix(loc[0], "s3://") {
		var bucket, caseID string
		bucket, caseID, err = ParseS3(loc[0])
		if err == nil {
			if client == nil {
				client = DefaultClient
			}
			var c BucketAPI
			if c, err = client(ctx); err != nil {
				err = &SetupError{Err: fmt.Errorf("S3 client: %w", err)}
			} else {
				res, err = Bucket(ctx, c, bucket, caseID, ann, trust)
			}
		}
	} else {
		res, err = Dir(loc[0], ann, trust)
	}
	if err != nil {
		fmt.Fprintln(stderr, "custody verify:", err)
		var ue *UsageError
		if errors.As(err, &ue) {
			return ExitUsage
		}
		return ExitSetup
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := struct {
			*Result
			Code    int    `json:"exitCode"`
			Summary string `json:"summary"`
		}{res, res.Code(), res.Summary()}
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "custody verify:", err)
			return ExitSetup
		}
	} else {
		res.Print(stdout)
	}
	if code := res.Code(); code != ExitOK {
		fmt.Fprintln(stderr, "custody verify:", res.Summary())
		return code
	}
	return ExitOK
}
