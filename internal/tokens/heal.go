package tokens

import (
	"context"
	"errors"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// RefreshLister returns the refresh token WeChat's authorizer list
// (/cgi-bin/component/api_get_authorizer_list) holds now for an
// authorizer, "" when the list has none for it.
type RefreshLister func(ctx context.Context, authorizerAppID string) (string, error)

// SetRefreshLister sets where a rejected stored refresh token is healed
// from (docs/contract.md#refresh-tokens-heal). Without one, only the
// variable's value (the fallback) is tried.
func (k *Keeper) SetRefreshLister(l RefreshLister) {
	k.mu.Lock()
	k.lister = l
	k.mu.Unlock()
}

// rejectedRefreshCodes are the errcodes with which WeChat refuses an
// authorizer refresh token that is no longer the current one.
var rejectedRefreshCodes = []int{61023}

// refreshRejected reports whether err says the refresh token was refused.
func refreshRejected(err error) bool {
	var e *wechat.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range rejectedRefreshCodes {
		if e.ErrCode == c {
			return true
		}
	}
	return false
}

// heal runs after WeChat refused the stored refresh token rejected: it
// tries the token WeChat's authorizer list holds now, then the variable's,
// and stores the one that works in place of the rejected one (only if the
// store still holds the rejected one: a token another instance stored
// meanwhile is never replaced). When none works it returns cause.
func (k *Keeper) heal(ctx context.Context, s *slot, component wechat.TokenSource, componentAppID, authorizerAppID, key, rejected, fallback string, cause error) (*wechat.Token, error) {
	var candidates []string
	k.mu.Lock()
	lister := k.lister
	k.mu.Unlock()
	if lister != nil {
		if listed, err := lister(ctx, authorizerAppID); err == nil && listed != "" {
			candidates = append(candidates, listed)
		}
	}
	if fallback != "" {
		candidates = append(candidates, fallback)
	}
	tried := map[string]bool{rejected: true}
	for _, rt := range candidates {
		if tried[rt] {
			continue
		}
		tried[rt] = true
		k.scrubber().KeepForUse(rt)
		tok, next, err := wechat.MintAuthorizerToken(ctx, k.client, component, componentAppID, authorizerAppID, rt)
		if err != nil {
			if refreshRejected(err) {
				continue
			}
			return nil, err
		}
		if next != "" {
			rt = next
		}
		s.know(rt)
		if !k.private {
			k.replaceRefresh(ctx, key, rejected, rt)
		}
		return tok, nil
	}
	return nil, cause
}

// replaceRefresh stores rt under key if the key still holds the rejected
// token, or none.
func (k *Keeper) replaceRefresh(ctx context.Context, key, rejected, rt string) {
	data := encodeRefresh(rt, k.now())
	for range casAttempts {
		var old []byte
		cur, err := k.st.Get(ctx, key)
		switch {
		case err == nil:
			if k.decodeRefresh(cur.Data) != rejected {
				return // another instance stored a newer one
			}
			old = cur.Data
		case !errors.Is(err, store.ErrNotFound):
			return // the next run heals again
		}
		if ok, err := k.st.CompareAndSwap(ctx, key, old, store.Value{Data: data}); ok || err != nil {
			return
		}
	}
}
