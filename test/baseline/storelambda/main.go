// Command storelambda is the store baseline as an AWS Lambda function:
// aws-lambda-go, go-redis and baseline.FetchFromRedis, built like
// wxcloudenv's bootstrap. It reads the same variables as wxcloudenv:
// WXCLOUDENV_STORE (a redis:// URL), WECHAT_COMPONENT_APPID,
// WECHAT_AUTHORIZER_APPID and WECHAT_API_BASE_URL.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/redis/go-redis/v9"

	"github.com/wxcloudenv/wxcloudenv/test/baseline"
)

type jsonAnswer struct{ r *bytes.Reader }

func (a jsonAnswer) Read(p []byte) (int, error) { return a.r.Read(p) }
func (jsonAnswer) ContentType() string          { return "application/json" }

func main() {
	opt, err := redis.ParseURL(os.Getenv("WXCLOUDENV_STORE"))
	if err != nil {
		panic(err)
	}
	opt.DisableIdentity = true
	rc := redis.NewClient(opt)
	base := os.Getenv("WECHAT_API_BASE_URL")
	ck, ak := baseline.StoreKeys(os.Getenv("WECHAT_COMPONENT_APPID"), os.Getenv("WECHAT_AUTHORIZER_APPID"))
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (io.Reader, error) {
		out, err := baseline.FetchFromRedis(ctx, rc, http.DefaultClient, base, ck, ak)
		if err != nil {
			return nil, err
		}
		return jsonAnswer{bytes.NewReader(out)}, nil
	})
}
