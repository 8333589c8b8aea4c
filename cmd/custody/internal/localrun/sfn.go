package localrun

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/custody-ir/custody/cmd/custody/internal/lambdart"
)

// Event is one line of the ASL interpreter's event log.
type Event struct {
	Type   string          `json:"type"`
	State  *StateData      `json:"state,omitempty"`
	Index  *int            `json:"index,omitempty"`
	Error  string          `json:"Error,omitempty"`
	Cause  json.RawMessage `json:"Cause,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	// Result line fields.
	Status  string `json:"status,omitempty"`
	ErrName string `json:"error,omitempty"`
	Message string `json:"cause,omitempty"`
}

// StateData names the state an event is about.
type StateData struct {
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
}

// Execution is the end of a run of the state machine.
type Execution struct {
	Succeeded bool
	Output    json.RawMessage
	Error     string
	Cause     string
}

// RunStateMachine executes definition with input in aws-local-stepfunctions
// (cmd/custody/sfn/run.mjs under root), every Task state running its
// function in pool. Each event is passed to onEvent as it happens. A
// .waitForTaskToken task waits for its answer in tasks (nil: such a task
// fails the run).
func RunStateMachine(ctx context.Context, root string, definition, input []byte, executionArn string, pool *lambdart.Pool, tasks *TaskTokens, onEvent func(Event), stderr io.Writer) (*Execution, error) {
	script := filepath.Join(root, "cmd", "custody", "sfn", "run.mjs")
	if _, err := os.Stat(filepath.Join(root, "node_modules", "aws-local-stepfunctions")); err != nil {
		return nil, fmt.Errorf("aws-local-stepfunctions is not installed under %s: run: npm ci", root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node not found on PATH: install Node.js 20 or later (apt-get install nodejs)")
	}
	dir, err := os.MkdirTemp("", "custody-sfn-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	defPath, inPath := filepath.Join(dir, "definition.json"), filepath.Join(dir, "input.json")
	if err := os.WriteFile(defPath, definition, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(inPath, input, 0o600); err != nil {
		return nil, err
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /invoke", pool)
	if tasks != nil {
		mux.Handle("/task/", tasks.handler())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	cmd := exec.CommandContext(ctx, node, script, defPath, inPath, "http://"+l.Addr().String()+"/invoke", executionArn)
	cmd.Dir = root
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the ASL runner: %w", err)
	}
	var exec_ *Execution
	// The interpreter's final error is generic (a Fail state ends as an
	// ExecutionError); the ExecutionFailed event carries the Fail state's
	// own Error and Cause, as Step Functions reports them.
	var failedErr, failedCause string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintf(stderr, "asl runner: %s\n", sc.Bytes())
			continue
		}
		if ev.Type == "Result" {
			exec_ = &Execution{Succeeded: ev.Status == "SUCCEEDED", Output: ev.Output, Error: ev.ErrName, Cause: ev.Message}
			continue
		}
		if ev.Type == "ExecutionFailed" {
			failedErr, failedCause = ev.Error, causeText(ev.Cause)
		}
		onEvent(ev)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "asl runner: reading its events: %v\n", err)
	}
	werr := cmd.Wait()
	if exec_ == nil {
		return nil, fmt.Errorf("the ASL runner ended without a result (exit: %v; its last line, if cut, is in the tool log as \"asl runner: …\")", werr)
	}
	if !exec_.Succeeded && failedErr != "" {
		exec_.Error, exec_.Cause = failedErr, failedCause
	}
	return exec_, nil
}

// causeText is a Cause as text: a JSON string unquoted, anything else as is.
func causeText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
