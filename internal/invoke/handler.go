// Package invoke is wxcloudenv's invocation core. A Handler takes the raw
// trigger JSON of any supported platform, runs the requested WeChat
// operations concurrently, and answers with the output event
// (docs/contract.md#the-output-event):
// as the HTTP response for HTTP triggers, as the result for schedules and
// direct invocations.
//
// Its Invoke method has the shape both aws-lambda-go's and scf-go-lib's
// Handler interfaces ask for, so the platform mains only wire it up.
package invoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/app"
	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/queue"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
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
	// PlatformWorkers is the KeepWorkers of the platform mains: one per
	// operation an invocation runs at once, and one more.
	PlatformWorkers = 4
)

// Handler runs invocations. Create it once per process with New; it is
// safe for concurrent use.
type Handler struct {
	// Platform is reported in every event.
	Platform string
	// Lookup reads the configuration's variables (os.LookupEnv by default,
	// so that SCF's per-invocation variables are seen).
	Lookup config.Lookup
	// Runtimes builds and keeps the client and token sources.
	Runtimes *app.Cache
	// Logger receives one JSON line per invocation. Level is set from
	// LOG_LEVEL on every invocation.
	Logger *slog.Logger
	Level  *slog.LevelVar
	// Reserve, Budget and MaxAnswerBytes default to the constants above.
	Reserve        time.Duration
	Budget         time.Duration
	MaxAnswerBytes int
	// Now stamps the event's time (time.Now by default). Deadlines and
	// durations always use the real clock.
	Now func() time.Time

	// KeepWorkers is how many goroutines that ran an operation are kept
	// for the next invocations' operations (0: a new goroutine each time).
	// A kept goroutine has grown its stack already, where a new one grows
	// it again on every invocation, copying it each time. Kept goroutines
	// never end: a platform main sets it, for the life of the process.
	KeepWorkers int
	workers     workers

	// out is the writer under Logger when NewWithLog built it (nil
	// otherwise), and logger that Logger: while Logger is still it, the
	// summary line is appended by hand and written to out.
	out    *lineWriter
	logger *slog.Logger

	spoolMem int // how much of a spool stays in memory (fleetspool.go); 0: spoolMemBytes
}

// New returns a Handler for platform that reads its configuration from the
// environment and logs JSON lines to standard error. It changes nothing
// process-wide: a main calls RouteStdLog and SetMemoryLimit.
func New(platform string) *Handler {
	return NewWithLog(platform, os.Stderr)
}

// NewWithLog is New with the log lines written to w.
func NewWithLog(platform string, w io.Writer) *Handler {
	lv := new(slog.LevelVar)
	out := &lineWriter{w: w}
	l := NewLogger(out, lv)
	return &Handler{Platform: platform, Lookup: os.LookupEnv, Runtimes: &app.Cache{}, Level: lv, Logger: l, out: out, logger: l}
}

// lines is the writer the summary line is appended to by hand, nil when
// Logger is not the one NewWithLog built.
func (h *Handler) lines() *lineWriter {
	if h.out != nil && h.Logger == h.logger {
		return h.out
	}
	return nil
}

// NewLogger returns the JSON logger a Handler uses, writing to w at level.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// InvocationError is how an invocation fails: an invalid payload, an
// invalid configuration, a scheduled run with failed operations, or an
// event over the answer cap. Its text is safe to show to anyone.
type InvocationError struct {
	Message string
}

func (e *InvocationError) Error() string { return e.Message }

// stamp returns the time the event reports.
func (h *Handler) stamp() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Invoke runs one invocation on the raw trigger JSON and returns the answer
// bytes. It never panics.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	out, s, err := h.invoke(ctx, payload)
	if s == nil {
		return out, err
	}
	return readAnswer(s)
}

// invoke runs one invocation: its answer is out, or a large fleet's is
// the spool s (fleetspool.go), which the caller closes.
func (h *Handler) invoke(ctx context.Context, payload []byte) (out []byte, s *spool, err error) {
	inv := &invocation{h: h, start: time.Now(), stamp: h.stamp(), requestID: requestID(ctx)}
	defer func() {
		if r := recover(); r != nil {
			inv.logPanic(r)
			_ = s.Close()
			out, s, err = nil, nil, &InvocationError{Message: "wxcloudenv: internal error; see the function's log for request " + inv.requestID}
		}
	}()
	return inv.run(ctx, payload)
}

