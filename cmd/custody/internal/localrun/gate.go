package localrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/custody-ir/custody/cmd/custody/internal/lambdart"
	"github.com/custody-ir/custody/shared/ctdigest"
)

// Gate stands between the handlers and the emulator. It passes every call
// through, except what the emulator cannot refuse on its own: an
// sts:AssumeRole into an account the scenario says has no member stack is
// answered as STS answers a role that does not exist or does not trust the
// caller (403 AccessDenied, STS's XML), since the emulator assumes any
// role (measured). The handlers see a real STS error through the SDK's own
// deserializer. The gate also holds S3 to a CopyObject's If-None-Match,
// which the emulator ignores (conditionalCopy), and is where the fault
// drill answers calls with each protocol's real errors (InjectFaults,
// faults.go).
type Gate struct {
	// URL is where the handlers send their calls.
	URL string

	srv     *http.Server
	target  *url.URL // the emulator
	mu      sync.Mutex
	refused map[string]bool // account IDs
	faults  faultState
	// publicKeys are served as cloudtrail:ListPublicKeys (ServePublicKeys).
	publicKeys []ctdigest.PublicKey
	// pool runs lambda:Invoke of the deployed custody functions (RunInvokes).
	pool *lambdart.Pool
	// tasks answers states:SendTaskSuccess and SendTaskFailure for the
	// local run's waiting tasks (AnswerTasks).
	tasks *TaskTokens
}

// RunInvokes makes the gate run a lambda:Invoke of a function in pool
// with its host build, as the state machine's tasks are: the emulator's
// Lambda cannot run Go code (custody rollback invokes the contain
// function).
func (g *Gate) RunInvokes(pool *lambdart.Pool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pool = pool
}

var invocationPath = regexp.MustCompile(`^/2015-03-31/functions/([^/]+)/invocations$`)

// invoke answers a lambda:Invoke (RequestResponse) of a pool function as
// Lambda does: 200 with the response, or with X-Amz-Function-Error and
// the error's {errorType, errorMessage}.
func (g *Gate) invoke(w http.ResponseWriter, r *http.Request) bool {
	m := invocationPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		return false
	}
	g.mu.Lock()
	pool := g.pool
	g.mu.Unlock()
	name, err := url.PathUnescape(m[1])
	if pool == nil || err != nil || !pool.Has(name) {
		return false
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return true
	}
	out, err := pool.Invoke(r.Context(), name, payload)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if err != nil {
		var fe *lambdart.FunctionError
		if !errors.As(err, &fe) {
			fe = &lambdart.FunctionError{ErrorType: "Runtime.InvokeError", ErrorMessage: err.Error()}
		}
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		b, _ := json.Marshal(fe)
		_, _ = w.Write(b)
		return true
	}
	_, _ = w.Write(out)
	return true
}

// AnswerTasks makes the gate answer SendTaskSuccess and SendTaskFailure
// (which the emulator cannot: its state machines never ran these tasks)
// by handing them to tasks.
func (g *Gate) AnswerTasks(tasks *TaskTokens) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tasks = tasks
}

// sendTask answers a SendTaskSuccess or SendTaskFailure (awsJson1_0) from
// the local run's waiting tasks, with Step Functions' own error shape for
// a token no task waits on.
func (g *Gate) sendTask(w http.ResponseWriter, r *http.Request) bool {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	if !ok || (op != "SendTaskSuccess" && op != "SendTaskFailure") {
		return false
	}
	g.mu.Lock()
	tasks := g.tasks
	g.mu.Unlock()
	if tasks == nil {
		return false
	}
	reply := func(status int, body string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	var in struct {
		TaskToken string `json:"taskToken"`
		Output    string `json:"output"`
		Error     string `json:"error"`
		Cause     string `json:"cause"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		reply(http.StatusBadRequest, `{"__type":"com.amazonaws.swf.service.v2.model#InvalidToken","message":"the request is not JSON"}`)
		return true
	}
	var err error
	if op == "SendTaskSuccess" {
		if !json.Valid([]byte(in.Output)) {
			reply(http.StatusBadRequest, `{"__type":"com.amazonaws.swf.service.v2.model#InvalidOutput","message":"the output is not JSON"}`)
			return true
		}
		err = tasks.Succeed(in.TaskToken, json.RawMessage(in.Output))
	} else {
		err = tasks.Fail(in.TaskToken, in.Error, in.Cause)
	}
	if err != nil {
		msg, _ := json.Marshal(err.Error())
		reply(http.StatusBadRequest, `{"__type":"com.amazonaws.swf.service.v2.model#TaskDoesNotExist","message":`+string(msg)+`}`)
		return true
	}
	reply(http.StatusOK, `{}`)
	return true
}

// StartGate starts a gate to the emulator at target on a free loopback
// port.
func StartGate(target string) (*Gate, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &Gate{URL: fmt.Sprintf("http://localhost:%d", l.Addr().(*net.TCPAddr).Port), target: u, refused: map[string]bool{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	g.srv = &http.Server{Handler: g.handler(proxy), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(l) }()
	return g, nil
}

// RefuseAssumeInto makes every sts:AssumeRole into account fail with
// AccessDenied.
func (g *Gate) RefuseAssumeInto(account string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refused[account] = true
}

// Close stops the gate.
func (g *Gate) Close() {
	if g != nil && g.srv != nil {
		_ = g.srv.Close()
	}
}

var roleAccount = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/`)

func (g *Gate) handler(proxy http.Handler) http.Handler {
	forward := g.conditionalCopy(proxy)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.listPublicKeys(w, r) || g.sendTask(w, r) || g.invoke(w, r) {
			return
		}
		var form url.Values
		if r.Method == http.MethodPost && r.URL.Path == "/" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if f, err := url.ParseQuery(string(body)); err == nil {
				form = f
			}
			if form.Get("Action") == "AssumeRole" {
				role := form.Get("RoleArn")
				if m := roleAccount.FindStringSubmatch(role); m != nil && g.isRefused(m[1]) {
					w.Header().Set("Content-Type", "text/xml")
					w.WriteHeader(http.StatusForbidden)
					fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>`+
						`<Message>User: the hub's collector role is not authorized to perform: sts:AssumeRole on resource: %s</Message></Error>`+
						`<RequestId>custody-local-gate</RequestId></ErrorResponse>`, html.EscapeString(role))
					return
				}
			}
		}
		c := classifyCall(r, form)
		if kind, d, ok := g.faults.decide(c); ok {
			inject(w, r, forward, c, kind, d)
			return
		}
		forward.ServeHTTP(w, r)
	})
}

// conditionalCopy refuses a CopyObject with If-None-Match: * onto a key
// that exists, with S3's 412 PreconditionFailed, as S3 does: the emulator
// ignores the condition on a copy and would add a second version (a copy
// whose answer was lost, retried by the SDK, would be written twice).
func (g *Gate) conditionalCopy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.Header.Get("X-Amz-Copy-Source") == "" || r.Header.Get("If-None-Match") != "*" {
			next.ServeHTTP(w, r)
			return
		}
		head, err := http.NewRequestWithContext(r.Context(), http.MethodHead, strings.TrimSuffix(g.target.String(), "/")+r.URL.EscapedPath(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		head.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(head)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusPreconditionFailed)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>`+
				`<Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition>`+
				`<RequestId>custody-local-gate</RequestId></Error>`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) isRefused(account string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused[account]
}
