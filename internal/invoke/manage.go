package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

// matchManage matches the silences' routes (docs/silences-and-robots.md#silences):
// …/silences and …/silences/{id}. The owner robots' route is matchRobots'.
func matchManage(p string) (route, bool) {
	if strings.HasSuffix(p, "/silences") {
		return route{name: "silences", methods: []string{http.MethodGet, http.MethodPost}}, true
	}
	if i := strings.LastIndex(p, "/"); i >= 0 && strings.HasSuffix(p[:i], "/silences") {
		return route{name: "silence", op: p[i+1:], methods: []string{http.MethodDelete}}, true
	}
	return route{}, false
}

// managed reports whether a route is one of the silences': it needs
// WXCLOUDENV_API_KEY to be set (managementAuth).
func (rt route) managed() bool {
	return rt.name == "silences" || rt.name == "silence"
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
