package wechat_test

import (
	"errors"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func TestGetQuota(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.SetQuota(wechat.GetAuthorizerListPath, 2000, 1900)
	comp := componentSource(c)
	cases := []struct {
		path    string
		want    wechat.Quota
		percent float64
		errcode int
		kind    wechat.Kind
	}{
		{wechat.GetAuthorizerListPath, wechat.Quota{DailyLimit: 2000, Used: 1900, Remain: 100}, 5, 0, ""},
		{wechat.AuthorizerTokenPath, wechat.Quota{DailyLimit: wechattest.DefaultQuotaLimit, Remain: wechattest.DefaultQuotaLimit}, 100, 0, ""},
		{"cgi-bin/no-slash", wechat.Quota{}, 0, 0, wechat.KindInvalidRequest},
	}
	for _, tc := range cases {
		q, err := c.GetQuota(t.Context(), comp, tc.path)
		if tc.kind != "" {
			if !errors.Is(err, &wechat.Error{Kind: tc.kind}) {
				t.Errorf("%s: %v, want %s", tc.path, err, tc.kind)
			}
			continue
		}
		if err != nil || *q != tc.want || q.RemainingPercent() != tc.percent {
			t.Errorf("%s: %+v (%v%%), %v; want %+v (%v%%)", tc.path, q, q.RemainingPercent(), err, tc.want, tc.percent)
		}
	}
	// A token WeChat rejects is an auth error, with no token in its text.
	_, err := c.GetQuota(t.Context(), wechat.StaticTokenSource("not-a-token"), wechat.AuthorizerTokenPath)
	if !errors.Is(err, wechat.ErrAuth) {
		t.Errorf("bad token: %v", err)
	}
	noSecretIn(t, err.Error(), "not-a-token")
	if n := srv.Calls(wechat.QuotaPath); n != 3 {
		t.Errorf("%d calls reached %s, want 3", n, wechat.QuotaPath)
	}
}
