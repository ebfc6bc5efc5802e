package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

// TestFollowerTakesOver: when the leader's own deadline ends a shared mint,
// a follower whose context is alive mints instead of failing with the
// leader's timeout.
func TestFollowerTakesOver(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	// The first mint hangs until the leader gives up; the second answers.
	srv.Inject(wechat.StableTokenPath, wechattest.Fault{Hang: true})
	ts := wechat.NewStableTokenSource(c, wechattest.AppID, wechattest.AppSecret)

	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := ts.Token(leaderCtx)
		leaderErr <- err
	}()
	for srv.Calls(wechat.StableTokenPath) == 0 {
		time.Sleep(time.Millisecond)
	}
	followerTok := make(chan *wechat.Token, 1)
	followerErr := make(chan error, 1)
	go func() {
		tok, err := ts.Token(t.Context())
		followerTok <- tok
		followerErr <- err
	}()
	// Let the follower join the flight before the leader gives up.
	for wechat.Waiters(ts) != 1 {
		time.Sleep(time.Millisecond)
	}
	cancelLeader()
	if err := <-leaderErr; err == nil {
		t.Fatal("leader succeeded with a cancelled context")
	}
	tok := <-followerTok
	if err := <-followerErr; err != nil {
		t.Fatalf("follower failed with the leader's cancellation: %v", err)
	}
	if tok == nil || tok.Value == "" || !tok.Minted() {
		t.Fatalf("follower token = %v", tok)
	}
	if got := srv.Calls(wechat.StableTokenPath); got != 2 {
		t.Errorf("stable_token called %d times, want 2 (the hung one and the follower's)", got)
	}
	if ts.Mints() != 2 {
		t.Errorf("Mints() = %d, want 2", ts.Mints())
	}
}

// TestFollowerSharesOtherFailures: a mint that fails for any reason other
// than the leader's context is shared, not repeated by every follower.
func TestFollowerSharesOtherFailures(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.Inject(wechat.StableTokenPath, wechattest.Fault{ErrCode: 40125, Delay: 50 * time.Millisecond})
	ts := wechat.NewStableTokenSource(c, wechattest.AppID, wechattest.AppSecret)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := ts.Token(t.Context()); !errors.Is(err, wechat.ErrAuth) {
				t.Errorf("Token: %v, want auth", err)
			}
		})
	}
	wg.Wait()
	if got := srv.Calls(wechat.StableTokenPath); got > 10 || ts.Mints() != got {
		t.Errorf("calls %d, mints %d", got, ts.Mints())
	}
	if srv.Calls(wechat.StableTokenPath) == 10 {
		t.Errorf("every caller minted: the failure was not shared")
	}
}

func TestExpiresIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want time.Duration
	}{
		{"integer", `7200`, 7200 * time.Second},
		{"float", `7200.0`, 7200 * time.Second},
		{"fraction", `1.5`, 1500 * time.Millisecond},
		{"exponent", `7.2e3`, 7200 * time.Second},
		{"string", `"7200"`, 7200 * time.Second},
		{"padded string", `" 600 "`, 600 * time.Second},
		{"float string", `"300.0"`, 300 * time.Second},
		{"absent", `null`, wechat.DefaultTokenLifetime},
		{"zero", `0`, wechat.DefaultTokenLifetime},
		{"negative", `-5`, wechat.DefaultTokenLifetime},
		{"negative string", `"-7200"`, wechat.DefaultTokenLifetime},
		{"word", `"soon"`, wechat.DefaultTokenLifetime},
		{"empty string", `""`, wechat.DefaultTokenLifetime},
		{"bool", `true`, wechat.DefaultTokenLifetime},
		{"object", `{"s":7200}`, wechat.DefaultTokenLifetime},
		{"int64 max", `9223372036854775807`, wechat.MaxTokenLifetime},
		{"overflows float", `1e999`, wechat.MaxTokenLifetime},
		{"huge string", `"99999999999999999999999"`, wechat.MaxTokenLifetime},
		{"just over a week", `604801`, wechat.MaxTokenLifetime},
		{"a week", `604800`, wechat.MaxTokenLifetime},
		{"tiny", `0.0001`, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e wechat.ExpiresIn
			if err := json.Unmarshal([]byte(tt.json), &e); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.json, err)
			}
			if got := e.Lifetime(); got != tt.want {
				t.Errorf("Lifetime(%s) = %v, want %v", tt.json, got, tt.want)
			}
		})
	}
}

