// Package lambdart runs a Lambda function's bootstrap binary on this machine
// behind a local implementation of the Lambda Runtime API, so the local run
// executes the same Go handler, through the same aws-lambda-go runtime loop,
// with the same environment as the deployed function.
package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FunctionError is what a handler reported through the Runtime API's error
// endpoint: errorType is the Go type name of the returned error.
type FunctionError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.ErrorType + ": " + e.ErrorMessage }

// Function describes one function to run.
type Function struct {
	Name    string        // the deployed function name
	ARN     string        // its ARN, reported to the handler
	Binary  string        // path to the bootstrap built for this host
	Env     []string      // the function's environment (deployed config plus emulator settings)
	Timeout time.Duration // the function's configured timeout
	Stderr  io.Writer     // where the handler's logs go
}

type invocation struct {
	id      string
	payload []byte
	done    chan result
}

type result struct {
	body  []byte
	fnErr *FunctionError
}

// Runtime serves the Runtime API for one function and keeps one instance of
// its binary running, restarting it after a crash (as Lambda starts a new
// execution environment).
type Runtime struct {
	fn       Function
	listener net.Listener
	server   *http.Server
	queue    chan *invocation

	mu       sync.Mutex
	inflight map[string]*invocation
	cmd      *exec.Cmd
	exited   chan struct{}
	seq      int
}

// Start listens on a loopback port; the binary is started on first Invoke.
func Start(fn Function) (*Runtime, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Runtime{fn: fn, listener: l, queue: make(chan *invocation), inflight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.respond)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.fail)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", r.initError)
	r.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

// Invoke runs one invocation and returns the handler's response, or a
// *FunctionError when the handler returned an error or the process crashed.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r.mu.Lock()
	r.seq++
	inv := &invocation{id: fmt.Sprintf("%s-%06d", r.fn.Name, r.seq), payload: payload, done: make(chan result, 1)}
	r.mu.Unlock()

	timeout := r.fn.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	exited, err := r.hand(ctx, inv)
	if err != nil {
		return nil, err
	}
	select {
	case res := <-inv.done:
		if res.fnErr != nil {
			return nil, res.fnErr
		}
		return res.body, nil
	case <-exited:
		// A response posted just before the exit still counts.
		select {
		case res := <-inv.done:
			if res.fnErr != nil {
				return nil, res.fnErr
			}
			return res.body, nil
		default:
		}
		return nil, &FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: "the function's process exited during the invocation"}
	case <-ctx.Done():
		r.kill()
		return nil, &FunctionError{ErrorType: "States.Timeout", ErrorMessage: fmt.Sprintf("the function ran past its timeout of %s", timeout)}
	}
}

// Close stops the binary and the server.
func (r *Runtime) Close() error {
	r.kill()
	return r.server.Close()
}

// hand gives inv to a running process. A process that exits before taking
// it (one that is still going down after a panic) is replaced, as Lambda
// starts a new execution environment, and the hand-over tried again.
func (r *Runtime) hand(ctx context.Context, inv *invocation) (exited chan struct{}, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		if exited, err = r.ensureProcess(); err != nil {
			return nil, err
		}
		select {
		case r.queue <- inv:
			return exited, nil
		case <-exited:
		case <-ctx.Done():
			return nil, &FunctionError{ErrorType: "States.Timeout", ErrorMessage: "the function did not take the invocation in time"}
		}
	}
	return nil, &FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: "the function's process exits before taking an invocation"}
}

func (r *Runtime) ensureProcess() (chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		select {
		case <-r.exited:
		default:
			return r.exited, nil
		}
	}
	cmd := exec.Command(r.fn.Binary)
	cmd.Env = append(append([]string{}, r.fn.Env...),
		"AWS_LAMBDA_RUNTIME_API="+r.listener.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME="+r.fn.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT="+dirOf(r.fn.Binary),
		"PATH="+os.Getenv("PATH"),
		"TMPDIR="+os.TempDir(),
	)
	cmd.Stdout = r.fn.Stderr
	cmd.Stderr = r.fn.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", r.fn.Binary, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited
	return exited, nil
}

