package store

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"time"
)

// Memory is a Store that lives as long as the process: WXCLOUDENV_STORE's
// default: state lasts as long as one warm instance.
type Memory struct {
	// Now returns the current time (time.Now by default).
	Now func() time.Time

	mu sync.Mutex
	m  map[string]memEntry
	// private is set by Open: the store of WXCLOUDENV_STORE=memory, which
	// only this process's runtime reaches (Local).
	private bool
	locals  map[string]any
}

// memEntry is a value as Memory keeps it: a fleet keeps tens of thousands,
// so the expiry is Unix nanoseconds (0: none), not a time.Time.
type memEntry struct {
	data []byte
	exp  int64
}

// maxExpiry is the latest expiry a memEntry tells apart (UnixNano's range).
var maxExpiry = time.Unix(0, math.MaxInt64)

// entryOf copies v for keeping.
func entryOf(v Value) memEntry {
	e := memEntry{data: bytes.Clone(v.Data)}
	switch {
	case v.Expires.IsZero():
	case v.Expires.After(maxExpiry):
		e.exp = maxExpiry.UnixNano()
	default:
		e.exp = v.Expires.UnixNano()
		if e.exp == 0 {
			e.exp = 1 // the Unix epoch itself: long past, still an expiry
		}
	}
	return e
}

// value copies e for a caller.
func (e memEntry) value() Value {
	v := Value{Data: bytes.Clone(e.data)}
	if e.exp != 0 {
		v.Expires = time.Unix(0, e.exp)
	}
	return v
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{m: map[string]memEntry{}} }

func (s *Memory) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// live returns the live value under key. Callers hold s.mu.
func (s *Memory) live(key string) (memEntry, bool) {
	e, ok := s.m[key]
	if !ok {
		return memEntry{}, false
	}
	if e.exp != 0 && s.now().UnixNano() >= e.exp {
		delete(s.m, key)
		return memEntry{}, false
	}
	return e, true
}

// Get implements Store.
func (s *Memory) Get(_ context.Context, key string) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live(key)
	if !ok {
		return Value{}, ErrNotFound
	}
	return v.value(), nil
}

// GetMany implements Store.
func (s *Memory) GetMany(_ context.Context, keys []string) (map[string]Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Value{} // grown as keys are found: a fleet asks for many it may not hold
	for _, k := range keys {
		if v, ok := s.live(k); ok {
			out[k] = v.value()
		}
	}
	return out, nil
}

// Set implements Store.
func (s *Memory) Set(_ context.Context, key string, v Value) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = entryOf(v)
	return nil
}

// CompareAndSwap implements Store.
func (s *Memory) CompareAndSwap(_ context.Context, key string, old []byte, v Value) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.live(key)
	if old == nil && ok || old != nil && (!ok || !bytes.Equal(cur.data, old)) {
		return false, nil
	}
	s.m[key] = entryOf(v)
	return true, nil
}

// CompareAndDelete implements Store.
func (s *Memory) CompareAndDelete(_ context.Context, key string, old []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.live(key)
	if !ok || !bytes.Equal(cur.data, old) {
		return false, nil
	}
	delete(s.m, key)
	return true, nil
}

// Delete implements Store.
func (s *Memory) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Keys implements Store.
func (s *Memory) Keys(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			if _, ok := s.live(k); ok {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// Local implements Locals. Only the store Open makes is private: a
// Memory from NewMemory may stand for a store several instances share (the
// tests' two keepers over one store), so it answers false.
func (s *Memory) Local(name string, mk func() any) (any, bool) {
	if !s.private {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.locals[name]
	if !ok {
		if s.locals == nil {
			s.locals = map[string]any{}
		}
		v = mk()
		s.locals[name] = v
	}
	return v, true
}

// Close implements Store.
func (s *Memory) Close() error { return nil }

// GetPlain implements PlainGetter: Memory keeps values as they are given, so
// a plain read is a Get.
func (s *Memory) GetPlain(ctx context.Context, key string) (Value, error) { return s.Get(ctx, key) }
