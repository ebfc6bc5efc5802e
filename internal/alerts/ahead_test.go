package alerts_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// readLog records the state and registry keys read from the store.
type readLog struct {
	store.Store
	mu    sync.Mutex
	reads []string
}

func (r *readLog) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	r.mu.Lock()
	for _, k := range keys {
		if strings.Contains(k, ":alerts:") || strings.Contains(k, ":robots:") {
			r.reads = append(r.reads, k)
		}
	}
	r.mu.Unlock()
	return r.Store.GetMany(ctx, keys)
}

func (r *readLog) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reads
	r.reads = nil
	return out
}

// TestTrackReadAhead: a run whose state and owner robots were read ahead
// (Input.Store, a store.Buffered) reads neither again; a shard another
// instance wrote since the read-ahead (one that was there, one that was
// not) loses its compare-and-swap and is read again, so the run's changes
// are the store's, not the read-ahead's.
func TestTrackReadAhead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &readLog{Store: store.NewMemory()}
	const prefix = "wxcloudenv-ahead:"
	srv := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(srv.Close)
	if err := robots.Put(ctx, st, prefix, "wx0000", []string{srv.WeComURL(ownerKeyA)}); err != nil {
		t.Fatal(err)
	}
	other := newInstance(t, st, prefix, srv)
	if out := other.track(ctx, t0, haltedRun(2)); len(out.Changes) != 2 {
		t.Fatalf("first run: %+v", out.Changes)
	}

	// This instance's run reads ahead, as a fleet run's token preload does:
	// the registry by name, the authorizers' shards as a group.
	in := newInstance(t, st, prefix, srv)
	if !in.tr.ReadsState(time.Now()) || !in.tr.ReadsRobots() {
		t.Fatal("a new tracker would not read the state and the robots")
	}
	run := store.NewBuffered(st)
	keys := robots.Keys(prefix)
	run.Expect(keys...)
	ids := []string{"wx0000", "wx0001", "wx0002"}
	family := alertstate.OperationKeys(prefix, "getenvinfo")
	run.ExpectEach(family, ids)
	for _, id := range ids {
		keys = append(keys, family+id)
	}
	vals, err := st.Store.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	run.Supply(keys, vals)
	st.take()

	// Meanwhile the other instance sees wx0001 halt in a second env, and
	// wx0002 halt.
	second := haltedRun(3)
	second.Alerts = append(second.Alerts, alerts.Alert{Authorizer: "wx0001", Operation: "getenvinfo", Env: "env-b",
		Resource: "environment", Status: "HALTED", Message: "environment env-b is HALTED, not NORMAL"})
	if out := other.track(ctx, t0.Add(time.Minute), second); len(out.Changes) != 2 {
		t.Fatalf("the other instance: %+v", out.Changes)
	}
	st.take()
	received := len(srv.ReceivedBy(ownerKeyA))

	// This run sees wx0000 and wx0001 recover, and wx0002 halted.
	seen := alerts.Run{Checked: haltedRun(3).Checked, Alerts: haltedRun(3).Alerts[2:]}
	out := in.tr.Track(ctx, alerts.Input{Run: seen, Now: t0.Add(2 * time.Minute), Platform: "local", Function: "ahead-test", Store: run})
	resolved := map[string]int{}
	for _, c := range out.Changes {
		if c.Change == alerts.ChangeResolved {
			resolved[c.Authorizer]++
		}
	}
	if len(out.Changes) != 3 || resolved["wx0000"] != 1 || resolved["wx0001"] != 2 {
		t.Fatalf("changes %+v, want wx0000's alert and both of wx0001's resolved, and wx0002's outage not claimed again", out.Changes)
	}
	if !out.AlertSince[0].Equal(t0.Add(time.Minute)) {
		t.Errorf("wx0002's alert since %v, want the other instance's %v", out.AlertSince[0], t0.Add(time.Minute))
	}
	want := []string{family + "wx0001", family + "wx0002"}
	if reads := st.take(); !slices.Equal(slices.Sorted(slices.Values(reads)), want) {
		t.Errorf("read from the store: %q; want only %q, after their compare-and-swaps were lost", reads, want)
	}
	if got := srv.ReceivedBy(ownerKeyA); len(got) != received+1 || !strings.Contains(got[len(got)-1].Text, "wx0000") {
		t.Errorf("the owner robot read ahead got %d messages, want %d", len(got), received+1)
	}
}
