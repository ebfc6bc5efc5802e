package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// componentSource mints component tokens from the fake's credentials.
func componentSource(c *wechat.Client) wechat.TokenSource {
	return wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
}

// noSecretIn fails when text holds any of secrets.
func noSecretIn(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%q shows the secret %q", text, s)
		}
	}
}

func TestQueryAuth(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	ctx := context.Background()
	comp := componentSource(c)
	const appID = "wxqueryauth000001"
	code := srv.Authorize(appID)

	a, err := c.QueryAuth(ctx, comp, wechattest.ComponentAppID, code)
	if err != nil {
		t.Fatal(err)
	}
	if a.AuthorizerAppID != appID || a.RefreshToken.Reveal() != srv.RefreshToken(appID) || !a.HasFunc(49) || a.HasFunc(7) {
		t.Fatalf("QueryAuth = %+v (funcs %v)", a, a.FuncIDs)
	}
	if a.AccessToken == nil || a.AccessToken.Expiry.IsZero() {
		t.Fatalf("no access token expiry: %v", a.AccessToken)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", a, *a, a.AccessToken), fmt.Sprint(a.RefreshToken)} {
		noSecretIn(t, out, code, a.RefreshToken.Reveal(), a.AccessToken.Value.Reveal())
	}
	// The access token is the authorizer's own: getenvinfo answers its
	// environments.
	list, _, err := c.GetEnvInfo(ctx, wechat.StaticTokenSource(a.AccessToken.Value.Reveal()), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.InfoList) != wechattest.DefaultEnvs || list.InfoList[0].Env != wechattest.EnvID(appID, 0) {
		t.Fatalf("getenvinfo with the exchanged token = %+v", list.InfoList)
	}
	// The refresh token mints at api_authorizer_token.
	ts := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, appID, a.RefreshToken.Reveal())
	if _, _, err := c.GetEnvInfo(ctx, ts, ""); err != nil {
		t.Fatal(err)
	}
	// The code can be exchanged again while it is valid, for the same
	// refresh token.
	again, err := c.QueryAuth(ctx, comp, wechattest.ComponentAppID, code)
	if err != nil {
		t.Fatal(err)
	}
	if again.RefreshToken != a.RefreshToken || again.AccessToken.Value == a.AccessToken.Value {
		t.Fatal("a second exchange does not give the same refresh token and a new access token")
	}
	if got := srv.AuthorizerMints(appID); got != 3 {
		t.Fatalf("authorizer mints = %d, want 3 (two exchanges, one refresh)", got)
	}
	if got := srv.Calls(wechat.QueryAuthPath); got != 2 {
		t.Fatalf("query_auth calls = %d, want 2", got)
	}
}

func TestQueryAuthErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		prep   func(srv *wechattest.Server) (code string)
		comp   func(c *wechat.Client) wechat.TokenSource
		kind   wechat.Kind
		errc   int
		called bool
	}{
		{"unknown code", func(*wechattest.Server) string { return "queryauthcode@@@made-up-code" }, componentSource, wechat.KindUpstream, 61010, true},
		{"no code", func(*wechattest.Server) string { return "" }, componentSource, wechat.KindInvalidRequest, 0, false},
		{"authorizer left", func(srv *wechattest.Server) string {
			code := srv.Authorize("wxleft0000000001")
			srv.Unauthorize("wxleft0000000001")
			return code
		}, componentSource, wechat.KindUpstream, 61010, true},
		{"ip not allowed", func(srv *wechattest.Server) string {
			srv.Inject(wechat.QueryAuthPath, wechattest.Fault{ErrCode: 61004})
			return srv.Authorize("wxip000000000001")
		}, componentSource, wechat.KindPermission, 61004, true},
		{"bad component token", func(srv *wechattest.Server) string { return srv.Authorize("wxbadtoken000001") },
			func(*wechat.Client) wechat.TokenSource { return wechat.StaticTokenSource("not-a-component-token") }, wechat.KindAuth, 40014, true},
		{"ticket refused", func(srv *wechattest.Server) string { srv.StrictTickets(true); return srv.Authorize("wxstrict00000001") },
			componentSource, wechat.KindAuth, 61006, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			code := tc.prep(srv)
			a, err := c.QueryAuth(context.Background(), tc.comp(c), wechattest.ComponentAppID, code)
			if a != nil || err == nil {
				t.Fatalf("QueryAuth = %+v, %v", a, err)
			}
			var we *wechat.Error
			if !errors.As(err, &we) || we.Kind != tc.kind || we.ErrCode != tc.errc {
				t.Fatalf("QueryAuth: %v, want kind %s errcode %d", err, tc.kind, tc.errc)
			}
			noSecretIn(t, err.Error(), code, wechattest.ComponentAppSecret)
			if called := srv.Calls(wechat.QueryAuthPath) > 0; called != tc.called {
				t.Fatalf("query_auth called: %v, want %v", called, tc.called)
			}
		})
	}
}

