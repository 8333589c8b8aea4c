package faults_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/custody-ir/custody/shared/faults"
)

// answer is what the test server answers every request with.
type answer struct {
	status      int
	contentType string
	body        string
	reset       bool // close the connection with a TCP reset instead of answering
}

// Real error bodies, as the services (and moto, and AWS front ends) send them.
const (
	s3SlowDown       = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>7QZ0S9HX</RequestId><HostId>h</HostId></Error>`
	s3InternalError  = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>R</RequestId><HostId>h</HostId></Error>`
	s3AccessDenied   = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R</RequestId><HostId>h</HostId></Error>`
	s3NoSuchKey      = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key><RequestId>R</RequestId><HostId>h</HostId></Error>`
	s3NotImplemented = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message><RequestId>R</RequestId><HostId>h</HostId></Error>`
	jsonThrottling   = `{"__type":"ThrottlingException","message":"Rate exceeded"}`
	jsonDenied       = `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: cloudtrail:LookupEvents"}`
	jsonUnknownOp    = `{"__type":"com.amazon.coral.service#UnknownOperationException","message":null}`
	jsonInvalid      = `{"__type":"InvalidLookupAttributesException","Message":"Invalid AttributeKey"}`
	// An AWS front end (ELB, CloudFront) answering for a service.
	html502 = `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>`
	html503 = `<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>`
	// What moto 5.2 answers for an operation it lacks (CloudTrail
	// LookupEvents, IAM GenerateServiceLastAccessedDetails), measured.
	motoHTML500      = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n"
	motoHTML404      = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n"
	iamDenied        = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: iam:GenerateServiceLastAccessedDetails</Message></Error><RequestId>R</RequestId></ErrorResponse>`
	iamInvalidAction = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation GenerateServiceLastAccessedDetails for version 2010-05-08</Message></Error><RequestId>R</RequestId></ErrorResponse>`
	ec2Unauthorized  = `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>R</RequestID></Response>`
	ec2Throttled     = `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>R</RequestID></Response>`
	gdNotFound       = `{"message":"The request is rejected because the input detectorId is not owned by the current account.","__type":"BadRequestException"}`
)

// server answers every request with a and counts the requests.
func server(t *testing.T, a answer) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if a.reset {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			_ = conn.Close()
			return
		}
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		w.Header().Set("x-amzn-RequestId", "R")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// config is an SDK configuration for url with the project's retry list
// (faults.Retryables, as shared/awsconfig installs it) and no backoff
// delay, so retries are counted, not waited for.
func config(url string, emulator bool) aws.Config {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(url),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Retryables = faults.Retryables()
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	if emulator {
		// Twice, as a handler can get it (the environment and an option).
		cfg.APIOptions = []func(*middleware.Stack) error{faults.MarkEmulatorAnswers, faults.MarkEmulatorAnswers}
	}
	return cfg
}

// calls are one real SDK call per protocol: S3 (REST XML), CloudTrail (JSON
// 1.1), IAM (query), EC2 (EC2 query), GuardDuty (REST JSON).
var calls = map[string]func(ctx context.Context, cfg aws.Config) error{
	"s3:GetObject": func(ctx context.Context, cfg aws.Config) error {
		_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		return err
	},
	"cloudtrail:LookupEvents": func(ctx context.Context, cfg aws.Config) error {
		_, err := cloudtrail.NewFromConfig(cfg).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
		return err
	},
	"iam:GenerateServiceLastAccessedDetails": func(ctx context.Context, cfg aws.Config) error {
		_, err := iam.NewFromConfig(cfg).GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String("arn:aws:iam::123456789012:user/alice")})
		return err
	},
	"ec2:DescribeFlowLogs": func(ctx context.Context, cfg aws.Config) error {
		_, err := ec2.NewFromConfig(cfg).DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{})
		return err
	},
	"guardduty:ListFindings": func(ctx context.Context, cfg aws.Config) error {
		_, err := guardduty.NewFromConfig(cfg).ListFindings(ctx, &guardduty.ListFindingsInput{DetectorId: aws.String("d")})
		return err
	},
}