// lookup returns how the configuration is read.
func (inv *invocation) lookup() config.Lookup {
	if inv.h.Lookup == nil {
		return os.LookupEnv
	}
	return inv.h.Lookup
}

// logPanic logs a recovered panic with its stack, scrubbed.
func (inv *invocation) logPanic(r any) {
	inv.logger().Error("invocation panicked", "request_id", inv.requestID, "platform", inv.h.Platform,
		"panic", inv.scrub(fmt.Sprint(r)), "stack", inv.scrub(string(debug.Stack())))
}

// invocation is the state of one Invoke call.
type invocation struct {
	h         *Handler
	start     time.Time // real time, for deadlines and durations
	stamp     time.Time // the event's time
	requestID string
	rt        *app.Runtime
	cfgErr    error
	req       *trigger.Request

	// A queued fleet run (queue.go): the schedule's tick, what was
	// planned, and the robots' outcomes of the run's messages.
	tick        time.Time
	planned     *queue.Planned
	queuedNotes []Notification
	// responses holds a fleet run's answers until the event is written
	// (fleetspool.go).
	responses *spool

	// writes holds what the run writes to keys nobody else writes (names,
	// its history record) for one batch at its end (history.go).
	writes     *store.Buffered
	writesOnce sync.Once
}

func (inv *invocation) logger() *slog.Logger {
	if inv.h.Logger == nil {
		return slog.Default()
	}
	return inv.h.Logger
}

// scrub removes every secret the runtime holds from s.
func (inv *invocation) scrub(s string) string {
	if inv.rt != nil {
		return inv.rt.Scrubber.Scrub(s)
	}
	return inv.h.Runtimes.Scrubber().Scrub(s)
}

// run is the whole invocation: what is asked (the trigger; rejections,
// health checks and pushes are answered there), the plan, the checks, the
// alert path, the answer and its log line.
func (inv *invocation) run(ctx context.Context, payload []byte) ([]byte, *spool, error) {
	p, done := inv.intake(ctx, payload)
	if done != nil {
		return done.out, nil, done.err
	}
	pl := inv.plan(p)
	if pl.fleet() && !pl.queued {
		inv.responses = &spool{limit: inv.h.spoolMem}
		defer inv.responses.Close()
	}
	dl := inv.deadlines(ctx)
	cctx, cancel := dl.checksCtx(ctx)
	ev := inv.execute(cctx, pl, dl)
	cancel()
	run := runOf(ev)
	actx, cancel := dl.alertsCtx(ctx)
	tracked := inv.alerts(actx, ev, run, pl)
	inv.recordHistory(actx, ev, pl)
	cancel()
	ev.Planned = inv.planned
	ev.Notifications = append(ev.Notifications, inv.queuedNotes...)
	a := inv.encode(ev)
	inv.logEvent(ev, alerts.Metrics(run, tracked), a.status, a.failure)
	return a.out, a.body, a.err
}

// finished is an invocation answered before any check ran, its line
// logged.
type finished struct {
	out []byte
	err error
}

// intake reads the trigger: the checks to run, or the answer of an
// invocation that runs none (a rejection, a health check, a push).
func (inv *invocation) intake(ctx context.Context, payload []byte) (trigger.Payload, *finished) {
	inv.rt, inv.cfgErr = inv.h.Runtimes.Get(inv.lookup())
	if inv.rt != nil && inv.h.Level != nil {
		inv.h.Level.Set(inv.rt.Config.LogLevel)
	}
	if mayBeQueued(payload) {
		if d, ok := queue.Detect(payload); ok {
			out, err := inv.work(ctx, d)
			return trigger.Payload{}, &finished{out: out, err: err}
		}
	}
	req, perr := trigger.Parse(payload)
	if perr != nil {
		msg := inv.scrub("wxcloudenv: " + perr.Error())
		inv.logRejected("invalid payload", 0, msg)
		return trigger.Payload{}, &finished{err: &InvocationError{Message: msg}}
	}
	inv.req = req
	if req.Kind == trigger.Schedule {
		// The tick is what a queued fleet run plans (schedules only).
		inv.tick = inv.stamp.UTC().Truncate(time.Minute)
		if t, ok := queue.Tick(payload); ok {
			inv.tick = t
		}
	}
	if req.Kind == trigger.HTTP {
		return inv.intakeHTTP(ctx)
	}
	if inv.cfgErr != nil {
		msg := "wxcloudenv: invalid configuration: " + inv.cfgErr.Error()
		inv.logRejected("invalid configuration", 0, msg)
		return trigger.Payload{}, &finished{err: &InvocationError{Message: msg}}
	}
	return req.Payload, nil
}

