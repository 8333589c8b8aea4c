package localrun

import (
	"bytes"
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

	"github.com/custody-ir/custody/shared/ctdigest"
)

// Gate stands between the handlers and the emulator. It passes every call
// through, except what the emulator cannot refuse on its own: an
// sts:AssumeRole into an account the scenario says has no member stack is
// answered as STS answers a role that does not exist or does not trust the
// caller (403 AccessDenied, STS's XML), since the emulator assumes any
// role (measured). The handlers see a real STS error through the SDK's own
// deserializer.
type Gate struct {
	// URL is where the handlers send their calls.
	URL string

	srv     *http.Server
	mu      sync.Mutex
	refused map[string]bool // account IDs
	// publicKeys are served as cloudtrail:ListPublicKeys (ServePublicKeys).
	publicKeys []ctdigest.PublicKey
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
	g := &Gate{URL: fmt.Sprintf("http://localhost:%d", l.Addr().(*net.TCPAddr).Port), refused: map[string]bool{}}
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

func (g *Gate) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.listPublicKeys(w, r) {
			return
		}
		if r.Method == http.MethodPost && r.URL.Path == "/" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "AssumeRole" {
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
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) isRefused(account string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused[account]
}
