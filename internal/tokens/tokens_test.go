package tokens_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// kinds are the three minted tokens, each with its source and mint path.
var kinds = []struct {
	name string
	path string
	src  func(k *tokens.Keeper) wechat.TokenSource
	key  func(keys tokens.Keys) string
}{
	{"stable", wechat.StableTokenPath,
		func(k *tokens.Keeper) wechat.TokenSource { return k.Stable(wechattest.AppID, wechattest.AppSecret) },
		func(keys tokens.Keys) string { return keys.StableToken(wechattest.AppID) }},
	{"component", wechat.ComponentTokenPath,
		func(k *tokens.Keeper) wechat.TokenSource {
			return k.Component(wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
		},
		func(keys tokens.Keys) string { return keys.ComponentToken(wechattest.ComponentAppID) }},
	{"authorizer", wechat.AuthorizerTokenPath,
		func(k *tokens.Keeper) wechat.TokenSource {
			comp := k.Component(wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
			return k.Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)
		},
		func(keys tokens.Keys) string {
			return keys.AuthorizerToken(wechattest.ComponentAppID, wechattest.AuthorizerAppID)
		}},
}

// TestOneMintAcrossKeepers: many instances (Keepers with their own memory)
// sharing one store, each with many concurrent callers, mint each token
// exactly once, and all use that one token.
func TestOneMintAcrossKeepers(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.SetLatency(kind.path, 30*time.Millisecond) // widen the race
			st := store.NewMemory()
			clk := &clock{t: time.Now()}
			const instances, callers = 8, 10
			srcs := make([]wechat.TokenSource, instances)
			for i := range srcs {
				srcs[i] = kind.src(keeper(t, st, c, func(o *tokens.Options) { o.Now = clk.Now }))
			}
			values := make([]string, instances*callers)
			concurrently(instances*callers, func(i int) {
				tok, err := srcs[i%instances].Token(t.Context())
				if err != nil {
					t.Errorf("Token: %v", err)
					return
				}
				values[i] = tok.Value.Reveal()
			})
			if got := srv.Calls(kind.path); got != 1 {
				t.Errorf("%s minted %d times, want 1", kind.path, got)
			}
			if kind.path == wechat.AuthorizerTokenPath && srv.Calls(wechat.ComponentTokenPath) != 1 {
				t.Errorf("the component token under the authorizers was minted %d times, want 1", srv.Calls(wechat.ComponentTokenPath))
			}
			for i, v := range values {
				if v != values[0] || v == "" {
					t.Fatalf("caller %d got another token than caller 0", i)
				}
			}
			first := values[0]
			// The stored token is the one every caller got.
			v, err := st.Get(t.Context(), kind.key(tokens.Keys{Prefix: tokens.DefaultPrefix}))
			if err != nil {
				t.Fatalf("the token is not stored: %v", err)
			}
			var stored struct {
				Token     string    `json:"token"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal(v.Data, &stored); err != nil || stored.Token != values[0] || !v.Expires.Equal(stored.ExpiresAt) {
				t.Errorf("stored %s (expires %v), err %v", v.Data, v.Expires, err)
			}
			// The lease is gone.
			if _, err := st.Get(t.Context(), tokens.Keys{Prefix: tokens.DefaultPrefix}.Lease(kind.key(tokens.Keys{Prefix: tokens.DefaultPrefix}))); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the lease is still held: %v", err)
			}
			// The token's next lifetime: when it is due (minutes before
			// its expiry), it is minted once more, by one instance.
			clk.Add(2*time.Hour - 3*time.Minute)
			concurrently(instances*callers, func(i int) {
				tok, err := srcs[i%instances].Token(t.Context())
				if err != nil {
					t.Errorf("Token: %v", err)
					return
				}
				values[i] = tok.Value.Reveal()
			})
			if got := srv.Calls(kind.path); got != 2 {
				t.Errorf("%s minted %d times over two lifetimes, want 2", kind.path, got)
			}
			for i, v := range values {
				if v != values[0] || v == first {
					t.Fatalf("caller %d: not the one new token", i)
				}
			}
		})
	}
}

// TestColdKeeperMintsNothing: an instance that starts with a valid token in
// the store uses it and mints nothing, and the token works at WeChat.
func TestColdKeeperMintsNothing(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := store.NewMemory()
	warm := kinds[2].src(keeper(t, st, c))
	if _, _, err := c.GetEnvInfo(t.Context(), warm, ""); err != nil {
		t.Fatalf("GetEnvInfo: %v", err)
	}
	component, authorizer := srv.Calls(wechat.ComponentTokenPath), srv.Calls(wechat.AuthorizerTokenPath)
	if component != 1 || authorizer != 1 {
		t.Fatalf("warm instance minted %d component and %d authorizer tokens", component, authorizer)
	}
	for range 3 {
		cold := kinds[2].src(keeper(t, st, c))
		if _, _, err := c.GetEnvInfo(t.Context(), cold, ""); err != nil {
			t.Fatalf("cold GetEnvInfo: %v", err)
		}
	}
	if srv.Calls(wechat.ComponentTokenPath) != 1 || srv.Calls(wechat.AuthorizerTokenPath) != 1 {
		t.Errorf("cold instances minted: component %d, authorizer %d", srv.Calls(wechat.ComponentTokenPath), srv.Calls(wechat.AuthorizerTokenPath))
	}
}

// TestRejectionMintsOnce: when WeChat rejects the shared token, every
// instance meets the rejection, yet only one new token is minted: each
// drops the stored token only if it still holds the rejected one.
func TestRejectionMintsOnce(t *testing.T) {
	t.Parallel()
	for _, revoke := range []struct {
		name string
		do   func(*wechattest.Server)
	}{{"revoked 40001", (*wechattest.Server).RevokeTokens}, {"expired 42001", (*wechattest.Server).ExpireTokens}} {
		t.Run(revoke.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.SetLatency(wechat.StableTokenPath, 20*time.Millisecond)
			st := store.NewMemory()
			const instances = 6
			srcs := make([]wechat.TokenSource, instances)
			for i := range srcs {
				srcs[i] = kinds[0].src(keeper(t, st, c))
			}
			first := make([]string, instances)
			concurrently(instances, func(i int) {
				tok, err := srcs[i].Token(t.Context())
				if err != nil {
					t.Errorf("Token: %v", err)
					return
				}
				first[i] = tok.Value.Reveal()
			})
			if srv.Calls(wechat.StableTokenPath) != 1 {
				t.Fatalf("first mints: %d", srv.Calls(wechat.StableTokenPath))
			}
			revoke.do(srv)
			concurrently(instances*3, func(i int) {
				_, _, err := c.GetEnvInfo(t.Context(), srcs[i%instances], "")
				if err != nil {
					t.Errorf("GetEnvInfo after rejection: %v", err)
				}
				noSecret(t, err)
			})
			if got := srv.Calls(wechat.StableTokenPath); got != 2 {
				t.Errorf("stable_token called %d times in all, want 2 (one per lifetime)", got)
			}
			tok, err := srcs[0].Token(t.Context())
			if err != nil || tok.Value.Reveal() == first[0] {
				t.Errorf("after the rejection the source holds %v, %v", tok, err)
			}
		})
	}
}

// TestInvalidateStaleKeepsNewer: an instance that reports a rejected token
// the store no longer holds does not delete the newer one, and reads it.
func TestInvalidateStaleKeepsNewer(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := store.NewMemory()
	a, b := kinds[0].src(keeper(t, st, c)), kinds[0].src(keeper(t, st, c))
	old, err := a.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bOld, err := b.Token(t.Context())
	if err != nil || bOld.Value != old.Value {
		t.Fatalf("b's token: %v, %v", bOld, err)
	}
	key := tokens.Keys{Prefix: tokens.DefaultPrefix}.StableToken(wechattest.AppID)
	// a drops the rejected token from the store; a third instance mints
	// the next one.
	a.(wechat.Invalidator).Invalidate(old)
	if _, err := st.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the rejected token is still stored: %v", err)
	}
	newTok, err := keeper(t, st, c).Stable(wechattest.AppID, wechattest.AppSecret).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// b meets the rejection late: the store holds the new token, which
	// stays, and b reads it instead of minting.
	b.(wechat.Invalidator).Invalidate(bOld)
	v, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("a stale rejection deleted the newer token: %v", err)
	}
	var s struct{ Token string }
	if json.Unmarshal(v.Data, &s) != nil || s.Token != newTok.Value.Reveal() {
		t.Errorf("stored token changed")
	}
	got, err := b.Token(t.Context())
	if err != nil || got.Value != newTok.Value {
		t.Errorf("b after the rejection: %v, %v; want the new token", got, err)
	}
	if srv.Calls(wechat.StableTokenPath) != 2 {
		t.Errorf("mints %d, want 2", srv.Calls(wechat.StableTokenPath))
	}
}

// TestRefreshRotation: a mint that returns a new refresh token saves it;
// another instance, whose variable holds an older value, mints with the
// stored one.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := store.NewMemory()
	keys := tokens.Keys{Prefix: tokens.DefaultPrefix}
	oldRefresh := "refreshtoken@@@replaced-by-wechat-" + t.Name()
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	// The first mint is answered with the server's refresh token, which
	// differs from the one sent: WeChat rotated it.
	srv.Inject(wechat.AuthorizerTokenPath, wechattest.Fault{Body: []byte(
		`{"authorizer_access_token":"authorizer-token-rotation-1","expires_in":7200,"authorizer_refresh_token":"` +
			wechattest.AuthorizerRefreshToken + `"}`)})
	a := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, oldRefresh)
	if _, err := a.Token(t.Context()); err != nil {
		t.Fatalf("first mint: %v", err)
	}
	v, err := st.Get(t.Context(), keys.Refresh(wechattest.ComponentAppID, wechattest.AuthorizerAppID))
	if err != nil {
		t.Fatalf("the rotated refresh token is not stored: %v", err)
	}
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(v.Data, &r) != nil || r.RefreshToken != wechattest.AuthorizerRefreshToken {
		t.Fatalf("stored refresh token is not the rotated one")
	}
	// Another instance needs a new token: the fake accepts only the
	// rotated refresh token, so this mint fails if the variable is used.
	if err := st.Delete(t.Context(), keys.AuthorizerToken(wechattest.ComponentAppID, wechattest.AuthorizerAppID)); err != nil {
		t.Fatal(err)
	}
	b := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, oldRefresh)
	_, _, err = c.GetEnvInfo(t.Context(), b, "")
	if err != nil {
		t.Fatalf("second instance's mint: %v", err)
	}
	noSecret(t, err, oldRefresh)
	if srv.Calls(wechat.AuthorizerTokenPath) != 2 {
		t.Errorf("authorizer mints %d, want 2", srv.Calls(wechat.AuthorizerTokenPath))
	}
}

