// Package store is wxcloudenv's shared state: tokens, leases, the verify
// ticket, the fleet and the last-seen alert state (docs/contract.md#the-shared-store,
// docs/store.md). One small interface has four backends, chosen by
// WXCLOUDENV_STORE and built by Open: memory (Memory, this process only),
// file:// (File, bbolt, shared by the processes of one machine), redis://
// and rediss:// (Redis), and dynamodb://TABLE (Dynamo).
//
// Every value carries its own expiry. An expired value is never returned,
// whatever the backend's own clean-up has done: it reads as absent, and a
// compare-and-swap that expects absence succeeds over it.
package store

import (
	"context"
	"errors"
	"time"
)

// Value is what a key holds.
type Value struct {
	// Data is the payload. Backends treat it as opaque bytes.
	Data []byte
	// Expires is when the value stops existing; zero means never.
	Expires time.Time
}

// Live reports whether v exists at now.
func (v Value) Live(now time.Time) bool { return v.Expires.IsZero() || now.Before(v.Expires) }

// Store is the shared state. Keys are full keys: the caller adds
// WXCLOUDENV_STORE_PREFIX. Implementations are safe for concurrent use, and
// every error they return wraps ErrUnavailable (kind store) or is
// ErrNotFound.
type Store interface {
	// Get returns the live value under key, or ErrNotFound.
	Get(ctx context.Context, key string) (Value, error)
	// GetMany returns the live values under keys, in one round trip where
	// the backend allows (MGET, BatchGetItem). Missing keys are absent
	// from the map.
	GetMany(ctx context.Context, keys []string) (map[string]Value, error)
	// Set writes v under key unconditionally.
	Set(ctx context.Context, key string, v Value) error
	// CompareAndSwap writes v under key only if the key now holds exactly
	// old's Data (old == nil: the key is absent or expired). It reports
	// whether it wrote. A lease is CompareAndSwap(key, nil, lease).
	CompareAndSwap(ctx context.Context, key string, old []byte, v Value) (bool, error)
	// CompareAndDelete deletes key only if it holds exactly old, and
	// reports whether it did.
	CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Keys lists the live keys that start with prefix, in no set order.
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Close releases the backend's connections or files.
	Close() error
}

// ErrNotFound is returned by Get for a key that is absent or expired.
var ErrNotFound = errors.New("store: not found")

// ErrUnavailable is wrapped by every error that means the store could not
// be read or written (error kind store; retryable).
var ErrUnavailable = errors.New("store: unavailable")

// PlainGetter is implemented by stores that can read a key written by
// another service as a plain string whose expiry is the key's own TTL
// (WxJava's and silenceper/wechat's Redis layouts). Expires is zero when the
// key has no TTL.
type PlainGetter interface {
	GetPlain(ctx context.Context, key string) (Value, error)
}

// Locals is implemented by a store that only this process reads: the
// memory store Open makes for WXCLOUDENV_STORE=memory. Its users may keep
// live objects beside its keys (Local) instead of encoded copies of them
// under keys: no other process could read the copies, and a runtime
// rebuilt over the same store finds the objects again.
type Locals interface {
	// Local returns the object kept under name, made by mk the first
	// time; ok is false when the store is not private after all.
	Local(name string, mk func() any) (v any, ok bool)
}
