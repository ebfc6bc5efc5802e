// Package invoke is wxcloudenv's invocation core. A Handler takes the raw
// trigger JSON of any supported platform, runs the requested WeChat
// operations concurrently, and answers with the output event of SPEC.md §6:
// as the HTTP response for HTTP triggers, as the result for schedules and
// direct invocations.
//
// Its Invoke method has the shape both aws-lambda-go's and scf-go-lib's
// Handler interfaces ask for, so the platform mains only wire it up.
package invoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Platform names, as reported in the event.
const (
	PlatformAWSLambda  = "aws-lambda"
	PlatformTencentSCF = "tencent-scf"
	PlatformLocal      = "local"
)

// Defaults of a Handler.
const (
	// DeadlineReserve is how long before the platform's deadline upstream
	// work stops, leaving time to answer.
	DeadlineReserve = 250 * time.Millisecond
	// DefaultBudget bounds an invocation whose context has no deadline.
	DefaultBudget = 60 * time.Second
	// MaxAnswerBytes is the synchronous answer cap of Lambda and SCF (6 MB).
	MaxAnswerBytes = 6 << 20
)

// Handler runs invocations. Create it once per process with New; it is
// safe for concurrent use.
type Handler struct {
	// Platform is reported in every event.
	Platform string
	// Loader supplies the configuration and the WeChat client.
	Loader *config.Loader
	// LogOutput receives one JSON log line per invocation (os.Stderr by
	// default).
	LogOutput io.Writer
	// Reserve, Budget and MaxAnswerBytes default to the constants above.
	Reserve        time.Duration
	Budget         time.Duration
	MaxAnswerBytes int
	// Now returns the current time (time.Now by default).
	Now func() time.Time

	logMu    sync.Mutex
	logLevel slog.Level
	logger   *slog.Logger
}

// New returns a Handler for platform that reads its configuration from the
// environment.
func New(platform string) *Handler {
	return &Handler{Platform: platform, Loader: &config.Loader{}}
}

// InvocationError is how an invocation fails: an invalid payload, an
// invalid configuration, a scheduled run with failed operations, or an
// event over the answer cap. Its text is safe to show to anyone.
type InvocationError struct {
	Message string
}

func (e *InvocationError) Error() string { return e.Message }

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Invoke runs one invocation on the raw trigger JSON and returns the answer
// bytes. It never panics.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	inv := &invocation{h: h, start: h.now(), requestID: requestID(ctx)}
	defer func() {
		if r := recover(); r != nil {
			inv.logger().Error("invocation panicked", "request_id", inv.requestID, "platform", h.Platform,
				"panic", inv.scrub(fmt.Sprint(r)), "stack", inv.scrub(string(debug.Stack())))
			out, err = nil, &InvocationError{Message: "wxcloudenv: internal error; see the function's log for request " + inv.requestID}
		}
	}()
	return inv.run(ctx, payload)
}

// invocation is the state of one Invoke call.
type invocation struct {
	h         *Handler
	start     time.Time
	requestID string
	rt        *config.Runtime
	cfgErr    error
	req       *trigger.Request
	status    int // HTTP status, for HTTP triggers
}

func (inv *invocation) logger() *slog.Logger {
	level := slog.LevelInfo
	if inv.rt != nil {
		level = inv.rt.Config.Level()
	}
	return inv.h.loggerFor(level)
}

func (h *Handler) loggerFor(level slog.Level) *slog.Logger {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	if h.logger == nil || h.logLevel != level {
		w := h.LogOutput
		if w == nil {
			w = os.Stderr
		}
		h.logger = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
		h.logLevel = level
	}
	return h.logger
}

func (inv *invocation) scrub(s string) string {
	if inv.rt == nil {
		return s
	}
	return wechat.Scrub(s, inv.rt.Config.Secrets()...)
}

