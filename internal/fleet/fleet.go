// Package fleet runs one job per authorizer of a third-party platform with
// bounded concurrency inside a deadline, and splits a fleet into stable
// shards (docs/contract.md#the-fleet).
package fleet

import (
	"context"
	"hash/fnv"
	"sync"
	"time"
)

// Shard returns the shard, 0 to n-1, that appid falls in: the 32-bit FNV-1a
// hash of the appid's bytes, modulo n. It never changes, so N schedules
// that each run shard K of N cover every authorizer exactly once.
func Shard(appid string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(appid))
	return int(h.Sum32() % uint32(n))
}

// InShard keeps the appids that fall in shard k of n, in their order.
func InShard(appids []string, k, n int) []string {
	if n <= 1 {
		return appids
	}
	out := make([]string, 0, len(appids)/n+1)
	for _, id := range appids {
		if Shard(id, n) == k {
			out = append(out, id)
		}
	}
	return out
}

// Run calls do for each item, at most concurrency at a time, and returns
// the results in the items' order. Items not started when ctx ends, and
// items whose do has not returned by grace after ctx ends, get cut(item)
// instead: nothing is silently dropped, and Run returns by then even if a
// do call never does (its result is then dropped).
func Run[T any](ctx context.Context, items []string, concurrency int, grace time.Duration,
	do func(ctx context.Context, item string) T, cut func(item string) T) []T {
	if concurrency < 1 {
		concurrency = 1
	}
	concurrency = min(concurrency, len(items))
	var (
		mu     sync.Mutex
		out    = make([]T, len(items))
		done   = make([]bool, len(items))
		next   int
		closed bool // Run has returned out: late results are dropped
		wg     sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(items) || ctx.Err() != nil || closed {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				r := do(ctx, items[i])
				mu.Lock()
				if !closed {
					out[i], done[i] = r, true
				}
				mu.Unlock()
			}
		}()
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		t := time.NewTimer(grace)
		select {
		case <-all:
		case <-t.C:
		}
		t.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	closed = true
	for i := range items {
		if !done[i] {
			out[i] = cut(items[i])
		}
	}
	return out
}
