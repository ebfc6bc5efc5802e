package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// mintAuthorizer mints the token of s, an authorizer's slot, and saves a
// rotated refresh token.
func (k *Keeper) mintAuthorizer(ctx context.Context, s *slot, component wechat.TokenSource, componentAppID, authorizerAppID, fallback string) (*wechat.Token, error) {
	key := k.keys.Refresh(componentAppID, authorizerAppID)
	rt, inStore, err := k.refreshToken(ctx, s, key, fallback)
	if err != nil {
		return nil, err
	}
	if rt == "" {
		return nil, &wechat.Error{Kind: wechat.KindConfig, Op: opAuthorizer,
			Message: "no refresh token for authorizer " + authorizerAppID + ": set WECHAT_AUTHORIZER_REFRESH_TOKEN or authorize it through the authorization-event webhook"}
	}
	tok, next, err := wechat.MintAuthorizerToken(ctx, k.client, component, componentAppID, authorizerAppID, rt)
	if err != nil && inStore && refreshRejected(err) {
		// A restore or a failover may have put back an outdated token:
		// WeChat's authorizer list holds the current one.
		return k.heal(ctx, s, component, componentAppID, authorizerAppID, key, rt, fallback, err)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case next != "":
		if next == rt {
			next = rt // the string in hand is kept, not the answer's copy
		}
		s.know(next)
		if !k.private {
			// Without this write other instances would mint with a refresh
			// token WeChat has replaced; this instance remembers it anyway.
			_ = k.st.Set(ctx, key, store.Value{Data: encodeRefresh(next, k.now())})
		}
	case !inStore && k.private:
		s.know(rt)
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

// refreshToken returns the refresh token to mint s's token with: one
// Preload read moments ago, else the store's, else one this instance
// saved, else fallback. inStore reports whether the store holds one (over
// a private store: whether this instance keeps one).
func (k *Keeper) refreshToken(ctx context.Context, s *slot, key, fallback string) (rt string, inStore bool, err error) {
	s.mu.Lock()
	known, loaded := s.refresh, s.loaded
	ok := known != ""
	if ok && loaded != 0 {
		s.setRefresh("", 0) // a preloaded value is used once
		if k.now().Sub(time.Unix(int64(loaded), 0)) < preloadFresh {
			s.mu.Unlock()
			return known, true, nil
		}
		ok = false
	}
	s.mu.Unlock()
	if k.private {
		if ok {
			return known, true, nil
		}
		return fallback, false, nil
	}
	v, err := k.st.Get(ctx, key)
	switch {
	case err == nil:
		if rt := k.decodeRefresh(v.Data); rt != "" {
			return rt, true, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		if ok {
			return known, false, nil
		}
		return "", false, k.storeError(opAuthorizer, "read the refresh token", err)
	}
	if ok {
		return known, false, nil
	}
	return fallback, false, nil
}
