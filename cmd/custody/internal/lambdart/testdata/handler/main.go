// Command handler is a test Lambda: it echoes, returns a named error or
// panics, as its input asks.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// BoomError is a named error type, as custody's handlers return.
type BoomError struct{ Msg string }

func (e *BoomError) Error() string { return e.Msg }

type input struct {
	Mode string `json:"mode"`
}

func main() {
	lambda.Start(func(ctx context.Context, in input) (map[string]string, error) {
		switch in.Mode {
		case "error":
			return nil, &BoomError{Msg: "boom"}
		case "panic":
			panic("kaboom")
		}
		return map[string]string{"mode": in.Mode, "env": os.Getenv("CUSTODY_TEST_ENV")}, nil
	})
}
