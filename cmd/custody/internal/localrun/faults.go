package localrun

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultFaultSeed is the seed of the fault drill when none is given: the
// same rate and seed inject the same faults.
const DefaultFaultSeed = 1

// FaultKind is one way the fault drill answers a call instead of the
// emulator.
type FaultKind int

// The faults the drill injects, each in the shape the call's protocol
// really answers it.
const (
	// FaultThrottle: S3 503 SlowDown (XML), awsJson 400 ThrottlingException,
	// restJson 429 ThrottlingException (x-amzn-ErrorType), query 400
	// Throttling (ErrorResponse XML), EC2 503 RequestLimitExceeded.
	FaultThrottle FaultKind = iota
	// FaultServerError: a 500 in the service's own error format (S3
	// InternalError, InternalFailure, InternalServerException), never a
	// bare HTML 500, which the local run reads as "the emulator lacks it".
	FaultServerError
	// FaultFrontEnd: an HTML 502 or 503 from a front end, whatever the
	// protocol.
	FaultFrontEnd
	// FaultReset: the connection reset before the call reaches the
	// emulator.
	FaultReset
	// FaultLostResponse: the call is forwarded and applied, then the
	// connection is dropped before the answer.
	FaultLostResponse
	// FaultSlow: the answer comes, late (0.2–1.5 s).
	FaultSlow
	faultKinds
)

var allFaultKinds = []FaultKind{FaultThrottle, FaultServerError, FaultFrontEnd, FaultReset, FaultLostResponse, FaultSlow}

var faultNames = [...]string{FaultThrottle: "throttle", FaultServerError: "server-error", FaultFrontEnd: "front-end-html",
	FaultReset: "reset", FaultLostResponse: "lost-response", FaultSlow: "slow"}

// String is the kind as the drill's summary names it.
func (k FaultKind) String() string {
	if k < 0 || k >= faultKinds {
		return fmt.Sprintf("FaultKind(%d)", int(k))
	}
	return faultNames[k]
}

// FaultDrill is the gate's fault injection: Rate of the handlers' calls
// (0 to 1) are answered with a fault instead of (or, for a lost response
// or a slow one, besides) the emulator's answer. Which call gets which
// fault is decided by Seed: the n-th call of each operation (service and
// operation name) gets the same decision in every run with that seed, so a
// drill is reproducible; when collectors call the same operation at once,
// which of their calls is the n-th may differ.
type FaultDrill struct {
	Rate float64
	Seed int64
	// Kinds are the faults drawn from; empty: every kind.
	Kinds []FaultKind
	// Operations, when set, are the only calls faulted, named as the
	// drill's log names them ("s3 CopyObject", "iam GetUser").
	Operations []string
	// Max, when above 0, is how many faults are injected at most.
	Max int
}

// FaultStats counts what the gate answered while a drill was on.
type FaultStats struct {
	Calls    int
	Injected map[FaultKind]int
}

// Total is the number of faults injected.
func (s FaultStats) Total() int {
	n := 0
	for _, v := range s.Injected {
		n += v
	}
	return n
}

// String is "N of M calls: kind=n …".
func (s FaultStats) String() string {
	var kinds []string
	for k := FaultKind(0); k < faultKinds; k++ {
		if n := s.Injected[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		}
	}
	return fmt.Sprintf("%d of %d calls: %s", s.Total(), s.Calls, strings.Join(kinds, " "))
}

// faultState is the drill's state inside the gate.
type faultState struct {
	mu    sync.Mutex
	drill FaultDrill
	seen  map[string]int // calls so far per operation
	stats FaultStats
	log   io.Writer
}

// InjectFaults turns the drill on (a Rate above 0) or off for the calls
// that follow; each injected fault is logged to log (nil: not logged).
// The counts start again from zero.
func (g *Gate) InjectFaults(d FaultDrill, log io.Writer) {
	g.faults.mu.Lock()
	defer g.faults.mu.Unlock()
	g.faults.drill = d
	g.faults.seen = map[string]int{}
	g.faults.stats = FaultStats{Injected: map[FaultKind]int{}}
	g.faults.log = log
}

// FaultStats is what the drill injected since InjectFaults.
func (g *Gate) FaultStats() FaultStats {
	g.faults.mu.Lock()
	defer g.faults.mu.Unlock()
	s := FaultStats{Calls: g.faults.stats.Calls, Injected: map[FaultKind]int{}}
	for k, v := range g.faults.stats.Injected {
		s.Injected[k] = v
	}
	return s
}

// decide returns whether call c gets a fault, which, and the draw that
// parameterises it (a delay, 502 or 503).
func (f *faultState) decide(c call) (FaultKind, uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drill.Rate <= 0 {
		return 0, 0, false
	}
	op := c.service + " " + c.operation
	n := f.seen[op]
	f.seen[op] = n + 1
	f.stats.Calls++
	if len(f.drill.Operations) > 0 && !slices.Contains(f.drill.Operations, op) {
		return 0, 0, false
	}
	if f.drill.Max > 0 && f.stats.Total() >= f.drill.Max {
		return 0, 0, false
	}
	kind, draw, ok := draw(f.drill, op, n)
	if !ok {
		return 0, 0, false
	}
	f.stats.Injected[kind]++
	if f.log != nil {
		fmt.Fprintf(f.log, "fault drill: %s to %s %s (call %d of the operation)\n", kind, c.service, c.operation, n+1)
	}
	return kind, draw, true
}

