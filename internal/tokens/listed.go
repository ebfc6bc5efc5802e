package tokens

import (
	"context"
	"sync"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// SaveListed stores the refresh tokens that a page of WeChat's authorizer
// list gave (appid → refresh token) for the authorizers that have none in
// the store, so that instances which never read the list (the workers of a
// queued fleet run) can mint their tokens. A stored refresh token is never
// replaced: it may be newer than the list's. One GetMany reads the page's
// keys; only the absent ones are written, each only if still absent.
func (k *Keeper) SaveListed(ctx context.Context, componentAppID string, refresh map[string]string) error {
	if k.layout != LayoutOwn || len(refresh) == 0 {
		return nil
	}
	if k.private {
		// A private store's copy is the authorizer's slot: the workers
		// this process runs mint from it.
		values := make([]string, 0, len(refresh))
		for id, rt := range refresh {
			if rt == "" {
				continue
			}
			values = append(values, rt)
			s := k.authorizerSlot(componentAppID, id)
			s.mu.Lock()
			if s.refresh == "" {
				s.setRefresh(rt, 0)
			}
			s.mu.Unlock()
		}
		k.scrubber().KeepForUse(values...) // once: it sorts its list per call
		return nil
	}
	keys := make([]string, 0, len(refresh))
	byKey := make(map[string]string, len(refresh))
	for id, rt := range refresh {
		if rt == "" {
			continue
		}
		key := k.keys.Refresh(componentAppID, id)
		keys = append(keys, key)
		byKey[key] = rt
	}
	got, err := k.st.GetMany(ctx, keys)
	if err != nil {
		return k.storeError("save_listed", "read the listed authorizers' refresh tokens", err)
	}
	now := k.now()
	absent := make([]string, 0, len(keys))
	for _, key := range keys {
		if _, ok := got[key]; !ok {
			absent = append(absent, key)
		}
	}
	values := make([]string, len(absent))
	for i, key := range absent {
		values[i] = byKey[key]
	}
	k.scrubber().KeepForUse(values...) // once: it sorts its list per call
	// The writes go 16 at a time: a first tick stores every listed
	// authorizer's refresh token, 500 a page.
	sem := make(chan struct{}, 16)
	errs := make([]error, len(absent))
	var wg sync.WaitGroup
	for i, key := range absent {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := k.st.CompareAndSwap(ctx, key, nil, store.Value{Data: encodeRefresh(byKey[key], now)}); err != nil {
				errs[i] = k.storeError("save_listed", "write a listed refresh token", err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the store is failing: one error says it
		}
	}
	return nil
}

// SetListed remembers the refresh token WeChat's authorizer list gave for
// an authorizer, in the authorizer's slot: the fallback of its mint
// (Listed) and what a rejected stored one heals from. An empty rt keeps
// the one known. It returns the appid as the string the keeper holds the
// slot by, which a fleet's list keeps instead of the copy each read of
// WeChat's list decodes anew.
func (k *Keeper) SetListed(componentAppID, authorizerAppID, rt string) string {
	if rt == "" || k.layout != LayoutOwn {
		return authorizerAppID
	}
	id, s := k.authorizerSlotID(componentAppID, authorizerAppID)
	s.mu.Lock()
	if s.listedValue() != rt {
		s.setListed(rt)
	}
	s.mu.Unlock()
	return id
}

// Listed returns the refresh token SetListed remembered for an
// authorizer, "" when none.
func (k *Keeper) Listed(componentAppID, authorizerAppID string) string {
	s := k.findAuthorizerSlot(componentAppID, authorizerAppID)
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listedValue()
}

// PreloadFleet is PreloadListed with the refresh tokens SetListed
// remembered as the list's. When it reads the store, the same batch reads
// the keys extra returns (extra nil: none), for the caller's run: their
// live values are returned (a non-nil map). It returns nil when it read
// nothing (a private store, a foreign layout).
func (k *Keeper) PreloadFleet(ctx context.Context, componentAppID string, authorizerAppIDs []string, extra func() []string) (map[string]store.Value, error) {
	return k.preload(ctx, componentAppID, authorizerAppIDs, func(_ string, s *slot) string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.listedValue()
	}, extra)
}

// extraValues takes out of got the values of extra's keys, which are not
// the preload's (a non-nil map).
func extraValues(got map[string]store.Value, extra []string) map[string]store.Value {
	out := make(map[string]store.Value, len(extra))
	for _, key := range extra {
		if v, ok := got[key]; ok {
			out[key] = v
			delete(got, key)
		}
	}
	return out
}
