// Command aws-lambda is wxcloudenv's AWS Lambda function, for the
// provided.al2023 runtime. Build it as "bootstrap" with -tags lambda.norpc.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
)

// jsonAnswer hands the core's bytes to the runtime as they are, marked as
// JSON. It has no exported fields, so aws-lambda-go streams the reader
// instead of encoding the value.
type jsonAnswer struct{ r *bytes.Reader }

func (a jsonAnswer) Read(p []byte) (int, error) { return a.r.Read(p) }
func (jsonAnswer) ContentType() string          { return "application/json" }

func main() {
	h := invoke.New(invoke.PlatformAWSLambda)
	h.KeepWorkers = invoke.PlatformWorkers
	invoke.RouteStdLog(h)
	invoke.SetMemoryLimit(os.LookupEnv)
	lambda.Start(func(ctx context.Context, event json.RawMessage) (io.Reader, error) {
		out, err := h.Invoke(ctx, event)
		if err != nil {
			return nil, err
		}
		return jsonAnswer{bytes.NewReader(out)}, nil
	})
}