// TestRefreshFirstValueShared: the variable's refresh token is stored by
// the first successful mint, so instances without it can mint.
func TestRefreshFirstValueShared(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	st := store.NewMemory()
	keys := tokens.Keys{Prefix: tokens.DefaultPrefix}
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	if _, err := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken).Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(t.Context(), keys.AuthorizerToken(wechattest.ComponentAppID, wechattest.AuthorizerAppID)); err != nil {
		t.Fatal(err)
	}
	if _, err := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "").Token(t.Context()); err != nil {
		t.Errorf("an instance without the variable could not mint: %v", err)
	}
	// With neither, the error says what to set.
	_, err := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, "wxunknownauthorizer", "").Token(t.Context())
	if !errors.Is(err, wechat.ErrConfig) {
		t.Errorf("no refresh token anywhere: %v, want config", err)
	}
}

// TestVerifyTicket: the stored ticket is used while less than 12 hours old
// by its CreateTime, the variable otherwise.
func TestVerifyTicket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stored   string
		age      time.Duration
		fallback string
		wantErr  int
	}{
		{"fresh stored ticket wins", wechattest.VerifyTicket, time.Hour, "ticket@@@stale-variable", 0},
		{"fresh stored ticket wins over a valid variable", "ticket@@@stale-store", time.Hour, wechattest.VerifyTicket, 61006},
		{"old stored ticket loses", "ticket@@@stale-store", 13 * time.Hour, wechattest.VerifyTicket, 0},
		{"no stored ticket", "", 0, wechattest.VerifyTicket, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			st := store.NewMemory()
			k := keeper(t, st, c)
			if tt.stored != "" {
				b, _ := json.Marshal(map[string]any{"ticket": tt.stored, "create_time": time.Now().Add(-tt.age).Unix()})
				if err := st.Set(t.Context(), k.Keys().Ticket(wechattest.ComponentAppID), store.Value{Data: b}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := k.Component(wechattest.ComponentAppID, wechattest.ComponentAppSecret, tt.fallback).Token(t.Context())
			var we *wechat.Error
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Errorf("Token: %v", err)
			case tt.wantErr != 0 && (!errors.As(err, &we) || we.ErrCode != tt.wantErr):
				t.Errorf("Token: %v, want errcode %d", err, tt.wantErr)
			}
			noSecret(t, err, tt.stored, tt.fallback)
			if srv.Calls(wechat.ComponentTokenPath) != 1 {
				t.Errorf("component mints %d", srv.Calls(wechat.ComponentTokenPath))
			}
		})
	}
}

