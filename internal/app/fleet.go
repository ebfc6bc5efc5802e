package app

import (
	"context"
	"slices"
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
	listedAt time.Time // when the list was last read whole
	// The refresh tokens the list gives are kept by the keeper, in each
	// authorizer's slot (tokens.Keeper.SetListed), not in a map here.
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
// appid, and gives the keeper their refresh tokens. It returns how many
// refresh tokens the list gave.
func (f *fleet) list(ctx context.Context, add func(string)) (int, error) {
	n := 0
	var listErr error
	for offset, page := 0, 0; page < maxListPages; page++ {
		l, err := f.client.GetAuthorizerList(ctx, f.component, f.componentAppID, offset, wechat.MaxAuthorizerListCount)
		if err != nil {
			listErr = err
			break
		}
		for _, e := range l.List {
			id := e.AuthorizerAppID
			if r := e.RefreshToken.Reveal(); r != "" && id != "" {
				// The keeper's string: a later read's copy is dropped at
				// once, not held through the run beside it.
				id = f.keeper.SetListed(f.componentAppID, id, r)
				n++
			}
			add(id)
		}
		offset += len(l.List)
		if len(l.List) == 0 || offset >= l.TotalCount {
			break
		}
	}
	if listErr == nil {
		f.mu.Lock()
		f.listedAt = time.Now()
		f.mu.Unlock()
	}
	return n, listErr
}

// All merges the authorizers that authorization events put in the store
// with WeChat's authorizer list, read 500 at a time, and returns each
// once, sorted (a fleet of 10,000 needs no set of its appids beside the
// list).
func (f *fleet) All(ctx context.Context) ([]string, error) {
	members, storeErr := f.keeper.FleetMembers(ctx, f.componentAppID)
	out := slices.Clone(members)
	_, listErr := f.list(ctx, func(id string) {
		if id != "" {
			out = append(out, id)
		}
	})
	out = slices.DeleteFunc(out, func(id string) bool { return id == "" })
	slices.Sort(out)
	out = slices.Compact(out)
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
	fallback := f.keeper.Listed(f.componentAppID, appid)
	if fallback == "" && appid == f.knownAppID {
		fallback = f.knownRefresh
	}
	return f.keeper.Authorizer(f.component, f.componentAppID, appid, fallback)
}

// Preload reads the stored tokens of appids in batches, and writes back
// the refresh tokens from the authorizer list that the store lacks; each
// batch also reads what ahead asks for along with it (nil: nothing).
func (f *fleet) Preload(ctx context.Context, appids []string, ahead ReadAhead) error {
	for i := 0; i < len(appids); i += preloadChunk {
		chunk := appids[i:min(i+preloadChunk, len(appids))]
		var keys []string
		var extra func() []string
		if ahead != nil {
			extra = func() []string { keys = ahead.AheadKeys(chunk); return keys }
		}
		vals, err := f.keeper.PreloadFleet(ctx, f.componentAppID, chunk, extra)
		if err != nil {
			return err
		}
		if vals != nil && ahead != nil {
			ahead.Supply(keys, vals)
		}
	}
	return nil
}
