package wechattest_test

import (
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestStaleList: an authorizer whose refresh token rotates, with
// StaleList, is listed with its first refresh token, which no longer
// mints (61023); without StaleList the list shows the current one.
func TestStaleList(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	const app = "wxstalelist0001"
	srv.SetAuthorizer(app, wechattest.Authorizer{RotateRefresh: true, StaleList: true})
	first := wechattest.RefreshTokenFor(app)
	if _, next, err := wechat.MintAuthorizerToken(t.Context(), c, comp, wechattest.ComponentAppID, app, first); err != nil || next == "" {
		t.Fatalf("mint: next %q, %v", next, err)
	}
	listed := func() string {
		l, err := c.GetAuthorizerList(t.Context(), comp, wechattest.ComponentAppID, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.List {
			if e.AuthorizerAppID == app {
				return e.RefreshToken.Reveal()
			}
		}
		return ""
	}
	if got := listed(); got != first {
		t.Errorf("stale list shows %q, want the first token", got)
	}
	if _, _, err := wechat.MintAuthorizerToken(t.Context(), c, comp, wechattest.ComponentAppID, app, first); errcode(err) != 61023 {
		t.Errorf("the listed stale token: %v, want 61023", err)
	}
	srv.SetAuthorizer(app, wechattest.Authorizer{RotateRefresh: true})
	if got := listed(); got != srv.RefreshToken(app) || got == first {
		t.Errorf("list shows %q, want the current token", got)
	}
}
