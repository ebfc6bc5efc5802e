// Command fleetlambda is the fleet baseline as an AWS Lambda function:
// aws-lambda-go and baseline.FetchFleet, built like wxcloudenv's bootstrap,
// so that the memory a fleet run costs can be measured against the least
// a function doing the same fan-out needs. It reads the variables a
// wxcloudenv fleet deployment sets (WECHAT_API_BASE_URL,
// WECHAT_COMPONENT_*, WXCLOUDENV_CONCURRENCY) and mints every token anew
// on each run, keeping nothing between runs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxcloudenv/wxcloudenv/test/baseline"
)

type jsonAnswer struct{ r *bytes.Reader }

func (a jsonAnswer) Read(p []byte) (int, error) { return a.r.Read(p) }
func (jsonAnswer) ContentType() string          { return "application/json" }

func main() {
	base := os.Getenv("WECHAT_API_BASE_URL")
	c := baseline.Component{AppID: os.Getenv("WECHAT_COMPONENT_APPID"), AppSecret: os.Getenv("WECHAT_COMPONENT_APPSECRET"), VerifyTicket: os.Getenv("WECHAT_COMPONENT_VERIFY_TICKET")}
	n, err := strconv.Atoi(os.Getenv("WXCLOUDENV_CONCURRENCY"))
	if err != nil || n < 1 {
		n = 8
	}
	hc := baseline.NewFleetClient(n)
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (io.Reader, error) {
		out, err := baseline.FetchFleet(ctx, hc, base, c, n)
		if err != nil {
			return nil, err
		}
		return jsonAnswer{bytes.NewReader(out)}, nil
	})
}
