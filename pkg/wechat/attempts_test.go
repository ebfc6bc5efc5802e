package wechat_test

import (
	"sync/atomic"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestCountingAttempts: the counter sees each request of the call as it is
// sent, and none of the token mints the call needs.
func TestCountingAttempts(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.Inject(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: -1}, wechattest.Fault{Status: 503})
	srv.Inject(wechat.ComponentTokenPath, wechattest.Fault{ErrCode: -1})
	component := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
	ts := wechat.NewAuthorizerTokenSource(c, component, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)
	var n atomic.Int64
	resp, err := c.Raw(wechat.CountingAttempts(t.Context(), &n), wechat.OpGetEnvInfo, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 3 || n.Load() != 3 {
		t.Errorf("attempts %d, counted %d; want 3 each (mints: component %d, authorizer %d, not counted)",
			resp.Attempts, n.Load(), srv.Calls(wechat.ComponentTokenPath), srv.Calls(wechat.AuthorizerTokenPath))
	}
}
