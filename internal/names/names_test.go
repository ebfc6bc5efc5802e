package names_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// fake is a fleet on wechattest and a book that looks names up there.
func fake(t *testing.T, n int) (*wechattest.Server, *names.Book, []string, *atomic.Int64) {
	t.Helper()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(time.Millisecond, 5*time.Millisecond), wechat.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	comp := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
	ids := srv.SetFleet(n)
	var calls atomic.Int64
	b := &names.Book{Store: store.NewMemory(), Prefix: "t:", Budget: 30 * time.Second,
		Lookup: func(ctx context.Context, appid string) (*wechat.AuthorizerInfo, error) {
			calls.Add(1)
			return c.GetAuthorizerInfo(ctx, comp, wechattest.ComponentAppID, appid)
		}}
	return srv, b, ids, &calls
}

func TestLoadBoundedPerRun(t *testing.T) {
	t.Parallel()
	srv, b, ids, calls := fake(t, 100)
	srv.SetAuthorizer(ids[90], wechattest.Authorizer{NoCloudDevelopment: true})
	ctx := context.Background()

	// The first run learns PerRun names, urgent ones first.
	got, st, err := b.Load(ctx, ids, []string{ids[90], ids[99]})
	if err != nil {
		t.Fatal(err)
	}
	if st.Looked != names.PerRun || int(calls.Load()) != names.PerRun || st.Missing != 100-names.PerRun || st.Read != 0 {
		t.Fatalf("first run: stats %+v, %d lookups; want %d looked", st, calls.Load(), names.PerRun)
	}
	if got.Name(ids[90]) != wechattest.NameFor(ids[90]) || got.Name(ids[99]) == "" || got.Name(ids[0]) == "" {
		t.Fatalf("urgent and first ones not learnt: %q %q %q", got.Name(ids[90]), got.Name(ids[99]), got.Name(ids[0]))
	}
	if !got[ids[90]].LacksCloudDevelopment() || got[ids[0]].LacksCloudDevelopment() {
		t.Fatalf("permission set 49: %+v %+v", got[ids[90]], got[ids[0]])
	}
	// Runs go on until every name is known, each bounded.
	for run := 2; st.Missing > 0; run++ {
		before := calls.Load()
		_, st, err = b.Load(ctx, ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := calls.Load() - before; n > names.PerRun {
			t.Fatalf("run %d made %d lookups, more than %d", run, n, names.PerRun)
		}
		if run > 10 {
			t.Fatal("names never all learnt")
		}
	}
	// Then a run reads them all from the store and asks nothing.
	before := calls.Load()
	got, st, err = b.Load(ctx, ids, ids)
	if err != nil || calls.Load() != before || st.Read != 100 || len(got) != 100 {
		t.Fatalf("steady run: stats %+v, err %v, %d new lookups", st, err, calls.Load()-before)
	}
	if srv.Calls(wechat.GetAuthorizerInfoPath) != 100 {
		t.Fatalf("api_get_authorizer_info calls = %d, want one per authorizer", srv.Calls(wechat.GetAuthorizerInfoPath))
	}
}

func TestLoadExpires(t *testing.T) {
	t.Parallel()
	_, b, ids, calls := fake(t, 3)
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	b.Now = func() time.Time { return now }
	mem := b.Store.(*store.Memory)
	mem.Now = func() time.Time { return now }
	if _, _, err := b.Load(context.Background(), ids, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(names.TTL - time.Minute)
	if _, st, _ := b.Load(context.Background(), ids, nil); st.Looked != 0 || st.Read != 3 {
		t.Fatalf("within a day: %+v", st)
	}
	now = now.Add(names.Spread + 2*time.Minute)
	if _, st, _ := b.Load(context.Background(), ids, nil); st.Looked != 3 {
		t.Fatalf("after a day and the spread: %+v, want all looked up again", st)
	}
	if calls.Load() != 6 {
		t.Fatalf("lookups = %d, want 6", calls.Load())
	}
}

func TestLoadFailures(t *testing.T) {
	t.Parallel()
	t.Run("the authorizer's own failure is remembered", func(t *testing.T) {
		t.Parallel()
		srv, b, ids, calls := fake(t, 5)
		srv.Unauthorize(ids[2]) // 61003 from api_get_authorizer_info
		got, st, err := b.Load(context.Background(), ids, nil)
		if err != nil || st.Failed != 1 || got.Name(ids[2]) != "" || got.Name(ids[3]) == "" {
			t.Fatalf("stats %+v, err %v, names %v", st, err, got)
		}
		before := calls.Load()
		if _, st, _ := b.Load(context.Background(), ids, nil); st.Looked != 0 || calls.Load() != before {
			t.Fatalf("a remembered failure was asked again: %+v", st)
		}
	})
	t.Run("a platform failure stops the lookups and is not remembered", func(t *testing.T) {
		t.Parallel()
		srv, b, ids, calls := fake(t, 40)
		b.Concurrency = 1
		srv.Always(wechat.ComponentTokenPath, wechattest.Fault{ErrCode: 61005})
		got, st, err := b.Load(context.Background(), ids, nil)
		if err == nil || len(got) != 0 || calls.Load() != 1 {
			t.Fatalf("stats %+v, err %v, %d lookups; want one failed lookup and an error", st, err, calls.Load())
		}
		var we *wechat.Error
		if !errors.As(err, &we) {
			t.Fatalf("error %v is not a wechat error", err)
		}
		srv.Always(wechat.ComponentTokenPath, wechattest.Fault{})
		if got, _, err := b.Load(context.Background(), ids, nil); err != nil || len(got) != names.PerRun {
			t.Fatalf("after recovery: %d names, err %v", len(got), err)
		}
	})
	t.Run("a store that cannot be read still gives names", func(t *testing.T) {
		t.Parallel()
		_, b, ids, _ := fake(t, 3)
		b.Store = brokenStore{b.Store}
		got, _, err := b.Load(context.Background(), ids, nil)
		if err == nil || got.Name(ids[0]) == "" {
			t.Fatalf("names %v, err %v; want names and the store's error", got, err)
		}
	})
	t.Run("no lookup reads only", func(t *testing.T) {
		t.Parallel()
		_, b, ids, _ := fake(t, 3)
		b.Lookup = nil
		got, st, err := b.Load(context.Background(), ids, ids)
		if err != nil || len(got) != 0 || st.Missing != 3 {
			t.Fatalf("%v %+v %v", got, st, err)
		}
	})
}

func TestLoadBudget(t *testing.T) {
	t.Parallel()
	srv, b, ids, _ := fake(t, 10)
	srv.SetLatency(wechat.GetAuthorizerInfoPath, 10*time.Second)
	b.Budget = 200 * time.Millisecond
	start := time.Now()
	got, _, err := b.Load(context.Background(), ids, nil)
	if err == nil || len(got) != 0 {
		t.Fatalf("names %v, err %v; want none and the timeout", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Load took %v with a 200ms budget", d)
	}
}

type brokenStore struct{ store.Store }

func (brokenStore) GetMany(context.Context, []string) (map[string]store.Value, error) {
	return nil, store.ErrUnavailable
}

// readCounter counts the store's batch reads.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (r *readCounter) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	r.reads.Add(1)
	return r.Store.GetMany(ctx, keys)
}

// TestMemo: with a Memo, a warm instance reads the store only for the
// entries it lacks, and for those at most every MemoReread; what it read
// or learnt serves later runs until it expires; another instance's
// lookups reach it at the next reread.
func TestMemo(t *testing.T) {
	t.Parallel()
	_, b, ids, calls := fake(t, 100)
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	b.Now = func() time.Time { return now }
	shared := b.Store
	shared.(*store.Memory).Now = func() time.Time { return now }
	rc := &readCounter{Store: shared}
	b.Store, b.Memo = rc, &names.Memo{}
	ctx := context.Background()

	// Another instance already learnt ids[50:60].
	other := *b
	other.Memo, other.Store, other.PerRun = nil, shared, 10
	if _, _, err := other.Load(ctx, ids[50:60], nil); err != nil {
		t.Fatal(err)
	}
	calls.Store(0)

	_, st, err := b.Load(ctx, ids, nil)
	if err != nil || rc.reads.Load() != 1 || st.Read != 10 || st.Looked != names.PerRun {
		t.Fatalf("first run: %d reads, stats %+v, %v; want 1 read, 10 read, %d looked", rc.reads.Load(), st, err, names.PerRun)
	}
	// A minute later: no read; what was read and learnt is known.
	now = now.Add(time.Minute)
	got, st, err := b.Load(ctx, ids, nil)
	if err != nil || rc.reads.Load() != 1 || st.Read != 10+names.PerRun {
		t.Fatalf("second run: %d reads, stats %+v, %v; want no new read and %d known", rc.reads.Load(), st, err, 10+names.PerRun)
	}
	if got.Name(ids[55]) == "" {
		t.Fatalf("another instance's name was not kept: %q", got.Name(ids[55]))
	}
	// Another instance learns ids[99]; this one sees it after MemoReread.
	other.PerRun = 1
	if _, _, err := other.Load(ctx, ids[99:], nil); err != nil {
		t.Fatal(err)
	}
	b.PerRun = 1 // one lookup a run from here, so that ids[99] is not learnt by this one first
	now = now.Add(names.MemoReread)
	before := calls.Load()
	got, _, err = b.Load(ctx, ids, nil)
	if err != nil || rc.reads.Load() != 2 || got.Name(ids[99]) == "" || calls.Load() != before+1 {
		t.Fatalf("after MemoReread: %d reads, %q, %d lookups, %v", rc.reads.Load(), got.Name(ids[99]), calls.Load()-before, err)
	}
	// Entries expire from the memo with their stored expiry.
	now = now.Add(names.TTL + names.Spread + time.Minute)
	_, st, err = b.Load(ctx, ids, nil)
	if err != nil || rc.reads.Load() != 3 || st.Read != 0 {
		t.Fatalf("a day later: %d reads, stats %+v, %v; want a read and nothing live", rc.reads.Load(), st, err)
	}
}

// TestLoadUrgentOutsideRun: an urgent appid that is not among the run's
// is never looked up, whether the run's appids are sorted (a fleet's) or
// not.
func TestLoadUrgentOutsideRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sorted bool
	}{{"sorted", true}, {"unsorted", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, b, ids, calls := fake(t, 10)
			run := append([]string(nil), ids[:5]...)
			if !tc.sorted {
				run[0], run[4] = run[4], run[0]
			}
			b.PerRun = 3
			got, st, err := b.Load(context.Background(), run, []string{ids[9], ids[3]})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got[ids[9]]; ok || calls.Load() != 3 || st.Looked != 3 {
				t.Fatalf("looked up %d (stats %+v), names %v: want 3 lookups and none for %s", calls.Load(), st, got, ids[9])
			}
			if got.Name(ids[3]) == "" {
				t.Fatalf("the urgent appid in the run was not learnt first: %v", got)
			}
		})
	}
}

