// Command uploads is the POST /uploads Lambda: presigned S3 PUT URLs for
// snapshots too big to push.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientsync/patientsync/internal/apilambda"
	"github.com/patientsync/patientsync/internal/logging"
)

func main() {
	log := logging.JSON(os.Stdout, os.Getenv)
	handler, err := apilambda.NewUploads(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("init", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
