package tokens_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// fixture is what each behavioural case gets on one backend: instance
// returns the store one more instance would open (a new client on the same
// data where the backend has clients; the one store in this process for
// memory and the bbolt file, which only one handle may hold), and prefix
// is the case's own WXCLOUDENV_STORE_PREFIX, so cases never share keys.
type fixture struct {
	instance func() store.Store
	prefix   string
	// private: the store is this process's alone (memory): an authorizer's
	// tokens are kept by the keepers over it, not copied into it.
	private bool
}

func (f fixture) keys() tokens.Keys { return tokens.Keys{Prefix: f.prefix} }

// keeper is helpers_test.go's keeper on one more instance of the store,
// with the case's prefix.
func (f fixture) keeper(t *testing.T, c *wechat.Client, mod ...func(*tokens.Options)) *tokens.Keeper {
	t.Helper()
	return keeper(t, f.instance(), c, append([]func(*tokens.Options){func(o *tokens.Options) { o.Prefix = f.prefix }}, mod...)...)
}

// backendStores starts the four backends once: memory, a bbolt file, a
// real Redis and a real DynamoDB-compatible server (storetest).
func backendStores(t *testing.T) []struct {
	name string
	open func(t *testing.T, prefix string) fixture
} {
	t.Helper()
	redisURL := storetest.StartRedis(t)
	dynURL, dynEnv := storetest.StartDynamo(t)
	dir := t.TempDir()
	var files atomic.Int64
	open := func(t *testing.T, url string, opts ...store.Option) store.Store {
		t.Helper()
		s, err := store.Open(url, opts...)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	one := func(t *testing.T, url string) func() store.Store {
		s := open(t, url)
		return func() store.Store { return s }
	}
	return []struct {
		name string
		open func(t *testing.T, prefix string) fixture
	}{
		{"memory", func(t *testing.T, p string) fixture { return fixture{one(t, "memory"), p, true} }},
		{"file", func(t *testing.T, p string) fixture {
			return fixture{one(t, fmt.Sprintf("file://%s/%d.db", filepath.ToSlash(dir), files.Add(1))), p, false}
		}},
		{"redis", func(t *testing.T, p string) fixture {
			return fixture{func() store.Store { return open(t, redisURL) }, p, false}
		}},
		{"dynamodb", func(t *testing.T, p string) fixture {
			return fixture{func() store.Store { return open(t, dynURL, store.WithEnv(storetest.Lookup(dynEnv))) }, p, false}
		}},
	}
}

// TestTokensOnEveryBackend runs the key behaviours of tokens_test.go (one
// mint per lifetime across many Keepers, a cold start mints nothing,
// compare-and-delete on rejection, refresh rotation, ticket ordering) as
// one table over memory, file, Redis and DynamoDB.
func TestTokensOnEveryBackend(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, f fixture)
	}{
		{"one mint per lifetime across keepers", backendOneMint},
		{"cold keeper mints nothing", backendColdKeeper},
		{"rejection mints once", backendRejection},
		{"stale rejection keeps the newer token", backendInvalidateStale},
		{"refresh rotation", backendRefreshRotation},
		{"ticket ordering", backendTicketOrder},
	}
	for _, b := range backendStores(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, b.open(t, fmt.Sprintf("wxcloudenv-%s-%d:", b.name, i)))
				})
			}
		})
	}
}