func (inv *invocation) run(ctx context.Context, payload []byte) ([]byte, error) {
	inv.rt, inv.cfgErr = inv.h.Loader.Load()
	req, perr := trigger.Parse(payload)
	if perr != nil {
		msg := inv.scrub("wxcloudenv: " + perr.Error())
		inv.logRejected("invalid payload", msg)
		return nil, &InvocationError{Message: msg}
	}
	inv.req = req
	if req.Kind == trigger.HTTP {
		return inv.serveHTTP(ctx)
	}
	if inv.cfgErr != nil {
		msg := "wxcloudenv: invalid configuration: " + inv.cfgErr.Error()
		inv.logRejected("invalid configuration", msg)
		return nil, &InvocationError{Message: msg}
	}
	ev := inv.execute(ctx, inv.plan(req.Payload))
	if err := inv.checkSize(minAnswerBytes(ev), ev); err != nil {
		// Certain to be refused: not built.
		inv.logEvent(ev, err.Error())
		return nil, err
	}
	out := ev.AppendJSON(make([]byte, 0, inv.sizeHint(ev)))
	if err := inv.checkSize(len(out), ev); err != nil {
		inv.logEvent(ev, err.Error())
		return nil, err
	}
	if req.Kind == trigger.Schedule && !ev.OK {
		msg := "wxcloudenv: scheduled run failed: " + failures(ev)
		inv.logEvent(ev, msg)
		return nil, &InvocationError{Message: inv.scrub(msg)}
	}
	inv.logEvent(ev, "")
	return out, nil
}

// plan is what to run.
type plan struct {
	ops []string
	env string
}

func (inv *invocation) plan(p trigger.Payload) plan {
	pl := plan{ops: p.Operations, env: p.Env}
	if len(pl.ops) == 0 {
		pl.ops = inv.rt.Config.Operations
	}
	if pl.env == "" {
		pl.env = inv.rt.Config.Env
	}
	return pl
}

// execute runs the operations concurrently and builds the event. It returns
// by the upstream deadline even if an operation does not.
func (inv *invocation) execute(ctx context.Context, pl plan) *Event {
	h := inv.h
	reserve := h.Reserve
	if reserve == 0 {
		reserve = DeadlineReserve
	}
	budget := h.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	deadline := inv.start.Add(budget)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl.Add(-reserve)
	}
	uctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	ev := &Event{Platform: h.Platform, Trigger: string(inv.req.Kind), RequestID: inv.requestID, Time: inv.start, OK: true}
	done := make(chan Result, len(pl.ops))
	for _, op := range pl.ops {
		go func() { done <- inv.operation(uctx, op, pl.env) }()
	}
	got := make(map[string]Result, len(pl.ops))
	grace := time.NewTimer(time.Until(deadline) + reserve/4)
	defer grace.Stop()
collect:
	for len(got) < len(pl.ops) {
		select {
		case r := <-done:
			got[r.Operation] = r
		case <-grace.C:
			break collect
		}
	}
	for _, op := range pl.ops {
		r, ok := got[op]
		if !ok {
			r = Result{Operation: op, Duration: h.now().Sub(inv.start), Error: &ErrorInfo{Kind: string(wechat.KindTimeout),
				Retryable: true, Message: "the operation was cut off at the invocation's deadline"}}
		}
		ev.OK = ev.OK && r.OK
		ev.Results = append(ev.Results, r)
	}
	for _, r := range ev.Results {
		ev.Alerts = append(ev.Alerts, r.alerts...)
	}
	return ev
}

// operation runs one WeChat operation.
func (inv *invocation) operation(ctx context.Context, op, env string) Result {
	start := inv.h.now()
	c, ts := inv.rt.Client, inv.rt.Tokens[op]
	var resp *wechat.Response
	var err error
	switch op {
	case wechat.OpGetEnvInfo:
		resp, err = c.GetEnvInfoRawFilter(ctx, ts, env, needsAttention)
	case wechat.OpDescribeCloudBaseRunEnvs:
		resp, err = c.DescribeCloudBaseRunEnvsRawFilter(ctx, ts, needsAttention)
	default:
		err = &wechat.Error{Kind: wechat.KindConfig, Op: op, Message: "unknown operation"}
		resp = &wechat.Response{}
	}
	r := Result{Operation: op, Attempts: resp.Attempts}
	if err == nil {
		r.OK, r.Response, r.Items, r.alerts = true, resp.Body, resp.Health.Items, alertsOf(op, resp.Health)
	} else {
		r.Error = inv.errorInfo(op, err)
	}
	r.Duration = inv.h.now().Sub(start)
	return r
}

// mintTarget names what each minting call makes, and the variables behind it.
var mintTarget = map[string][2]string{
	"stable_token":     {"the access token (stable_token)", "check WECHAT_APPID and WECHAT_APPSECRET, and the app's API IP allow-list"},
	"component_token":  {"the component access token", "check WECHAT_COMPONENT_APPID and WECHAT_COMPONENT_APPSECRET, and that WECHAT_COMPONENT_VERIFY_TICKET is the latest pushed ticket (a ticket lasts 12 hours)"},
	"authorizer_token": {"the authorizer access token", "check WECHAT_AUTHORIZER_APPID and WECHAT_AUTHORIZER_REFRESH_TOKEN; the merchant may have revoked the authorization"},
}

