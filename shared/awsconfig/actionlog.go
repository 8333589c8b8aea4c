package awsconfig

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

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
	Region    string `json:"region,omitempty"`
	// Params are the call's parameters, secrets and bodies removed.
	Params     map[string]any `json:"params,omitempty"`
	HTTPStatus int            `json:"httpStatus,omitempty"`
	RequestID  string         `json:"requestId,omitempty"`
	Attempts   int            `json:"attempts"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end"`
	// ClockSkewMillis is the response's Date minus the local clock when it
	// arrived (Date has a resolution of a second).
	ClockSkewMillis *int64 `json:"clockSkewMillis,omitempty"`
	Error           string `json:"error,omitempty"`
}

// ActionLog records every call made through the clients of a
// configuration it is added to (Record). It is safe for concurrent use.
type ActionLog struct {
	mu      sync.Mutex
	actions []Action
	now     func() time.Time
}

// NewActionLog is an empty log on the wall clock.
func NewActionLog() *ActionLog { return &ActionLog{now: time.Now} }

// Record is the SDK middleware (for aws.Config.APIOptions) that adds each
// call to l.
func (l *ActionLog) Record(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("custody.ActionLog",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			a := Action{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx),
				Region: awsmiddleware.GetRegion(ctx), Params: redacted(in.Parameters), Start: l.now().UTC()}
			out, md, err := next.HandleInitialize(ctx, in)
			a.End = l.now().UTC()
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
		}), middleware.After)
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

// secretish names the parameters never logged: credentials, secrets and
// the content of what is written (an object's body, a message to sign).
var secretish = []string{"secret", "password", "token", "credential", "privatekey", "plaintext", "body", "message", "sessionpolicy", "userdata"}

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

func scrub(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			lk := strings.ToLower(k)
			hit := false
			for _, s := range secretish {
				hit = hit || strings.Contains(lk, s)
			}
			if hit && x != nil {
				t[k] = "[removed]"
				continue
			}
			scrub(x)
		}
	case []any:
		for _, x := range t {
			scrub(x)
		}
	}
}