// TestSaveTicketOrder: an older CreateTime never replaces a newer one,
// whatever order concurrent pushes arrive in.
func TestSaveTicketOrder(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	st := store.NewMemory()
	k := keeper(t, st, c)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	saves := []struct {
		ticket string
		at     time.Time
		want   bool
	}{
		{"ticket@@@t1", base, true},
		{"ticket@@@t0", base.Add(-10 * time.Minute), false},
		{"ticket@@@t1-again", base, false},
		{"ticket@@@t2", base.Add(10 * time.Minute), true},
		{"ticket@@@ancient", base.Add(-24 * time.Hour), false},
	}
	for _, s := range saves {
		saved, err := k.SaveTicket(t.Context(), wechattest.ComponentAppID, s.ticket, s.at)
		if err != nil || saved != s.want {
			t.Errorf("SaveTicket(%s) = %v, %v; want %v", s.ticket, saved, err, s.want)
		}
	}
	// Many instances push tickets concurrently: the newest one stays.
	ks := []*tokens.Keeper{keeper(t, st, c), keeper(t, st, c), keeper(t, st, c)}
	var savedCount atomic.Int64
	concurrently(30, func(i int) {
		saved, err := ks[i%3].SaveTicket(t.Context(), wechattest.ComponentAppID, "ticket@@@c"+string(rune('A'+i)), base.Add(time.Duration(20+(i*7)%30)*time.Minute))
		if err != nil {
			t.Errorf("SaveTicket: %v", err)
		}
		if saved {
			savedCount.Add(1)
		}
	})
	v, err := st.Get(t.Context(), k.Keys().Ticket(wechattest.ComponentAppID))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Ticket     string `json:"ticket"`
		CreateTime int64  `json:"create_time"`
	}
	if err := json.Unmarshal(v.Data, &got); err != nil {
		t.Fatal(err)
	}
	newest := base.Add(49 * time.Minute).Unix() // (i*7)%30 peaks at 29
	if got.CreateTime != newest {
		t.Errorf("stored CreateTime %d, want the newest %d", got.CreateTime, newest)
	}
	if savedCount.Load() < 1 {
		t.Error("no concurrent save succeeded")
	}
}