func TestStartPushTicket(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	ctx := context.Background()
	if _, err := c.StartPushTicket(ctx, wechattest.ComponentAppID, wechattest.ComponentAppSecret); err != nil {
		t.Fatal(err)
	}
	const wrong = "wechattest-wrong-component-secret"
	_, err := c.StartPushTicket(ctx, wechattest.ComponentAppID, wrong)
	if !errors.Is(err, &wechat.Error{Kind: wechat.KindAuth, ErrCode: 40125}) {
		t.Fatalf("wrong secret: %v, want auth 40125", err)
	}
	noSecretIn(t, err.Error(), wrong, wechattest.ComponentAppSecret)
	if c.Scrubber().Scrub("x "+wrong) != "x "+wechat.Redacted {
		t.Fatal("the secret passed to StartPushTicket is not kept")
	}
	srv.Inject(wechat.StartPushTicketPath, wechattest.Fault{ErrCode: -1}, wechattest.Fault{Status: 502})
	if _, err := c.StartPushTicket(ctx, wechattest.ComponentAppID, wechattest.ComponentAppSecret); err != nil {
		t.Fatalf("transient failures are not retried: %v", err)
	}
	if got := srv.Calls(wechat.StartPushTicketPath); got != 5 {
		t.Fatalf("start_push_ticket calls = %d, want 5 (ok, refused, two transient failures, ok)", got)
	}
}

func TestGetAuthorizerList(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	ctx := context.Background()
	comp := componentSource(c)
	srv.SetFleet(1200)
	pending := "wxpending0000001"
	srv.Authorize(pending) // authorized, code not yet exchanged

	want := srv.Authorizers()
	var got []string
	for offset := 0; ; offset += wechat.MaxAuthorizerListCount {
		page, err := c.GetAuthorizerList(ctx, comp, wechattest.ComponentAppID, offset, wechat.MaxAuthorizerListCount)
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != len(want) {
			t.Fatalf("total_count = %d, want %d", page.TotalCount, len(want))
		}
		for _, e := range page.List {
			got = append(got, e.AuthorizerAppID)
			wantRT := srv.RefreshToken(e.AuthorizerAppID)
			if e.AuthorizerAppID == pending {
				wantRT = ""
			}
			if e.RefreshToken.Reveal() != wantRT || e.AuthTime == 0 {
				t.Fatalf("entry %s: refresh token matches %v, auth_time %d", e.AuthorizerAppID, e.RefreshToken.Reveal() == wantRT, e.AuthTime)
			}
			if e.RefreshToken != "" && c.Scrubber().Scrub(e.RefreshToken.Reveal()) != wechat.Redacted {
				t.Fatal("a listed refresh token is not kept as a secret")
			}
		}
		if len(page.List) < wechat.MaxAuthorizerListCount {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged %d authorizers, want %d in order", len(got), len(want))
	}
	if n := srv.Calls(wechat.GetAuthorizerListPath); n != 3 {
		t.Fatalf("list calls = %d, want 3", n)
	}
	page, err := c.GetAuthorizerList(ctx, comp, wechattest.ComponentAppID, 5000, 10)
	if err != nil || len(page.List) != 0 || page.TotalCount != len(want) {
		t.Fatalf("page past the end = %+v, %v", page, err)
	}
}

func TestGetAuthorizerListErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		offset, count int
		fault         *wechattest.Fault
		kind          wechat.Kind
		errc          int
		called        bool
	}{
		{"count over 500", 0, 501, nil, wechat.KindInvalidRequest, 0, false},
		{"count 0", 0, 0, nil, wechat.KindInvalidRequest, 0, false},
		{"negative offset", -1, 10, nil, wechat.KindInvalidRequest, 0, false},
		{"not allowed", 0, 10, &wechattest.Fault{ErrCode: 61004}, wechat.KindPermission, 61004, true},
		{"quota", 0, 10, &wechattest.Fault{ErrCode: 45009}, wechat.KindRateLimit, 45009, true},
		{"not json", 0, 10, &wechattest.Fault{Body: []byte("<html>")}, wechat.KindBadResponse, 0, true},
		{"no total_count", 0, 10, &wechattest.Fault{Body: []byte(`{"list":[]}`)}, wechat.KindBadResponse, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, wechat.WithRetries(0))
			if tc.fault != nil {
				srv.Always(wechat.GetAuthorizerListPath, *tc.fault)
			}
			_, err := c.GetAuthorizerList(context.Background(), wechat.StaticTokenSource(wechattest.ComponentAccessToken), wechattest.ComponentAppID, tc.offset, tc.count)
			var we *wechat.Error
			if !errors.As(err, &we) || we.Kind != tc.kind || we.ErrCode != tc.errc {
				t.Fatalf("GetAuthorizerList: %v, want kind %s errcode %d", err, tc.kind, tc.errc)
			}
			if called := srv.Calls(wechat.GetAuthorizerListPath) > 0; called != tc.called {
				t.Fatalf("called: %v, want %v", called, tc.called)
			}
		})
	}
}

