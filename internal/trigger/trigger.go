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
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	awsevents "github.com/aws/aws-lambda-go/events"
	scfevents "github.com/tencentyun/scf-go-lib/events"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
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
	// MaxAppIDLen bounds an authorizer appid.
	MaxAppIDLen = 64
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
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, &PayloadError{Reason: "the event is not valid JSON: " + jsonReason(err)}
	}
	has := func(k string) bool { v, ok := top[k]; return ok && string(v) != "null" }
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(top[k], &s)
		return s
	}
	var ctx map[string]json.RawMessage
	if has("requestContext") {
		_ = json.Unmarshal(top["requestContext"], &ctx)
	}
	ctxHas := func(k string) bool { v, ok := ctx[k]; return ok && string(v) != "null" }

	switch {
	case str("version") == "2.0" && ctxHas("http"):
		return parseV2(raw)
	case has("httpMethod") && ctxHas("serviceId"):
		return parseSCFHTTP(raw, top, SourceSCFAPIGateway)
	case has("httpMethod") && has("resource") && has("requestContext"):
		return parseV1(raw)
	case has("httpMethod") && has("path") && has("headers") && !has("requestContext"):
		return parseSCFHTTP(raw, top, SourceSCFFunctionURL)
	case has("detail-type") && has("source"):
		return parseEventBridge(str("source"), str("detail-type"))
	case str("Type") == "Timer" && has("TriggerName"):
		return parseTimer(raw)
	}
	p, err := ParsePayload(raw)
	if err != nil {
		return nil, err
	}
	return &Request{Kind: Direct, Source: SourceDirect, Payload: p}, nil
}

// payloadKeys are a payload's fields; keys match exactly, as written.
var payloadKeys = []string{"operations", "env", "authorizers", "shard"}

