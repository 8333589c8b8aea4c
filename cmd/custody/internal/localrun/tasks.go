package localrun

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// TaskTokens is the local run's shim for .waitForTaskToken tasks, which
// the ASL interpreter (aws-local-stepfunctions) does not have: no
// $$.Task.Token, no SendTaskSuccess. The runner (sfn/run.mjs) makes a token
// for each such task, registers it here before it invokes the function
// with it, and polls here for the answer; the answer comes from
// SendTaskSuccess or SendTaskFailure sent to the gate (Gate.sendTask), so
// `custody approve` against the local run makes the same SDK call it makes
// against AWS. Who may send it is not checked here (the emulator enforces
// no IAM): that only the approver role may is proved on the template.
type TaskTokens struct {
	mu    sync.Mutex
	tasks map[string]*taskAnswer
	// OnWait is told of each task that starts waiting, with its payload
	// (the progress line that says how to answer).
	OnWait func(token string, payload json.RawMessage)
}

// taskAnswer is a waiting task's answer, nil until one is sent.
type taskAnswer struct {
	reply json.RawMessage // the Lambda-style reply run.mjs reads
}

// NewTaskTokens is an empty registry.
func NewTaskTokens() *TaskTokens { return &TaskTokens{tasks: map[string]*taskAnswer{}} }

// TaskDoesNotExistError is SendTask* with a token no task waits on (as
// Step Functions answers: TaskDoesNotExist, or TaskTimedOut once past).
type TaskDoesNotExistError struct{ Token string }

func (e *TaskDoesNotExistError) Error() string {
	return fmt.Sprintf("no task waits on token %.24s…", e.Token)
}

func (t *TaskTokens) start(token string, payload json.RawMessage) {
	t.mu.Lock()
	t.tasks[token] = &taskAnswer{}
	on := t.OnWait
	t.mu.Unlock()
	if on != nil {
		on(token, payload)
	}
}

// Succeed answers a waiting task with output (SendTaskSuccess).
func (t *TaskTokens) Succeed(token string, output json.RawMessage) error {
	b, _ := json.Marshal(map[string]json.RawMessage{"ok": output})
	return t.answer(token, b)
}

// Fail answers a waiting task with an error (SendTaskFailure): the
// task fails with that error name, as Catch sees it.
func (t *TaskTokens) Fail(token, errName, cause string) error {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"errorType": errName, "errorMessage": cause}})
	return t.answer(token, b)
}

func (t *TaskTokens) answer(token string, reply json.RawMessage) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.tasks[token]
	if !ok || a.reply != nil {
		return &TaskDoesNotExistError{Token: token}
	}
	a.reply = reply
	return nil
}

// handler serves run.mjs: POST /task/start?token= (body: the payload),
// GET /task/result?token= (204 while waiting, then the reply, once).
func (t *TaskTokens) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task/start", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		t.start(r.URL.Query().Get("token"), body)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /task/result", func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		t.mu.Lock()
		a, ok := t.tasks[token]
		var reply json.RawMessage
		if ok && a.reply != nil {
			reply = a.reply
			delete(t.tasks, token)
		}
		t.mu.Unlock()
		switch {
		case !ok:
			http.Error(w, "no such task", http.StatusNotFound)
		case reply == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(reply)
		}
	})
	return mux
}
