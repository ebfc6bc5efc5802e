// Package triggertest plays the platforms' HTTP fronts for tests and local
// runs: it turns a net/http request into the event of each HTTP trigger
// shape of docs/contract.md#triggers (API Gateway REST v1, HTTP API v2, Lambda
// Function URL, SCF Function URL, the legacy SCF API Gateway), and the
// function's answer back into an HTTP response, the way the platform does.
// With it a browser or an http.Client can talk to the core in-process or to
// a built binary.
package triggertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Shape is an HTTP trigger's event format.
type Shape string

// The shapes.
const (
	RESTv1         Shape = "aws-rest-api-v1"
	HTTPv2         Shape = "aws-http-api-v2"
	FunctionURL    Shape = "aws-function-url"
	SCFFunctionURL Shape = "scf-function-url"
	SCFAPIGateway  Shape = "scf-apigateway"
)

// Shapes lists every shape.
var Shapes = []Shape{RESTv1, HTTPv2, FunctionURL, SCFFunctionURL, SCFAPIGateway}

// SCF reports whether s is a Tencent shape (served by the SCF binary).
func (s Shape) SCF() bool { return s == SCFFunctionURL || s == SCFAPIGateway }

// maxBody bounds a request body read (the function refuses over 64 KiB).
const maxBody = 1 << 20

// Event returns the event the platform would deliver for r in shape s.
func Event(s Shape, r *http.Request) ([]byte, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			return nil, fmt.Errorf("triggertest: read the body: %w", err)
		}
		body = b
	}
	headers := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
		multi[k] = vs
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	query := map[string]string{}
	multiQuery := map[string][]string{}
	for k, vs := range r.URL.Query() {
		query[k] = vs[0]
		multiQuery[k] = vs
	}
	var ev any
	switch s {
	case RESTv1:
		ev = map[string]any{"resource": "/{proxy+}", "path": r.URL.Path, "httpMethod": r.Method, "headers": headers,
			"multiValueHeaders": multi, "queryStringParameters": query, "multiValueQueryStringParameters": multiQuery,
			"requestContext": map[string]any{"stage": "Prod", "requestId": "triggertest", "httpMethod": r.Method,
				"path": r.URL.Path, "identity": map[string]any{"sourceIp": "127.0.0.1"}},
			"body": string(body), "isBase64Encoded": false}
	case HTTPv2, FunctionURL:
		rc := map[string]any{"requestId": "triggertest", "domainName": r.Host,
			"http": map[string]any{"method": r.Method, "path": r.URL.Path, "sourceIp": "127.0.0.1"}}
		e := map[string]any{"version": "2.0", "rawPath": r.URL.Path, "rawQueryString": r.URL.RawQuery, "headers": headers,
			"requestContext": rc, "body": base64.StdEncoding.EncodeToString(body), "isBase64Encoded": true}
		if s == HTTPv2 {
			e["routeKey"] = "$default"
			rc["stage"] = "$default"
		}
		ev = e
	case SCFFunctionURL:
		ev = map[string]any{"httpMethod": r.Method, "path": r.URL.Path, "headers": headers, "queryString": query, "body": string(body)}
	case SCFAPIGateway:
		ev = map[string]any{"httpMethod": r.Method, "path": r.URL.Path, "headers": headers, "queryString": query,
			"queryStringParameters": map[string]string{}, "headerParameters": map[string]string{}, "pathParameters": map[string]string{},
			"body": string(body), "requestContext": map[string]any{"serviceId": "service-triggertest", "stage": "release",
				"httpMethod": "ANY", "path": "/", "sourceIp": "127.0.0.1"}}
	default:
		return nil, fmt.Errorf("triggertest: unknown shape %q", s)
	}
	return json.Marshal(ev)
}

// Answer is a function's HTTP answer taken apart.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// DecodeAnswer reads an HTTP answer of any shape (statusCode, headers,
// body, isBase64Encoded).
func DecodeAnswer(out []byte) (Answer, error) {
	var a struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(out, &a); err != nil || a.StatusCode == 0 {
		return Answer{}, fmt.Errorf("triggertest: not an HTTP answer: %.200q", out)
	}
	h := http.Header{}
	for k, v := range a.Headers {
		h.Set(k, v)
	}
	for k, vs := range a.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	body := []byte(a.Body)
	if a.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(a.Body)
		if err != nil {
			return Answer{}, fmt.Errorf("triggertest: body is not base64: %w", err)
		}
		body = b
	}
	return Answer{Status: a.StatusCode, Header: h, Body: body}, nil
}

// Invoker delivers one event to a function and returns its answer.
type Invoker func(ctx context.Context, event []byte) ([]byte, error)

// Handler serves HTTP through a function: each request becomes an event of
// shape s, given to invoke, and its answer the response. An invocation
// error is a 502 with the error's text, as the platforms answer.
func Handler(s Shape, invoke Invoker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := Event(s, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := invoke(r.Context(), ev)
		if err != nil {
			http.Error(w, "the function failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		a, err := DecodeAnswer(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range a.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body) // the client went away: nothing to tell
	})
}

// Mux serves every shape under a prefix of its own: /aws-rest-api-v1/…,
// /aws-http-api-v2/…, and so on; invoke returns the invoker of a shape.
// The function sees the prefix as a stage or base path.
func Mux(invoke func(Shape) Invoker) *http.ServeMux {
	mux := http.NewServeMux()
	for _, s := range Shapes {
		mux.Handle("/"+string(s)+"/", Handler(s, invoke(s)))
	}
	return mux
}