func backendOneMint(t *testing.T, f fixture) {
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			srv, c := setup(t)
			srv.SetLatency(kind.path, 30*time.Millisecond) // widen the race
			// Each kind its own prefix: a component token minted by the
			// previous kind's server is not this server's.
			f := fixture{f.instance, f.prefix + kind.name + ":", f.private}
			clk := &clock{t: time.Now()}
			const instances, callers = 6, 8
			srcs := make([]wechat.TokenSource, instances)
			for i := range srcs {
				srcs[i] = kind.src(f.keeper(t, c, func(o *tokens.Options) { o.Now = clk.Now }))
			}
			values := make([]string, instances*callers)
			get := func() {
				concurrently(instances*callers, func(i int) {
					tok, err := srcs[i%instances].Token(t.Context())
					if err != nil {
						t.Errorf("Token: %v", err)
						return
					}
					values[i] = tok.Value.Reveal()
				})
			}
			get()
			if got := srv.Calls(kind.path); got != 1 {
				t.Errorf("%s minted %d times, want 1", kind.path, got)
			}
			for i, v := range values {
				if v != values[0] || v == "" {
					t.Fatalf("caller %d got another token than caller 0", i)
				}
			}
			first := values[0]
			st := f.instance()
			v, err := st.Get(t.Context(), kind.key(f.keys()))
			var stored struct {
				Token string `json:"token"`
			}
			switch {
			case f.private && kind.name == "authorizer":
				// The keepers over a private store share the token in
				// memory: the store holds no second copy.
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a private store holds a copy of the authorizer token: %v", err)
				}
			case err != nil || json.Unmarshal(v.Data, &stored) != nil || stored.Token != first:
				t.Errorf("the stored token is not the one handed out: %v", err)
			}
			if _, err := st.Get(t.Context(), f.keys().Lease(kind.key(f.keys()))); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the lease is still held: %v", err)
			}
			clk.Add(2*time.Hour - 3*time.Minute) // the next lifetime
			get()
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

func backendColdKeeper(t *testing.T, f fixture) {
	srv, c := setup(t)
	warm := kinds[2].src(f.keeper(t, c))
	if _, _, err := c.GetEnvInfo(t.Context(), warm, ""); err != nil {
		t.Fatalf("GetEnvInfo: %v", err)
	}
	for range 3 {
		if _, _, err := c.GetEnvInfo(t.Context(), kinds[2].src(f.keeper(t, c)), ""); err != nil {
			t.Fatalf("cold GetEnvInfo: %v", err)
		}
	}
	if srv.Calls(wechat.ComponentTokenPath) != 1 || srv.Calls(wechat.AuthorizerTokenPath) != 1 {
		t.Errorf("mints: component %d, authorizer %d; want 1 and 1", srv.Calls(wechat.ComponentTokenPath), srv.Calls(wechat.AuthorizerTokenPath))
	}
}

func backendRejection(t *testing.T, f fixture) {
	for _, revoke := range []struct {
		name string
		do   func(*wechattest.Server)
	}{{"revoked 40001", (*wechattest.Server).RevokeTokens}, {"expired 42001", (*wechattest.Server).ExpireTokens}} {
		t.Run(revoke.name, func(t *testing.T) {
			srv, c := setup(t)
			srv.SetLatency(wechat.StableTokenPath, 20*time.Millisecond)
			// Each revocation its own prefix: the first one's token must
			// not be found by the second.
			f := fixture{f.instance, f.prefix + revoke.name[:7] + ":", f.private}
			const instances = 5
			srcs := make([]wechat.TokenSource, instances)
			for i := range srcs {
				srcs[i] = kinds[0].src(f.keeper(t, c))
			}
			first, err := srcs[0].Token(t.Context())
			if err != nil {
				t.Fatal(err)
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
			if tok, err := srcs[0].Token(t.Context()); err != nil || tok.Value == first.Value {
				t.Errorf("after the rejection the source holds the old token or %v", err)
			}
		})
	}
}

func backendInvalidateStale(t *testing.T, f fixture) {
	srv, c := setup(t)
	a, b := kinds[0].src(f.keeper(t, c)), kinds[0].src(f.keeper(t, c))
	old, err := a.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if bOld, err := b.Token(t.Context()); err != nil || bOld.Value != old.Value {
		t.Fatalf("b's token: %v", err)
	}
	st, key := f.instance(), f.keys().StableToken(wechattest.AppID)
	a.(wechat.Invalidator).Invalidate(old)
	if _, err := st.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the rejected token is still stored: %v", err)
	}
	newTok, err := f.keeper(t, c).Stable(wechattest.AppID, wechattest.AppSecret).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b.(wechat.Invalidator).Invalidate(old) // late: the store holds a newer token
	if _, err := st.Get(t.Context(), key); err != nil {
		t.Fatalf("a stale rejection deleted the newer token: %v", err)
	}
	if got, err := b.Token(t.Context()); err != nil || got.Value != newTok.Value {
		t.Errorf("b after the rejection: %v; want the new token", err)
	}
	if srv.Calls(wechat.StableTokenPath) != 2 {
		t.Errorf("mints %d, want 2", srv.Calls(wechat.StableTokenPath))
	}
}

