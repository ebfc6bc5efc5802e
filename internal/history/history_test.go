package history_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

// countingStore counts the writes a run makes.
type countingStore struct {
	store.Store
	sets int
}

func (c *countingStore) Set(ctx context.Context, key string, v store.Value) error {
	c.sets++
	return c.Store.Set(ctx, key, v)
}

func change(i int, auth string) history.Change {
	return history.Change{Change: "new", Authorizer: auth, Operation: "getenvinfo", Env: fmt.Sprintf("env-%d", i),
		Resource: "environment", Status: "HALTED", Message: fmt.Sprintf("environment env-%d is HALTED", i)}
}

// TestRecordAndLoad runs the same checks on every backend: each run is at
// most two writes, reads come back newest first, bounded, filtered by
// authorizer, and expire after seven days.
func TestRecordAndLoad(t *testing.T) {
	t.Parallel()
	redisURL := storetest.StartRedis(t)
	dynURL, dynEnv := storetest.StartDynamo(t)
	backends := []struct {
		name string
		url  string
		opts []store.Option
	}{
		{"memory", "memory", nil},
		{"file", "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "store.db")), nil},
		{"redis", redisURL, nil},
		{"dynamodb", dynURL, []store.Option{store.WithEnv(storetest.Lookup(dynEnv))}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(b.url, b.opts...)
			if err != nil {
				t.Fatalf("Open(%q): %v", b.url, err)
			}
			t.Cleanup(func() { st.Close() })
			recordAndLoad(t, st, "hist-"+b.name+":")
		})
	}
}

func recordAndLoad(t *testing.T, raw store.Store, prefix string) {
	ctx := t.Context()
	st := &countingStore{Store: raw}
	now := time.Now().UTC().Truncate(time.Second)
	// Three runs, a minute apart: the middle one claimed two changes of
	// wxA and one of wxB; the last one 600 changes (over the cap).
	runs := []struct {
		run     history.Run
		changes []history.Change
		sets    int
	}{
		{history.Run{Time: now.Add(-2 * time.Minute), Kind: history.KindSingle, OK: true, Operations: 2}, nil, 1},
		{history.Run{Time: now.Add(-time.Minute), Kind: history.KindFleet, Operations: 1, Authorizers: 3, FailedAuthorizers: 1, Alerts: 2},
			[]history.Change{change(1, "wxA"), change(2, "wxB"), change(3, "wxA")}, 2},
		{history.Run{Time: now, Kind: history.KindShard, Part: "1/4", Operations: 1, Authorizers: 600}, nil, 2},
	}
	for i := range 600 {
		runs[2].changes = append(runs[2].changes, change(100+i, "wxC"))
	}
	for i, r := range runs {
		before := st.sets
		if err := history.Record(ctx, st, prefix, fmt.Sprintf("req/%d <x>", i), r.run, r.changes); err != nil {
			t.Fatalf("Record run %d: %v", i, err)
		}
		if got := st.sets - before; got != r.sets {
			t.Errorf("Record run %d made %d writes, want %d", i, got, r.sets)
		}
	}

	h, err := history.Load(ctx, st, prefix, history.Query{MaxChanges: 500})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(h.Runs) != 3 {
		t.Fatalf("Load runs = %d, want 3", len(h.Runs))
	}
	for i, want := range []history.Kind{history.KindShard, history.KindFleet, history.KindSingle} {
		if h.Runs[i].Kind != want {
			t.Errorf("Runs[%d].Kind = %q, want %q (newest first)", i, h.Runs[i].Kind, want)
		}
	}
	if got := h.Runs[0].Changes; got != 600 {
		t.Errorf("newest run counts %d changes, want 600 (all, kept or not)", got)
	}
	if len(h.Changes) != 500 || !h.MoreChanges {
		t.Errorf("Load changes = %d (more %v), want 500 and more", len(h.Changes), h.MoreChanges)
	}
	if c := h.Changes[0]; c.Authorizer != "wxC" || !c.Time.Equal(now) || c.Env != "env-100" {
		t.Errorf("newest change = %+v, want wxC env-100 at %v", c, now)
	}

	h, err = history.Load(ctx, st, prefix, history.Query{MaxChanges: 500, Authorizer: "wxA", NoRuns: true})
	if err != nil {
		t.Fatalf("Load wxA: %v", err)
	}
	if len(h.Runs) != 0 || len(h.Changes) != 2 || h.MoreChanges {
		t.Fatalf("Load wxA = %d runs, %d changes (more %v), want 0, 2, false", len(h.Runs), len(h.Changes), h.MoreChanges)
	}
	for _, c := range h.Changes {
		if c.Authorizer != "wxA" || !c.Time.Equal(now.Add(-time.Minute)) {
			t.Errorf("wxA change = %+v", c)
		}
	}
}

func TestRecordBoundsMessagesAndExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := time.Now()
	st := store.NewMemory()
	st.Now = func() time.Time { return clock }
	long := strings.Repeat("x", 5000) + "\xff"
	c := change(1, "wxA")
	c.Message = long
	if err := history.Record(ctx, st, "p:", "r1", history.Run{Time: clock, Kind: history.KindSingle}, []history.Change{c}); err != nil {
		t.Fatal(err)
	}
	h, err := history.Load(ctx, st, "p:", history.Query{MaxChanges: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Changes) != 1 || len(h.Changes[0].Message) > history.MaxMessageBytes {
		t.Fatalf("kept message of %d bytes, want at most %d", len(h.Changes[0].Message), history.MaxMessageBytes)
	}
	clock = clock.Add(history.TTL + time.Second)
	h, err = history.Load(ctx, st, "p:", history.Query{MaxChanges: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Runs) != 0 || len(h.Changes) != 0 {
		t.Fatalf("after 7 days: %d runs, %d changes, want none", len(h.Runs), len(h.Changes))
	}
}

func TestLoadBoundsRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	start := time.Now().Add(-time.Hour)
	n := history.MaxRuns + 10
	for i := range n {
		if err := history.Record(ctx, st, "p:", "r", history.Run{Time: start.Add(time.Duration(i) * time.Millisecond), Kind: history.KindFleet, Alerts: i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h, err := history.Load(ctx, st, "p:", history.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Runs) != history.MaxRuns || h.RunsOmitted != 10 {
		t.Fatalf("Load = %d runs, %d omitted; want %d and 10", len(h.Runs), h.RunsOmitted, history.MaxRuns)
	}
	if h.Runs[0].Alerts != n-1 {
		t.Errorf("newest run has alerts %d, want %d", h.Runs[0].Alerts, n-1)
	}
}