// mayBeQueued reports whether payload can be what queue.Detect
// recognises, whose keys are Records, or run, batch and authorizers: it
// holds one of the words Records and batch, or a \u escape (the only way
// a JSON key can spell a letter otherwise). Most invocations are not, and
// skip Detect's decode.
func mayBeQueued(payload []byte) bool {
	return bytes.Contains(payload, []byte("Records")) || bytes.Contains(payload, []byte("batch")) || bytes.Contains(payload, []byte(`\u`))
}

// answer is an encoded answer.
type answer struct {
	out     []byte
	body    *spool // the answer, when a fleet's is spooled (out is then nil)
	status  int    // the HTTP status, 0 outside HTTP
	failure string // what went wrong, for the log line
	err     error  // the invocation's failure (never for HTTP: its answer says it)
}

// encode builds the answer (for HTTP, the platform's response with the
// event as body) and holds it to the synchronous answer cap, the one place
// that does. A scheduled run is never lost to the cap: each response is
// replaced by its item count.
func (inv *invocation) encode(ev *Event) answer {
	isHTTP := inv.req.Kind == trigger.HTTP
	compactable := inv.req.Kind == trigger.Schedule
	build := func() answer {
		if !isHTTP && inv.responses != nil {
			return inv.buildStream(ev)
		}
		body := ev.AppendJSON(make([]byte, 0, inv.sizeHint(ev)))
		if !isHTTP {
			return answer{out: body}
		}
		st := statusOf(ev)
		return answer{out: inv.shape(httpAnswer{status: st, body: body}), status: st}
	}
	var a answer
	built, size := false, minAnswerBytes(ev) // a lower bound: the event embeds each response
	for size > inv.answerCap() || !built {
		if size > inv.answerCap() {
			if !compactable || ev.Compact {
				_ = a.body.Close()
				err := inv.tooLarge(size)
				if isHTTP {
					e := errorAnswer(http.StatusBadGateway, "response_too_large", err.Error())
					return answer{out: inv.shape(e), status: e.status, failure: err.Error()}
				}
				return answer{failure: err.Error(), err: err}
			}
			ev.Compact = true
		}
		_ = a.body.Close() // a full event over the cap, rebuilt compact
		a, built = build(), true
		size = a.size()
	}
	if compactable && wholeRunFailed(ev) {
		_ = a.body.Close()
		msg := inv.scrub("wxcloudenv: scheduled run failed: " + failures(ev))
		return answer{failure: msg, err: &InvocationError{Message: msg}}
	}
	return a
}

// plan is what to run.
type plan struct {
	ops []string
	env string
	// who getenvinfo covers: nobody named (the single authorizer of the token variables), all,
	// or a list; and the shard of them to run.
	all            bool
	authorizers    []string
	shardK, shardN int
	// queued: a scheduled fleet run that plans onto WXCLOUDENV_FLEET_QUEUE.
	queued bool
}

// fleet reports whether getenvinfo covers named authorizers.
func (pl plan) fleet() bool { return pl.all || len(pl.authorizers) > 0 }

func (inv *invocation) plan(p trigger.Payload) plan {
	pl := plan{ops: p.Operations, env: p.Env, all: p.All, authorizers: p.Authorizers, shardK: p.Shard.K, shardN: p.Shard.N}
	if len(pl.ops) == 0 {
		pl.ops = inv.rt.Config.Operations
	}
	if pl.env == "" {
		pl.env = inv.rt.Config.Env
	}
	if !pl.fleet() {
		if c := inv.rt.Config.Authorizers; len(c) == 1 && c[0] == config.AllAuthorizers {
			pl.all = true
		} else {
			pl.authorizers = c
		}
	}
	pl.queued = pl.all && inv.req.Kind == trigger.Schedule && inv.rt.Config.Queued()
	return pl
}

