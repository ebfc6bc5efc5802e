// Command lambda is the baseline as an AWS Lambda function: aws-lambda-go and
// baseline.Fetch, built like wxcloudenv's bootstrap, so that cold start and
// binary size can be measured against the least a function needs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxcloudenv/wxcloudenv/test/baseline"
)

type jsonAnswer struct{ r *bytes.Reader }

func (a jsonAnswer) Read(p []byte) (int, error) { return a.r.Read(p) }
func (jsonAnswer) ContentType() string          { return "application/json" }

func main() {
	base, access, component := os.Getenv("WECHAT_API_BASE_URL"), os.Getenv("WECHAT_ACCESS_TOKEN"), os.Getenv("WECHAT_COMPONENT_ACCESS_TOKEN")
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (io.Reader, error) {
		out, err := baseline.Fetch(ctx, http.DefaultClient, base, access, component)
		if err != nil {
			return nil, err
		}
		return jsonAnswer{bytes.NewReader(out)}, nil
	})
}
