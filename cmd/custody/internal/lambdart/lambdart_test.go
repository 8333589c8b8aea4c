package lambdart

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func buildHandler(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/handler")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build test handler: %v", err)
	}
	return bin
}

func TestRuntimeInvocations(t *testing.T) {
	bin := buildHandler(t)
	pool, err := NewPool([]Function{{
		Name: "fn", ARN: "arn:aws:lambda:us-east-1:123456789012:function:fn", Binary: bin,
		Env: []string{"CUSTODY_TEST_ENV=from-config"}, Timeout: 30 * time.Second, Stderr: os.Stderr,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()

	tests := []struct {
		name, payload, want, wantErrType string
	}{
		{name: "echo with the function's environment", payload: `{"mode":"echo"}`, want: `{"env":"from-config","mode":"echo"}`},
		{name: "named error keeps its type", payload: `{"mode":"error"}`, wantErrType: "BoomError"},
		{name: "panic is an error", payload: `{"mode":"panic"}`, wantErrType: "string"},
		{name: "a crashed process is restarted", payload: `{"mode":"again"}`, want: `{"env":"from-config","mode":"again"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := pool.Invoke(ctx, "arn:aws:lambda:us-east-1:123456789012:function:fn", []byte(tc.payload))
			if tc.wantErrType != "" {
				var fe *FunctionError
				if !errors.As(err, &fe) {
					t.Fatalf("want FunctionError, got %v (out %s)", err, out)
				}
				if fe.ErrorType != tc.wantErrType {
					t.Fatalf("errorType = %q, want %q (%s)", fe.ErrorType, tc.wantErrType, fe.ErrorMessage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %s, want %s", out, tc.want)
			}
		})
	}
	if _, err := pool.Invoke(ctx, "nope", nil); !errors.Is(err, ErrUnknownFunction) {
		t.Fatalf("unknown function: got %v", err)
	}
}