// deadlines are an invocation's, derived from the platform's: the checks
// stop a reserve before it, operations stuck past that are cut off a little
// later, and the alert path (state and robots) ends before the answer is
// due.
type deadlines struct {
	checks  time.Time     // upstream work stops
	collect time.Duration // how long past checks stuck operations are awaited
	fleet   time.Duration // how long past checks the fleet waits for its checks
	alerts  time.Time     // the alert path stops
	noLimit bool          // the platform's deadline is none (SCF's epoch)
}

func (inv *invocation) deadlines(ctx context.Context) deadlines {
	h := inv.h
	reserve := h.Reserve
	if reserve == 0 {
		reserve = DeadlineReserve
	}
	budget := h.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	// Within the reserve, the fleet waits a tenth of it for the checks in
	// flight; the alert path ends three tenths in, whatever else is
	// still running, and the rest (seven tenths) is left to encode, log
	// and deliver the answer well before the platform's deadline. An
	// operation stuck past its context (none should be) is awaited for
	// half of the reserve, at the alert path's expense.
	d := deadlines{checks: inv.start.Add(budget), collect: reserve / 2, fleet: reserve / 10}
	if dl, ok := ctx.Deadline(); ok {
		if dl.Unix() <= 0 {
			// SCF's runtime turns a missing deadline into the Unix epoch:
			// that is no deadline, not one long past.
			d.noLimit = true
		} else {
			d.checks = dl.Add(-reserve)
		}
	}
	d.alerts = d.checks.Add(3 * reserve / 10)
	return d
}

// checksCtx is the checks' context: the platform's (without its epoch
// deadline on SCF), ending at the checks' deadline.
func (d deadlines) checksCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.noLimit {
		ctx = context.WithoutCancel(ctx)
	}
	return context.WithDeadline(ctx, d.checks)
}

// alertsCtx is the alert path's context: it outlives the checks' and ends
// at the alert path's deadline.
func (d deadlines) alertsCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.WithoutCancel(ctx), d.alerts)
}

// execute runs the operations concurrently under ctx (ending at the
// checks' deadline) and builds the event with their results and alerts. It
// returns shortly after that deadline even if an operation does not.
func (inv *invocation) execute(ctx context.Context, pl plan, dl deadlines) *Event {
	h := inv.h
	ev := &Event{Platform: h.Platform, Trigger: string(inv.req.Kind), RequestID: inv.requestID, Time: inv.stamp, OK: true}
	ahead := inv.startAhead(pl)
	addWarnings := inv.startWarnings(ctx)
	done := make(chan Result, len(pl.ops))
	attempts := make([]atomic.Int64, len(pl.ops))
	for i, op := range pl.ops {
		octx := wechat.CountingAttempts(ctx, &attempts[i])
		h.workers.run(h.KeepWorkers, func() {
			defer func() {
				if r := recover(); r != nil {
					inv.logPanic(r)
					done <- Result{Operation: op, Duration: time.Since(inv.start), Error: &ErrorInfo{Kind: string(wechat.KindUpstream),
						Message: "internal error; see the function's log for request " + inv.requestID}}
				}
			}()
			if op == wechat.OpGetEnvInfo && pl.queued {
				done <- inv.planFleet(ctx, pl)
				return
			}
			if op == wechat.OpGetEnvInfo && pl.fleet() {
				done <- inv.fleet(ctx, pl, dl.fleet, ahead)
				return
			}
			done <- inv.operation(octx, op, pl.env)
		})
	}
	// The results by the position of their operation in pl.ops (each
	// operation is there once).
	got := make([]Result, len(pl.ops))
	have := make([]bool, len(pl.ops))
	// Operations stuck past the checks' deadline are awaited until the
	// grace ends; its timer starts only when ctx (which ends at that
	// deadline) is done, so most invocations start none.
	ctxDone := ctx.Done()
	var grace <-chan time.Time
collect:
	for n := 0; n < len(pl.ops); {
		select {
		case r := <-done:
			for i, op := range pl.ops {
				if op == r.Operation && !have[i] {
					got[i], have[i] = r, true
					n++
					break
				}
			}
		case <-ctxDone:
			ctxDone = nil
			t := time.NewTimer(time.Until(dl.checks) + dl.collect)
			defer t.Stop()
			grace = t.C
		case <-grace:
			break collect
		}
	}
	for i, op := range pl.ops {
		if !have[i] {
			// Stuck past the grace: report the requests it did send.
			got[i] = Result{Operation: op, Attempts: int(attempts[i].Load()), Duration: time.Since(inv.start), unreached: true, Error: &ErrorInfo{Kind: string(wechat.KindTimeout),
				Retryable: true, Message: "the operation was cut off at the invocation's deadline"}}
		}
		ev.OK = ev.OK && got[i].OK
	}
	// A fleet stuck past the grace may never read ahead: the alert path
	// reads what it needs itself.
	ahead.done()
	ev.Results = got
	for _, r := range ev.Results {
		ev.Alerts = append(ev.Alerts, r.alerts...)
	}
	addWarnings(ev, dl.checks.Add(dl.collect/2))
	return ev
}

