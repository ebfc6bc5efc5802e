package tokens_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// storedRefresh reads the refresh token kept under the authorizer's key.
func storedRefresh(t *testing.T, st store.Store, key string) string {
	t.Helper()
	v, err := st.Get(t.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(v.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r.RefreshToken
}

func putRefresh(t *testing.T, st store.Store, key, rt string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"refresh_token": rt})
	if err := st.Set(t.Context(), key, store.Value{Data: b}); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshTokenHeals: a stored refresh token WeChat rejects (61023),
// as after a restore put back an outdated one, is replaced by the one
// WeChat's authorizer list holds, which mints; with no lister, or a list
// whose token is rejected too, the 61023 stands and nothing is written.
func TestRefreshTokenHeals(t *testing.T) {
	t.Parallel()
	const app = "wxhealme0001"
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	cases := []struct {
		name     string
		lister   func(context.Context, string) (string, error)
		fallback string
		wantOK   bool
		want     string // the stored refresh token after the mint
	}{
		{"list holds the current token", func(context.Context, string) (string, error) { return wechattest.RefreshTokenFor(app), nil }, "", true, wechattest.RefreshTokenFor(app)},
		{"the variable holds it", nil, wechattest.RefreshTokenFor(app), true, wechattest.RefreshTokenFor(app)},
		{"list unreadable", func(context.Context, string) (string, error) { return "", errors.New("list down") }, "", false, "refreshtoken@@@restored-old"},
		{"list stale too", func(context.Context, string) (string, error) { return "refreshtoken@@@restored-old", nil }, "also-old", false, "refreshtoken@@@restored-old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.AddAuthorizers(app)
			st := store.NewMemory()
			k := keeper(t, st, c)
			if tc.lister != nil {
				k.SetRefreshLister(tc.lister)
			}
			key := k.Keys().Refresh(wechattest.ComponentAppID, app)
			putRefresh(t, st, key, "refreshtoken@@@restored-old")
			src := k.Authorizer(comp, wechattest.ComponentAppID, app, tc.fallback)
			_, err := src.Token(t.Context())
			if tc.wantOK && err != nil {
				t.Fatalf("Token: %v", err)
			}
			if !tc.wantOK && !errors.Is(err, &wechat.Error{ErrCode: 61023}) {
				t.Fatalf("Token: %v, want 61023", err)
			}
			noSecret(t, err, "refreshtoken@@@restored-old")
			if got := storedRefresh(t, st, key); got != tc.want {
				t.Errorf("stored refresh token %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHealNeverReplacesNewer: when another instance stored a newer
// refresh token between the rejection and the heal, the heal leaves it.
func TestHealNeverReplacesNewer(t *testing.T) {
	t.Parallel()
	const app = "wxhealrace001"
	srv, c := setup(t)
	srv.AddAuthorizers(app)
	st := store.NewMemory()
	k := keeper(t, st, c)
	key := k.Keys().Refresh(wechattest.ComponentAppID, app)
	putRefresh(t, st, key, "refreshtoken@@@restored-old")
	k.SetRefreshLister(func(context.Context, string) (string, error) {
		putRefresh(t, st, key, "refreshtoken@@@rotated-by-another") // meanwhile
		return wechattest.RefreshTokenFor(app), nil
	})
	if _, err := k.Authorizer(wechat.StaticTokenSource(wechattest.ComponentAccessToken), wechattest.ComponentAppID, app, "").Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := storedRefresh(t, st, key); got != "refreshtoken@@@rotated-by-another" {
		t.Errorf("stored %q: the heal replaced another instance's newer token", got)
	}
}

// TestPreloadWritesBackListed: the list's refresh tokens reach the store
// for authorizers that have none, with no mint; a stored (rotated) one is
// never replaced by the list's.
func TestPreloadWritesBackListed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		preload func(k *tokens.Keeper, ids []string, listed map[string]string) error
	}{
		{"PreloadListed", func(k *tokens.Keeper, ids []string, listed map[string]string) error {
			return k.PreloadListed(context.Background(), wechattest.ComponentAppID, ids, listed)
		}},
		// The fleet's way: the list's tokens are kept in the slots.
		{"SetListed and PreloadFleet", func(k *tokens.Keeper, ids []string, listed map[string]string) error {
			for _, id := range ids {
				k.SetListed(wechattest.ComponentAppID, id, listed[id])
				if got := k.Listed(wechattest.ComponentAppID, id); got != listed[id] {
					return fmt.Errorf("Listed(%s) = %q, want %q", id, got, listed[id])
				}
			}
			_, err := k.PreloadFleet(context.Background(), wechattest.ComponentAppID, ids, nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			preloadWritesBackListed(t, tc.preload)
		})
	}
}

func preloadWritesBackListed(t *testing.T, preload func(k *tokens.Keeper, ids []string, listed map[string]string) error) {
	srv, c := setup(t)
	ids := []string{"wxlisted0001", "wxlisted0002", "wxrotated0003", "wxtomint0004"}
	srv.AddAuthorizers(ids...)
	st := store.NewMemory()
	k := keeper(t, st, c)
	// Valid access tokens, no refresh tokens (a flush of refresh:… keys).
	for _, id := range ids[:3] {
		if err := k.SaveAuthorization(t.Context(), wechattest.ComponentAppID, id, "access-"+id, 2*time.Hour, ""); err != nil {
			t.Fatal(err)
		}
	}
	k = keeper(t, st, c) // a cold instance
	rotatedKey := k.Keys().Refresh(wechattest.ComponentAppID, ids[2])
	putRefresh(t, st, rotatedKey, "refreshtoken@@@rotated-newer")
	listed := map[string]string{}
	for _, id := range ids {
		listed[id] = wechattest.RefreshTokenFor(id)
	}
	if err := preload(k, ids, listed); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls(wechat.AuthorizerTokenPath); n != 0 {
		t.Errorf("write-back minted %d times", n)
	}
	for _, id := range ids[:2] {
		if got := storedRefresh(t, st, k.Keys().Refresh(wechattest.ComponentAppID, id)); got != listed[id] {
			t.Errorf("%s: stored %q, want the list's", id, got)
		}
	}
	if got := storedRefresh(t, st, rotatedKey); got != "refreshtoken@@@rotated-newer" {
		t.Errorf("the rotated token was replaced by %q", got)
	}
	// No valid access token: the mint stores the refresh token it used.
	mintKey := k.Keys().Refresh(wechattest.ComponentAppID, ids[3])
	if got := storedRefresh(t, st, mintKey); got != "" {
		t.Errorf("%s: written before its mint", ids[3])
	}
	src := k.Authorizer(wechat.StaticTokenSource(wechattest.ComponentAccessToken), wechattest.ComponentAppID, ids[3], listed[ids[3]])
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := storedRefresh(t, st, mintKey); got != listed[ids[3]] {
		t.Errorf("%s: after its mint the store holds %q, want the list's", ids[3], got)
	}

}

// TestPrivateStoreKeepsRefreshInMemory: over the memory store Open makes
// (this process's alone) an authorizer's refresh token lives in the
// keepers' memory, never in the store; a rejected one still heals from the
// list, and a keeper rebuilt over the store mints with the healed one.
func TestPrivateStoreKeepsRefreshInMemory(t *testing.T) {
	t.Parallel()
	const app = "wxprivate0001"
	srv, c := setup(t)
	srv.AddAuthorizers(app)
	st, err := store.Open("memory")
	if err != nil {
		t.Fatal(err)
	}
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	k := keeper(t, st, c)
	k.SetRefreshLister(func(context.Context, string) (string, error) { return wechattest.RefreshTokenFor(app), nil })
	if err := k.SaveAuthorization(t.Context(), wechattest.ComponentAppID, app, "", 0, "refreshtoken@@@restored-old"); err != nil {
		t.Fatal(err)
	}
	src := k.Authorizer(comp, wechattest.ComponentAppID, app, "")
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v (the rejected refresh token did not heal)", err)
	}
	for _, key := range []string{k.Keys().Refresh(wechattest.ComponentAppID, app), k.Keys().AuthorizerToken(wechattest.ComponentAppID, app)} {
		if _, err := st.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the private store holds %s: %v", key, err)
		}
	}
	// A keeper rebuilt over the store finds the token, then mints with the
	// healed refresh token once the token is rejected.
	again := keeper(t, st, c).Authorizer(comp, wechattest.ComponentAppID, app, "")
	if got, err := again.Token(t.Context()); err != nil || got.Value != tok.Value {
		t.Fatalf("rebuilt keeper: %v; want the token in memory", err)
	}
	again.(wechat.Invalidator).Invalidate(tok)
	if _, err := again.Token(t.Context()); err != nil {
		t.Fatalf("mint with the healed refresh token: %v", err)
	}
	if got := srv.Calls(wechat.AuthorizerTokenPath); got != 3 { // rejected, healed, after the rejection
		t.Errorf("authorizer token calls %d, want 3", got)
	}
}

// TestPrivateStoreSaveListed: over a private store the refresh tokens of a
// page of the authorizer list are kept in the authorizers' slots, where a
// worker of the same process mints from; a refresh token already kept is
// not replaced, and the store holds no copy.
func TestPrivateStoreSaveListed(t *testing.T) {
	t.Parallel()
	const listedApp, rotatedApp = "wxprivlisted01", "wxprivrotated02"
	srv, c := setup(t)
	srv.AddAuthorizers(listedApp, rotatedApp)
	st, err := store.Open("memory")
	if err != nil {
		t.Fatal(err)
	}
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	planner := keeper(t, st, c)
	// rotatedApp's slot keeps the current token; the list's is outdated.
	if err := planner.SaveAuthorization(t.Context(), wechattest.ComponentAppID, rotatedApp, "", 0, wechattest.RefreshTokenFor(rotatedApp)); err != nil {
		t.Fatal(err)
	}
	if err := planner.SaveListed(t.Context(), wechattest.ComponentAppID, map[string]string{
		listedApp: wechattest.RefreshTokenFor(listedApp), rotatedApp: "refreshtoken@@@outdated",
	}); err != nil {
		t.Fatal(err)
	}
	worker := keeper(t, st, c)
	for _, app := range []string{listedApp, rotatedApp} {
		if _, err := worker.Authorizer(comp, wechattest.ComponentAppID, app, "").Token(t.Context()); err != nil {
			t.Errorf("%s: the worker could not mint: %v", app, err)
		}
		if _, err := st.Get(t.Context(), worker.Keys().Refresh(wechattest.ComponentAppID, app)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the private store holds a refresh token: %v", app, err)
		}
	}
}
