// Command echofn is a test function for the emulator runner: it echoes its
// event and environment, fails on request in each way Lambda knows, and
// allocates memory on request.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
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
		case "alloc": // value MB, every page touched so that it is resident
			n, err := strconv.Atoi(e.Value)
			if err != nil {
				return nil, err
			}
			b := make([]byte, n<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			// Held for a while: the emulator's wrapper samples the peak.
			time.Sleep(300 * time.Millisecond)
			runtime.KeepAlive(b)
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
