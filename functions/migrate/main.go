// Command migrate is the provider of template.yaml's Custom::PatientsyncSchema
// resource: CloudFormation's Create and Update apply the embedded migrations,
// so that `sam deploy` leaves the schema current (internal/migratelambda).
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientsync/patientsync/internal/logging"
	"github.com/patientsync/patientsync/internal/migratelambda"
)

func main() {
	log := logging.JSON(os.Stdout, os.Getenv)
	// cfn.LambdaWrap reports through the standard log package: as JSON too.
	slog.SetDefault(log)
	// No work at init: whatever fails must fail a request, which answers
	// CloudFormation, instead of the process, which would leave it waiting.
	lambda.Start(cfn.LambdaWrap(migratelambda.New(os.Getenv, log).Handle))
}