// TestMintExpiresInShapes mints through the fake server with answers whose
// expires_in takes each shape WeChat-compatible services have been seen to
// send; the token's expiry follows it and is never in the past.
func TestMintExpiresInShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn string
		life      time.Duration
	}{
		{"number", `7200`, 7200 * time.Second},
		{"float", `3600.0`, time.Hour},
		{"string", `"1800"`, 30 * time.Minute},
		{"huge", `99999999999999999999`, wechat.MaxTokenLifetime},
		{"missing", ``, wechat.DefaultTokenLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			body := `{"access_token":"tok-` + tt.name + `-0123456789"`
			if tt.expiresIn != "" {
				body += `,"expires_in":` + tt.expiresIn
			}
			srv.Inject(wechat.StableTokenPath, wechattest.Fault{Body: []byte(body + `}`)})
			before := time.Now()
			tok, err := wechat.MintStableToken(t.Context(), c, wechattest.AppID, wechattest.AppSecret)
			after := time.Now()
			if err != nil {
				t.Fatalf("MintStableToken: %v", err)
			}
			if tok.Expiry.Before(before.Add(tt.life)) || tok.Expiry.After(after.Add(tt.life)) {
				t.Errorf("expiry %v not %v after the mint (%v..%v)", tok.Expiry, tt.life, before, after)
			}
			if !tok.Minted() {
				t.Error("a minted token does not report Minted")
			}
			if got := c.Scrubber().Scrub("x " + tok.Value.Reveal() + " y"); strings.Contains(got, tok.Value.Reveal()) {
				t.Errorf("a minted token is not kept secret: %q", got)
			}
		})
	}
}

// TestMintAuthorizerRotation: MintAuthorizerToken reports a rotated refresh
// token, and "" when WeChat sent back the same one; both are kept secret.
func TestMintAuthorizerRotation(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	tok, next, err := wechat.MintAuthorizerToken(t.Context(), c, comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)
	if err != nil || tok == nil || next != "" {
		t.Fatalf("MintAuthorizerToken = %v, %q, %v; want a token and no new refresh token", tok, next, err)
	}
	rotated := "refreshtoken@@@rotated-" + t.Name()
	srv.Inject(wechat.AuthorizerTokenPath, wechattest.Fault{Body: []byte(
		`{"authorizer_access_token":"authtok-rotation-0123","expires_in":7200,"authorizer_refresh_token":"` + rotated + `"}`)})
	tok, next, err = wechat.MintAuthorizerToken(t.Context(), c, comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)
	if err != nil || next != rotated || tok.Value.Reveal() != "authtok-rotation-0123" {
		t.Fatalf("MintAuthorizerToken = %v, %q, %v; want the rotated refresh token", tok, next, err)
	}
	if got := c.Scrubber().Scrub("refresh=" + rotated); strings.Contains(got, rotated) {
		t.Errorf("the rotated refresh token is not kept secret: %q", got)
	}
}

func TestMintAnswerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body string }{
		{"empty token", `{"access_token":"","expires_in":7200}`},
		{"number token", `{"access_token":12345,"expires_in":7200}`},
		{"array", `[{"access_token":"abcd"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.Inject(wechat.StableTokenPath, wechattest.Fault{Body: []byte(tt.body)})
			tok, err := wechat.MintStableToken(t.Context(), c, wechattest.AppID, wechattest.AppSecret)
			if tok != nil || !errors.Is(err, wechat.ErrBadResponse) {
				t.Errorf("MintStableToken = %v, %v; want bad_response", tok, err)
			}
		})
	}
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour)
	value := "stored-token-" + t.Name()
	tok := wechat.NewToken(value, exp)
	if tok.Value.Reveal() != value || !tok.Expiry.Equal(exp) || !tok.Minted() {
		t.Errorf("NewToken = %+v, want minted", tok)
	}
	if st, err := wechat.StaticTokenSource(value).Token(t.Context()); err != nil || st.Minted() {
		t.Errorf("StaticTokenSource token = %+v, %v; want not minted", st, err)
	}
	// The client keeps a token it uses, whatever its source.
	_, c := setup(t)
	_, _, _ = c.GetEnvInfo(t.Context(), tokenOf{tok}, "")
	if got := c.Scrubber().Scrub(value); got != wechat.Redacted {
		t.Errorf("Scrub(stored token) = %q", got)
	}
}

// tokenOf is a source of one token.
type tokenOf struct{ tok *wechat.Token }

func (s tokenOf) Token(context.Context) (*wechat.Token, error) { return s.tok, nil }