// ParsePayload reads a direct payload strictly: keys match case-sensitively,
// and an unknown or repeated key, an empty, unknown or repeated operation,
// an invalid env, authorizer list or shard are errors. Empty input and
// null give the empty Payload. Errors say what is wrong without echoing
// the caller's values, where a secret could hide.
func ParsePayload(raw []byte) (Payload, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Payload{}, nil
	}
	if raw[0] != '{' {
		return Payload{}, &PayloadError{Reason: "the payload is not a JSON object"}
	}
	if !json.Valid(raw) {
		var v json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		return Payload{}, &PayloadError{Reason: "data after the JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return Payload{}, &PayloadError{Reason: jsonReason(err)}
	}
	var p Payload
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		if !slices.Contains(payloadKeys, key) {
			return Payload{}, unknownField(key)
		}
		if seen[key] {
			return Payload{}, &PayloadError{Reason: "the field " + key + " is given twice"}
		}
		seen[key] = true
		if string(v) == "null" {
			continue
		}
		if err := p.set(key, v); err != nil {
			return Payload{}, err
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return Payload{}, &PayloadError{Reason: jsonReason(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Payload{}, &PayloadError{Reason: "data after the JSON object"}
	}
	return p, nil
}

// unknownField names a key only when it differs from a known one by case.
func unknownField(key string) error {
	for _, k := range payloadKeys {
		if strings.EqualFold(k, key) {
			return &PayloadError{Reason: fmt.Sprintf("unknown field %q; keys are case-sensitive: write %q", key, k)}
		}
	}
	if plainWord(key) {
		return &PayloadError{Reason: fmt.Sprintf("unknown field %q; a payload has only operations, env, authorizers and shard", key)}
	}
	return &PayloadError{Reason: "unknown field; a payload has only operations, env, authorizers and shard"}
}

// plainWord reports whether s is safe to echo in an error: 1 to 32 lower
// case letters and _, a mistyped name. Tokens, secrets, tickets and keys
// all have digits or capitals, so they are never echoed.
func plainWord(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '_' && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// set reads one field of a payload.
func (p *Payload) set(key string, v json.RawMessage) error {
	switch key {
	case "operations":
		var ops []string
		if json.Unmarshal(v, &ops) != nil {
			return &PayloadError{Reason: "operations must be a list of strings"}
		}
		checked, err := CheckOperations(ops)
		if err != nil {
			return err
		}
		p.Operations = checked
	case "env":
		var env string
		if json.Unmarshal(v, &env) != nil {
			return &PayloadError{Reason: "env must be a string"}
		}
		if err := CheckEnv(env); err != nil {
			return err
		}
		p.Env = env
	case "authorizers":
		var all string
		if json.Unmarshal(v, &all) == nil {
			if all != "all" {
				return &PayloadError{Reason: `authorizers must be "all" or a list of appids`}
			}
			p.All = true
			return nil
		}
		var list []string
		if json.Unmarshal(v, &list) != nil {
			return &PayloadError{Reason: `authorizers must be "all" or a list of appids`}
		}
		checked, err := CheckAuthorizers(list)
		if err != nil {
			return err
		}
		p.Authorizers = checked
	case "shard":
		var sh string
		if json.Unmarshal(v, &sh) != nil {
			return &PayloadError{Reason: `shard must be a string "K/N"`}
		}
		k, n, err := ParseShard(sh)
		if err != nil {
			return err
		}
		p.Shard = Shard{K: k, N: n}
	}
	return nil
}

// ParseQuery reads the payload fields of an HTTP query string: operations
// (comma-separated, the parameter may repeat), env, authorizers ("all" or
// comma-separated appids) and shard ("K/N"), each of the last three given
// at most once. Other parameters are ignored.
func ParseQuery(q url.Values) (Payload, error) {
	var p Payload
	if vs, ok := q["operations"]; ok {
		var ops []string
		for _, v := range vs {
			for _, op := range strings.Split(v, ",") {
				if op = strings.TrimSpace(op); op != "" {
					ops = append(ops, op)
				}
			}
		}
		checked, err := CheckOperations(ops)
		if err != nil {
			return Payload{}, err
		}
		p.Operations = checked
	}
	for _, key := range []string{"env", "authorizers", "shard"} {
		vs, ok := q[key]
		if !ok {
			continue
		}
		if len(vs) != 1 {
			return Payload{}, &PayloadError{Reason: "give " + key + " once"}
		}
		var err error
		switch key {
		case "env":
			err = CheckEnv(vs[0])
			p.Env = vs[0]
		case "authorizers":
			p.All, p.Authorizers, err = ParseAuthorizers(vs[0])
		case "shard":
			p.Shard.K, p.Shard.N, err = ParseShard(vs[0])
		}
		if err != nil {
			return Payload{}, err
		}
	}
	return p, nil
}

// ParseAuthorizers reads the query form of authorizers: "all", or appids
// separated by commas (spaces around them are ignored).
func ParseAuthorizers(s string) (all bool, list []string, err error) {
	if s == "all" {
		return true, nil, nil
	}
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return false, nil, &PayloadError{Reason: `authorizers: write "all" in lower case`}
	}
	if strings.Count(s, ",") >= MaxAuthorizers {
		return false, nil, &PayloadError{Reason: fmt.Sprintf("authorizers: more than %d appids", MaxAuthorizers)}
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	list, err = CheckAuthorizers(parts)
	return false, list, err
}

// CheckAuthorizers validates an authorizer appid list: 1 to MaxAuthorizers
// appids of 1 to 64 characters of A-Z, a-z, 0-9 and _, none repeated.
func CheckAuthorizers(list []string) ([]string, error) {
	switch {
	case len(list) == 0:
		return nil, &PayloadError{Reason: `authorizers: the list is empty; name appids or "all"`}
	case len(list) > MaxAuthorizers:
		return nil, &PayloadError{Reason: fmt.Sprintf("authorizers: more than %d appids", MaxAuthorizers)}
	}
	seen := make(map[string]struct{}, len(list))
	for i, id := range list {
		if !ValidAppID(id) {
			return nil, &PayloadError{Reason: fmt.Sprintf("authorizers: appid %d of %d is not 1 to %d characters of A-Z, a-z, 0-9 and _", i+1, len(list), MaxAppIDLen)}
		}
		if _, dup := seen[id]; dup {
			return nil, &PayloadError{Reason: fmt.Sprintf("authorizers: appid %d of %d repeats an earlier one", i+1, len(list))}
		}
		seen[id] = struct{}{}
	}
	return slices.Clone(list), nil
}

// ValidAppID reports whether s is 1 to 64 characters of A-Z, a-z, 0-9, _.
func ValidAppID(s string) bool {
	if len(s) == 0 || len(s) > MaxAppIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c-'0' < 10 || (c|0x20)-'a' < 26) {
			return false
		}
	}
	return true
}

// ParseShard reads "K/N": decimal integers with 0 ≤ K < N ≤ MaxShards.
func ParseShard(s string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, kok := smallUint(ks)
	n, nok := smallUint(ns)
	if !ok || !kok || !nok {
		return 0, 0, &PayloadError{Reason: fmt.Sprintf(`shard must be "K/N" with whole numbers 0 ≤ K < N ≤ %d, such as "0/4"`, MaxShards)}
	}
	if n < 1 || n > MaxShards || k >= n {
		return 0, 0, &PayloadError{Reason: fmt.Sprintf("shard %d/%d is outside 0 ≤ K < N ≤ %d", k, n, MaxShards)}
	}
	return k, n, nil
}

// smallUint reads 1 to 4 decimal digits.
func smallUint(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i]-'0' >= 10 {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// CheckOperations validates an operation list: not empty, every name
// known, none repeated (as WXCLOUDENV_OPERATIONS).
//
// The operation start_push_ticket asks WeChat to start pushing verify
// tickets to the authorization-event URL (docs/contract.md#authorization-events);
// it runs alone.
func CheckOperations(ops []string) ([]string, error) {
	if len(ops) == 0 {
		return nil, &PayloadError{Reason: "the operation list is empty; name getenvinfo, describecloudbaserunenvs or both"}
	}
	if slices.Contains(ops, OpStartPushTicket) {
		if len(ops) != 1 {
			return nil, &PayloadError{Reason: OpStartPushTicket + " runs alone"}
		}
		return ops, nil
	}
	out := make([]string, 0, len(ops))
	for i, op := range ops {
		if !config.KnownOperation(op) {
			what := fmt.Sprintf("operation %d of %d is unknown", i+1, len(ops))
			if plainWord(op) {
				what = fmt.Sprintf("unknown operation %q", op)
			}
			return nil, &PayloadError{Reason: what + "; known: getenvinfo, describecloudbaserunenvs"}
		}
		if slices.Contains(out, op) {
			return nil, &PayloadError{Reason: "operation " + op + " is listed twice"}
		}
		out = append(out, op)
	}
	return out, nil
}

// CheckEnv validates an environment id.
func CheckEnv(env string) error {
	if !config.ValidEnv(env) {
		return &PayloadError{Reason: fmt.Sprintf("env (%d bytes) is not 1 to 128 characters of A-Z, a-z, 0-9, _ and -", len(env))}
	}
	return nil
}

// jsonReason turns a decoding error into a short reason.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s must be %s, not %s", te.Field, jsonType(te.Type.String()), te.Value)
		}
		return fmt.Sprintf("want %s, not %s", jsonType(te.Type.String()), te.Value)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return msg + "; a payload has only operations and env"
	}
	if err.Error() == "unexpected EOF" {
		return "the JSON ends early"
	}
	return msg
}

func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "[]string"):
		return "a list of strings"
	case strings.Contains(goType, "string"):
		return "a string"
	}
	return "an object"
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

func parseSCFHTTP(raw []byte, top map[string]json.RawMessage, src Source) (*Request, error) {
	var ev scfevents.APIGatewayRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &PayloadError{Reason: "SCF HTTP event: " + jsonReason(err)}
	}
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
