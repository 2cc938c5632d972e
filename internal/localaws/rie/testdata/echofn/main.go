// Command echofn is a test function for the emulator runner: it echoes its
// event and environment, and fails on request in each way Lambda knows.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Mode  string `json:"mode"`
	Value string `json:"value"`
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (map[string]any, error) {
		fmt.Println("echofn got", e.Mode, e.Value)
		switch e.Mode {
		case "error":
			return nil, errors.New("boom")
		case "panic":
			panic("kaboom")
		case "exit":
			os.Exit(3)
		case "sleep":
			time.Sleep(time.Minute)
		case "slow":
			time.Sleep(200 * time.Millisecond)
		}
		dl, _ := ctx.Deadline()
		return map[string]any{
			"value":      e.Value,
			"pid":        os.Getpid(),
			"name":       os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
			"custom":     os.Getenv("ECHO_CUSTOM"),
			"profile":    os.Getenv("AWS_PROFILE"),
			"deadlineMs": time.Until(dl).Milliseconds(),
		}, nil
	})
}