// TestOfRealSDKErrors: an httptest server answers each protocol's real
// error bodies to a real SDK client, so the SDK's own deserializers and
// retryer produce the errors Of classifies. attempts is how many requests
// the SDK made (3 is retried to the end).
func TestOfRealSDKErrors(t *testing.T) {
	const xml, json, html = "application/xml", "application/x-amz-json-1.1", "text/html; charset=utf-8"
	tests := []struct {
		name     string
		call     string
		answer   answer
		emulator bool // the client has MarkEmulatorAnswers (the local run)
		want     faults.Class
		attempts int32
		code     string
	}{
		{"S3 SlowDown", "s3:GetObject", answer{status: 503, contentType: xml, body: s3SlowDown}, false, faults.Throttled, 3, "SlowDown"},
		{"S3 InternalError", "s3:GetObject", answer{status: 500, contentType: xml, body: s3InternalError}, false, faults.Transient, 3, "InternalError"},
		{"S3 AccessDenied", "s3:GetObject", answer{status: 403, contentType: xml, body: s3AccessDenied}, false, faults.Denied, 1, "AccessDenied"},
		{"S3 NoSuchKey", "s3:GetObject", answer{status: 404, contentType: xml, body: s3NoSuchKey}, false, faults.InvalidRequest, 1, "NoSuchKey"},
		{"S3 NotImplemented 501", "s3:GetObject", answer{status: 501, contentType: xml, body: s3NotImplemented}, false, faults.Unimplemented, 1, "NotImplemented"},
		// S3 names an answer it cannot read by its status.
		{"S3 HTML 503 from a front end", "s3:GetObject", answer{status: 503, contentType: html, body: html503}, false, faults.Transient, 3, "ServiceUnavailable"},
		{"JSON ThrottlingException", "cloudtrail:LookupEvents", answer{status: 400, contentType: json, body: jsonThrottling}, false, faults.Throttled, 3, "ThrottlingException"},
		{"JSON AccessDeniedException", "cloudtrail:LookupEvents", answer{status: 400, contentType: json, body: jsonDenied}, false, faults.Denied, 1, "AccessDeniedException"},
		{"JSON UnknownOperationException", "cloudtrail:LookupEvents", answer{status: 400, contentType: json, body: jsonUnknownOp}, false, faults.Unimplemented, 1, "UnknownOperationException"},
		{"JSON service refusal", "cloudtrail:LookupEvents", answer{status: 400, contentType: json, body: jsonInvalid}, false, faults.InvalidRequest, 1, "InvalidLookupAttributesException"},
		{"JSON call, HTML 502 from AWS", "cloudtrail:LookupEvents", answer{status: 502, contentType: html, body: html502}, false, faults.Transient, 3, ""},
		{"JSON call, HTML 503 from AWS", "cloudtrail:LookupEvents", answer{status: 503, contentType: html, body: html503}, false, faults.Transient, 3, ""},
		{"JSON call, HTML 500 from AWS", "cloudtrail:LookupEvents", answer{status: 500, contentType: html, body: motoHTML500}, false, faults.Transient, 3, ""},
		{"JSON call, HTML 500 from the emulator", "cloudtrail:LookupEvents", answer{status: 500, contentType: html, body: motoHTML500}, true, faults.Unimplemented, 1, ""},
		{"JSON call, HTML 502 from the emulator's front", "cloudtrail:LookupEvents", answer{status: 502, contentType: html, body: html502}, true, faults.Transient, 3, ""},
		{"JSON call, 501", "cloudtrail:LookupEvents", answer{status: 501, contentType: html, body: "<html>Not Implemented</html>"}, false, faults.Unimplemented, 1, ""},
		{"JSON call, emulator's throttling", "cloudtrail:LookupEvents", answer{status: 400, contentType: json, body: jsonThrottling}, true, faults.Throttled, 3, "ThrottlingException"},
		{"connection reset", "cloudtrail:LookupEvents", answer{reset: true}, false, faults.Transient, 3, ""},
		{"connection reset on the emulator", "s3:GetObject", answer{reset: true}, true, faults.Transient, 3, ""},
		{"query AccessDenied", "iam:GenerateServiceLastAccessedDetails", answer{status: 403, contentType: "text/xml", body: iamDenied}, false, faults.Denied, 1, "AccessDenied"},
		{"query InvalidAction", "iam:GenerateServiceLastAccessedDetails", answer{status: 400, contentType: "text/xml", body: iamInvalidAction}, false, faults.Unimplemented, 1, "InvalidAction"},
		{"query call, HTML 500 from AWS", "iam:GenerateServiceLastAccessedDetails", answer{status: 500, contentType: html, body: motoHTML500}, false, faults.Transient, 3, ""},
		{"query call, HTML 500 from the emulator", "iam:GenerateServiceLastAccessedDetails", answer{status: 500, contentType: html, body: motoHTML500}, true, faults.Unimplemented, 1, ""},
		{"query call, HTML 503 from AWS", "iam:GenerateServiceLastAccessedDetails", answer{status: 503, contentType: html, body: html503}, false, faults.Transient, 3, ""},
		{"EC2 UnauthorizedOperation", "ec2:DescribeFlowLogs", answer{status: 403, contentType: "text/xml", body: ec2Unauthorized}, false, faults.Denied, 1, "UnauthorizedOperation"},
		{"EC2 RequestLimitExceeded", "ec2:DescribeFlowLogs", answer{status: 503, contentType: "text/xml", body: ec2Throttled}, false, faults.Throttled, 3, "RequestLimitExceeded"},
		{"REST JSON refusal", "guardduty:ListFindings", answer{status: 400, contentType: "application/json", body: gdNotFound}, false, faults.InvalidRequest, 1, "BadRequestException"},
		{"REST JSON, HTML 404 from the emulator", "guardduty:ListFindings", answer{status: 404, contentType: html, body: motoHTML404}, true, faults.Unimplemented, 1, ""},
		{"REST JSON, HTML 404 from AWS", "guardduty:ListFindings", answer{status: 404, contentType: html, body: motoHTML404}, false, faults.Failed, 1, ""},
		{"REST JSON, HTML 503 from AWS", "guardduty:ListFindings", answer{status: 503, contentType: html, body: html503}, false, faults.Transient, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, n := server(t, tc.answer)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := calls[tc.call](ctx, config(url, tc.emulator))
			if err == nil {
				t.Fatal("the call succeeded")
			}
			f := faults.Of(tc.call, err)
			if f.Class != tc.want {
				t.Errorf("class %s, want %s (%v)", f.Class, tc.want, err)
			}
			if f.Code != tc.code {
				t.Errorf("code %q, want %q", f.Code, tc.code)
			}
			if got := n.Load(); got != tc.attempts {
				t.Errorf("%d requests, want %d", got, tc.attempts)
			}
			if !tc.answer.reset && f.Status != tc.answer.status {
				t.Errorf("status %d, want %d", f.Status, tc.answer.status)
			}
			if !errors.Is(f, err) {
				t.Error("the fault does not wrap the SDK's error")
			}
			r := f.Retryable()
			switch tc.want {
			case faults.Throttled:
				var thr *faults.ThrottledError
				if !errors.As(r, &thr) || thr.Op != tc.call {
					t.Errorf("Retryable() = %v, want a ThrottledError naming %s", r, tc.call)
				}
			case faults.Transient:
				var trn *faults.TransientError
				if !errors.As(r, &trn) || !strings.HasPrefix(trn.Error(), tc.call+": ") {
					t.Errorf("Retryable() = %v, want a TransientError naming %s", r, tc.call)
				}
			default:
				if r != nil {
					t.Errorf("Retryable() = %v, want nil for %s", r, tc.want)
				}
			}
		})
	}
}

