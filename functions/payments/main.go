// Command payments is the GET /payments query Lambda (API Gateway HTTP API, payload 2.0).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/apilambda"
	"github.com/patientsync/patientsync/internal/logging"
)

func main() {
	log := logging.JSON(os.Stdout, os.Getenv)
	handler, _, err := apilambda.New(context.Background(), "payments", []api.Route{api.GetPayments}, os.Getenv, log)
	if err != nil {
		log.Error("init", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
