package app

import (
	"context"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// preloadChunk is how many authorizers one batch read covers (two keys
// each; DynamoDB's BatchGetItem takes 100 keys a call, which the store
// splits further).
const preloadChunk = 250

// maxListPages bounds the authorizer list's paging: 1,000 pages of 500.
const maxListPages = 1000

// fleet is the Fleet of one third-party platform.
type fleet struct {
	keeper         *tokens.Keeper
	client         *wechat.Client
	component      wechat.TokenSource
	componentAppID string
	// knownAppID's refresh token is WECHAT_AUTHORIZER_REFRESH_TOKEN.
	knownAppID, knownRefresh string

	healMu   sync.Mutex // one list read at a time for healing (heal.go)
	mu       sync.Mutex
	listed   map[string]string // refresh tokens from the authorizer list
	listedAt time.Time         // when the list was last read whole
}

// listFresh is how long a read of the authorizer list serves named runs.
const listFresh = 10 * time.Minute

// Refresh implements Fleet.
func (f *fleet) Refresh(ctx context.Context) error {
	f.mu.Lock()
	fresh := time.Since(f.listedAt) < listFresh
	f.mu.Unlock()
	if fresh {
		return nil
	}
	_, err := f.list(ctx, func(string) {})
	return err
}

// list reads every page of WeChat's authorizer list, calling add for each
// appid, and keeps their refresh tokens.
func (f *fleet) list(ctx context.Context, add func(string)) (int, error) {
	listed := map[string]string{}
	var listErr error
	for offset, page := 0, 0; page < maxListPages; page++ {
		l, err := f.client.GetAuthorizerList(ctx, f.component, f.componentAppID, offset, wechat.MaxAuthorizerListCount)
		if err != nil {
			listErr = err
			break
		}
		for _, e := range l.List {
			add(e.AuthorizerAppID)
			if r := e.RefreshToken.Reveal(); r != "" {
				listed[e.AuthorizerAppID] = r
			}
		}
		offset += len(l.List)
		if len(l.List) == 0 || offset >= l.TotalCount {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listed == nil {
		f.listed = map[string]string{}
	}
	for id, r := range listed {
		if f.listed[id] != r {
			f.listed[id] = r
		}
	}
	if listErr == nil {
		f.listedAt = time.Now()
	}
	return len(listed), listErr
}

// All merges the authorizers that authorization events put in the store
// with WeChat's authorizer list, read 500 at a time.
func (f *fleet) All(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	members, storeErr := f.keeper.FleetMembers(ctx, f.componentAppID)
	for _, id := range members {
		add(id)
	}
	_, listErr := f.list(ctx, add)
	if listErr != nil {
		return out, listErr
	}
	return out, storeErr
}

// Source returns appid's token source: the stored (or rotated) refresh
// token first, else the one the authorizer list gave, else the variable's.
// Sources are not kept: the keeper's slot is the authorizer's memory, and
// a source made per check costs the heap nothing between runs.
func (f *fleet) Source(appid string) wechat.TokenSource {
	f.mu.Lock()
	fallback := f.listed[appid]
	f.mu.Unlock()
	if fallback == "" && appid == f.knownAppID {
		fallback = f.knownRefresh
	}
	return f.keeper.Authorizer(f.component, f.componentAppID, appid, fallback)
}

// Preload reads the stored tokens of appids in batches, and writes back
// the refresh tokens from the authorizer list that the store lacks.
func (f *fleet) Preload(ctx context.Context, appids []string) error {
	f.mu.Lock()
	listed := make(map[string]string, len(f.listed))
	for id, r := range f.listed {
		listed[id] = r
	}
	f.mu.Unlock()
	for i := 0; i < len(appids); i += preloadChunk {
		if err := f.keeper.PreloadListed(ctx, f.componentAppID, appids[i:min(i+preloadChunk, len(appids))], listed); err != nil {
			return err
		}
	}
	return nil
}
