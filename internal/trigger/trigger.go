// Package trigger recognises what invoked the function from the raw event
// JSON: an EventBridge or SCF schedule, an HTTP request from API Gateway (REST
// v1, HTTP API v2), a Lambda or SCF Function URL, the legacy SCF API Gateway,
// or a direct payload. It decodes with the event types that aws-lambda-go and
// scf-go-lib define, and returns one neutral Request.
package trigger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	awsevents "github.com/aws/aws-lambda-go/events"
	scfevents "github.com/tencentyun/scf-go-lib/events"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Kind is the trigger kind reported in the output event.
type Kind string

// The three trigger kinds.
const (
	Schedule Kind = "schedule"
	HTTP     Kind = "http"
	Direct   Kind = "direct"
)

// Source names the exact event format.
type Source string

// Recognised formats.
const (
	SourceEventBridge    Source = "eventbridge"      // EventBridge rule schedule
	SourceScheduler      Source = "scheduler"        // EventBridge Scheduler default notification
	SourceAPIGatewayV1   Source = "apigateway-v1"    // API Gateway REST proxy (and HTTP API payload 1.0)
	SourceAPIGatewayV2   Source = "apigateway-v2"    // HTTP API payload 2.0 and Lambda Function URL
	SourceSCFTimer       Source = "scf-timer"        // SCF timer trigger
	SourceSCFFunctionURL Source = "scf-function-url" // SCF Function URL
	SourceSCFAPIGateway  Source = "scf-apigateway"   // legacy SCF API Gateway integration
	SourceDirect         Source = "direct"           // a direct payload, a rule or Scheduler Input
)

// Payload is a request to run operations: the direct payload (docs/contract.md#the-direct-payload).
// Empty fields mean "use the configured default".
type Payload struct {
	Operations []string `json:"operations,omitempty"`
	Env        string   `json:"env,omitempty"`
	// All is set by "authorizers": "all": every authorizer of the
	// platform. Authorizers lists the appids of "authorizers": [...].
	All         bool     `json:"-"`
	Authorizers []string `json:"-"`
	// Shard is "shard": "K/N"; its N is 0 when the payload has none.
	Shard Shard `json:"-"`
}

// Shard is one of N parts of a fleet: part K, 0 ≤ K < N ≤ MaxShards.
type Shard struct{ K, N int }

// Limits of the fleet fields.
const (
	// MaxAuthorizers bounds an authorizer list in a payload or a query.
	MaxAuthorizers = 10000
	// MaxShards bounds N in "shard": "K/N".
	MaxShards = 1024
	// MaxAppIDLen bounds an authorizer appid (the one rule is appid's).
	MaxAppIDLen = appid.MaxLen
)

// HTTPRequest is an HTTP trigger's request, whatever its platform.
type HTTPRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	// Body is the decoded body; RawBodyLen is the body's length as
	// received (before base64 decoding).
	Body       []byte
	RawBodyLen int
	// BadBody is set when a base64 body does not decode.
	BadBody error
	// BadQuery is set when an HTTP API rawQueryString does not parse;
	// Query is then empty. The caller answers 400.
	BadQuery error
}

// Request is a recognised invocation.
type Request struct {
	Kind    Kind
	Source  Source
	Payload Payload      // for Schedule and Direct
	HTTP    *HTTPRequest // for HTTP
}

// OpStartPushTicket is the operation that asks WeChat to start pushing
// component verify tickets (/cgi-bin/component/api_start_push_ticket).
const OpStartPushTicket = wechat.OpStartPushTicket

// PayloadError is an invalid direct payload.
type PayloadError struct{ Reason string }

func (e *PayloadError) Error() string { return "invalid payload: " + e.Reason }

// Parse recognises the trigger of raw. It fails only when raw is meant as a
// payload and is not a valid one; an HTTP request whose content is bad is
// returned for the caller to answer with 400.
func Parse(raw []byte) (*Request, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return &Request{Kind: Direct, Source: SourceDirect}, nil
	}
	if raw[0] != '{' {
		return nil, &PayloadError{Reason: "the event is not a JSON object"}
	}
	if !json.Valid(raw) {
		var v any
		return nil, &PayloadError{Reason: "the event is not valid JSON: " + jsonReason(json.Unmarshal(raw, &v))}
	}
	// The top-level members are scanned, not decoded into a map: most
	// events are a small direct payload or a schedule.
	s := shapeOf(raw)
	switch {
	case stringValue(s.version) == "2.0" && present(s.ctxHTTP):
		return parseV2(raw)
	case present(s.httpMethod) && present(s.ctxServiceID):
		return parseSCFHTTP(raw, SourceSCFAPIGateway)
	case present(s.httpMethod) && present(s.resource) && present(s.requestContext):
		return parseV1(raw)
	case present(s.httpMethod) && present(s.path) && present(s.headers) && !present(s.requestContext):
		return parseSCFHTTP(raw, SourceSCFFunctionURL)
	case present(s.detailType) && present(s.source):
		return parseEventBridge(stringValue(s.source), stringValue(s.detailType))
	case stringValue(s.typ) == "Timer" && present(s.triggerName):
		return parseTimer(raw)
	}
	p, err := ParsePayload(raw)
	if err != nil {
		return nil, err
	}
	return &Request{Kind: Direct, Source: SourceDirect, Payload: p}, nil
}

