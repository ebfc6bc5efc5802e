package wechat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func TestSingleMintUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.SetLatency(wechat.StableTokenPath, 20*time.Millisecond) // widen the race window
	ts := wechat.NewStableTokenSource(c, wechattest.AppID, wechattest.AppSecret)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if _, _, err := c.GetEnvInfo(t.Context(), ts, ""); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("GetEnvInfo: %v", err)
	}
	if got := srv.Calls(wechat.StableTokenPath); got != 1 {
		t.Errorf("stable_token called %d times, want 1", got)
	}
	if ts.Mints() != 1 {
		t.Errorf("Mints() = %d, want 1", ts.Mints())
	}
	if got := srv.Calls(wechat.GetEnvInfoPath); got != 100 {
		t.Errorf("getenvinfo called %d times, want 100", got)
	}
}

func TestRemintOnRevocation(t *testing.T) {
	t.Parallel()
	for _, revoke := range []struct {
		name string
		do   func(*wechattest.Server)
		code int
	}{
		{"revoked 40001", (*wechattest.Server).RevokeTokens, 40001},
		{"expired 42001", (*wechattest.Server).ExpireTokens, 42001},
	} {
		t.Run(revoke.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			ts := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
			if _, _, err := c.DescribeCloudBaseRunEnvs(t.Context(), ts); err != nil {
				t.Fatalf("first call: %v", err)
			}
			revoke.do(srv)
			_, resp, err := c.DescribeCloudBaseRunEnvs(t.Context(), ts)
			if err != nil {
				t.Fatalf("call after revocation: %v", err)
			}
			if resp.Attempts != 2 {
				t.Errorf("attempts = %d, want 2 (rejected, then re-minted)", resp.Attempts)
			}
			if got := srv.Calls(wechat.ComponentTokenPath); got != 2 {
				t.Errorf("component token minted %d times, want 2", got)
			}
		})
	}
}

func TestRemintOnlyOnce(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 40001})
	ts := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
	_, resp, err := c.DescribeCloudBaseRunEnvs(t.Context(), ts)
	if !errors.Is(err, &wechat.Error{Kind: wechat.KindAuth, ErrCode: 40001}) {
		t.Fatalf("error = %v, want auth 40001", err)
	}
	if resp.Attempts != 2 || srv.Calls(wechat.ComponentTokenPath) != 2 {
		t.Errorf("attempts %d, mints %d; want 2 and 2", resp.Attempts, srv.Calls(wechat.ComponentTokenPath))
	}
}

func TestStaticTokenRejectedNotRetried(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("wechattest-stale"), "")
	var we *wechat.Error
	if !errors.As(err, &we) || we.Kind != wechat.KindAuth || we.ErrCode != 40001 || we.Retryable {
		t.Fatalf("error = %v, want non-retryable auth 40001", err)
	}
	if resp.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", resp.Attempts)
	}
}

func TestAuthorizerChain(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	comp := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
	auth := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)
	for range 3 {
		if _, _, err := c.GetEnvInfo(t.Context(), auth, ""); err != nil {
			t.Fatalf("GetEnvInfo: %v", err)
		}
		if _, _, err := c.DescribeCloudBaseRunEnvs(t.Context(), comp); err != nil {
			t.Fatalf("DescribeCloudBaseRunEnvs: %v", err)
		}
	}
	if srv.Calls(wechat.ComponentTokenPath) != 1 || srv.Calls(wechat.AuthorizerTokenPath) != 1 {
		t.Errorf("mints: component %d, authorizer %d; want 1 and 1",
			srv.Calls(wechat.ComponentTokenPath), srv.Calls(wechat.AuthorizerTokenPath))
	}
	// Revoking everything re-mints both, in the right order.
	srv.RevokeTokens()
	if _, _, err := c.GetEnvInfo(t.Context(), auth, ""); err != nil {
		t.Fatalf("GetEnvInfo after revocation: %v", err)
	}
}

func TestMintFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mk       func(*wechat.Client) wechat.TokenSource
		kind     wechat.Kind
		errcode  int
		wantOp   string
		mintPath string
	}{
		{"bad app secret", func(c *wechat.Client) wechat.TokenSource {
			return wechat.NewStableTokenSource(c, wechattest.AppID, "wrong")
		}, wechat.KindAuth, 40125, "stable_token", wechat.StableTokenPath},
		{"bad ticket", func(c *wechat.Client) wechat.TokenSource {
			return wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, "old")
		}, wechat.KindAuth, 61006, "component_token", wechat.ComponentTokenPath},
		{"bad refresh token", func(c *wechat.Client) wechat.TokenSource {
			comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
			return wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "revoked")
		}, wechat.KindAuth, 61023, "authorizer_token", wechat.AuthorizerTokenPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			_, resp, err := c.GetEnvInfo(t.Context(), tt.mk(c), "")
			var we *wechat.Error
			if !errors.As(err, &we) || we.Kind != tt.kind || we.ErrCode != tt.errcode || we.Op != tt.wantOp {
				t.Fatalf("error = %#v, want %s %d from %s", err, tt.kind, tt.errcode, tt.wantOp)
			}
			if resp.Attempts != 0 || srv.Calls(wechat.GetEnvInfoPath) != 0 {
				t.Errorf("attempts = %d: the endpoint was called without a token", resp.Attempts)
			}
			if srv.Calls(tt.mintPath) != 1 {
				t.Errorf("mint calls = %d, want 1", srv.Calls(tt.mintPath))
			}
		})
	}
}

func TestMintRetriesTransient(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, wechat.WithRetries(2))
	srv.Inject(wechat.StableTokenPath, wechattest.Fault{ErrCode: -1}, wechattest.Fault{Status: 503})
	ts := wechat.NewStableTokenSource(c, wechattest.AppID, wechattest.AppSecret)
	_, resp, err := c.GetEnvInfo(t.Context(), ts, "")
	if err != nil {
		t.Fatalf("GetEnvInfo: %v", err)
	}
	if resp.Attempts != 1 || srv.Calls(wechat.StableTokenPath) != 3 {
		t.Errorf("attempts %d, mint calls %d; want 1 and 3 (mints are not counted)", resp.Attempts, srv.Calls(wechat.StableTokenPath))
	}
}

func TestCachedTokenRefreshAhead(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	mints := 0
	ts := wechat.NewCachedTokenSource(func(context.Context) (*wechat.Token, error) {
		mints++
		return &wechat.Token{Value: "t", Expiry: clock().Add(2 * time.Hour)}, nil
	})
	wechat.SetClock(ts, clock)
	tok, _ := ts.Token(t.Context())
	if !tok.Minted() {
		t.Error("a minted token does not say so")
	}
	advance(time.Hour + 50*time.Minute) // 10 minutes left: still used
	ts.Token(t.Context())
	if mints != 1 {
		t.Errorf("mints = %d after 1h50m, want 1", mints)
	}
	advance(6 * time.Minute) // 4 minutes left: inside the 5-minute margin
	ts.Token(t.Context())
	if mints != 2 {
		t.Errorf("mints = %d after 1h56m, want 2", mints)
	}
	tok2, _ := ts.Token(t.Context())
	ts.Invalidate(tok) // an old token does not drop the new one
	if tok3, _ := ts.Token(t.Context()); tok3 != tok2 || mints != 2 {
		t.Errorf("invalidating a stale token dropped the current one")
	}
	ts.Invalidate(tok2)
	ts.Token(t.Context())
	if mints != 3 {
		t.Errorf("mints = %d after Invalidate, want 3", mints)
	}
}

func TestWaiterGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ts := wechat.NewCachedTokenSource(func(ctx context.Context) (*wechat.Token, error) {
		<-release
		return &wechat.Token{Value: "t"}, nil
	})
	go ts.Token(context.Background())
	for ts.Mints() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ts.Token(ctx); !errors.Is(err, wechat.ErrTimeout) {
		t.Errorf("waiter error = %v, want timeout", err)
	}
	close(release)
}
