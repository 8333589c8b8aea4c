// Package emulator starts and drives a local moto_server for tests and the
// local run. One server per test binary: start it in TestMain on a free
// loopback port, Reset between tests.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/faults"
)

// InstallHint is the command that installs the emulator where it is missing.
const InstallHint = "pip install 'moto[server]'"

// Region and AccountID are what moto answers with by default.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// ErrMissing is returned when moto_server is not on PATH.
var ErrMissing = errors.New("moto_server not found on PATH: install it with: " + InstallHint)

// Server is a running moto_server.
type Server struct {
	// Endpoint is http://localhost:PORT. The host is localhost, not
	// 127.0.0.1: moto's CloudFormation reads the bucket from a template URL's
	// path only then.
	Endpoint string
	Port     int
	cmd      *exec.Cmd
	logPath  string
}

// Start runs moto_server on a free loopback port and waits until it answers.
// Its output goes to a log file in the temp dir, named in errors.
func Start() (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrMissing
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	logf.Close()
	s := &Server{Endpoint: fmt.Sprintf("http://localhost:%d", port), Port: port, cmd: cmd, logPath: logf.Name()}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("moto_server did not answer on %s within 60s (log: %s)", s.Endpoint, s.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the server and its children.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	_ = os.Remove(s.logPath)
}

// Reset clears every service's state.
func (s *Server) Reset() error {
	resp, err := http.Post(s.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s", resp.Status)
	}
	return nil
}

// Env returns the environment variables that point the AWS SDKs and CLIs
// (Go, Node, Python) at this server with dummy credentials.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_SESSION_TOKEN=testing",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Config returns an SDK configuration for this server: static credentials,
// the default region, BaseEndpoint set, the project's retryer, and the
// emulator's answers for operations it lacks marked as such
// (faults.MarkEmulatorAnswers), as a handler of the local run has them.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.Load(ctx,
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "testing")),
		config.WithBaseEndpoint(s.Endpoint),
		config.WithAPIOptions([]func(*middleware.Stack) error{faults.MarkEmulatorAnswers}),
	)
	if err != nil {
		return aws.Config{}, err
	}
	return cfg, nil
}

// LogPath is the server's log file.
func (s *Server) LogPath() string { return filepath.Clean(s.logPath) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