// TestStoreOutage: with a valid token in memory the store is not even
// read; a token due for renewal is still used while the store is down; an
// instance with nothing in memory fails with kind store, without secrets.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := &counting{Store: store.NewMemory()}
	clk := &clock{t: time.Now()}
	k := keeper(t, st, c, func(o *tokens.Options) { o.Now = clk.Now })
	src := k.Stable(wechattest.AppID, wechattest.AppSecret)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	reads := st.gets.Load()
	for range 5 {
		if _, _, err := c.GetEnvInfo(t.Context(), src, ""); err != nil {
			t.Fatalf("GetEnvInfo with the store down and a token in memory: %v", err)
		}
	}
	if st.gets.Load() != reads {
		t.Errorf("the store was read %d times with a valid token in memory", st.gets.Load()-reads)
	}
	// Due for renewal (within the last 5 minutes), yet valid: still used.
	clk.Add(2*time.Hour - 2*time.Minute)
	got, err := src.Token(t.Context())
	if err != nil || got.Value != tok.Value {
		t.Errorf("due token with the store down: %v, %v", got, err)
	}
	if srv.Calls(wechat.StableTokenPath) != 1 {
		t.Errorf("mints %d", srv.Calls(wechat.StableTokenPath))
	}
	// A cold instance has nothing to fall back on.
	for _, kind := range kinds {
		_, err := kind.src(keeper(t, st, c)).Token(t.Context())
		var we *wechat.Error
		if !errors.As(err, &we) || we.Kind != wechat.KindStore || !we.Retryable || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the store down: %#v, want kind store", kind.name, err)
		}
		noSecret(t, err, tok.Value.Reveal())
	}
}