// draw is the seeded decision for the n-th call of op: a hash of the
// seed, the operation and n, so it does not depend on what else ran.
func draw(d FaultDrill, op string, n int) (FaultKind, uint64, bool) {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.BigEndian, d.Seed)
	buf.WriteString(op)
	_ = binary.Write(&buf, binary.BigEndian, int64(n))
	sum := sha256.Sum256(buf.Bytes())
	u := float64(binary.BigEndian.Uint64(sum[0:8])>>11) / (1 << 53)
	if u >= d.Rate {
		return 0, 0, false
	}
	kinds := d.Kinds
	if len(kinds) == 0 {
		kinds = allFaultKinds
	}
	return kinds[binary.BigEndian.Uint64(sum[8:16])%uint64(len(kinds))], binary.BigEndian.Uint64(sum[16:24]), true
}

// Protocols of the calls, as their error answers differ.
const (
	protoRestXML  = "restXml" // S3
	protoAWSJSON  = "awsJson" // X-Amz-Target: CloudTrail, Logs, DynamoDB, Streams
	protoRestJSON = "restJson"
	protoQuery    = "query" // IAM, STS, SNS
	protoEC2      = "ec2"
)

// call is what the drill knows of a request.
type call struct {
	service, operation, protocol string
	head                         bool
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/[^/]+/([^/]+)/aws4_request`)

// classifyCall names the service, operation and protocol of r; form is its
// parsed form body (query protocols), or nil.
func classifyCall(r *http.Request, form url.Values) call {
	c := call{head: r.Method == http.MethodHead}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.service = m[1]
	}
	switch {
	case c.service == "s3":
		c.protocol = protoRestXML
		// The SDK names most S3 operations in x-id; the others by their
		// subresource (?versioning, ?list-type, …).
		query := r.URL.Query()
		var q []string
		for k := range query {
			if k != "x-id" {
				q = append(q, k)
			}
		}
		sort.Strings(q)
		c.operation = r.Method
		if id := query.Get("x-id"); id != "" {
			c.operation = id
		}
		if len(q) > 0 {
			c.operation += " ?" + strings.Join(q, "&")
		}
	case r.Header.Get("X-Amz-Target") != "":
		c.protocol, c.operation = protoAWSJSON, r.Header.Get("X-Amz-Target")
	case form != nil && form.Get("Action") != "":
		c.protocol, c.operation = protoQuery, form.Get("Action")
		if c.service == "ec2" {
			c.protocol = protoEC2
		}
	default:
		c.protocol = protoRestJSON
		seg := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		c.operation = r.Method + " /" + seg
	}
	return c
}

// inject answers r with fault kind, forwarding it to next first for a
// lost answer and after a delay for a slow one.
func inject(w http.ResponseWriter, r *http.Request, next http.Handler, c call, kind FaultKind, d uint64) {
	switch kind {
	case FaultThrottle:
		answerThrottle(w, c)
	case FaultServerError:
		answerServerError(w, c)
	case FaultFrontEnd:
		status := http.StatusBadGateway
		if d%2 == 1 {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n",
			status, http.StatusText(status), status, http.StatusText(status))
	case FaultReset:
		drop(w, true)
	case FaultLostResponse:
		// The call is applied: the emulator's answer is read, then lost.
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		drop(w, false)
	case FaultSlow:
		delay := 200*time.Millisecond + time.Duration(d%1300)*time.Millisecond
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	}
}

// drop closes the client's connection without an answer: reset sends a
// TCP RST (SO_LINGER 0); otherwise a plain close (EOF where the answer
// should be).
func drop(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

const faultRequestID = "custody-fault-drill"

func answerThrottle(w http.ResponseWriter, c call) {
	switch c.protocol {
	case protoRestXML:
		xmlError(w, c, http.StatusServiceUnavailable, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>`+faultRequestID+`</RequestId></Error>`)
	case protoAWSJSON:
		jsonError(w, http.StatusBadRequest, "application/x-amz-json-1.1", "", `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	case protoRestJSON:
		// restJson services carry the code in a header; their models give
		// ThrottlingException HTTP 429.
		jsonError(w, http.StatusTooManyRequests, "application/json", "ThrottlingException", `{"message":"Rate exceeded"}`)
	case protoEC2:
		xmlError(w, c, http.StatusServiceUnavailable, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>`+faultRequestID+`</RequestID></Response>`)
	default:
		xmlError(w, c, http.StatusBadRequest, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>`+
			`<RequestId>`+faultRequestID+`</RequestId></ErrorResponse>`)
	}
}

func answerServerError(w http.ResponseWriter, c call) {
	switch c.protocol {
	case protoRestXML:
		xmlError(w, c, http.StatusInternalServerError, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>`+faultRequestID+`</RequestId></Error>`)
	case protoAWSJSON:
		jsonError(w, http.StatusInternalServerError, "application/x-amz-json-1.1", "", `{"__type":"InternalFailure","message":"The request processing has failed because of an unknown error, exception or failure."}`)
	case protoRestJSON:
		jsonError(w, http.StatusInternalServerError, "application/json", "InternalServerException", `{"message":"Internal server error"}`)
	case protoEC2:
		xmlError(w, c, http.StatusInternalServerError, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>`+faultRequestID+`</RequestID></Response>`)
	default:
		xmlError(w, c, http.StatusInternalServerError, `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>Internal failure</Message></Error>`+
			`<RequestId>`+faultRequestID+`</RequestId></ErrorResponse>`)
	}
}

// xmlError writes an XML error answer. A HEAD answer has no body, so the
// SDK reads only its status: it is given 503, which no deserializer could
// take for "the emulator lacks this" (a bodiless 500 could be).
func xmlError(w http.ResponseWriter, c call, status int, body string) {
	if c.head {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", faultRequestID)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func jsonError(w http.ResponseWriter, status int, contentType, errorType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", faultRequestID)
	if errorType != "" {
		w.Header().Set("X-Amzn-Errortype", errorType)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}
