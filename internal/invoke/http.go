package invoke

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	awsevents "github.com/aws/aws-lambda-go/events"
	scfevents "github.com/tencentyun/scf-go-lib/events"

	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// MaxRequestBody is the largest HTTP request body accepted, as received.
const MaxRequestBody = 64 << 10

// route is a matched HTTP route.
type route struct {
	name    string   // "envs", "op", "healthz", "push"
	op      string   // for "op"
	methods []string // allowed methods
}

// matchRoute matches the end of path, so that stage and base-path prefixes
// work: …/envs, …/envs/<operation>, …/healthz.
func matchRoute(path string) (route, bool) {
	p := strings.TrimRight(path, "/")
	for _, op := range []string{wechat.OpGetEnvInfo, wechat.OpDescribeCloudBaseRunEnvs} {
		if strings.HasSuffix(p, "/envs/"+op) {
			return route{name: "op", op: op, methods: []string{http.MethodGet}}, true
		}
	}
	if rt, ok := matchManage(p); ok {
		return rt, true
	}
	switch {
	case strings.HasSuffix(p, "/wechat/authorization-events"):
		return route{name: "push", methods: []string{http.MethodPost}}, true
	case strings.HasSuffix(p, "/envs"):
		return route{name: "envs", methods: []string{http.MethodGet, http.MethodPost}}, true
	case strings.HasSuffix(p, "/healthz"):
		return route{name: "healthz", methods: []string{http.MethodGet}}, true
	}
	return matchStatus(p)
}

// httpAnswer is an HTTP answer before it is shaped for the platform.
type httpAnswer struct {
	status int
	header map[string]string
	body   []byte
	logged bool // its line is written (a push writes its own)
}

func errorAnswer(status int, code, msg string) httpAnswer {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	return httpAnswer{status: status, body: b}
}

// intakeHTTP reads an HTTP trigger: the checks its route asks for, or the
// answer of a request that runs none. Rejections (401, 404, 405, 413, 400,
// in that order of checking) make no upstream call; health checks and
// pushes are answered here. Every answer here is logged here.
func (inv *invocation) intakeHTTP(ctx context.Context) (trigger.Payload, *finished) {
	hr := inv.req.HTTP
	p, a := inv.routeHTTP(ctx, hr)
	if a == nil {
		return p, nil
	}
	switch {
	case a.logged:
	case a.status == http.StatusOK:
		// A health check: nothing ran upstream.
		inv.logger().LogAttrs(ctx, slog.LevelInfo, "health check", append(inv.baseAttrs(a.status), slog.Bool("ok", true))...)
	default:
		inv.logRejected("rejected", a.status, string(a.body))
	}
	return trigger.Payload{}, &finished{out: inv.shape(*a)}
}

// routeHTTP matches the request: the payload of a check route, or an
// answer.
func (inv *invocation) routeHTTP(ctx context.Context, hr *trigger.HTTPRequest) (trigger.Payload, *httpAnswer) {
	answer := func(a httpAnswer) (trigger.Payload, *httpAnswer) { return trigger.Payload{}, &a }
	rt, ok := matchRoute(hr.Path)
	// The API key is checked first, even when the rest of the
	// configuration is invalid: an unauthenticated caller learns nothing.
	// WeChat cannot send the key: a push is authenticated by its signature.
	open := ok && (rt.name == "healthz" || rt.name == "push")
	check := validKey
	if ok && rt.managed() {
		check = validManageKey
	}
	key := inv.apiKey()
	if ok && rt.name == "status" {
		if a, pass := inv.statusAuth(hr.Header); !pass {
			return answer(a)
		}
	} else if !open && key != "" && !check(hr.Header, key) {
		a := errorAnswer(http.StatusUnauthorized, "unauthorized", "a valid API key is required: send Authorization: Bearer <key> or X-Api-Key: <key>")
		a.header = map[string]string{"WWW-Authenticate": `Bearer realm="wxcloudenv"`}
		if ok && rt.managed() {
			a.header["WWW-Authenticate"] = `Basic realm="wxcloudenv"`
		}
		return answer(a)
	}
	if ok && rt.managed() && key == "" {
		return answer(errorAnswer(http.StatusForbidden, "forbidden", "the management routes need WXCLOUDENV_API_KEY to be set"))
	}
	if inv.cfgErr != nil {
		// The open routes skip the key check, so their callers (anyone)
		// get a generic answer; the log line carries the cause. A caller
		// who shows a valid key is told what is wrong.
		if open && (key == "" || !validKey(hr.Header, key)) {
			a := errorAnswer(http.StatusInternalServerError, "internal", "the function cannot answer; its log says why")
			inv.logRejected("invalid configuration", a.status, "wxcloudenv: invalid configuration: "+inv.cfgErr.Error())
			a.logged = true
			return answer(a)
		}
		return answer(errorAnswer(http.StatusInternalServerError, "config", "invalid configuration: "+inv.cfgErr.Error()))
	}
	if !ok {
		return answer(errorAnswer(http.StatusNotFound, "not_found", "no route for this path; use GET …/envs, POST …/envs, GET …/envs/getenvinfo, GET …/envs/describecloudbaserunenvs, GET …/healthz or POST …/wechat/authorization-events"))
	}
	allowed := false
	for _, m := range rt.methods {
		allowed = allowed || m == hr.Method
	}
	if !allowed {
		a := errorAnswer(http.StatusMethodNotAllowed, "method_not_allowed", "this route accepts "+strings.Join(rt.methods, " and "))
		a.header = map[string]string{"Allow": strings.Join(rt.methods, ", ")}
		return answer(a)
	}
	if hr.RawBodyLen > MaxRequestBody {
		return answer(errorAnswer(http.StatusRequestEntityTooLarge, "payload_too_large", "the request body is over 64 KiB"))
	}
	if rt.name == "healthz" {
		return answer(httpAnswer{status: http.StatusOK, body: []byte(`{"ok":true}`)})
	}
	if rt.name == "push" {
		return answer(inv.push(ctx, hr))
	}
	if rt.managed() {
		return answer(inv.manage(ctx, rt, hr))
	}
	if rt.name == "status" {
		return answer(inv.serveStatus(ctx, hr, rt))
	}
	p, err := requestPayload(rt, hr)
	if err != nil {
		return answer(errorAnswer(http.StatusBadRequest, "bad_request", inv.scrub(err.Error())))
	}
	return p, nil
}

