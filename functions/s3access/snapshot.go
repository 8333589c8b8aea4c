package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/s3logs"
)

// Call outcomes in the configuration snapshot.
const (
	callOK      = "ok"      // the call answered; Value is its answer
	callNone    = "none"    // the bucket has no such configuration (NoSuchBucketPolicy, ...)
	callDenied  = "denied"  // AccessDenied: the collector may not read it
	callMissing = "missing" // NoSuchBucket
	callError   = "error"   // anything else (throttled past the SDK's retries, ...)
)

// noneCodes are the error codes that mean "not configured", which is an
// answer about the bucket, not a failure.
var noneCodes = map[string]bool{
	"NoSuchBucketPolicy":                             true,
	"NoSuchPublicAccessBlockConfiguration":           true,
	"OwnershipControlsNotFoundError":                 true,
	"ServerSideEncryptionConfigurationNotFoundError": true,
}

// call is one configuration call's outcome. Values are the API's own
// member names (PascalCase), as the SDK's types marshal.
type call struct {
	API       string `json:"api"`
	Status    string `json:"status"`
	ErrorCode string `json:"errorCode,omitempty"`
	Message   string `json:"message,omitempty"`
	Value     any    `json:"value,omitempty"`
}

// configSnapshot is config-<bucket>.json: the bucket's configuration as the
// collector read it. It holds no collection time, so a retried collector
// writes the same bytes (the manifest entry has collectedAt).
type configSnapshot struct {
	Bucket            string `json:"bucket"`
	Location          call   `json:"location"`
	Logging           call   `json:"logging"`
	Policy            call   `json:"policy"`
	ACL               call   `json:"acl"`
	PublicAccessBlock call   `json:"publicAccessBlock"`
	OwnershipControls call   `json:"ownershipControls"`
	Versioning        call   `json:"versioning"`
	Encryption        call   `json:"encryption"`
}

// snapshotAPIs names the calls, in the snapshot's order (the artifact's
// request).
var snapshotAPIs = []string{"s3:GetBucketLocation", "s3:GetBucketLogging", "s3:GetBucketPolicy", "s3:GetBucketAcl",
	"s3:GetPublicAccessBlock", "s3:GetBucketOwnershipControls", "s3:GetBucketVersioning", "s3:GetBucketEncryption"}

// outcome turns a call's error into its snapshot entry; value is used when
// err is nil.
func outcome(api string, value any, err error) call {
	c := call{API: api, Status: callOK}
	if err == nil {
		c.Value = value
		return c
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		c.ErrorCode, c.Message = ae.ErrorCode(), ae.ErrorMessage()
	} else {
		c.Message = err.Error()
	}
	switch {
	case noneCodes[c.ErrorCode]:
		c.Status = callNone
	case s3logs.Denied(err):
		c.Status = callDenied
	case s3logs.Missing(err):
		c.Status = callMissing
	default:
		c.Status = callError
	}
	return c
}

// policyValue is a bucket policy as JSON when it is JSON, else as text.
func policyValue(p string) any {
	if json.Valid([]byte(p)) {
		return json.RawMessage(p)
	}
	return p
}

// snapshot reads every configuration of bucket; logging is the
// GetBucketLogging answer the caller already has. It returns the snapshot
// and the bucket's region ("" when GetBucketLocation failed).
func (c *Collector) snapshot(ctx context.Context, bucket string, logging *s3.GetBucketLoggingOutput, loggingErr error) (configSnapshot, string) {
	b := aws.String(bucket)
	snap := configSnapshot{Bucket: bucket}
	region := ""

	loc, err := c.S3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b})
	if err == nil {
		region = regionOf(loc.LocationConstraint)
		snap.Location = outcome("s3:GetBucketLocation", struct {
			LocationConstraint s3types.BucketLocationConstraint
			Region             string
		}{loc.LocationConstraint, region}, nil)
	} else {
		snap.Location = outcome("s3:GetBucketLocation", nil, err)
	}

	var lv any
	if loggingErr == nil {
		lv = struct{ LoggingEnabled *s3types.LoggingEnabled }{logging.LoggingEnabled}
	}
	snap.Logging = outcome("s3:GetBucketLogging", lv, loggingErr)

	if out, err := c.S3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); err == nil {
		snap.Policy = outcome("s3:GetBucketPolicy", struct{ Policy any }{policyValue(aws.ToString(out.Policy))}, nil)
	} else {
		snap.Policy = outcome("s3:GetBucketPolicy", nil, err)
	}
	if out, err := c.S3.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b}); err == nil {
		snap.ACL = outcome("s3:GetBucketAcl", struct {
			Owner  *s3types.Owner
			Grants []s3types.Grant
		}{out.Owner, out.Grants}, nil)
	} else {
		snap.ACL = outcome("s3:GetBucketAcl", nil, err)
	}
	if out, err := c.S3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); err == nil {
		snap.PublicAccessBlock = outcome("s3:GetPublicAccessBlock", struct {
			PublicAccessBlockConfiguration *s3types.PublicAccessBlockConfiguration
		}{out.PublicAccessBlockConfiguration}, nil)
	} else {
		snap.PublicAccessBlock = outcome("s3:GetPublicAccessBlock", nil, err)
	}
	if out, err := c.S3.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b}); err == nil {
		snap.OwnershipControls = outcome("s3:GetBucketOwnershipControls", struct {
			OwnershipControls *s3types.OwnershipControls
		}{out.OwnershipControls}, nil)
	} else {
		snap.OwnershipControls = outcome("s3:GetBucketOwnershipControls", nil, err)
	}
	if out, err := c.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b}); err == nil {
		// A bucket never versioned answers with no Status.
		snap.Versioning = outcome("s3:GetBucketVersioning", struct {
			Status    s3types.BucketVersioningStatus
			MFADelete s3types.MFADeleteStatus
		}{out.Status, out.MFADelete}, nil)
	} else {
		snap.Versioning = outcome("s3:GetBucketVersioning", nil, err)
	}
	if out, err := c.S3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b}); err == nil {
		snap.Encryption = outcome("s3:GetBucketEncryption", struct {
			ServerSideEncryptionConfiguration *s3types.ServerSideEncryptionConfiguration
		}{out.ServerSideEncryptionConfiguration}, nil)
	} else {
		snap.Encryption = outcome("s3:GetBucketEncryption", nil, err)
	}
	return snap, region
}
