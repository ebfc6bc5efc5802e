package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// mintAuthorizer mints an authorizer token and saves a rotated refresh
// token.
func (k *Keeper) mintAuthorizer(ctx context.Context, component wechat.TokenSource, componentAppID, authorizerAppID, fallback string) (*wechat.Token, error) {
	const op = "authorizer_token"
	key := k.keys.Refresh(componentAppID, authorizerAppID)
	rt, inStore, err := k.refreshToken(ctx, key, fallback)
	if err != nil {
		return nil, err
	}
	if rt == "" {
		return nil, &wechat.Error{Kind: wechat.KindConfig, Op: op,
			Message: "no refresh token for authorizer " + authorizerAppID + ": set WECHAT_AUTHORIZER_REFRESH_TOKEN or authorize it through the authorization-event webhook"}
	}
	tok, next, err := wechat.MintAuthorizerToken(ctx, k.client, component, componentAppID, authorizerAppID, rt)
	if err != nil && inStore && refreshRejected(err) {
		// A restore or a failover may have put back an outdated token:
		// WeChat's authorizer list holds the current one.
		return k.heal(ctx, component, componentAppID, authorizerAppID, key, rt, fallback, err)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case next != "":
		k.knowRefresh(key, next)
		// Without this write other instances would mint with a refresh
		// token WeChat has replaced; this instance remembers it anyway.
		_ = k.st.Set(ctx, key, store.Value{Data: encodeRefresh(next, k.now())})
	case !inStore:
		// The first value came from the variable: share it, unless another
		// instance has stored one meanwhile.
		_, _ = k.st.CompareAndSwap(ctx, key, nil, store.Value{Data: encodeRefresh(rt, k.now())})
	}
	return tok, nil
}

// storedRefresh is how a refresh token is encoded in the store.
type storedRefresh struct {
	RefreshToken string    `json:"refresh_token"`
	SavedAt      time.Time `json:"saved_at"`
}

func encodeRefresh(rt string, now time.Time) []byte {
	b, _ := json.Marshal(storedRefresh{RefreshToken: rt, SavedAt: now}) // cannot fail
	return b
}

func (k *Keeper) decodeRefresh(raw []byte) string {
	var r storedRefresh
	if json.Unmarshal(raw, &r) != nil {
		return ""
	}
	k.scrubber().KeepForUse(r.RefreshToken)
	return r.RefreshToken
}

// knowRefresh remembers a refresh token this instance saved.
func (k *Keeper) knowRefresh(key, rt string) {
	k.mu.Lock()
	k.refresh[key] = knownRefresh{value: rt}
	k.mu.Unlock()
}

// refreshToken returns the refresh token to mint with: one Preload read
// moments ago, else the store's, else one this instance saved, else
// fallback. inStore reports whether the store holds one.
func (k *Keeper) refreshToken(ctx context.Context, key, fallback string) (rt string, inStore bool, err error) {
	k.mu.Lock()
	known, ok := k.refresh[key]
	if ok && !known.loaded.IsZero() {
		delete(k.refresh, key) // a preloaded value is used once
		if k.now().Sub(known.loaded) < preloadFresh {
			k.mu.Unlock()
			return known.value, true, nil
		}
		ok = false
	}
	k.mu.Unlock()
	v, err := k.st.Get(ctx, key)
	switch {
	case err == nil:
		if rt := k.decodeRefresh(v.Data); rt != "" {
			return rt, true, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		if ok {
			return known.value, false, nil
		}
		return "", false, k.storeError("authorizer_token", "read the refresh token", err)
	}
	if ok {
		return known.value, false, nil
	}
	return fallback, false, nil
}
