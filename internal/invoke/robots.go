package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

// robotsBudget bounds the store work of a robots route when the
// invocation has more time.
const robotsBudget = 10 * time.Second

// robotsMethods are the methods of …/authorizers/{appid}/robots.
var robotsMethods = []string{http.MethodGet, http.MethodPut, http.MethodDelete}

// matchRobots matches …/authorizers/{appid}/robots (docs/silences-and-robots.md#owner-robots); op is the appid as sent,
// checked after the key.
func matchRobots(p string) (route, bool) {
	rest, ok := strings.CutSuffix(p, "/robots")
	if !ok {
		return route{}, false
	}
	i := strings.LastIndex(rest, "/authorizers/")
	if i < 0 {
		return route{}, false
	}
	return route{name: "robots", op: rest[i+len("/authorizers/"):], methods: robotsMethods}, true
}

// fieldAnswer is a 400 that names the field at fault.
func fieldAnswer(field, problem string) httpAnswer {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{
		"code": "bad_request", "field": field, "message": field + ": " + problem}})
	return httpAnswer{status: http.StatusBadRequest, body: b}
}

// robotsView is the answer of GET and PUT: kinds and hosts, never a URL.
type robotsView struct {
	Authorizer string         `json:"authorizer"`
	Robots     []robots.Robot `json:"robots"`
}

// serveRobots answers …/authorizers/{appid}/robots: the key first (403,
// 401), then 500 for an invalid configuration, 405, 413 and 400 in the
// order of docs/contract.md#check-order. Every answer is logged here, with kinds and hosts
// only.
func (inv *invocation) serveRobots(ctx context.Context, hr *trigger.HTTPRequest, rt route) httpAnswer {
	if a, pass := inv.managementAuth(hr.Header, "the management routes need WXCLOUDENV_API_KEY to be set; set it, then send the key"); !pass {
		return a
	}
	if inv.cfgErr != nil {
		return errorAnswer(http.StatusInternalServerError, "config", "invalid configuration: "+inv.cfgErr.Error())
	}
	allowed := false
	for _, m := range rt.methods {
		allowed = allowed || m == hr.Method
	}
	if !allowed {
		a := errorAnswer(http.StatusMethodNotAllowed, "method_not_allowed", "this route accepts "+strings.Join(rt.methods, ", "))
		a.header = map[string]string{"Allow": strings.Join(rt.methods, ", ")}
		return a
	}
	if hr.RawBodyLen > MaxRequestBody {
		return errorAnswer(http.StatusRequestEntityTooLarge, "payload_too_large", "the request body is over 64 KiB")
	}
	if hr.BadBody != nil {
		return fieldAnswer("body", "is not valid base64")
	}
	appid := rt.op
	if !robots.ValidAppID(appid) {
		return fieldAnswer("appid", "an authorizer's appid is 1 to 64 characters of [A-Za-z0-9_]")
	}

	dl := time.Now().Add(robotsBudget)
	if d, ok := ctx.Deadline(); ok && d.Unix() > 0 && d.Add(-DeadlineReserve).Before(dl) {
		dl = d.Add(-DeadlineReserve)
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
	defer cancel()
	st, prefix := inv.rt.Store, inv.rt.Config.StorePrefix

	var a httpAnswer
	view := robotsView{Authorizer: appid, Robots: []robots.Robot{}}
	var err error
	switch hr.Method {
	case http.MethodPut:
		chans, perr := robots.PutBody(sctx, st, prefix, appid, hr.Body)
		if fe := (*robots.FieldError)(nil); errors.As(perr, &fe) {
			return fieldAnswer(fe.Field, fe.Problem)
		}
		if err = perr; err == nil {
			view.Robots = robots.Describe(chans)
		}
	case http.MethodGet:
		chans, gerr := robots.Get(sctx, st, prefix, appid)
		err = gerr
		view.Robots = append(view.Robots, robots.Describe(chans)...)
	case http.MethodDelete:
		err = robots.Delete(sctx, st, prefix, appid)
	}
	switch {
	case errors.Is(err, robots.ErrFull):
		a = errorAnswer(http.StatusInsufficientStorage, "store_full",
			"this part of the robot registry is full ("+strconv.Itoa(robots.MaxShardBytes)+" bytes); nothing was changed: remove robots that are no longer used")
	case err != nil:
		a = errorAnswer(http.StatusServiceUnavailable, "store", "the shared store could not be read or written; nothing was changed, try again: "+inv.scrub(err.Error()))
	case hr.Method == http.MethodDelete:
		a = httpAnswer{status: http.StatusNoContent}
	default:
		b, _ := json.Marshal(view)
		a = httpAnswer{status: http.StatusOK, body: b}
	}
	level := slog.LevelInfo
	attrs := append(inv.baseAttrs(a.status), slog.String("route", "robots"), slog.String("method", hr.Method),
		slog.String("authorizer", appid))
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("kind", "store"), slog.String("error", inv.scrub(err.Error())))
	} else if hr.Method != http.MethodDelete {
		kinds := make([]string, len(view.Robots))
		for i, r := range view.Robots {
			kinds[i] = string(r.Kind) + " " + r.Host
		}
		attrs = append(attrs, slog.Any("robots", kinds))
	}
	attrs = append(attrs, slog.Bool("ok", err == nil))
	inv.logger().LogAttrs(ctx, level, "owner robots", attrs...)
	a.logged = true
	return a
}
