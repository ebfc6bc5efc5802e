package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

// clock is a settable time source shared by a store and its test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backend opens stores on one running backend.
type backend struct {
	name string
	// open returns a new store on the backend with the given options.
	open func(t *testing.T, opts ...store.Option) store.Store
	// shared is true when two opened stores see the same data.
	shared bool
}

// backends starts every backend: memory, a bbolt file, a real Redis (plain
// and TLS) and a real DynamoDB-compatible server.
func backends(t *testing.T) []backend {
	t.Helper()
	file := "file://" + t.TempDir() + "/store.db"
	redisURL := storetest.StartRedis(t)
	redissURL := storetest.StartRedisTLS(t)
	dynURL, dynEnv := storetest.StartDynamo(t)
	opener := func(url string, extra ...store.Option) func(t *testing.T, opts ...store.Option) store.Store {
		return func(t *testing.T, opts ...store.Option) store.Store {
			t.Helper()
			s, err := store.Open(url, append(extra, opts...)...)
			if err != nil {
				t.Fatalf("Open(%q) = %v", url, err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			return s
		}
	}
	return []backend{
		{name: "memory", open: opener("memory")},
		{name: "file", open: opener(file), shared: true},
		{name: "redis", open: opener(redisURL), shared: true},
		{name: "rediss", open: opener(redissURL), shared: true},
		{name: "dynamodb", open: opener(dynURL, store.WithEnv(storetest.Lookup(dynEnv))), shared: true},
	}
}

// fixture is what each behavioural case gets: a store with a settable
// clock, a key prefix of its own, and the backend to open more stores.
type fixture struct {
	s      store.Store
	clk    *clock
	prefix string
	b      backend
}

func (f fixture) key(k string) string { return f.prefix + k }

func mustSet(t *testing.T, s store.Store, key string, v store.Value) {
	t.Helper()
	if err := s.Set(t.Context(), key, v); err != nil {
		t.Fatalf("Set(%q) = %v", key, err)
	}
}

func mustCAS(t *testing.T, s store.Store, key string, old []byte, v store.Value, want bool) {
	t.Helper()
	got, err := s.CompareAndSwap(t.Context(), key, old, v)
	if err != nil || got != want {
		t.Fatalf("CompareAndSwap(%q, %q, %q) = %v, %v; want %v, nil", key, old, v.Data, got, err, want)
	}
}

func wantValue(t *testing.T, s store.Store, key string, want store.Value) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v, want %q", key, err, want.Data)
	}
	if !bytes.Equal(got.Data, want.Data) || !got.Expires.Equal(want.Expires) {
		t.Fatalf("Get(%q) = {%q %v}, want {%q %v}", key, got.Data, got.Expires, want.Data, want.Expires)
	}
}

