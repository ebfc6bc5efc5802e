package alerts_test

import (
	"context"
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
// instance changed since the read-ahead loses its compare-and-swap and is
// read again, so the run's changes are the store's, not the read-ahead's.
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

	// This instance's run reads ahead, as a fleet run's token preload does.
	in := newInstance(t, st, prefix, srv)
	if !in.tr.ReadsState(time.Now()) || !in.tr.ReadsRobots() {
		t.Fatal("a new tracker would not read the state and the robots")
	}
	run := store.NewBuffered(st)
	keys := robots.Keys(prefix)
	for _, s := range haltedRun(2).Checked {
		keys = append(keys, alertstate.Key(prefix, s))
	}
	run.Expect(keys...)
	vals, err := st.Store.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	run.Supply(keys, vals)
	st.take()

	// Meanwhile the other instance sees wx0001 halt in a second env.
	second := haltedRun(2)
	second.Alerts = append(second.Alerts, alerts.Alert{Authorizer: "wx0001", Operation: "getenvinfo", Env: "env-b",
		Resource: "environment", Status: "HALTED", Message: "environment env-b is HALTED, not NORMAL"})
	if out := other.track(ctx, t0.Add(time.Minute), second); len(out.Changes) != 1 {
		t.Fatalf("the other instance: %+v", out.Changes)
	}
	st.take()
	received := len(srv.ReceivedBy(ownerKeyA))

	// This run sees both authorizers recover.
	healthy := alerts.Run{Checked: haltedRun(2).Checked}
	out := in.tr.Track(ctx, alerts.Input{Run: healthy, Now: t0.Add(2 * time.Minute), Platform: "local", Function: "ahead-test", Store: run})
	resolved := map[string]int{}
	for _, c := range out.Changes {
		if c.Change == alerts.ChangeResolved {
			resolved[c.Authorizer]++
		}
	}
	if len(out.Changes) != 3 || resolved["wx0000"] != 1 || resolved["wx0001"] != 2 {
		t.Fatalf("changes %+v, want wx0000's alert and both of wx0001's resolved", out.Changes)
	}
	if reads := st.take(); len(reads) != 1 || reads[0] != alertstate.Key(prefix, alerts.Scope{Operation: "getenvinfo", Authorizer: "wx0001"}) {
		t.Errorf("read from the store: %q; want only wx0001's shard, after its compare-and-swap was lost", reads)
	}
	if got := srv.ReceivedBy(ownerKeyA); len(got) != received+1 || !strings.Contains(got[len(got)-1].Text, "wx0000") {
		t.Errorf("the owner robot read ahead got %d messages, want %d", len(got), received+1)
	}
}