func backendRefreshRotation(t *testing.T, f fixture) {
	srv, c := setup(t)
	oldRefresh := "refreshtoken@@@replaced-by-wechat-" + t.Name()
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	srv.Inject(wechat.AuthorizerTokenPath, wechattest.Fault{Body: []byte(
		`{"authorizer_access_token":"authorizer-token-rotation-1","expires_in":7200,"authorizer_refresh_token":"` +
			wechattest.AuthorizerRefreshToken + `"}`)})
	a := f.keeper(t, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, oldRefresh)
	first, err := a.Token(t.Context())
	if err != nil {
		t.Fatalf("first mint: %v", err)
	}
	st := f.instance()
	v, err := st.Get(t.Context(), f.keys().Refresh(wechattest.ComponentAppID, wechattest.AuthorizerAppID))
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	if f.private {
		// The keepers keep the rotated refresh token; the store no copy.
		// Dropping the access token makes the next keeper mint with it.
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a private store holds a copy of the refresh token: %v", err)
		}
		a.(wechat.Invalidator).Invalidate(first)
	} else {
		if err != nil || json.Unmarshal(v.Data, &r) != nil || r.RefreshToken != wechattest.AuthorizerRefreshToken {
			t.Fatalf("the rotated refresh token is not stored: %v", err)
		}
		if err := st.Delete(t.Context(), f.keys().AuthorizerToken(wechattest.ComponentAppID, wechattest.AuthorizerAppID)); err != nil {
			t.Fatal(err)
		}
	}
	// The fake accepts only the rotated refresh token.
	b := f.keeper(t, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, oldRefresh)
	if _, _, err := c.GetEnvInfo(t.Context(), b, ""); err != nil {
		t.Fatalf("second instance's mint: %v", err)
	}
	if srv.Calls(wechat.AuthorizerTokenPath) != 2 {
		t.Errorf("authorizer mints %d, want 2", srv.Calls(wechat.AuthorizerTokenPath))
	}
}

func backendTicketOrder(t *testing.T, f fixture) {
	_, c := setup(t)
	k := f.keeper(t, c)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, s := range []struct {
		ticket string
		at     time.Time
		want   bool
	}{
		{"ticket@@@t1", base, true},
		{"ticket@@@t0", base.Add(-10 * time.Minute), false},
		{"ticket@@@t1-again", base, false},
		{"ticket@@@t2", base.Add(10 * time.Minute), true},
		{"ticket@@@ancient", base.Add(-24 * time.Hour), false},
	} {
		saved, err := k.SaveTicket(t.Context(), wechattest.ComponentAppID, s.ticket, s.at)
		if err != nil || saved != s.want {
			t.Errorf("SaveTicket(%s) = %v, %v; want %v", s.ticket, saved, err, s.want)
		}
	}
	ks := []*tokens.Keeper{f.keeper(t, c), f.keeper(t, c), f.keeper(t, c)}
	concurrently(30, func(i int) {
		if _, err := ks[i%3].SaveTicket(t.Context(), wechattest.ComponentAppID, "ticket@@@c"+string(rune('A'+i)), base.Add(time.Duration(20+(i*7)%30)*time.Minute)); err != nil {
			t.Errorf("SaveTicket: %v", err)
		}
	})
	v, err := f.instance().Get(t.Context(), f.keys().Ticket(wechattest.ComponentAppID))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CreateTime int64 `json:"create_time"`
	}
	if err := json.Unmarshal(v.Data, &got); err != nil {
		t.Fatal(err)
	}
	if newest := base.Add(49 * time.Minute).Unix(); got.CreateTime != newest {
		t.Errorf("stored CreateTime %d, want the newest %d", got.CreateTime, newest)
	}
}
