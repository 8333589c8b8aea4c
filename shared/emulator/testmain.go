package emulator

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Main starts one server for a test binary, runs the tests and stops it. Use
// it from TestMain:
//
//	var emu *emulator.Server
//	func TestMain(m *testing.M) { emulator.Main(m, &emu) }
//
// A missing moto_server fails the binary with the install command; it never
// skips.
func Main(m *testing.M, srv **Server) {
	s, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(2)
	}
	*srv = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// Fresh resets the server and returns an SDK configuration for it; call it at
// the start of each test that uses the emulator.
func (s *Server) Fresh(t testing.TB) aws.Config {
	t.Helper()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