// Each authorizer of the fleet fails on its own, classified, and never
// hides another's answer.
func TestFleetFaults(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, wechat.WithRetries(0))
	ctx := context.Background()
	comp := componentSource(c)
	ids := srv.SetFleet(6)
	srv.SetAuthorizer(ids[1], wechattest.Authorizer{Revoked: true})
	srv.SetAuthorizer(ids[2], wechattest.Authorizer{EnvInfoErrCode: 61007})
	srv.SetAuthorizer(ids[3], wechattest.Authorizer{EnvInfoErrCode: 85088})
	srv.SetAuthorizer(ids[4], wechattest.Authorizer{Status: "HALTED", Envs: 5})
	srv.SetAuthorizer(ids[5], wechattest.Authorizer{Envs: -1})
	for i, tc := range []struct {
		kind   wechat.Kind
		errc   int
		envs   int
		status string
	}{
		{"", 0, 2, "NORMAL"},
		{wechat.KindAuth, 61023, 0, ""},
		{wechat.KindPermission, 61007, 0, ""},
		{wechat.KindPermission, 85088, 0, ""},
		{"", 0, 5, "HALTED"},
		{"", 0, 0, ""},
	} {
		rt := srv.RefreshToken(ids[i])
		ts := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, ids[i], rt)
		list, _, err := c.GetEnvInfo(ctx, ts, "")
		if tc.kind != "" {
			var we *wechat.Error
			if !errors.As(err, &we) || we.Kind != tc.kind || we.ErrCode != tc.errc {
				t.Fatalf("%s: %v, want %s %d", ids[i], err, tc.kind, tc.errc)
			}
			noSecretIn(t, err.Error(), rt)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", ids[i], err)
		}
		if len(list.InfoList) != tc.envs || (tc.envs > 0 && (list.InfoList[0].Status != tc.status || list.InfoList[tc.envs-1].Status != "NORMAL")) {
			t.Fatalf("%s: %+v", ids[i], list.InfoList)
		}
		// The env filter applies to generated answers too.
		if tc.envs > 1 {
			one, _, err := c.GetEnvInfo(ctx, ts, wechattest.EnvID(ids[i], 1))
			if err != nil || len(one.InfoList) != 1 || one.InfoList[0].Env != wechattest.EnvID(ids[i], 1) {
				t.Fatalf("%s filtered: %+v, %v", ids[i], one, err)
			}
		}
	}
}