func wantAbsent(t *testing.T, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = {%q %v}, %v; want ErrNotFound", key, got.Data, got.Expires, err)
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, f fixture)
}{
	{"get absent", func(t *testing.T, f fixture) {
		wantAbsent(t, f.s, f.key("nothing"))
	}},
	{"set then get", func(t *testing.T, f fixture) {
		exp := f.clk.Now().Add(90 * time.Minute).Add(123 * time.Nanosecond)
		values := map[string]store.Value{
			"plain":      {Data: []byte("token-1")},
			"expiring":   {Data: []byte(`{"t":"x"}`), Expires: exp},
			"binary":     {Data: []byte{0, 1, 2, 0xff, 0, '\n'}},
			"empty data": {Data: []byte{}},
		}
		for k, v := range values {
			mustSet(t, f.s, f.key(k), v)
		}
		for k, v := range values {
			wantValue(t, f.s, f.key(k), v)
		}
		mustSet(t, f.s, f.key("plain"), store.Value{Data: []byte("token-2"), Expires: exp})
		wantValue(t, f.s, f.key("plain"), store.Value{Data: []byte("token-2"), Expires: exp})
	}},
	{"set many in one batch", func(t *testing.T, f fixture) {
		if _, ok := f.s.(store.BatchSetter); !ok {
			t.Fatalf("%T does not write in batches", f.s)
		}
		exp := f.clk.Now().Add(90 * time.Minute)
		// More than one DynamoDB BatchWriteItem call (25 items), a key given
		// twice (the last value wins), values with and without expiry.
		var items []store.Item
		for i := range 60 {
			v := store.Value{Data: []byte("v" + strconv.Itoa(i))}
			if i%2 == 0 {
				v.Expires = exp
			}
			items = append(items, store.Item{Key: f.key("k" + strconv.Itoa(i)), Value: v})
		}
		items = append(items, store.Item{Key: f.key("k7"), Value: store.Value{Data: []byte("again"), Expires: exp}})
		if err := store.SetMany(t.Context(), f.s, items); err != nil {
			t.Fatalf("SetMany = %v", err)
		}
		for i := range 60 {
			want := items[i].Value
			if i == 7 {
				want = items[60].Value
			}
			wantValue(t, f.s, f.key("k"+strconv.Itoa(i)), want)
		}
		if err := store.SetMany(t.Context(), f.s, nil); err != nil {
			t.Fatalf("SetMany(nil) = %v", err)
		}
		f.clk.Advance(2 * time.Hour)
		wantAbsent(t, f.s, f.key("k0"))
		wantValue(t, f.s, f.key("k1"), items[1].Value)
	}},
	{"expired value is absent while the backend still holds it", func(t *testing.T, f fixture) {
		k := f.key("soon")
		v := store.Value{Data: []byte("v"), Expires: f.clk.Now().Add(time.Hour)}
		mustSet(t, f.s, k, v)
		wantValue(t, f.s, k, v)
		f.clk.Advance(2 * time.Hour)
		wantAbsent(t, f.s, k)
		if m, err := f.s.GetMany(t.Context(), []string{k}); err != nil || len(m) != 0 {
			t.Fatalf("GetMany(expired) = %v, %v; want empty", m, err)
		}
		if ks, err := f.s.Keys(t.Context(), f.prefix); err != nil || len(ks) != 0 {
			t.Fatalf("Keys(%q) = %q, %v; want none", f.prefix, ks, err)
		}
		if f.b.shared {
			// A store on the real clock still sees it: the backend holds it.
			wantValue(t, f.b.open(t), k, v)
		}
	}},
	{"get many: missing, expired, duplicate and more than 100 keys", func(t *testing.T, f fixture) {
		want := map[string]store.Value{}
		var ask []string
		for i := range 130 {
			k := f.key(fmt.Sprintf("k%03d", i))
			ask = append(ask, k)
			switch {
			case i%10 == 3: // never written
			case i%10 == 7:
				mustSet(t, f.s, k, store.Value{Data: []byte("old"), Expires: f.clk.Now().Add(time.Minute)})
			default:
				v := store.Value{Data: []byte(strconv.Itoa(i)), Expires: f.clk.Now().Add(time.Duration(i) * time.Hour)}
				if i%2 == 0 {
					v.Expires = time.Time{}
				}
				mustSet(t, f.s, k, v)
				want[k] = v
			}
		}
		ask = append(ask, ask[0], f.key("absent"))
		f.clk.Advance(2 * time.Minute)
		got, err := f.s.GetMany(t.Context(), ask)
		if err != nil {
			t.Fatalf("GetMany() = %v", err)
		}
		if len(got) != len(want) {
			t.Errorf("GetMany() returned %d keys, want %d", len(got), len(want))
		}
		for k, w := range want {
			g, ok := got[k]
			if !ok || !bytes.Equal(g.Data, w.Data) || !g.Expires.Equal(w.Expires) {
				t.Errorf("GetMany()[%q] = {%q %v} (present %v), want {%q %v}", k, g.Data, g.Expires, ok, w.Data, w.Expires)
			}
		}
		if got, err := f.s.GetMany(t.Context(), nil); err != nil || len(got) != 0 {
			t.Errorf("GetMany(nil) = %v, %v; want empty", got, err)
		}
	}},
	{"compare and swap on absent key", func(t *testing.T, f fixture) {
		k := f.key("lease")
		first := store.Value{Data: []byte("owner-1"), Expires: f.clk.Now().Add(time.Minute)}
		mustCAS(t, f.s, k, nil, first, true)
		mustCAS(t, f.s, k, nil, store.Value{Data: []byte("owner-2")}, false)
		wantValue(t, f.s, k, first)
		mustCAS(t, f.s, f.key("other"), []byte("owner-1"), store.Value{Data: []byte("x")}, false)
		mustCAS(t, f.s, f.key("other"), []byte{}, store.Value{Data: []byte("x")}, false)
		wantAbsent(t, f.s, f.key("other"))
	}},
	{"compare and swap: an expired value counts as absent", func(t *testing.T, f fixture) {
		k := f.key("lease")
		mustSet(t, f.s, k, store.Value{Data: []byte("dead"), Expires: f.clk.Now().Add(time.Minute)})
		f.clk.Advance(time.Minute) // expiry is exclusive: at Expires it is gone
		mustCAS(t, f.s, k, []byte("dead"), store.Value{Data: []byte("zombie")}, false)
		next := store.Value{Data: []byte("owner-2"), Expires: f.clk.Now().Add(time.Minute)}
		mustCAS(t, f.s, k, nil, next, true)
		wantValue(t, f.s, k, next)
	}},
	{"compare and swap: match and mismatch", func(t *testing.T, f fixture) {
		k := f.key("token")
		v1 := store.Value{Data: []byte("t1"), Expires: f.clk.Now().Add(time.Hour)}
		v2 := store.Value{Data: []byte("t2"), Expires: f.clk.Now().Add(2 * time.Hour)}
		mustSet(t, f.s, k, v1)
		mustCAS(t, f.s, k, []byte("t0"), v2, false)
		mustCAS(t, f.s, k, []byte("t"), v2, false)
		mustCAS(t, f.s, k, []byte("t1\x00"), v2, false)
		wantValue(t, f.s, k, v1)
		mustCAS(t, f.s, k, []byte("t1"), v2, true)
		wantValue(t, f.s, k, v2)
		mustCAS(t, f.s, k, []byte("t1"), v1, false)
		e := f.key("empty")
		mustSet(t, f.s, e, store.Value{Data: []byte{}})
		mustCAS(t, f.s, e, nil, v1, false)
		mustCAS(t, f.s, e, []byte{}, v1, true)
		wantValue(t, f.s, e, v1)
	}},
	{"compare and delete", func(t *testing.T, f fixture) {
		k := f.key("token")
		v := store.Value{Data: []byte("t1"), Expires: f.clk.Now().Add(time.Hour)}
		mustSet(t, f.s, k, v)
		cad := func(key string, old string, want bool) {
			t.Helper()
			got, err := f.s.CompareAndDelete(t.Context(), key, []byte(old))
			if err != nil || got != want {
				t.Fatalf("CompareAndDelete(%q, %q) = %v, %v; want %v, nil", key, old, got, err, want)
			}
		}
		cad(k, "t2", false)
		wantValue(t, f.s, k, v)
		cad(k, "t1", true)
		wantAbsent(t, f.s, k)
		cad(k, "t1", false)
		x := f.key("expired")
		mustSet(t, f.s, x, store.Value{Data: []byte("t1"), Expires: f.clk.Now().Add(time.Second)})
		f.clk.Advance(time.Hour)
		cad(x, "t1", false)
	}},
	{"delete", func(t *testing.T, f fixture) {
		k := f.key("gone")
		mustSet(t, f.s, k, store.Value{Data: []byte("v")})
		for range 2 { // the second time the key is missing: not an error
			if err := f.s.Delete(t.Context(), k); err != nil {
				t.Fatalf("Delete(%q) = %v", k, err)
			}
			wantAbsent(t, f.s, k)
		}
	}},
	{"keys by prefix, glob characters literal", func(t *testing.T, f fixture) {
		names := []string{"a:1", "a:2", "a*", "a*b", "a?c", "a[x]", `a\d`, "a-^", "b:1", "expired"}
		for _, n := range names {
			v := store.Value{Data: []byte(n)}
			if n == "expired" {
				v.Expires = f.clk.Now().Add(time.Second)
			}
			mustSet(t, f.s, f.key(n), v)
		}
		f.clk.Advance(time.Minute)
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"a:1", "a:2", "a*", "a*b", "a?c", "a[x]", `a\d`, "a-^", "b:1"}},
			{"a", []string{"a:1", "a:2", "a*", "a*b", "a?c", "a[x]", `a\d`, "a-^"}},
			{"a:", []string{"a:1", "a:2"}},
			{"a*", []string{"a*", "a*b"}},
			{"a?", []string{"a?c"}},
			{"a[", []string{"a[x]"}},
			{`a\`, []string{`a\d`}},
			{"a-", []string{"a-^"}},
			{"c", nil},
			{"exp", nil},
		} {
			got, err := f.s.Keys(t.Context(), f.key(tc.prefix))
			if err != nil {
				t.Fatalf("Keys(%q) = %v", tc.prefix, err)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, f.key(w))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Keys(%q) = %q, want %q", f.key(tc.prefix), got, want)
			}
		}
	}},
	{"keys over many pages", func(t *testing.T, f fixture) {
		store.SetPageSize(f.s, 3)
		var want []string
		for i := range 40 {
			k := f.key("page:" + strconv.Itoa(i))
			mustSet(t, f.s, k, store.Value{Data: []byte("v")})
			want = append(want, k)
		}
		mustSet(t, f.s, f.key("other"), store.Value{Data: []byte("v")})
		got, err := f.s.Keys(t.Context(), f.key("page:"))
		if err != nil {
			t.Fatalf("Keys() = %v", err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Keys(%q) = %d keys %q, want the %d written", f.key("page:"), len(got), got, len(want))
		}
	}},
	{"racing compare and swap from absent: exactly one wins", func(t *testing.T, f fixture) {
		k := f.key("lease")
		const n = 16
		won := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s := f.s
				if f.b.shared && i%2 == 1 {
					s = f.b.open(t, store.WithClock(f.clk.Now)) // another client too
				}
				won[i], errs[i] = s.CompareAndSwap(t.Context(), k, nil, store.Value{Data: []byte(strconv.Itoa(i))})
			})
		}
		wg.Wait()
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("CompareAndSwap #%d = %v", i, errs[i])
			}
			if won[i] {
				if winner >= 0 {
					t.Fatalf("CompareAndSwap(nil) won by #%d and #%d", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("CompareAndSwap(nil): nobody won")
		}
		wantValue(t, f.s, k, store.Value{Data: []byte(strconv.Itoa(winner))})
	}},
	{"compare and swap loop loses no update", func(t *testing.T, f fixture) {
		k := f.key("counter")
		const workers, each = 4, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range each {
					if err := increment(t.Context(), f.s, k); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantValue(t, f.s, k, store.Value{Data: []byte(strconv.Itoa(workers * each))})
	}},
}

// increment adds one to the decimal counter under key with a
// compare-and-swap loop.
func increment(ctx context.Context, s store.Store, key string) error {
	for {
		cur, err := s.Get(ctx, key)
		var old []byte
		n := 0
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			old = cur.Data
			if n, err = strconv.Atoi(string(cur.Data)); err != nil {
				return fmt.Errorf("counter %q: %w", cur.Data, err)
			}
		}
		ok, err := s.CompareAndSwap(ctx, key, old, store.Value{Data: []byte(strconv.Itoa(n + 1))})
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
}

// TestBehaviour runs one table of behavioural cases against every backend.
func TestBehaviour(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					clk := newClock()
					f := fixture{s: b.open(t, store.WithClock(clk.Now)), clk: clk, prefix: t.Name() + "/", b: b}
					tc.run(t, f)
				})
			}
		})
	}
}