// TestForeignLayouts: wxjava and silenceper keys are read, never minted;
// a missing key is kind auth naming the key and its keeper; a rejected
// token is re-read once after a short wait.
func TestForeignLayouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		layout    tokens.Layout
		keyPrefix string
		compKey   string
		authKey   string
		keeper    string
	}{
		{tokens.LayoutWxJava, "", "wechat_component_access_token:" + wechattest.ComponentAppID,
			"wechat_authorizer_access_token:" + wechattest.ComponentAppID + ":" + wechattest.AuthorizerAppID, "WxJava"},
		{tokens.LayoutWxJava, "wx:open", "wx:open:wechat_component_access_token:" + wechattest.ComponentAppID,
			"wx:open:wechat_authorizer_access_token:" + wechattest.ComponentAppID + ":" + wechattest.AuthorizerAppID, "WxJava"},
		{tokens.LayoutSilenceper, "", "component_access_token_" + wechattest.ComponentAppID,
			"authorizer_access_token_" + wechattest.AuthorizerAppID, "silenceper/wechat"},
	}
	for _, tt := range tests {
		t.Run(string(tt.layout)+"/"+tt.keyPrefix, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			mem := store.NewMemory()
			st := plainCounting{&counting{Store: mem}}
			k := keeper(t, st, c, func(o *tokens.Options) { o.Layout, o.KeyPrefix = tt.layout, tt.keyPrefix })
			comp := k.Component(wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
			auth := k.Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)

			// Missing keys: kind auth, naming the key and the keeper.
			for _, x := range []struct {
				src wechat.TokenSource
				key string
			}{{comp, tt.compKey}, {auth, tt.authKey}} {
				_, err := x.src.Token(t.Context())
				if !errors.Is(err, wechat.ErrAuth) || !strings.Contains(err.Error(), x.key) || !strings.Contains(err.Error(), tt.keeper) {
					t.Errorf("missing key: %v", err)
				}
				noSecret(t, err)
			}

			// Present keys are used as they are.
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			mem.Set(t.Context(), tt.compKey, store.Value{Data: []byte(wechattest.ComponentAccessToken), Expires: exp})
			mem.Set(t.Context(), tt.authKey, store.Value{Data: []byte(wechattest.AccessToken), Expires: exp})
			if _, _, err := c.GetEnvInfo(t.Context(), auth, ""); err != nil {
				t.Errorf("GetEnvInfo: %v", err)
			}
			if _, _, err := c.DescribeCloudBaseRunEnvs(t.Context(), comp); err != nil {
				t.Errorf("DescribeCloudBaseRunEnvs: %v", err)
			}

			// A rejected token is re-read once after a short wait: the
			// other service has rotated it meanwhile.
			revoked := "wechattest-revoked-token-" + string(tt.layout)
			mem.Set(t.Context(), tt.authKey, store.Value{Data: []byte(revoked), Expires: exp})
			auth2 := keeper(t, st, c, func(o *tokens.Options) { o.Layout, o.KeyPrefix = tt.layout, tt.keyPrefix }).
				Authorizer(nil, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "")
			var rotated atomic.Bool
			st.afterPlain = func() {
				if rotated.CompareAndSwap(false, true) {
					mem.Set(context.Background(), tt.authKey, store.Value{Data: []byte(wechattest.AccessToken), Expires: exp})
				}
			}
			before := st.plainReads.Load()
			if _, _, err := c.GetEnvInfo(t.Context(), auth2, ""); err != nil {
				t.Errorf("GetEnvInfo after the other service rotated: %v", err)
			}
			if got := st.plainReads.Load() - before; got != 2 {
				t.Errorf("key read %d times, want 2 (once, then once after the rejection)", got)
			}

			// Still rejected after the re-read: kind auth, no mint.
			st.afterPlain = nil
			mem.Set(t.Context(), tt.authKey, store.Value{Data: []byte(revoked), Expires: exp})
			auth3 := keeper(t, st, c, func(o *tokens.Options) { o.Layout, o.KeyPrefix = tt.layout, tt.keyPrefix }).
				Authorizer(nil, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "")
			_, _, err := c.GetEnvInfo(t.Context(), auth3, "")
			if !errors.Is(err, wechat.ErrAuth) {
				t.Errorf("GetEnvInfo with a rejected followed token: %v, want auth", err)
			}
			noSecret(t, err, revoked)

			// Two checks of one run share the source: after one reported
			// the rejection, neither takes the rejected token for a fresh
			// one while the key still holds it.
			auth4 := keeper(t, st, c, func(o *tokens.Options) { o.Layout, o.KeyPrefix = tt.layout, tt.keyPrefix }).
				Authorizer(nil, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "")
			tok, err := auth4.Token(t.Context())
			if err != nil {
				t.Fatalf("followed token: %v", err)
			}
			auth4.(wechat.Invalidator).Invalidate(tok)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { _, errs[i] = auth4.Token(t.Context()) })
			}
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, wechat.ErrAuth) || !strings.Contains(err.Error(), tt.authKey) {
					t.Errorf("concurrent caller %d after the rejection: %v, want auth naming %s", i, err, tt.authKey)
				}
			}

			for _, p := range []string{wechat.StableTokenPath, wechat.ComponentTokenPath, wechat.AuthorizerTokenPath} {
				if srv.Calls(p) != 0 {
					t.Errorf("the %s layout minted at %s", tt.layout, p)
				}
			}
			if _, err := k.Stable(wechattest.AppID, wechattest.AppSecret).Token(t.Context()); !errors.Is(err, wechat.ErrConfig) {
				t.Errorf("stable token in a foreign layout: %v, want config", err)
			}
			// A store outage is kind store, and a token in memory survives it.
			st.down.Store(true)
			if _, err := comp.Token(t.Context()); err != nil {
				t.Errorf("component token in memory with the store down: %v", err)
			}
			_, err = keeper(t, st, c, func(o *tokens.Options) { o.Layout, o.KeyPrefix = tt.layout, tt.keyPrefix }).
				Component(wechattest.ComponentAppID, "", "").Token(t.Context())
			if !errors.Is(err, &wechat.Error{Kind: wechat.KindStore}) {
				t.Errorf("cold follower with the store down: %v, want kind store", err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	plain := &counting{Store: store.NewMemory()} // no GetPlain
	tests := []struct {
		name string
		o    tokens.Options
	}{
		{"no store", tokens.Options{Client: c}},
		{"no client", tokens.Options{Store: store.NewMemory()}},
		{"unknown layout", tokens.Options{Store: store.NewMemory(), Client: c, Layout: "easywechat"}},
		{"wxjava without plain reads", tokens.Options{Store: plain, Layout: tokens.LayoutWxJava}},
		{"silenceper without plain reads", tokens.Options{Store: plain, Layout: tokens.LayoutSilenceper}},
	}
	for _, tt := range tests {
		if k, err := tokens.New(tt.o); err == nil || k != nil {
			t.Errorf("%s: New = %v, %v; want an error", tt.name, k, err)
		}
	}
}

// TestStoreErrorScrubbed: a store error whose text holds a registered
// secret (a password in a store URL) is reported without it.
func TestStoreErrorScrubbed(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	password := "store-password-" + t.Name()
	c.Scrubber().Keep(password) // as the runtime keeps the configuration's secrets
	st := &failing{err: fmt.Errorf("%w: dial redis://app:%s@127.0.0.1:1: connection refused", store.ErrUnavailable, password)}
	for _, kind := range kinds {
		_, err := kind.src(keeper(t, st, c)).Token(t.Context())
		if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), password) {
			t.Errorf("%s: %v", kind.name, err)
		}
	}
	k := keeper(t, st, c)
	for _, err := range []error{
		k.Preload(t.Context(), wechattest.ComponentAppID, []string{"wxa"}),
		k.AddToFleet(t.Context(), wechattest.ComponentAppID, "wxa", time.Time{}),
		k.Forget(t.Context(), wechattest.ComponentAppID, "wxa"),
		k.SaveAuthorization(t.Context(), wechattest.ComponentAppID, "wxa", "", 0, "refresh@@@x"),
		func() error {
			_, err := k.SaveTicket(t.Context(), wechattest.ComponentAppID, "ticket@@@x", time.Now())
			return err
		}(),
		func() error { _, err := k.FleetMembers(t.Context(), wechattest.ComponentAppID); return err }(),
	} {
		if !errors.Is(err, &wechat.Error{Kind: wechat.KindStore}) || strings.Contains(err.Error(), password) {
			t.Errorf("store error %v", err)
		}
		noSecret(t, err, password, "refresh@@@x", "ticket@@@x")
	}
}

// failing is a store whose every call fails with err.
type failing struct{ err error }

func (f *failing) Get(context.Context, string) (store.Value, error) { return store.Value{}, f.err }
func (f *failing) GetMany(context.Context, []string) (map[string]store.Value, error) {
	return nil, f.err
}
func (f *failing) Set(context.Context, string, store.Value) error { return f.err }
func (f *failing) CompareAndSwap(context.Context, string, []byte, store.Value) (bool, error) {
	return false, f.err
}
func (f *failing) CompareAndDelete(context.Context, string, []byte) (bool, error) {
	return false, f.err
}
func (f *failing) Delete(context.Context, string) error           { return f.err }
func (f *failing) Keys(context.Context, string) ([]string, error) { return nil, f.err }
func (f *failing) Close() error                                   { return nil }
