package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The read-ahead of a Buffered: keys a run will read once (the quota
// reading, the owner robots, the authorizers' names and alert state) are
// read in a batch that happens anyway (the fleet's token preload), and the
// run's later reads of them are answered from it.

// aheadEntry is one key expected by name: waiting for its batch, or
// answered (v: its live value, nil when it had none).
type aheadEntry struct {
	answered bool
	v        *Value
}

// aheadGroup is the keys family+id of sorted ids, expected without an
// entry each: most are absent (the alert state of a healthy authorizer),
// and a fleet of 10,000 would otherwise hold an entry for every one.
type aheadGroup struct {
	family   string
	ids      []string
	answered bool
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

// ExpectEach is Expect of family+id for each id of ids, which must be
// sorted (ids is kept, not copied), with a difference that saves keeping
// a key each: a key the batch found live is answered once, like
// Expect's, but one it found absent reads as absent until the run writes
// it through b (CompareAndSwap, CompareAndDelete, Delete). Unsorted ids
// are expected key by key.
func (b *Buffered) ExpectEach(family string, ids []string) {
	if len(ids) == 0 {
		return
	}
	if !slices.IsSorted(ids) {
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = family + id
		}
		b.Expect(keys...)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.abandoned {
		b.groups = append(b.groups, aheadGroup{family: family, ids: ids})
	}
}

// Waiting returns the keys expected by name that no batch has answered
// yet, for the next batch read to include.
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

// Supply answers what was expected and not yet answered (every key
// expected so far must have been in the batch): vals holds the live
// values among keys, as GetMany returns them.
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
	for k, v := range vals {
		if _, named := b.ahead[k]; named {
			continue
		}
		if g := b.group(k); g != nil && !g.answered {
			if b.live == nil {
				b.live = map[string]Value{}
			}
			b.live[k] = v
		}
	}
	for i := range b.groups {
		b.groups[i].answered = true
	}
	b.wake()
}

// Abandon gives up what is still waiting: its reads go to the store.
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
	b.groups = slices.DeleteFunc(b.groups, func(g aheadGroup) bool { return !g.answered })
	b.wake()
}

// wake lets every waiting read look again. b.mu is held.
func (b *Buffered) wake() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// wrote says the run wrote key through b: its reads go to the store.
func (b *Buffered) wrote(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.expectingLocked() {
		return
	}
	delete(b.ahead, key)
	delete(b.live, key)
	if b.written == nil {
		b.written = map[string]bool{}
	}
	b.written[key] = true
}

// group returns the group that covers key, or nil. b.mu is held.
func (b *Buffered) group(key string) *aheadGroup {
	for i := range b.groups {
		g := &b.groups[i]
		if id, ok := strings.CutPrefix(key, g.family); ok {
			if _, found := slices.BinarySearch(g.ids, id); found {
				return g
			}
		}
	}
	return nil
}

// fromAhead answers key from the read-ahead: found reports whether it
// did (have: the key was live), and err is set when the context ended
// while the key was still waiting.
func (b *Buffered) fromAhead(ctx context.Context, key string) (v Value, have, found bool, err error) {
	for {
		b.mu.Lock()
		waiting := false
		if e, ok := b.ahead[key]; ok {
			if e.answered {
				delete(b.ahead, key) // once: a later read sees the store
				b.mu.Unlock()
				if e.v == nil {
					return Value{}, false, true, nil
				}
				return *e.v, true, true, nil
			}
			waiting = true
		} else if !b.written[key] {
			if v, ok := b.live[key]; ok {
				// Once, as by name; the store answers later reads.
				delete(b.live, key)
				if b.written == nil {
					b.written = map[string]bool{}
				}
				b.written[key] = true
				b.mu.Unlock()
				return v, true, true, nil
			}
			if g := b.group(key); g != nil {
				if g.answered {
					b.mu.Unlock()
					return Value{}, false, true, nil
				}
				waiting = true
			}
		}
		if !waiting {
			b.mu.Unlock()
			return Value{}, false, false, nil
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

// expecting reports whether anything is read ahead.
func (b *Buffered) expecting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expectingLocked()
}

func (b *Buffered) expectingLocked() bool { return len(b.ahead) > 0 || len(b.groups) > 0 }

// CompareAndSwap implements Store: in the store beneath; key is then read
// from there.
func (b *Buffered) CompareAndSwap(ctx context.Context, key string, old []byte, v Value) (bool, error) {
	b.wrote(key)
	return b.Store.CompareAndSwap(ctx, key, old, v)
}

// CompareAndDelete implements Store: in the store beneath; key is then
// read from there.
func (b *Buffered) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	b.wrote(key)
	return b.Store.CompareAndDelete(ctx, key, old)
}

// Delete implements Store: in the store beneath; key is then read from
// there.
func (b *Buffered) Delete(ctx context.Context, key string) error {
	b.wrote(key)
	return b.Store.Delete(ctx, key)
}
