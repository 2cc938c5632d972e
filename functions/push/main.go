// Command push is the POST /patients and POST /payments Lambda: a snapshot
// in the request body, applied like an uploaded file.
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
	handler, _, err := apilambda.NewPush(context.Background(), os.Getenv, log, os.Stdout)
	if err != nil {
		log.Error("init", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