// parseEventBridge tells schedules from other EventBridge events by the
// envelope's source and detail-type.
func parseEventBridge(source, detailType string) (*Request, error) {
	switch {
	case source == "aws.events" && detailType == "Scheduled Event":
		return &Request{Kind: Schedule, Source: SourceEventBridge}, nil
	case source == "aws.scheduler":
		return &Request{Kind: Schedule, Source: SourceScheduler}, nil
	}
	return nil, &PayloadError{Reason: "an EventBridge event that is not a schedule (source aws.events with detail-type Scheduled Event, or aws.scheduler); send a payload or a schedule"}
}

func parseTimer(raw []byte) (*Request, error) {
	var ev scfevents.TimerEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &PayloadError{Reason: "SCF timer event: " + jsonReason(err)}
	}
	r := &Request{Kind: Schedule, Source: SourceSCFTimer}
	msg := strings.TrimSpace(ev.Message)
	if msg == "" || msg[0] != '{' || !json.Valid([]byte(msg)) {
		return r, nil // not a JSON object: ignored, defaults run
	}
	p, err := ParsePayload([]byte(msg))
	if err != nil {
		var pe *PayloadError
		if errors.As(err, &pe) {
			return nil, &PayloadError{Reason: "SCF timer Message: " + pe.Reason}
		}
		return nil, err
	}
	r.Payload = p
	return r, nil
}

func parseV1(raw []byte) (*Request, error) {
	var ev awsevents.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &PayloadError{Reason: "API Gateway event: " + jsonReason(err)}
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	for k, vs := range ev.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	q := url.Values{}
	for k, v := range ev.QueryStringParameters {
		q.Set(k, v)
	}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = vs
	}
	return &Request{Kind: HTTP, Source: SourceAPIGatewayV1,
		HTTP: newHTTP(ev.HTTPMethod, ev.Path, q, h, ev.Body, ev.IsBase64Encoded)}, nil
}

func parseV2(raw []byte) (*Request, error) {
	var ev awsevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &PayloadError{Reason: "HTTP API event: " + jsonReason(err)}
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	q, qerr := url.ParseQuery(ev.RawQueryString)
	if qerr != nil {
		q = url.Values{}
	} else if ev.RawQueryString == "" && len(ev.QueryStringParameters) > 0 {
		for k, v := range ev.QueryStringParameters {
			q.Set(k, v)
		}
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	hr := newHTTP(ev.RequestContext.HTTP.Method, path, q, h, ev.Body, ev.IsBase64Encoded)
	if qerr != nil {
		// Not the defaults: the caller meant something the query lost.
		hr.BadQuery = errors.New("the query string does not parse (a bad %-escape or a semicolon)")
	}
	return &Request{Kind: HTTP, Source: SourceAPIGatewayV2, HTTP: hr}, nil
}

func parseSCFHTTP(raw []byte, src Source) (*Request, error) {
	var ev scfevents.APIGatewayRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &PayloadError{Reason: "SCF HTTP event: " + jsonReason(err)}
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(raw, &top) // valid JSON: an object always decodes
	var b64 bool
	_ = json.Unmarshal(top["isBase64Encoded"], &b64) // scf-go-lib's type has no such field
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	q := url.Values{}
	for k, vs := range ev.QueryString {
		q[k] = vs
	}
	if len(q) == 0 {
		// The legacy gateway also sends queryStringParameters.
		var qsp map[string]string
		if json.Unmarshal(top["queryStringParameters"], &qsp) == nil {
			for k, v := range qsp {
				q.Set(k, v)
			}
		}
	}
	return &Request{Kind: HTTP, Source: src, HTTP: newHTTP(ev.Method, ev.Path, q, h, ev.Body, b64)}, nil
}

func newHTTP(method, path string, q url.Values, h http.Header, body string, b64 bool) *HTTPRequest {
	r := &HTTPRequest{Method: strings.ToUpper(method), Path: path, Query: q, Header: h, RawBodyLen: len(body)}
	if b64 && body != "" {
		dec, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			dec, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(body, "="))
		}
		if err != nil {
			r.BadBody = errors.New("the body is marked base64 but does not decode")
		}
		r.Body = dec
	} else {
		r.Body = []byte(body)
	}
	return r
}
