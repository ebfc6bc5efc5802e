package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// batchCounter counts what reaches the store underneath a Buffered.
type batchCounter struct {
	store.Store
	sets, batches int
	fail          bool
}

func (c *batchCounter) Set(ctx context.Context, key string, v store.Value) error {
	c.sets++
	return c.Store.Set(ctx, key, v)
}

func (c *batchCounter) SetMany(ctx context.Context, items []store.Item) error {
	c.batches++
	if c.fail {
		return errors.New("store down")
	}
	return store.SetMany(ctx, c.Store, items)
}

func TestBuffered(t *testing.T) {
	ctx := context.Background()
	under := &batchCounter{Store: store.NewMemory()}
	b := store.NewBuffered(under)
	exp := time.Now().Add(time.Hour)
	if err := under.Store.Set(ctx, "old", store.Value{Data: []byte("stored")}); err != nil {
		t.Fatal(err)
	}
	data := []byte("a1")
	for _, it := range []store.Item{{"a", store.Value{Data: data, Expires: exp}}, {"b", store.Value{Data: []byte("b1")}}, {"a", store.Value{Data: []byte("a2"), Expires: exp}}} {
		if err := b.Set(ctx, it.Key, it.Value); err != nil {
			t.Fatal(err)
		}
	}
	data[1] = 'X' // the caller's bytes are not kept
	if under.sets != 0 || under.batches != 0 || b.Pending() != 2 {
		t.Fatalf("before Flush: %d sets, %d batches, %d pending; want none and 2 pending", under.sets, under.batches, b.Pending())
	}
	if _, err := under.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a reached the store before Flush: %v", err)
	}
	if v, err := b.Get(ctx, "a"); err != nil || string(v.Data) != "a2" {
		t.Fatalf("Get(a) through the buffer = %q, %v", v.Data, err)
	}
	got, err := b.GetMany(ctx, []string{"a", "b", "old", "none"})
	if err != nil || len(got) != 3 || string(got["b"].Data) != "b1" || string(got["old"].Data) != "stored" {
		t.Fatalf("GetMany through the buffer = %v, %v", got, err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if under.sets != 0 || under.batches != 1 || b.Pending() != 0 {
		t.Fatalf("Flush: %d sets, %d batches, %d pending; want one batch", under.sets, under.batches, b.Pending())
	}
	for k, want := range map[string]string{"a": "a2", "b": "b1"} {
		if v, err := under.Get(ctx, k); err != nil || string(v.Data) != want {
			t.Fatalf("after Flush, %s = %q, %v; want %q", k, v.Data, err, want)
		}
	}
	if err := b.Flush(ctx); err != nil || under.batches != 1 {
		t.Fatalf("an empty Flush wrote: %v, %d batches", err, under.batches)
	}
	// A failed Flush reports the error and leaves nothing pending.
	under.fail = true
	_ = b.Set(ctx, "c", store.Value{Data: []byte("c")})
	if err := b.Flush(ctx); err == nil || b.Pending() != 0 {
		t.Fatalf("failed Flush = %v, %d pending", err, b.Pending())
	}
}
