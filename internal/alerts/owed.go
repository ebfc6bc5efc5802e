package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// The owed index (docs/silences-and-robots.md#owner-robots): a fleet may
// have thousands of owner robots, and reading every one's outbox head on
// every run to learn that nothing is owed would cost a run thousands of
// reads. Instead one key lists the owner robots that may be owed
// something:
//
//	PREFIX notify:owed-owners   {"<robot id>": <marked, Unix ms>, …}
//
// A run marks every owner robot it is about to make something owed to
// before it appends (so that a run that dies between the two leaves the
// robot listed), and after its sends unmarks those it left owed nothing —
// unless a later run marked them again meanwhile (its mark is newer). A
// robot that is listed but no longer registered is dropped from the list.
// Platform robots are few: their heads are read on every run as before.

// owedIndex is the index of owner robots that may be owed something.
type owedIndex struct {
	st  store.Store
	key string
}

func owedIndexOf(st store.Store, prefix string) owedIndex {
	return owedIndex{st: st, key: prefix + "notify:owed-owners"}
}

// read returns the listed robots and when each was marked.
func (x owedIndex) read(ctx context.Context) (map[string]int64, error) {
	v, err := x.st.Get(ctx, x.key)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("owed index: read: %w", err)
	}
	m := map[string]int64{}
	if json.Unmarshal(v.Data, &m) != nil {
		// Corrupt: every owner robot is looked at (the caller reads the
		// heads), and the next update rewrites it.
		return nil, errors.New("owed index: not valid JSON")
	}
	return m, nil
}

// update applies fn with CompareAndSwap, re-reading when another writer
// got there first. fn returns false to write nothing.
func (x owedIndex) update(ctx context.Context, fn func(m map[string]int64) bool) error {
	for range casAttempts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("owed index: %w (%w)", store.ErrUnavailable, err)
		}
		v, err := x.st.Get(ctx, x.key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("owed index: read: %w", err)
		}
		var old []byte
		m := map[string]int64{}
		if err == nil {
			old = v.Data
			if json.Unmarshal(v.Data, &m) != nil {
				m = map[string]int64{}
			}
		}
		if !fn(m) {
			return nil
		}
		var ok bool
		if len(m) == 0 {
			if old == nil {
				return nil
			}
			ok, err = x.st.CompareAndDelete(ctx, x.key, old)
		} else {
			data, merr := json.Marshal(m)
			if merr != nil {
				return fmt.Errorf("owed index: encode: %w", merr)
			}
			ok, err = x.st.CompareAndSwap(ctx, x.key, old, store.Value{Data: data, Expires: time.Now().Add(OwedFor + time.Hour)})
		}
		if err != nil {
			return fmt.Errorf("owed index: write: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("owed index: still contended after %d attempts: %w", casAttempts, store.ErrUnavailable)
}
