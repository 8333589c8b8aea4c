package awsconfig

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Action is one AWS call custody made, as its action log records it: so
// custody's own footprint in the target's CloudTrail can be told from the
// attacker's, and audited.
type Action struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
	// Account is the account whose credentials made the call (a member's
	// assumed role, or the function's own), when known: the account whose
	// CloudTrail records custody as the caller.
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// Params are the call's parameters, secrets and bodies removed.
	Params     map[string]any `json:"params,omitempty"`
	HTTPStatus int            `json:"httpStatus,omitempty"`
	RequestID  string         `json:"requestId,omitempty"`
	Attempts   int            `json:"attempts"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end"`
	// ClockSkewMillis is the response's Date minus the local clock when it
	// arrived. Date has a resolution of a second (the server truncates),
	// so a value in (-1000, 0] is no skew at all; the log's times are the
	// function's clock, and this says how far to trust them against the
	// target's CloudTrail.
	ClockSkewMillis *int64 `json:"clockSkewMillis,omitempty"`
	Error           string `json:"error,omitempty"`
}

// ActionLog records every call made with a context it is bound to
// (WithActionLog), through any client of a configuration Load built (its
// RecordActions middleware). It is safe for concurrent use.
type ActionLog struct {
	// Account is the account a call went to when its client's
	// configuration does not say (InAccount): the function's own.
	Account string

	mu      sync.Mutex
	actions []Action
	now     func() time.Time
}

// NewActionLog is an empty log on the wall clock.
func NewActionLog() *ActionLog { return &ActionLog{now: time.Now} }

type actionLogKey struct{}

// WithActionLog is ctx with l bound: every call made with it (or a context
// derived from it) through a client with RecordActions is added to l. The
// log is bound to the invocation, not to the clients, because the clients
// are built once per cold start and shared by every invocation (and, in
// the local run and tests, by collectors running side by side).
func WithActionLog(ctx context.Context, l *ActionLog) context.Context {
	return context.WithValue(ctx, actionLogKey{}, l)
}

// ActionLogFrom is the log bound to ctx, nil when there is none.
func ActionLogFrom(ctx context.Context) *ActionLog {
	l, _ := ctx.Value(actionLogKey{}).(*ActionLog)
	return l
}

// recordID names the middleware, so that a configuration that has it twice
// (Load's, and a caller's own) records each call once.
const recordID = "custody.ActionLog"

// RecordActions is the SDK middleware (for aws.Config.APIOptions; Load adds
// it) that adds each call to the ActionLog bound to its context. A call
// with no log bound is not recorded. It sits first in the Initialize step,
// so that what it sees is the whole call: every retry attempt, the final
// HTTP response and the error the caller gets.
func RecordActions(stack *middleware.Stack) error {
	if _, ok := stack.Initialize.Get(recordID); ok {
		return nil
	}
	m := middleware.InitializeMiddlewareFunc(recordID,
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			l := ActionLogFrom(ctx)
			if l == nil {
				return next.HandleInitialize(ctx, in)
			}
			a := Action{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx),
				Region: awsmiddleware.GetRegion(ctx), Params: redacted(in.Parameters), Start: l.clock().UTC()}
			if acct, ok := middleware.GetStackValue(ctx, accountKey{}).(string); ok && acct != "" {
				a.Account = acct
			} else {
				a.Account = l.Account
			}
			out, md, err := next.HandleInitialize(ctx, in)
			a.End = l.clock().UTC()
			if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
				a.RequestID = id
			}
			if res, ok := retry.GetAttemptResults(md); ok {
				a.Attempts = len(res.Results)
			}
			if a.Attempts == 0 {
				a.Attempts = 1
			}
			if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
				a.HTTPStatus = raw.StatusCode
				// S3 names its request ID x-amz-request-id, the JSON
				// protocols x-amzn-RequestId; an S3 answer with only the
				// latter (the emulator's writes) still has one.
				for _, h := range []string{"X-Amz-Request-Id", "X-Amzn-Requestid"} {
					if a.RequestID == "" {
						a.RequestID = raw.Header.Get(h)
					}
				}
				if d, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
					skew := d.Sub(a.End).Milliseconds()
					a.ClockSkewMillis = &skew
				}
			}
			if err != nil {
				a.Error = err.Error()
			}
			l.mu.Lock()
			l.actions = append(l.actions, a)
			l.mu.Unlock()
			return out, md, err
		})
	// After InAccount's, whichever was added first: it names the account.
	if _, ok := stack.Initialize.Get(accountID); ok {
		return stack.Initialize.Insert(m, accountID, middleware.After)
	}
	return stack.Initialize.Add(m, middleware.Before)
}

