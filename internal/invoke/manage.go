package invoke

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/owners"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

// matchManage matches the management routes (docs/silences.md):
// …/silences, …/silences/{id}, …/authorizers/{appid}/robots.
func matchManage(p string) (route, bool) {
	switch {
	case strings.HasSuffix(p, "/silences"):
		return route{name: "silences", methods: []string{http.MethodGet, http.MethodPost}}, true
	case strings.HasSuffix(p, "/robots"):
		rest := strings.TrimSuffix(p, "/robots")
		i := strings.LastIndex(rest, "/")
		if i < 0 || !strings.HasSuffix(rest[:i], "/authorizers") {
			return route{}, false
		}
		return route{name: "robots", op: rest[i+1:], methods: []string{http.MethodGet, http.MethodPut, http.MethodDelete}}, true
	}
	if i := strings.LastIndex(p, "/"); i >= 0 && strings.HasSuffix(p[:i], "/silences") {
		return route{name: "silence", op: p[i+1:], methods: []string{http.MethodDelete}}, true
	}
	return route{}, false
}

// managed reports whether a route changes or shows state: it needs
// WXCLOUDENV_API_KEY to be set.
func (rt route) managed() bool {
	return rt.name == "silences" || rt.name == "silence" || rt.name == "robots"
}

// basicKey returns the password of an HTTP Basic Authorization header
// (any user name), or "".
func basicKey(h http.Header) string {
	auth := h.Get("Authorization")
	if len(auth) < 6 || !strings.EqualFold(auth[:6], "basic ") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
	if err != nil {
		return ""
	}
	_, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return ""
	}
	return pass
}

// validManageKey is validKey, also taking the key as HTTP Basic's
// password, so that a browser can open the management routes.
func validManageKey(h map[string][]string, key string) bool {
	if validKey(h, key) {
		return true
	}
	got := basicKey(http.Header(h))
	if got == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// manage answers a management route; the API key was checked.
func (inv *invocation) manage(ctx context.Context, rt route, hr *trigger.HTTPRequest) httpAnswer {
	if hr.BadBody != nil {
		return errorAnswer(http.StatusBadRequest, "bad_request", inv.scrub(hr.BadBody.Error()))
	}
	now := time.Now().UTC()
	st, prefix := inv.rt.Store, inv.rt.Config.StorePrefix
	var a httpAnswer
	switch rt.name {
	case "silences":
		a = inv.silences(ctx, &silence.Book{Store: st, Prefix: prefix}, hr, now)
	case "silence":
		a = endSilence(ctx, &silence.Book{Store: st, Prefix: prefix}, rt.op, now)
	case "robots":
		a = ownerRobots(ctx, &owners.Book{Store: st, Prefix: prefix}, rt.op, hr)
	}
	if a.status >= 500 {
		a.body = []byte(inv.scrub(string(a.body)))
	}
	level := slog.LevelInfo
	if a.status >= 400 {
		level = slog.LevelWarn
	}
	inv.logger().LogAttrs(ctx, level, "management", append(inv.baseAttrs(a.status), slog.String("route", rt.name),
		slog.String("method", hr.Method), slog.Bool("ok", a.status < 400))...)
	a.logged = true
	return a
}

func jsonAnswer(status int, v any) httpAnswer {
	b, _ := json.Marshal(v)
	return httpAnswer{status: status, body: b}
}

func fieldAnswer(field, problem string) httpAnswer {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "bad_request", "field": field, "message": field + ": " + problem}})
	return httpAnswer{status: http.StatusBadRequest, body: b}
}

func storeAnswer(err error) httpAnswer {
	return errorAnswer(http.StatusServiceUnavailable, "store", "the shared store could not be read or written: "+err.Error())
}

func (inv *invocation) silences(ctx context.Context, b *silence.Book, hr *trigger.HTTPRequest, now time.Time) httpAnswer {
	if hr.Method == http.MethodGet {
		list, err := b.List(ctx, now)
		if err != nil {
			return storeAnswer(err)
		}
		return jsonAnswer(http.StatusOK, map[string]any{"silences": list})
	}
	s, err := silence.Parse(hr.Body, now)
	var fe *silence.FieldError
	if errors.As(err, &fe) {
		return fieldAnswer(fe.Field, fe.Problem)
	}
	if err := b.Create(ctx, s, now); err != nil {
		if errors.As(err, &fe) {
			return fieldAnswer(fe.Field, fe.Problem)
		}
		return storeAnswer(err)
	}
	return jsonAnswer(http.StatusCreated, s)
}

func endSilence(ctx context.Context, b *silence.Book, id string, now time.Time) httpAnswer {
	switch err := b.End(ctx, id, now); {
	case errors.Is(err, silence.ErrNotFound):
		return errorAnswer(http.StatusNotFound, "not_found", "no silence with this id")
	case err != nil:
		return storeAnswer(err)
	}
	return httpAnswer{status: http.StatusNoContent}
}

func ownerRobots(ctx context.Context, b *owners.Book, appid string, hr *trigger.HTTPRequest) httpAnswer {
	if !trigger.ValidAppID(appid) {
		return fieldAnswer("appid", "must be an authorizer appid: 1 to 64 characters of A-Z, a-z, 0-9 and _")
	}
	switch hr.Method {
	case http.MethodPut:
		urls, err := owners.Parse(hr.Body)
		var fe *owners.FieldError
		if errors.As(err, &fe) {
			return fieldAnswer(fe.Field, fe.Problem)
		}
		if err := b.Put(ctx, appid, urls); err != nil {
			return storeAnswer(err)
		}
		robots, _ := b.Robots(ctx, appid)
		return jsonAnswer(http.StatusOK, map[string]any{"authorizer": appid, "robots": robots})
	case http.MethodDelete:
		if err := b.Delete(ctx, appid); err != nil {
			return storeAnswer(err)
		}
		return httpAnswer{status: http.StatusNoContent}
	}
	robots, err := b.Robots(ctx, appid)
	if err != nil && errors.Is(err, store.ErrUnavailable) {
		return storeAnswer(err)
	}
	if robots == nil {
		robots = []owners.Robot{}
	}
	return jsonAnswer(http.StatusOK, map[string]any{"authorizer": appid, "robots": robots})
}