// operation runs one WeChat operation.
func (inv *invocation) operation(ctx context.Context, op, env string) Result {
	return inv.operationWith(ctx, op, env, inv.rt.Tokens[op], "")
}

// operationWith runs one WeChat operation with the token from ts, for
// authorizer (empty outside a fleet).
func (inv *invocation) operationWith(ctx context.Context, op, env string, ts wechat.TokenSource, authorizer string) Result {
	start := time.Now()
	c := inv.rt.Client
	var resp *wechat.Response
	var err error
	switch op {
	case wechat.OpGetEnvInfo:
		resp, err = c.Raw(ctx, op, ts, &wechat.RawOptions{Env: env, Keep: alerts.NeedsAttention})
	case wechat.OpDescribeCloudBaseRunEnvs:
		resp, err = c.Raw(ctx, op, ts, &wechat.RawOptions{Keep: alerts.NeedsAttention})
	case wechat.OpStartPushTicket:
		resp, err = inv.startPushTicket(ctx)
	default:
		err = &wechat.Error{Kind: wechat.KindConfig, Op: op, Message: "unknown operation"}
		resp = &wechat.Response{}
	}
	r := Result{Operation: op, Authorizer: authorizer, Attempts: resp.Attempts}
	if err == nil {
		r.OK, r.Response, r.Items, r.alerts = true, resp.Body, resp.Health.Items, alerts.Of(op, authorizer, resp.Health)
	} else {
		r.Error = inv.errorInfoFor(op, authorizer, err)
	}
	r.Duration = time.Since(start)
	return r
}

func (inv *invocation) sizeHint(ev *Event) int {
	n := 512 + len(ev.Alerts)*200
	if !ev.Compact {
		n += minAnswerBytes(ev)
	}
	for _, r := range ev.Results {
		n += 256 + len(r.auths)*128
	}
	return n
}

// answerCap is the synchronous answer cap.
func (inv *invocation) answerCap() int {
	if inv.h.MaxAnswerBytes == 0 {
		return MaxAnswerBytes
	}
	return inv.h.MaxAnswerBytes
}

// tooLarge is the failure of an answer of n bytes, over the cap.
func (inv *invocation) tooLarge(n int) error {
	return &InvocationError{Message: fmt.Sprintf(
		"wxcloudenv: the answer is %d bytes, over the %d-byte (6 MB) synchronous answer limit of Lambda and SCF; "+
			"narrow it with the env filter (env in the payload or query, or WECHAT_ENV), run one operation at a time, "+
			"or for a fleet name fewer authorizers or a shard", n, inv.answerCap())}
}

// minAnswerBytes is a lower bound of the size of ev's answer: the event
// embeds each response as received. When it is over the answer cap
// already, the event is not built.
func minAnswerBytes(ev *Event) int {
	n := 0
	for _, r := range ev.Results {
		n += len(r.Response)
		for i := range r.auths {
			n += r.auths[i].responseLen()
		}
	}
	return n
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