func (r *Runtime) kill() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	var inv *invocation
	select {
	case inv = <-r.queue:
	case <-req.Context().Done():
		return
	}
	r.mu.Lock()
	r.inflight[inv.id] = inv
	r.mu.Unlock()
	timeout := r.fn.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	deadline := time.Now().Add(timeout).UnixMilli()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline, 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", r.fn.ARN)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(inv.payload)
}

func (r *Runtime) take(id string) *invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	inv := r.inflight[id]
	delete(r.inflight, id)
	return inv
}

func (r *Runtime) respond(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	inv := r.take(req.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown invocation", http.StatusBadRequest)
		return
	}
	if err != nil {
		inv.done <- result{fnErr: &FunctionError{ErrorType: "Runtime.ResponseError", ErrorMessage: err.Error()}}
	} else {
		inv.done <- result{body: body}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (r *Runtime) fail(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	inv := r.take(req.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown invocation", http.StatusBadRequest)
		return
	}
	inv.done <- result{fnErr: decodeError(body)}
	w.WriteHeader(http.StatusAccepted)
}

func (r *Runtime) initError(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	fe := decodeError(body)
	fmt.Fprintf(r.fn.Stderr, "%s: init error: %s\n", r.fn.Name, fe.Error())
	w.WriteHeader(http.StatusAccepted)
}

func decodeError(body []byte) *FunctionError {
	fe := &FunctionError{}
	if err := json.Unmarshal(body, fe); err != nil || fe.ErrorType == "" {
		return &FunctionError{ErrorType: "Runtime.Unknown", ErrorMessage: strings.TrimSpace(string(body))}
	}
	return fe
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "."
}

// ErrUnknownFunction is returned by a Pool for a name or ARN it does not run.
var ErrUnknownFunction = errors.New("unknown function")

// Pool routes invocations by function name or ARN.
type Pool struct {
	byKey map[string]*Runtime
	all   []*Runtime
}

// NewPool starts a runtime for each function.
func NewPool(fns []Function) (*Pool, error) {
	p := &Pool{byKey: map[string]*Runtime{}}
	for _, fn := range fns {
		r, err := Start(fn)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.all = append(p.all, r)
		p.byKey[fn.Name] = r
		if fn.ARN != "" {
			p.byKey[fn.ARN] = r
		}
	}
	return p, nil
}

// Invoke runs the function named by name or ARN.
func (p *Pool) Invoke(ctx context.Context, nameOrARN string, payload []byte) ([]byte, error) {
	r, ok := p.byKey[nameOrARN]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, nameOrARN)
	}
	return r.Invoke(ctx, payload)
}

// Has reports whether nameOrARN is a function of the pool.
func (p *Pool) Has(nameOrARN string) bool {
	_, ok := p.byKey[nameOrARN]
	return ok
}

// ServeHTTP lets the ASL runner invoke a function: POST /invoke?fn=<name or
// ARN> with the payload as body. It answers 200 with {"ok": <response>} or
// {"error": {"errorType", "errorMessage"}}.
func (p *Pool) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	payload, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := p.Invoke(req.Context(), req.URL.Query().Get("fn"), payload)
	var reply bytes.Buffer
	var fe *FunctionError
	switch {
	case err == nil:
		if len(bytes.TrimSpace(out)) == 0 {
			out = []byte("null")
		}
		reply.WriteString(`{"ok":`)
		reply.Write(out)
		reply.WriteString("}")
	case errors.As(err, &fe):
		b, _ := json.Marshal(map[string]any{"error": fe})
		reply.Write(b)
	default:
		b, _ := json.Marshal(map[string]any{"error": &FunctionError{ErrorType: "Runtime.InvokeError", ErrorMessage: err.Error()}})
		reply.Write(b)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(reply.Bytes())
}

// Close stops every runtime.
func (p *Pool) Close() {
	for _, r := range p.all {
		_ = r.Close()
	}
}
