package store

import (
	"context"
	"sync"
)

// Buffered is a Store whose Sets wait for [Buffered.Flush], which writes
// them in one batch ([SetMany]): a run that writes several keys nobody
// else writes at once (authorizers' names, its history record) pays one
// round trip for all of them. A buffered key reads back its buffered
// value. Reads may also be answered by a read-ahead ([Buffered.Expect],
// [Buffered.ExpectEach]). Every other operation goes straight to the
// store underneath, so keys compared and swapped must not also be Set
// through a Buffered. A Buffered is safe for concurrent use.
type Buffered struct {
	Store

	mu      sync.Mutex
	pending []Item
	at      map[string]int // key -> index in pending

	// The read-ahead (ahead.go): keys expected by name, groups of keys,
	// the live values of the groups' keys, the keys the run wrote since.
	ahead     map[string]aheadEntry
	groups    []aheadGroup
	live      map[string]Value
	written   map[string]bool
	abandoned bool
	changed   chan struct{} // closed when the read-ahead changes
}

// NewBuffered returns a Buffered over st.
func NewBuffered(st Store) *Buffered { return &Buffered{Store: st} }

// Set implements Store: v is written by the next Flush.
func (b *Buffered) Set(_ context.Context, key string, v Value) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	v = Value{Data: append([]byte(nil), v.Data...), Expires: v.Expires}
	if i, ok := b.at[key]; ok {
		b.pending[i].Value = v
		return nil
	}
	if b.at == nil {
		b.at = map[string]int{}
	}
	b.at[key] = len(b.pending)
	b.pending = append(b.pending, Item{Key: key, Value: v})
	return nil
}

// buffered returns key's buffered value.
func (b *Buffered) buffered(key string) (Value, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.at[key]
	if !ok {
		return Value{}, false
	}
	return b.pending[i].Value, true
}

// Get implements Store.
func (b *Buffered) Get(ctx context.Context, key string) (Value, error) {
	if v, ok := b.buffered(key); ok {
		return v, nil
	}
	v, have, found, err := b.fromAhead(ctx, key)
	switch {
	case err != nil:
		return Value{}, err
	case found && have:
		return v, nil
	case found:
		return Value{}, ErrNotFound
	}
	return b.Store.Get(ctx, key)
}

// GetMany implements Store: keys the read-ahead answers cost no round
// trip; the others are read in one.
func (b *Buffered) GetMany(ctx context.Context, keys []string) (map[string]Value, error) {
	rest := keys
	var out map[string]Value
	if b.expecting() {
		out = make(map[string]Value, len(keys))
		rest = make([]string, 0, len(keys))
		for _, k := range keys {
			v, have, found, err := b.fromAhead(ctx, k)
			switch {
			case err != nil:
				return nil, err
			case !found:
				rest = append(rest, k)
			case have:
				out[k] = v
			}
		}
	}
	var err error
	if len(rest) > 0 {
		var got map[string]Value
		got, err = b.Store.GetMany(ctx, rest)
		if out == nil {
			out = got
		} else {
			for k, v := range got {
				out[k] = v
			}
		}
	}
	if out == nil {
		out = map[string]Value{}
	}
	for _, k := range keys {
		if v, ok := b.buffered(k); ok {
			out[k] = v
		}
	}
	return out, err
}

// Pending reports how many keys wait for Flush.
func (b *Buffered) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Flush writes what was Set since the last Flush, in one batch. What
// could not be written is dropped with the error: the keys a Buffered is
// for are ones a later run writes again.
func (b *Buffered) Flush(ctx context.Context) error {
	b.mu.Lock()
	items := b.pending
	b.pending, b.at = nil, nil
	b.mu.Unlock()
	return SetMany(ctx, b.Store, items)
}
