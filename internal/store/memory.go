package store

import (
	"bytes"
	"context"
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
	m  map[string]Value
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{m: map[string]Value{}} }

func (s *Memory) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// live returns the live value under key. Callers hold s.mu.
func (s *Memory) live(key string) (Value, bool) {
	v, ok := s.m[key]
	if !ok {
		return Value{}, false
	}
	if !v.Live(s.now()) {
		delete(s.m, key)
		return Value{}, false
	}
	return v, true
}

func clone(v Value) Value { return Value{Data: bytes.Clone(v.Data), Expires: v.Expires} }

// Get implements Store.
func (s *Memory) Get(_ context.Context, key string) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live(key)
	if !ok {
		return Value{}, ErrNotFound
	}
	return clone(v), nil
}

// GetMany implements Store.
func (s *Memory) GetMany(_ context.Context, keys []string) (map[string]Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Value, len(keys))
	for _, k := range keys {
		if v, ok := s.live(k); ok {
			out[k] = clone(v)
		}
	}
	return out, nil
}

// Set implements Store.
func (s *Memory) Set(_ context.Context, key string, v Value) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = clone(v)
	return nil
}

// CompareAndSwap implements Store.
func (s *Memory) CompareAndSwap(_ context.Context, key string, old []byte, v Value) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.live(key)
	if old == nil && ok || old != nil && (!ok || !bytes.Equal(cur.Data, old)) {
		return false, nil
	}
	s.m[key] = clone(v)
	return true, nil
}

// CompareAndDelete implements Store.
func (s *Memory) CompareAndDelete(_ context.Context, key string, old []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.live(key)
	if !ok || !bytes.Equal(cur.Data, old) {
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

// Close implements Store.
func (s *Memory) Close() error { return nil }

// GetPlain implements PlainGetter: Memory keeps values as they are given, so
// a plain read is a Get.
func (s *Memory) GetPlain(ctx context.Context, key string) (Value, error) { return s.Get(ctx, key) }
