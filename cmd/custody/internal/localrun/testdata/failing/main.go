// Command failing is a collector that panics, to show that one broken
// collector makes a run partial, not lost.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		panic("collector exploded")
	})
}
