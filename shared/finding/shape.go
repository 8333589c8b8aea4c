package finding

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// MaxDepth is how deeply an input may nest objects and lists. A real
// GuardDuty finding nests about ten levels (an attack sequence's signals
// a few more); far deeper input is hostile, and it would crash a recursive
// reader (the local ASL interpreter, a JSON printer) before any field is
// looked at.
const MaxDepth = 64

// CheckJSON makes the checks every input passes before its form is looked
// at: not empty, one JSON value, nested at most MaxDepth levels. Parse
// makes them first. The local run makes them before it hands an input to
// the ASL interpreter, which can no more run a body that is not JSON than
// Step Functions' StartExecution can (InvalidExecutionInput). A refusal is
// a *faults.InvalidInputError: Field is "" for the body as a whole (empty,
// not JSON, with the byte offset of the syntax error), or the JSON path of
// the value nested too deep, as far as MaxDepth allows a path to be named.
func CheckJSON(raw []byte) error {
	body := bytes.TrimSpace(raw)
	if b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")); len(b) != len(body) {
		body = bytes.TrimSpace(b)
	}
	if len(body) == 0 {
		return invalid("", "empty body")
	}
	if err := checkDepth(body); err != nil {
		return err
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return invalid("", "not JSON: %v (at byte %d of %d)", err, se.Offset, len(body))
		}
		return invalid("", "not JSON: %v", err)
	}
	return nil
}

// frame is one open object or list while checkDepth walks an input.
type frame struct {
	object bool
	key    string // the member being read (object)
	index  int    // the element being read (list)
	// wantKey: the next string token in this object is a member name.
	wantKey bool
}

// checkDepth refuses body when it nests deeper than MaxDepth, naming the
// path to the value that does. It reads tokens without building values, so
// its cost is bounded by MaxDepth, not by the input's depth; a syntax error
// ends it without a refusal (CheckJSON reports it).
func checkDepth(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []frame
	// advance moves the enclosing frame past a value just read.
	advance := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF, or a syntax error CheckJSON reports
			return nil
		}
		if len(stack) > 0 {
			if top := &stack[len(stack)-1]; top.object && top.wantKey {
				if s, ok := tok.(string); ok {
					top.key, top.wantKey = s, false
					continue
				}
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= MaxDepth {
				return invalid(depthPath(stack), "nested deeper than %d levels", MaxDepth)
			}
			stack = append(stack, frame{object: tok == json.Delim('{'), wantKey: tok == json.Delim('{')})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			advance()
		default:
			advance()
		}
	}
}

// depthPathSegments is how much of a too-deep path a refusal names: enough
// to find the value, not 64 segments of it.
const depthPathSegments = 8

// depthPath spells the path of the open frames ("detail.service.a[0]"),
// cut after depthPathSegments with "…".
func depthPath(stack []frame) string {
	var b strings.Builder
	for i, f := range stack {
		if i == depthPathSegments {
			b.WriteString("…")
			break
		}
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	return b.String()
}