// TestOfOrder: errors that are not an SDK answer, and errors already named.
func TestOfOrder(t *testing.T) {
	thr := &faults.ThrottledError{Op: "x", Err: errors.New("slow")}
	tests := []struct {
		name string
		err  error
		want faults.Class
	}{
		{"deadline", context.DeadlineExceeded, faults.Transient},
		{"cancelled", context.Canceled, faults.Failed},
		{"named throttled, wrapped", errors.Join(errors.New("ctx"), thr), faults.Throttled},
		{"named transient", &faults.TransientError{Op: "y", Err: errors.New("reset")}, faults.Transient},
		{"invalid input", faults.Invalid("detail.id", "missing"), faults.InvalidRequest},
		{"evidence error", &faults.EvidenceError{Key: "k", Err: errors.New("x")}, faults.Failed},
		{"evidence error wrapping a denial", &faults.EvidenceError{Key: "k", Err: &smithy.GenericAPIError{Code: "AccessDenied"}}, faults.Denied},
		{"configuration error", &faults.ConfigurationError{Setting: "S", Reason: "unset"}, faults.Failed},
		{"plain error", errors.New("boom"), faults.Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := faults.Of("op", tc.err).Class; got != tc.want {
				t.Fatalf("class %s, want %s", got, tc.want)
			}
		})
	}
	if faults.Of("op", nil) != nil {
		t.Fatal("nil classified")
	}
	if r := faults.Of("op", errors.Join(errors.New("ctx"), thr)).Retryable(); r != thr {
		t.Fatalf("Retryable() = %v, want the ThrottledError already in the chain", r)
	}
}
