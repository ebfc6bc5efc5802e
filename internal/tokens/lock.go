package tokens

import "context"

// slotLock is a slot's semaphore while it is held or awaited: held while
// the instance reads the store or mints the slot's token.
type slotLock struct {
	ch   chan struct{}
	refs int // holders and waiters
}

// lock takes s's semaphore, waiting at most until ctx ends, and returns
// how to give it back. A fleet's slots are locked only around a store
// read or a mint, so the keeper holds a semaphore per slot in use, not
// per slot.
func (k *Keeper) lock(ctx context.Context, s *slot) (release func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[*slot]*slotLock{}
	}
	l := k.locks[s]
	if l == nil {
		l = &slotLock{ch: make(chan struct{}, 1)}
		k.locks[s] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return func() {
			<-l.ch
			k.unref(s, l)
		}, nil
	case <-ctx.Done():
		k.unref(s, l)
		return nil, ctx.Err()
	}
}

// unref drops one holder or waiter of s's lock, and the lock with the last.
func (k *Keeper) unref(s *slot, l *slotLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.locks, s)
	}
}