// apiKey returns WXCLOUDENV_API_KEY, read directly when the configuration
// as a whole did not parse.
func (inv *invocation) apiKey() string {
	if inv.rt != nil {
		return inv.rt.Config.APIKey
	}
	v, _ := inv.lookup()("WXCLOUDENV_API_KEY")
	return strings.TrimSpace(v)
}

// requestPayload reads the operations and env of an HTTP request.
func requestPayload(rt route, hr *trigger.HTTPRequest) (trigger.Payload, error) {
	if hr.BadBody != nil {
		return trigger.Payload{}, &trigger.PayloadError{Reason: hr.BadBody.Error()}
	}
	if hr.BadQuery != nil {
		return trigger.Payload{}, &trigger.PayloadError{Reason: hr.BadQuery.Error()}
	}
	if rt.name == "envs" && hr.Method == http.MethodPost {
		return trigger.ParsePayload(hr.Body)
	}
	p, err := trigger.ParseQuery(hr.Query)
	if rt.name == "op" {
		p.Operations = []string{rt.op}
	}
	return p, err
}

// statusOf maps an event to its HTTP status: 200 when ok; 500 when a
// failure is config; 504 when every failure is timeout; else 502.
func statusOf(ev *Event) int {
	if ev.OK {
		return http.StatusOK
	}
	allTimeout, config := true, false
	for i := range ev.Results {
		failedKinds(&ev.Results[i], func(kind string) {
			config = config || kind == string(wechat.KindConfig)
			allTimeout = allTimeout && kind == string(wechat.KindTimeout)
		})
	}
	if config {
		return http.StatusInternalServerError
	}
	if allTimeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// validKey reports, in constant time, whether the request carries key.
func validKey(h map[string][]string, key string) bool {
	hd := http.Header(h)
	got := ""
	if auth := hd.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		got = strings.TrimSpace(auth[7:])
	} else if k := hd.Get("X-Api-Key"); k != "" {
		got = k
	}
	if got == "" {
		return false
	}
	// Hash both so that the comparison does not leak the key's length.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// shape wraps an answer in the response type of the trigger's platform,
// with a JSON content type unless it has its own, and never cached.
func (inv *invocation) shape(a httpAnswer) []byte {
	h := make(map[string]string, len(a.header)+2)
	for k, v := range a.header {
		h[k] = v
	}
	if h["Content-Type"] == "" {
		h["Content-Type"] = "application/json"
	}
	h["Cache-Control"] = "no-store"
	a.header = h
	var v any
	switch inv.req.Source {
	case trigger.SourceAPIGatewayV1:
		v = awsevents.APIGatewayProxyResponse{StatusCode: a.status, Headers: a.header, Body: string(a.body)}
	case trigger.SourceAPIGatewayV2:
		v = awsevents.APIGatewayV2HTTPResponse{StatusCode: a.status, Headers: a.header, Body: string(a.body)}
	default:
		v = scfevents.APIGatewayResponse{StatusCode: a.status, Headers: a.header, Body: string(a.body)}
	}
	out, _ := json.Marshal(v)
	return out
}
