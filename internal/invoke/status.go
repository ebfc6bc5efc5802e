package invoke

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/status"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

// statusBudget bounds the store reads of a status page when the
// invocation has more time.
const statusBudget = 20 * time.Second

// matchStatus matches the status page's routes (docs/status-page.md):
// …/status, …/status.json and …/status/authorizers/{appid}.
func matchStatus(p string) (route, bool) {
	get := []string{http.MethodGet}
	switch {
	case strings.HasSuffix(p, "/status"):
		return route{name: "status", methods: get}, true
	case strings.HasSuffix(p, "/status.json"):
		return route{name: "status", op: "json", methods: get}, true
	}
	i := strings.LastIndex(p, "/status/authorizers/")
	if i < 0 {
		return route{}, false
	}
	// An appid that is not one is a 404 after the key check.
	return route{name: "status", op: "authorizer:" + p[i+len("/status/authorizers/"):], methods: get}, true
}

// statusAuth checks a status route's key (docs/contract.md#the-status-page-routes): 403
// while WXCLOUDENV_API_KEY is unset; else the key as Bearer, X-Api-Key or
// the password of HTTP Basic, and 401 with a Basic challenge without it,
// so that a browser asks for it.
func (inv *invocation) statusAuth(h http.Header) (httpAnswer, bool) {
	key := inv.apiKey()
	if key == "" {
		return errorAnswer(http.StatusForbidden, "forbidden",
			"the status page needs WXCLOUDENV_API_KEY to be set; set it, then open the page with the key as the password"), false
	}
	if validKey(h, key) || validBasic(h, key) {
		return httpAnswer{}, true
	}
	a := errorAnswer(http.StatusUnauthorized, "unauthorized",
		"a valid API key is required: any user name with the key as the password, or Authorization: Bearer <key>, or X-Api-Key: <key>")
	a.header = map[string]string{"WWW-Authenticate": `Basic realm="wxcloudenv"`}
	return a, false
}

// validBasic reports, in constant time, whether the request carries key as
// the password of HTTP Basic (any user name).
func validBasic(h http.Header, key string) bool {
	auth := h.Get("Authorization")
	if len(auth) < 6 || !strings.EqualFold(auth[:6], "basic ") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
	if err != nil {
		return false
	}
	_, pass, ok := strings.Cut(string(raw), ":")
	if !ok || pass == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// statusHeaders are the status page's headers (docs/contract.md#the-status-page-routes).
func statusHeaders(contentType string) map[string]string {
	return map[string]string{
		"Content-Type":            contentType,
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
}

// serveStatus answers a status route from the store alone.
func (inv *invocation) serveStatus(ctx context.Context, hr *trigger.HTTPRequest, rt route) httpAnswer {
	dl := time.Now().Add(statusBudget)
	if d, ok := ctx.Deadline(); ok && d.Unix() > 0 && d.Add(-DeadlineReserve).Before(dl) {
		dl = d.Add(-DeadlineReserve)
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
	defer cancel()
	c := inv.rt.Config
	src := status.Source{Store: inv.rt.Store, Prefix: c.StorePrefix, ComponentAppID: c.ComponentAppID, Now: inv.stamp,
		Names: status.StoredNames(inv.rt.Store, c.StorePrefix)}
	if c.TokenLayout != "" && c.TokenLayout != string(tokens.LayoutOwn) {
		src.ForeignLayout = c.TokenLayout
	}
	var body []byte
	var err error
	code := http.StatusOK
	ctype := "text/html; charset=utf-8"
	what := "page"
	switch {
	case rt.op == "json":
		var d *status.Data
		d, err = status.Load(sctx, src)
		body, _ = json.Marshal(d)
		ctype, what = "application/json", "json"
	case strings.HasPrefix(rt.op, "authorizer:") && !status.ValidAppID(strings.TrimPrefix(rt.op, "authorizer:")):
		return errorAnswer(http.StatusNotFound, "not_found", "no such authorizer: an appid is 1 to 64 characters of [A-Za-z0-9_]")
	case strings.HasPrefix(rt.op, "authorizer:"):
		var d *status.AuthorizerData
		d, err = status.LoadAuthorizer(sctx, src, strings.TrimPrefix(rt.op, "authorizer:"))
		body, what = d.HTML(), "authorizer"
	default:
		var d *status.Data
		d, err = status.Load(sctx, src)
		body = d.HTML()
	}
	level := slog.LevelInfo
	if err != nil {
		// What could be read is shown, with what could not named on the
		// page; the status says it is incomplete.
		code, level = http.StatusServiceUnavailable, slog.LevelWarn
	}
	attrs := append(inv.baseAttrs(code), slog.String("status_page", what), slog.Int("bytes", len(body)))
	if err != nil {
		attrs = append(attrs, slog.String("kind", "store"), slog.String("error", inv.scrub(err.Error())))
	}
	attrs = append(attrs, slog.Bool("ok", err == nil))
	inv.logger().LogAttrs(ctx, level, "status page", attrs...)
	return httpAnswer{status: code, header: statusHeaders(ctype), body: body, logged: true}
}
