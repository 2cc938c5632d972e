// Command sync is the S3-triggered Lambda that applies uploaded snapshots to PostgreSQL.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientsync/patientsync/internal/logging"
	"github.com/patientsync/patientsync/internal/synclambda"
)

func main() {
	log := logging.JSON(os.Stdout, os.Getenv)
	handler, _, err := synclambda.FromEnv(context.Background(), os.Getenv, log, os.Stdout)
	if err != nil {
		log.Error("init", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler.Handle)
}