// errorInfo turns an error into the event's error object, with a message
// that says what to do, and no secret.
func (inv *invocation) errorInfo(op string, err error) *ErrorInfo {
	var we *wechat.Error
	if !errors.As(err, &we) {
		return &ErrorInfo{Kind: string(wechat.KindUpstream), Message: inv.scrub(err.Error())}
	}
	info := &ErrorInfo{Kind: string(we.Kind), ErrCode: we.ErrCode, ErrMsg: inv.scrub(we.ErrMsg), RID: we.RID, Retryable: we.Retryable}
	if we.StatusCode != 0 && we.StatusCode != 200 {
		info.HTTPStatus = we.StatusCode
	}
	what := we.Message
	if what == "" {
		what = string(we.Kind)
	}
	var msg string
	switch {
	case we.Kind == wechat.KindConfig:
		msg = we.Message
	case mintTarget[we.Op][0] != "":
		t := mintTarget[we.Op]
		msg = "minting " + t[0] + " failed: " + what
		if we.Kind == wechat.KindAuth || we.Kind == wechat.KindPermission {
			msg += "; " + t[1]
		}
	case we.Kind == wechat.KindAuth:
		msg = authAdvice(op, inv.rt.Minted[op], what)
	case we.ErrCode == 61004 || we.ErrCode == 40164:
		msg = what + "; add the function's egress IP to the allow-list (a serverless function needs a fixed egress IP, such as a NAT gateway)"
	case we.ErrCode == 61007:
		msg = what + "; the merchant must grant permission set 49 (cloud development) to the platform"
	default:
		msg = what
	}
	if we.Kind == wechat.KindNetwork || we.Kind == wechat.KindTimeout || we.Kind == wechat.KindBadResponse {
		if we.Err != nil {
			msg += ": " + we.Err.Error()
		}
	}
	info.Message = inv.scrub(msg)
	return info
}

func authAdvice(op string, minted bool, what string) string {
	if op == wechat.OpDescribeCloudBaseRunEnvs {
		if minted {
			return "the minted component access token was rejected (" + what + ") even after minting it anew; check the component credentials"
		}
		return "the component access token was rejected (" + what + "); set a fresh WECHAT_COMPONENT_ACCESS_TOKEN or the component credentials"
	}
	if minted {
		return "the minted access token for getenvinfo was rejected (" + what + ") even after minting it anew; check the authorizer or app credentials"
	}
	return "the access token for getenvinfo was rejected (" + what + "); set a fresh WECHAT_ACCESS_TOKEN, or the authorizer or app credentials"
}

// failures names each failed operation and its kind.
func failures(ev *Event) string {
	var parts []string
	n := 0
	for _, r := range ev.Results {
		if r.OK {
			continue
		}
		n++
		s := r.Operation + " (" + r.Error.Kind
		if r.Error.ErrCode != 0 {
			s += fmt.Sprintf(", errcode %d", r.Error.ErrCode)
		}
		parts = append(parts, s+"): "+r.Error.Message)
	}
	return fmt.Sprintf("%d of %d operations failed: %s", n, len(ev.Results), strings.Join(parts, "; "))
}

func (inv *invocation) sizeHint(ev *Event) int {
	n := 512
	for _, r := range ev.Results {
		n += len(r.Response) + 256
	}
	return n + len(ev.Alerts)*200
}

// checkSize fails an answer over the platforms' synchronous answer cap.
func (inv *invocation) checkSize(n int, ev *Event) error {
	limit := inv.h.MaxAnswerBytes
	if limit == 0 {
		limit = MaxAnswerBytes
	}
	if n <= limit {
		return nil
	}
	return &InvocationError{Message: fmt.Sprintf(
		"wxcloudenv: the answer is %d bytes, over the %d-byte (6 MB) synchronous answer limit of Lambda and SCF; "+
			"narrow it with the env filter (env in the payload or query, or WECHAT_ENV) or run one operation at a time", n, limit)}
}

// requestID returns the platform's request id, or a random one.
func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	if fc, ok := functioncontext.FromContext(ctx); ok && fc.RequestID != "" {
		return fc.RequestID
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
