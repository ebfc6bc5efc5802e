package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Item is one key and its value, for [SetMany].
type Item struct {
	Key   string
	Value Value
}

// BatchSetter is a Store that writes several keys at once: one round trip
// where the backend allows (a Redis pipeline, one bbolt transaction,
// DynamoDB's BatchWriteItem of 25 items, sent together).
type BatchSetter interface {
	SetMany(ctx context.Context, items []Item) error
}

// SetMany writes items unconditionally, as Set does each: in one batch
// when st is a [BatchSetter], one Set after another otherwise. A key
// given twice ends with its last value. Writes are not atomic: on an error
// some items may be written.
func SetMany(ctx context.Context, st Store, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	if b, ok := st.(BatchSetter); ok {
		return b.SetMany(ctx, items)
	}
	return setEach(ctx, st, items)
}

// setEach writes items one Set each, going on past failures.
func setEach(ctx context.Context, st Store, items []Item) error {
	var errs []error
	for _, it := range items {
		if err := st.Set(ctx, it.Key, it.Value); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetMany implements BatchSetter (the process's own map: no round trip).
func (s *Memory) SetMany(ctx context.Context, items []Item) error {
	for _, it := range items {
		if err := s.Set(ctx, it.Key, it.Value); err != nil {
			return err
		}
	}
	return nil
}

// SetMany implements BatchSetter with one write transaction.
func (s *File) SetMany(ctx context.Context, items []Item) error {
	err := s.update(ctx, func(b *bolt.Bucket) error {
		for _, it := range items {
			if err := b.Put([]byte(it.Key), encode(it.Value)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("set many", "", err)
	}
	return nil
}

// setPipeline bounds the SETs of one pipelined write.
const setPipeline = 500

// SetMany implements BatchSetter with pipelined SETs.
func (s *Redis) SetMany(ctx context.Context, items []Item) error {
	for start := 0; start < len(items); start += setPipeline {
		chunk := items[start:min(start+setPipeline, len(items))]
		cmds := make([][]string, len(chunk))
		for i, it := range chunk {
			cmds[i] = []string{"SET", it.Key, string(encode(it.Value))}
			if !it.Value.Expires.IsZero() {
				cmds[i] = append(cmds[i], "PX", s.px(it.Value.Expires))
			}
		}
		_, errs, err := s.c.do(ctx, cmds...)
		if err != nil {
			return s.fail("set many", "", err)
		}
		for i, e := range errs {
			if e != nil {
				return s.fail("set many", chunk[i].Key, e)
			}
		}
	}
	return nil
}

// batchWriteMax is BatchWriteItem's limit of items per call.
const batchWriteMax = 25

// writeRequest is one entry of BatchWriteItem's RequestItems.
type writeRequest struct {
	PutRequest *struct {
		Item row `json:"Item"`
	} `json:"PutRequest,omitempty"`
}

// SetMany implements BatchSetter with BatchWriteItem calls of at most 25
// items, sent at once, retrying unprocessed items with a short backoff. A
// role without dynamodb:BatchWriteItem (deployed before SetMany existed)
// gets one PutItem per item instead.
func (s *Dynamo) SetMany(ctx context.Context, items []Item) error {
	if s.noBatchWrite.Load() {
		return setEach(ctx, s, items)
	}
	// BatchWriteItem refuses a key twice in one call: the last value wins.
	last := make(map[string]int, len(items))
	for i, it := range items {
		last[it.Key] = i
	}
	var chunks [][]writeRequest
	var cur []writeRequest
	for i, it := range items {
		if last[it.Key] != i {
			continue
		}
		w := writeRequest{PutRequest: &struct {
			Item row `json:"Item"`
		}{item(it.Key, it.Value)}}
		cur = append(cur, w)
		if len(cur) == batchWriteMax {
			chunks, cur = append(chunks, cur), nil
		}
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() { errs[i] = s.batchWrite(ctx, c) })
	}
	wg.Wait()
	err := errors.Join(errs...)
	var de *dynamoError
	if errors.As(err, &de) && de.typ == "AccessDeniedException" {
		s.noBatchWrite.Store(true)
		return setEach(ctx, s, items)
	}
	if err != nil {
		return s.fail("set many", "", err)
	}
	return nil
}

func (s *Dynamo) batchWrite(ctx context.Context, reqs []writeRequest) error {
	pending := map[string][]writeRequest{s.table: reqs}
	for attempt := 0; len(pending[s.table]) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return fmt.Errorf("%d items still unprocessed after 8 retries", len(pending[s.table]))
			}
			t := time.NewTimer(time.Duration(10<<min(attempt, 6)) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		var res struct {
			UnprocessedItems map[string][]writeRequest `json:"UnprocessedItems"`
		}
		if err := s.call(ctx, "BatchWriteItem", struct {
			RequestItems map[string][]writeRequest `json:"RequestItems"`
		}{pending}, &res); err != nil {
			return err
		}
		pending = res.UnprocessedItems
	}
	return nil
}

// Each reads keys batch at a time (GetMany) and calls fn, in keys' order,
// for each key that holds a live value, until fn returns false. Memory is
// bounded by one batch, whatever the number of keys. The error is the
// first read's that failed; the keys before it were handed to fn.
func Each(ctx context.Context, st Store, keys []string, batch int, fn func(key string, v Value) bool) error {
	return EachOf(ctx, st, len(keys), batch, func(i int) string { return keys[i] },
		func(i int, v Value) bool { return fn(keys[i], v) })
}

// EachOf is Each over n keys that key builds, batch at a time, so that
// not even the keys are held all at once (a fleet's 10,000 names); fn is
// given each live key's position.
func EachOf(ctx context.Context, st Store, n, batch int, key func(i int) string, fn func(i int, v Value) bool) error {
	keys := make([]string, 0, min(n, batch))
	for start := 0; start < n; start += batch {
		keys = keys[:0]
		for i := start; i < min(start+batch, n); i++ {
			keys = append(keys, key(i))
		}
		vals, err := st.GetMany(ctx, keys)
		if err != nil {
			return fmt.Errorf("read %d keys: %w", len(keys), err)
		}
		for j, k := range keys {
			if v, ok := vals[k]; ok && !fn(start+j, v) {
				return nil
			}
		}
	}
	return nil
}
