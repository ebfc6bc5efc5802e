package store

import (
	"context"
	"fmt"
)

// The read-ahead of a Buffered: keys a run will read once (the quota
// reading, the owner robots, the authorizers' names and alert state) are
// read in a batch that happens anyway (the fleet's token preload), and the
// run's later reads of them are answered from it.

// aheadEntry is one expected key: waiting for its batch, or answered
// (v: its live value, nil when it had none). Most keys read ahead are
// absent (the alert state of a healthy authorizer): they cost a map entry.
type aheadEntry struct {
	answered bool
	v        *Value
}

// Expect says that keys will be read in a batch someone else makes
// ([Buffered.Supply]): until then a read of one of them waits (for the
// batch, [Buffered.Abandon] or its context); afterwards the first read of
// each is answered from the batch, and later reads go to the store (a
// value compared and swapped since is read again). Keys already expected
// are left as they are; after Abandon, Expect does nothing.
func (b *Buffered) Expect(keys ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned {
		return
	}
	if b.ahead == nil {
		b.ahead = make(map[string]aheadEntry, len(keys))
	}
	for _, k := range keys {
		if _, ok := b.ahead[k]; !ok {
			b.ahead[k] = aheadEntry{}
		}
	}
}

// Waiting returns the expected keys no batch has answered yet, for the
// next batch read to include.
func (b *Buffered) Waiting() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k, e := range b.ahead {
		if !e.answered {
			out = append(out, k)
		}
	}
	return out
}

// Supply answers the expected keys among keys, read in one batch: vals
// holds the live ones (as GetMany returns them).
func (b *Buffered) Supply(keys []string, vals map[string]Value) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if e, ok := b.ahead[k]; ok && !e.answered {
			e.answered = true
			if v, have := vals[k]; have {
				e.v = &v
			}
			b.ahead[k] = e
		}
	}
	b.wake()
}

// Abandon gives up the keys still waiting: their reads go to the store.
// What was supplied is still answered. Abandon is safe to call more than
// once.
func (b *Buffered) Abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.abandoned = true
	for k, e := range b.ahead {
		if !e.answered {
			delete(b.ahead, k)
		}
	}
	b.wake()
}

// wake lets every waiting read look again. b.mu is held.
func (b *Buffered) wake() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// fromAhead answers key from the read-ahead: found reports whether it
// did (have: the key was live), and err is set when the context ended
// while the key was still waiting.
func (b *Buffered) fromAhead(ctx context.Context, key string) (v Value, have, found bool, err error) {
	for {
		b.mu.Lock()
		e, ok := b.ahead[key]
		if !ok {
			b.mu.Unlock()
			return Value{}, false, false, nil
		}
		if e.answered {
			delete(b.ahead, key) // once: a later read sees the store
			b.mu.Unlock()
			if e.v == nil {
				return Value{}, false, true, nil
			}
			return *e.v, true, true, nil
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Value{}, false, false, fmt.Errorf("store: %s was still being read ahead: %w (%w)", key, ErrUnavailable, ctx.Err())
		}
	}
}

// expecting reports whether any key is read ahead.
func (b *Buffered) expecting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.ahead) > 0
}
