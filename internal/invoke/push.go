package invoke

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// push answers WeChat's authorization-event push
// (docs/contract.md#authorization-events) in plain text, and writes its one
// log line: the InfoType, the authorizer and the outcome, never the
// ticket, the code or a token.
func (inv *invocation) push(ctx context.Context, hr *trigger.HTTPRequest) httpAnswer {
	text := map[string]string{"Content-Type": "text/plain; charset=utf-8"}
	if hr.BadBody != nil {
		return httpAnswer{status: http.StatusBadRequest, header: text, body: []byte("the body is marked base64 but does not decode")}
	}
	a := inv.rt.Push.Handle(ctx, hr.Query, hr.Body)
	level := slog.LevelInfo
	if a.Status != http.StatusOK {
		level = slog.LevelWarn
	}
	attrs := append(inv.baseAttrs(a.Status), slog.Bool("ok", a.Status == http.StatusOK), slog.String("info_type", trunc.Cut(a.InfoType, 64)),
		slog.String("authorizer", trunc.Cut(a.Authorizer, 64)), slog.String("outcome", a.Outcome))
	inv.logger().LogAttrs(ctx, level, "authorization event", attrs...)
	if a.Outcome == "config" {
		// Like every other error answer: JSON with the error kind.
		ea := errorAnswer(a.Status, string(wechat.KindConfig), a.Body)
		ea.logged = true
		return ea
	}
	return httpAnswer{status: a.Status, header: text, body: []byte(a.Body), logged: true}
}

// startPushTicket asks WeChat to start pushing component verify tickets to
// the platform's authorization-event URL: run it once after deploying,
// with the payload {"operations":["start_push_ticket"]}.
func (inv *invocation) startPushTicket(ctx context.Context) (*wechat.Response, error) {
	c := inv.rt.Config
	if c.ComponentAppID == "" || c.ComponentAppSecret == "" {
		return &wechat.Response{}, &wechat.Error{Kind: wechat.KindConfig, Op: wechat.OpStartPushTicket,
			Message: "start_push_ticket needs WECHAT_COMPONENT_APPID and WECHAT_COMPONENT_APPSECRET"}
	}
	return inv.rt.Client.StartPushTicket(ctx, c.ComponentAppID, c.ComponentAppSecret)
}
