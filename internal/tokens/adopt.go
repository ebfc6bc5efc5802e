package tokens

import (
	"context"
	"sync"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// adoptConcurrency bounds the writes of adopt.
const adoptConcurrency = 8

// adoption is a refresh token from WeChat's list for a key the store lacks.
type adoption struct {
	key, rt string
	s       *slot // the authorizer's
}

// adopt writes each listed refresh token under its key unless the key
// holds one by then (compare-and-swap against absence); a token written is
// the one the next mint uses. It returns the first store error (a mint
// then falls back to the list's token, as before).
func (k *Keeper) adopt(ctx context.Context, list []adoption) error {
	if len(list) == 0 {
		return nil
	}
	now := k.now()
	for _, a := range list {
		k.scrubber().KeepForUse(a.rt)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan adoption)
	)
	for range min(adoptConcurrency, len(list)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range next {
				wrote, err := k.st.CompareAndSwap(ctx, a.key, nil, store.Value{Data: encodeRefresh(a.rt, now)})
				if wrote {
					a.s.preloaded(a.rt, now)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = k.storeError("preload", "write back the listed refresh tokens", err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range list {
		next <- a
	}
	close(next)
	wg.Wait()
	return first
}
