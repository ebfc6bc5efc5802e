package invoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
)

// functionURL is an http.RoundTripper that plays a Lambda Function URL in
// front of a Handler: each request becomes the platform's event (payload
// version 2.0), and the handler's answer becomes the HTTP response. It lets
// real HTTP clients, such as wechattest's Pusher, call the core.
type functionURL struct{ h *invoke.Handler }

func (f functionURL) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery, Headers: headers, Body: string(body),
		RequestContext: events.LambdaFunctionURLRequestContext{DomainName: r.URL.Host,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path}},
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	out, err := f.h.Invoke(context.WithoutCancel(r.Context()), raw)
	if err != nil {
		return nil, err
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: resp.StatusCode, Header: h, Body: io.NopCloser(bytes.NewBufferString(resp.Body)), Request: r}, nil
}
