package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// File is a Store in one bbolt file, shared by every process of the
// machine that opens the same path. bbolt locks the whole file while a DB
// is open, so File opens it for each operation (shared lock to read,
// exclusive lock to write, waiting at most the timeout) and closes it
// again: processes take turns, and each operation is one transaction.
// Expired values stay in the file until overwritten or deleted; they are
// never returned.
type File struct {
	path    string
	now     func() time.Time
	timeout time.Duration
	// mu orders this process's operations on path, so they queue here
	// instead of polling bbolt's file lock.
	mu *sync.RWMutex
}

var _ Store = (*File)(nil)

var bucket = []byte("wxcloudenv")

// fileLocks holds one lock per path for all File stores of this process.
var fileLocks sync.Map // string → *sync.RWMutex

func newFile(path string, o options) *File {
	mu, _ := fileLocks.LoadOrStore(path, &sync.RWMutex{})
	return &File{path: path, now: o.now, timeout: o.timeout, mu: mu.(*sync.RWMutex)}
}

func (s *File) fail(op, key string, err error) error {
	return unavailable("file "+s.path, op, key, err, nil)
}

// view runs fn in a read transaction; a file not created yet has no keys.
func (s *File) view(ctx context.Context, fn func(b *bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return fn(nil)
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.timeout, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucket)) })
}

// update runs fn in a write transaction, creating the file and its
// directory when missing.
func (s *File) update(ctx context.Context, fn func(b *bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.timeout})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return fn(b)
	})
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return err
}

// live decodes the value under key in b, if it is live.
func (s *File) live(b *bolt.Bucket, key string) (Value, bool, error) {
	if b == nil {
		return Value{}, false, nil
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return Value{}, false, nil
	}
	v, err := decode(raw)
	if err != nil {
		return Value{}, false, err
	}
	return v, v.Live(s.now()), nil
}

// Get implements Store.
func (s *File) Get(ctx context.Context, key string) (Value, error) {
	var v Value
	var ok bool
	err := s.view(ctx, func(b *bolt.Bucket) (err error) {
		v, ok, err = s.live(b, key)
		return err
	})
	if err != nil {
		return Value{}, s.fail("get", key, err)
	}
	if !ok {
		return Value{}, ErrNotFound
	}
	return v, nil
}

// GetMany implements Store.
func (s *File) GetMany(ctx context.Context, keys []string) (map[string]Value, error) {
	out := map[string]Value{} // grown as keys are found: a fleet asks for many it may not hold
	err := s.view(ctx, func(b *bolt.Bucket) error {
		for _, k := range keys {
			v, ok, err := s.live(b, k)
			if err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			if ok {
				out[k] = v
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("get many", "", err)
	}
	return out, nil
}

// Set implements Store.
func (s *File) Set(ctx context.Context, key string, v Value) error {
	err := s.update(ctx, func(b *bolt.Bucket) error { return b.Put([]byte(key), encode(v)) })
	if err != nil {
		return s.fail("set", key, err)
	}
	return nil
}

// CompareAndSwap implements Store.
func (s *File) CompareAndSwap(ctx context.Context, key string, old []byte, v Value) (bool, error) {
	var swapped bool
	err := s.update(ctx, func(b *bolt.Bucket) error {
		cur, ok, err := s.live(b, key)
		if err != nil {
			return err
		}
		if old == nil && ok || old != nil && (!ok || !bytes.Equal(cur.Data, old)) {
			return nil
		}
		swapped = true
		return b.Put([]byte(key), encode(v))
	})
	if err != nil {
		return false, s.fail("compare and swap", key, err)
	}
	return swapped, nil
}

// CompareAndDelete implements Store.
func (s *File) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	var deleted bool
	err := s.update(ctx, func(b *bolt.Bucket) error {
		cur, ok, err := s.live(b, key)
		if err != nil {
			return err
		}
		if !ok || !bytes.Equal(cur.Data, old) {
			return nil
		}
		deleted = true
		return b.Delete([]byte(key))
	})
	if err != nil {
		return false, s.fail("compare and delete", key, err)
	}
	return deleted, nil
}

// Delete implements Store.
func (s *File) Delete(ctx context.Context, key string) error {
	if err := s.update(ctx, func(b *bolt.Bucket) error { return b.Delete([]byte(key)) }); err != nil {
		return s.fail("delete", key, err)
	}
	return nil
}

// Keys implements Store.
func (s *File) Keys(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := s.view(ctx, func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		c := b.Cursor()
		now := s.now()
		p := []byte(prefix)
		for k, raw := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, raw = c.Next() {
			v, err := decode(raw)
			if err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			if v.Live(now) {
				out = append(out, string(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("keys", prefix, err)
	}
	return out, nil
}

// Close implements Store: File holds nothing open between operations.
func (s *File) Close() error { return nil }