const accountID = "custody.ActionAccount"

type accountKey struct{}

// InAccount is cfg with every call its clients make recorded as made in
// account (the action log's Account field): for a configuration whose
// credentials are another account's (a member's assumed role). Its
// APIOptions are a new slice, so that configurations copied from one base
// (aws.Config.Copy shares the slice's array) never write into each other's.
func InAccount(cfg aws.Config, account string) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions[:len(cfg.APIOptions):len(cfg.APIOptions)], func(stack *middleware.Stack) error {
		m := middleware.InitializeMiddlewareFunc(accountID,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(middleware.WithStackValue(ctx, accountKey{}, account), in)
			})
		if _, ok := stack.Initialize.Get(accountID); ok {
			// A configuration made InAccount twice: the last account wins.
			_, err := stack.Initialize.Swap(accountID, m)
			return err
		}
		if _, ok := stack.Initialize.Get(recordID); ok {
			return stack.Initialize.Insert(m, recordID, middleware.Before)
		}
		return stack.Initialize.Add(m, middleware.Before)
	})
	return cfg
}

func (l *ActionLog) clock() time.Time {
	if l.now == nil {
		return time.Now()
	}
	return l.now()
}

// Actions are the calls recorded so far, in the order they ended.
func (l *ActionLog) Actions() []Action {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Action{}, l.actions...)
}

// Len is the number of calls recorded so far.
func (l *ActionLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.actions)
}

// Reset empties the log (a warm Lambda, at the start of an invocation: it
// handles one at a time).
func (l *ActionLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.actions = nil
}

// Since are the calls recorded after the first n.
func (l *ActionLog) Since(n int) []Action {
	all := l.Actions()
	if n > len(all) {
		return nil
	}
	return all[n:]
}

// secretish is the deny-list of parameter names never logged (a field
// whose lower-cased name contains one, at any depth, is replaced by
// "[removed]"): credentials (SecretAccessKey, SessionToken, passwords, MFA
// token codes, an SSE-C key, an external ID), KMS plaintexts, and the
// content of what custody writes or signs (an object's body, a message).
// A deny-list, not an allow-list, because custody calls some fifteen
// services: an allow-list per operation would have to grow with every
// call a collector adds, and would drop, by default, the very parameters
// (bucket, key, instance, principal, time window) that match the log to
// the target's CloudTrail. The list errs wide: "token" removes pagination
// tokens too, which are opaque and not needed to audit a call.
var secretish = []string{"secret", "password", "passphrase", "token", "credential", "privatekey", "plaintext",
	"customerkey", "authorization", "externalid", "body", "message", "sessionpolicy", "userdata"}

// signedURL finds a presigned URL's signing query (SigV4 or SigV2): a
// string value that carries one is logged without its query.
var signedURL = regexp.MustCompile(`(?i)[?&](x-amz-signature|x-amz-credential|x-amz-security-token|signature)=`)

// redacted is params as JSON fields, with secretish ones replaced.
func redacted(params any) map[string]any {
	b, err := json.Marshal(params)
	if err != nil {
		return map[string]any{"_unrecorded": "parameters not encodable: " + err.Error()}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	scrub(m)
	return m
}

// scrub removes secrets from v in place; a string it returns replaces v.
func scrub(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			// Unset fields (nil, "") are dropped: the SDK's inputs have
			// dozens, and the log is read by people.
			if x == nil || x == "" {
				delete(t, k)
				continue
			}
			lk := strings.ToLower(k)
			hit := false
			for _, s := range secretish {
				hit = hit || strings.Contains(lk, s)
			}
			if hit {
				t[k] = "[removed]"
				continue
			}
			t[k] = scrub(x)
		}
	case []any:
		for i, x := range t {
			t[i] = scrub(x)
		}
	case string:
		if signedURL.MatchString(t) {
			// The whole query: it carries the credential and the
			// signature, and its other parts are of no use without them.
			if q := strings.IndexByte(t, '?'); q >= 0 {
				return t[:q] + "?[signature removed]"
			}
		}
	}
	return v
}