// countingGets counts a store's GetMany calls and the most keys one asked.
type countingGets struct {
	store.Store
	calls, most int
}

func (c *countingGets) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	c.calls++
	c.most = max(c.most, len(keys))
	return c.Store.GetMany(ctx, keys)
}

// TestLoadReadsInChunks: a fleet larger than a read chunk is read a chunk
// at a time, and every entry the store holds is found, whichever chunk
// it is in.
func TestLoadReadsInChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &countingGets{Store: store.NewMemory()}
	b := &names.Book{Store: st, Prefix: "t:"}
	const n = 2500
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("wx%016d", i)
	}
	for _, i := range []int{0, 999, 1000, 1999, 2000, 2499} {
		if err := st.Set(ctx, names.Key("t:", ids[i]), store.Value{Data: []byte(`{"name":"n` + fmt.Sprint(i) + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	got, stats, err := b.Load(ctx, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.calls != 3 || st.most != 1000 {
		t.Errorf("%d GetMany calls of at most %d keys, want 3 of at most 1000", st.calls, st.most)
	}
	if stats.Read != 6 || len(got) != 6 || got.Name(ids[1999]) != "n1999" || got.Name(ids[2499]) != "n2499" {
		t.Errorf("read %d (%v), want the 6 entries the store holds", stats.Read, got)
	}
}
