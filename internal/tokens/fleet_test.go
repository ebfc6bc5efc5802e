package tokens_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestAuthorizationLifecycle: an authorization stores the authorizer's
// tokens and adds it to the fleet, so that any instance uses the token
// without minting; Forget removes all of it.
func TestAuthorizationLifecycle(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := store.NewMemory()
	k := keeper(t, st, c)
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	ids := []string{"wxB_second", "wxA_first", wechattest.AuthorizerAppID}
	for _, id := range ids {
		if err := k.SaveAuthorization(t.Context(), wechattest.ComponentAppID, id, wechattest.AccessToken, 2*time.Hour, wechattest.AuthorizerRefreshToken); err != nil {
			t.Fatalf("SaveAuthorization(%s): %v", id, err)
		}
	}
	if err := k.AddToFleet(t.Context(), "wxotherplatform", "wxC_elsewhere", time.Time{}); err != nil {
		t.Fatal(err)
	}
	members, err := k.FleetMembers(t.Context(), wechattest.ComponentAppID)
	want := slices.Sorted(slices.Values(ids))
	if err != nil || !slices.Equal(members, want) {
		t.Errorf("FleetMembers = %v, %v; want %v", members, err, want)
	}
	// A cold instance uses the stored token.
	cold := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "")
	if _, _, err := c.GetEnvInfo(t.Context(), cold, ""); err != nil {
		t.Fatalf("GetEnvInfo with the stored token: %v", err)
	}
	if srv.Calls(wechat.AuthorizerTokenPath) != 0 {
		t.Errorf("minted %d times with a stored token", srv.Calls(wechat.AuthorizerTokenPath))
	}
	// Forget: the token, the refresh token and the membership go.
	src := k.Authorizer(comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, "")
	if err := k.Forget(t.Context(), wechattest.ComponentAppID, wechattest.AuthorizerAppID); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	members, _ = k.FleetMembers(t.Context(), wechattest.ComponentAppID)
	if slices.Contains(members, wechattest.AuthorizerAppID) || len(members) != 2 {
		t.Errorf("after Forget the fleet is %v", members)
	}
	keys := k.Keys()
	for _, key := range []string{keys.AuthorizerToken(wechattest.ComponentAppID, wechattest.AuthorizerAppID),
		keys.Refresh(wechattest.ComponentAppID, wechattest.AuthorizerAppID)} {
		if _, err := st.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s survived Forget: %v", key, err)
		}
	}
	// Nothing is left to mint with, in memory either.
	if _, err := src.Token(t.Context()); !errors.Is(err, wechat.ErrConfig) {
		t.Errorf("Token after Forget: %v, want config (no refresh token)", err)
	}
}

// TestPreload: one GetMany reads a whole fleet's tokens; the sources then
// read nothing more, and mint nothing.
func TestPreload(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := &counting{Store: store.NewMemory()}
	writer := keeper(t, st, c)
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("wxauthorizer%04d", i)
		token := fmt.Sprintf("preloaded-token-%04d-secret", i)
		if err := writer.SaveAuthorization(t.Context(), wechattest.ComponentAppID, ids[i], token, time.Hour, "refresh@@@"+ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	k := keeper(t, st, c)
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	gets := st.gets.Load()
	if err := k.Preload(t.Context(), wechattest.ComponentAppID, ids); err != nil {
		t.Fatalf("Preload: %v", err)
	}
	if st.getManys.Load() != 1 {
		t.Errorf("Preload made %d GetMany calls, want 1", st.getManys.Load())
	}
	for i, id := range ids {
		tok, err := k.Authorizer(comp, wechattest.ComponentAppID, id, "").Token(t.Context())
		if err != nil || tok.Value.Reveal() != fmt.Sprintf("preloaded-token-%04d-secret", i) {
			t.Fatalf("Token(%s) = %v, %v", id, tok, err)
		}
	}
	if st.gets.Load() != gets {
		t.Errorf("sources read the store %d times after Preload", st.gets.Load()-gets)
	}
	if srv.Calls(wechat.AuthorizerTokenPath) != 0 {
		t.Errorf("minted %d times", srv.Calls(wechat.AuthorizerTokenPath))
	}
	// A store outage fails Preload with kind store.
	st.down.Store(true)
	if err := k.Preload(t.Context(), wechattest.ComponentAppID, ids); !errors.Is(err, &wechat.Error{Kind: wechat.KindStore}) {
		t.Errorf("Preload with the store down: %v", err)
	}
}

// TestPreloadedRefreshToken: a mint right after Preload uses the preloaded
// refresh token without reading the store again.
func TestPreloadedRefreshToken(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := &counting{Store: store.NewMemory()}
	k := keeper(t, st, c)
	if err := k.SaveAuthorization(t.Context(), wechattest.ComponentAppID, wechattest.AuthorizerAppID, "", 0, wechattest.AuthorizerRefreshToken); err != nil {
		t.Fatal(err)
	}
	cold := keeper(t, st, c)
	if err := cold.Preload(t.Context(), wechattest.ComponentAppID, []string{wechattest.AuthorizerAppID}); err != nil {
		t.Fatal(err)
	}
	gets := st.gets.Load()
	src := cold.Authorizer(wechat.StaticTokenSource(wechattest.ComponentAccessToken), wechattest.ComponentAppID, wechattest.AuthorizerAppID, "refresh@@@outdated-variable")
	if _, _, err := c.GetEnvInfo(t.Context(), src, ""); err != nil {
		t.Fatalf("GetEnvInfo: %v", err)
	}
	// Reads: the token key twice (before and after the lease), not the
	// refresh key.
	if got := st.gets.Load() - gets; got != 2 {
		t.Errorf("%d store reads for one mint after Preload, want 2", got)
	}
	if srv.Calls(wechat.AuthorizerTokenPath) != 1 {
		t.Errorf("mints %d", srv.Calls(wechat.AuthorizerTokenPath))
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k := tokens.Keys{Prefix: "p:"}
	tests := []struct{ got, want string }{
		{k.ComponentToken("wxc"), "p:token:component:wxc"},
		{k.AuthorizerToken("wxc", "wxa"), "p:token:authorizer:wxc:wxa"},
		{k.StableToken("wxs"), "p:token:stable:wxs"},
		{k.Lease(k.AuthorizerToken("wxc", "wxa")), "p:lease:token:authorizer:wxc:wxa"},
		{k.Refresh("wxc", "wxa"), "p:refresh:wxc:wxa"},
		{k.Ticket("wxc"), "p:ticket:wxc"},
		{k.Fleet("wxc", "wxa"), "p:fleet:wxc:wxa"},
		{tokens.ForeignKeys{Layout: tokens.LayoutWxJava, KeyPrefix: "wx:open"}.Ticket("wxc"), "wx:open:wechat_component_verify_ticket:wxc"},
		{tokens.ForeignKeys{Layout: tokens.LayoutWxJava}.Refresh("wxc", "wxa"), "wechat_authorizer_refresh_token:wxc:wxa"},
		{tokens.ForeignKeys{Layout: tokens.LayoutSilenceper}.Refresh("wxc", "wxa"), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("key %q, want %q", tt.got, tt.want)
		}
	}
}
