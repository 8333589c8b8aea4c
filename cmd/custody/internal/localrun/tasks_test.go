package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
)

// gateConfig is the emulator's credentials with the gate's endpoint, as
// the operator's commands are run against a local run. (An emulator
// Config with BaseEndpoint changed would still reach the emulator: the
// SDK takes the endpoint of the options it was loaded with first.)
func gateConfig(ctx context.Context, url string) (aws.Config, error) {
	return awsconfig.Load(ctx, config.WithRegion(emulator.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "testing")),
		config.WithBaseEndpoint(url))
}

// TestGateAnswersWaitingTasks: SendTaskSuccess and SendTaskFailure, sent
// through the SDK to the gate, answer the local run's waiting task as
// run.mjs polls for it; a token no task waits on is TaskDoesNotExist.
func TestGateAnswersWaitingTasks(t *testing.T) {
	ctx := context.Background()
	g, err := StartGate(emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tasks := NewTaskTokens()
	g.AnswerTasks(tasks)
	runner := httptest.NewServer(tasks.handler())
	defer runner.Close()
	cfg, err := gateConfig(ctx, g.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := sfn.NewFromConfig(cfg)
	poll := func(token string) (int, map[string]json.RawMessage) {
		t.Helper()
		resp, err := http.Get(runner.URL + "/task/result?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var reply map[string]json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&reply)
		return resp.StatusCode, reply
	}
	for _, tc := range []struct {
		name string
		send func(token string) error
		want string // the reply's key
	}{
		{"success", func(token string) error {
			_, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"decision":"approved"}`)})
			return err
		}, "ok"},
		{"failure", func(token string) error {
			_, err := client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("ContainmentRejected"), Cause: aws.String("no")})
			return err
		}, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := "local-" + tc.name
			resp, err := http.Post(runner.URL+"/task/start?token="+token, "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if code, _ := poll(token); code != http.StatusNoContent {
				t.Fatalf("before an answer: %d, want 204", code)
			}
			if err := tc.send(token); err != nil {
				t.Fatal(err)
			}
			code, reply := poll(token)
			if code != http.StatusOK || reply[tc.want] == nil {
				t.Fatalf("after the answer: %d %v", code, reply)
			}
			var gone *sfntypes.TaskDoesNotExist
			if err := tc.send(token); !errors.As(err, &gone) {
				t.Errorf("a second answer: %v, want TaskDoesNotExist", err)
			}
		})
	}
}
