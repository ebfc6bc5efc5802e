package store_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// readCounter counts the reads that reach the store underneath.
type readCounter struct {
	store.Store
	gets, getManys atomic.Int64
	last           []string
}

func (c *readCounter) Get(ctx context.Context, key string) (store.Value, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *readCounter) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	c.getManys.Add(1)
	c.last = slices.Clone(keys)
	return c.Store.GetMany(ctx, keys)
}

// TestBufferedReadAhead: keys expected are answered once from the batch
// supplied (live or absent), later reads go to the store; a GetMany reads
// only the keys not answered, in one call; a read waiting for its batch
// gets it, and one waiting when the read-ahead is abandoned reads the
// store.
func TestBufferedReadAhead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	under := &readCounter{Store: store.NewMemory()}
	for k, v := range map[string]string{"a": "stored-a", "b": "stored-b", "c": "stored-c", "q": "stored-q"} {
		if err := under.Set(ctx, k, store.Value{Data: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	b := store.NewBuffered(under)
	b.Expect("q")
	if w := b.Waiting(); !slices.Equal(w, []string{"q"}) {
		t.Fatalf("Waiting = %q", w)
	}
	// A read of q waits for its batch.
	got := make(chan string, 1)
	go func() {
		v, err := b.Get(ctx, "q")
		got <- string(v.Data) + " " + errString(err)
	}()
	b.Expect("a", "b", "gone")
	keys := append(b.Waiting(), "x")
	slices.Sort(keys)
	// The batch read elsewhere: q and a as they were then, b absent.
	b.Supply(keys, map[string]store.Value{"q": {Data: []byte("batch-q")}, "a": {Data: []byte("batch-a")}})
	if s := <-got; s != "batch-q <nil>" {
		t.Fatalf("waiting Get(q) = %s", s)
	}
	if len(b.Waiting()) != 0 {
		t.Fatalf("still waiting: %q", b.Waiting())
	}
	vals, err := b.GetMany(ctx, []string{"a", "b", "c", "gone"})
	if err != nil || len(vals) != 2 || string(vals["a"].Data) != "batch-a" || string(vals["c"].Data) != "stored-c" {
		t.Fatalf("GetMany = %v, %v", vals, err)
	}
	if under.getManys.Load() != 1 || !slices.Equal(under.last, []string{"c"}) || under.gets.Load() != 0 {
		t.Fatalf("the store was read %d+%d times, last %q; want one GetMany of c", under.getManys.Load(), under.gets.Load(), under.last)
	}
	// Answered once: a second read (after a lost compare-and-swap, say)
	// sees the store.
	if v, err := b.Get(ctx, "a"); err != nil || string(v.Data) != "stored-a" || under.gets.Load() != 1 {
		t.Fatalf("second Get(a) = %q, %v (%d gets)", v.Data, err, under.gets.Load())
	}
	if _, err := b.Get(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(x), never expected: %v", err)
	}

	// Abandon: a waiting read goes to the store; Expect does nothing more.
	b2 := store.NewBuffered(under)
	b2.Expect("q")
	go func() {
		v, err := b2.Get(ctx, "q")
		got <- string(v.Data) + " " + errString(err)
	}()
	time.Sleep(10 * time.Millisecond) // let it wait (it reads the store either way)
	b2.Abandon()
	if s := <-got; s != "stored-q <nil>" {
		t.Fatalf("Get(q) after Abandon = %s", s)
	}
	b2.Abandon()
	b2.Expect("a")
	if len(b2.Waiting()) != 0 {
		t.Fatalf("Expect after Abandon: waiting %q", b2.Waiting())
	}
	// A read whose context ends while it waits fails as the store would.
	b3 := store.NewBuffered(under)
	b3.Expect("q")
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b3.Get(cctx, "q"); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get(q) past its deadline: %v", err)
	}
	if _, err := b3.GetMany(cctx, []string{"q"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetMany(q) past its deadline: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestBufferedReadAheadEach: keys expected as a group (family + sorted
// ids) are answered from the batch; one found live once, one found absent
// until the run writes it through the Buffered; a group not yet supplied
// makes its reads wait, and one abandoned sends them to the store;
// unsorted ids are expected key by key.
func TestBufferedReadAheadEach(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	under := &readCounter{Store: store.NewMemory()}
	for k, v := range map[string]string{"names:wx1": "one", "names:wx3": "three", "alerts:x:wx2": "state-2"} {
		if err := under.Set(ctx, k, store.Value{Data: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	b := store.NewBuffered(under)
	ids := []string{"wx1", "wx2"}
	b.ExpectEach("names:", ids)
	b.ExpectEach("alerts:x:", ids)
	if w := b.Waiting(); len(w) != 0 {
		t.Fatalf("groups listed as waiting keys: %q", w)
	}
	// Not supplied yet: a read waits.
	got := make(chan string, 1)
	go func() {
		v, err := b.Get(ctx, "names:wx1")
		got <- string(v.Data) + " " + errString(err)
	}()
	batch := []string{"names:wx1", "names:wx2", "alerts:x:wx1", "alerts:x:wx2"}
	vals, err := under.Store.GetMany(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	// wx1's state is written after the batch was read.
	if err := under.Set(ctx, "alerts:x:wx1", store.Value{Data: []byte("state-1-later")}); err != nil {
		t.Fatal(err)
	}
	b.Supply(batch, vals)
	if s := <-got; s != "one <nil>" {
		t.Fatalf("waiting Get = %s", s)
	}
	m, err := b.GetMany(ctx, []string{"names:wx1", "names:wx2", "names:wx3", "alerts:x:wx1", "alerts:x:wx2"})
	if err != nil || len(m) != 3 || string(m["names:wx1"].Data) != "one" || string(m["names:wx3"].Data) != "three" || string(m["alerts:x:wx2"].Data) != "state-2" {
		t.Fatalf("GetMany = %v, %v; want wx1's name from the store now, wx3's (not expected) from the store, wx2's state from the batch, wx1's state absent as read", m, err)
	}
	if under.getManys.Load() != 1 || !slices.Equal(under.last, []string{"names:wx1", "names:wx3"}) {
		t.Fatalf("store reads: %d, last %q", under.getManys.Load(), under.last)
	}
	// Absent until written: a compare-and-swap that loses sends the key
	// to the store.
	if _, err := b.Get(ctx, "alerts:x:wx1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent key read again: %v", err)
	}
	if won, err := b.CompareAndSwap(ctx, "alerts:x:wx1", nil, store.Value{Data: []byte("mine")}); won || err != nil {
		t.Fatalf("CompareAndSwap over a later write = %v, %v", won, err)
	}
	if v, err := b.Get(ctx, "alerts:x:wx1"); err != nil || string(v.Data) != "state-1-later" {
		t.Fatalf("after the lost swap: %q, %v", v.Data, err)
	}

	// Abandoned before its batch: the store answers.
	b2 := store.NewBuffered(under)
	b2.ExpectEach("names:", []string{"wx3"})
	b2.Abandon()
	if v, err := b2.Get(ctx, "names:wx3"); err != nil || string(v.Data) != "three" {
		t.Fatalf("abandoned group: %q, %v", v.Data, err)
	}
	// Unsorted ids: by name.
	b3 := store.NewBuffered(under)
	b3.ExpectEach("names:", []string{"wx3", "wx1"})
	if w := b3.Waiting(); len(w) != 2 {
		t.Fatalf("unsorted ids: waiting %q", w)
	}
}
