// Command aws-lambda is wxcloudenv's AWS Lambda function, for the
// provided.al2023 runtime. Build it as "bootstrap" with -tags lambda.norpc.
package main

import (
	"context"
	"encoding/json"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
)

func main() {
	h := invoke.New(invoke.PlatformAWSLambda)
	h.KeepWorkers = invoke.PlatformWorkers
	h.Runtimes.FixedEnv = true // Lambda sets the environment once per execution environment (SCF may change it per invocation: not there)
	invoke.RouteStdLog(h)
	invoke.SetMemoryLimit(os.LookupEnv)
	lambda.Start(func(ctx context.Context, event json.RawMessage) (io.Reader, error) {
		// A fleet's answer is read from its spool as it is posted;
		// aws-lambda-go closes it once posted.
		return h.InvokeStream(ctx, event)
	})
}
