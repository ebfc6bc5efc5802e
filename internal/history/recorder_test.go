package history_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// failingStore refuses every write while down is set.
type failingStore struct {
	countingStore
	down bool
}

func (f *failingStore) Set(ctx context.Context, key string, v store.Value) error {
	if f.down {
		return errors.New("store down")
	}
	return f.countingStore.Set(ctx, key, v)
}

// TestRecorderCoalescesQuietSingleRuns: a single run is written when it
// changed something, when its outcome differs from the instance's last
// written one for its trigger, or a minute after it; otherwise it is
// counted into the next record. Other kinds are always written.
func TestRecorderCoalescesQuietSingleRuns(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	ok := func(at time.Duration) history.Run {
		return history.Run{Time: t0.Add(at), Kind: history.KindSingle, Trigger: "direct", OK: true, Operations: 2}
	}
	failed := func(at time.Duration) history.Run {
		r := ok(at)
		r.OK, r.FailedOperations, r.Failure = false, 1, "getenvinfo: auth"
		return r
	}
	with := func(r history.Run, f func(*history.Run)) history.Run { f(&r); return r }
	type step struct {
		run      history.Run
		changes  int
		written  bool
		wantRuns int // Runs of the written record (0: this run alone)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"repeats within a minute are counted, the next minute's carries them", []step{
			{ok(0), 0, true, 0},
			{ok(time.Second), 0, false, 0},
			{ok(2 * time.Second), 0, false, 0},
			{ok(59 * time.Second), 0, false, 0},
			{ok(61 * time.Second), 0, true, 4},
			{ok(62 * time.Second), 0, false, 0},
		}},
		{"a different outcome is written at once and carries the repeats before it", []step{
			{ok(0), 0, true, 0},
			{ok(time.Second), 0, false, 0},
			{failed(2 * time.Second), 0, true, 2},
			{failed(3 * time.Second), 0, false, 0},
			{ok(4 * time.Second), 0, true, 2},
		}},
		{"a run that changed something is always written", []step{
			{ok(0), 0, true, 0},
			{ok(time.Second), 1, true, 0},
			{with(ok(2*time.Second), func(r *history.Run) { r.Changes = 3 }), 0, true, 0},
		}},
		{"each trigger has its own last run", []step{
			{ok(0), 0, true, 0},
			{with(ok(time.Second), func(r *history.Run) { r.Trigger = "http" }), 0, true, 0},
			{with(ok(2*time.Second), func(r *history.Run) { r.Trigger = "http" }), 0, false, 0},
			{ok(3 * time.Second), 0, false, 0},
		}},
		{"more alerts are a different outcome", []step{
			{ok(0), 0, true, 0},
			{with(ok(time.Second), func(r *history.Run) { r.Alerts = 1 }), 0, true, 0},
		}},
		{"a clock that went back writes", []step{
			{ok(time.Minute), 0, true, 0},
			{ok(0), 0, true, 0},
		}},
		{"fleet, shard and batch runs are always written", []step{
			{with(ok(0), func(r *history.Run) { r.Kind = history.KindFleet }), 0, true, 0},
			{with(ok(time.Second), func(r *history.Run) { r.Kind = history.KindFleet }), 0, true, 0},
			{with(ok(2*time.Second), func(r *history.Run) { r.Kind = history.KindShard; r.Part = "0/2" }), 0, true, 0},
			{with(ok(3*time.Second), func(r *history.Run) { r.Kind = history.KindBatch; r.Part = "1 of x" }), 0, true, 0},
			{with(ok(4*time.Second), func(r *history.Run) { r.Kind = history.KindBatch; r.Part = "1 of x" }), 0, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := store.Open("memory")
			cs := &countingStore{Store: st}
			rec := &history.Recorder{Prefix: "p:"}
			ctx := context.Background()
			var written []history.Run
			for i, s := range tt.steps {
				var changes []history.Change
				for j := range s.changes {
					changes = append(changes, change(j, ""))
				}
				before := cs.sets
				wrote, err := rec.Record(ctx, cs, "req", s.run, changes)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if wrote != s.written || (cs.sets > before) != s.written {
					t.Fatalf("step %d: wrote %v (%d sets), want %v", i, wrote, cs.sets-before, s.written)
				}
				if wrote {
					written = append(written, s.run)
				}
			}
			h, err := history.Load(ctx, st, "p:", history.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Runs) != len(written) {
				t.Fatalf("%d runs kept, want %d", len(h.Runs), len(written))
			}
			// h.Runs is newest first; the steps are oldest first except where
			// the clock went back, so match by time.
			for i, s := range tt.steps {
				if !s.written {
					continue
				}
				for _, r := range h.Runs {
					if r.Time.Equal(s.run.Time) && r.Runs != s.wantRuns {
						t.Errorf("step %d: record stands for %d runs, want %d", i, r.Runs, s.wantRuns)
					}
				}
			}
		})
	}
}

// TestRecorderKeepsCountsAcrossAFailedWrite: a record the store refused
// gives its count to the next one written.
func TestRecorderKeepsCountsAcrossAFailedWrite(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	run := func(at time.Duration, ok bool) history.Run {
		return history.Run{Time: t0.Add(at), Kind: history.KindSingle, Trigger: "http", OK: ok, Operations: 1}
	}
	st, _ := store.Open("memory")
	fs := &failingStore{countingStore: countingStore{Store: st}}
	rec := &history.Recorder{Prefix: "p:"}
	ctx := context.Background()
	steps := []struct {
		run   history.Run
		down  bool
		wrote bool
	}{
		{run(0, true), false, true},
		{run(time.Second, true), false, false},    // counted
		{run(2*time.Second, false), true, false},  // refused: it and the count go to the next
		{run(3*time.Second, false), false, true},  // stands for 3
		{run(4*time.Second, false), false, false}, // counted
		{run(65*time.Second, false), false, true}, // stands for 2
	}
	for i, s := range steps {
		fs.down = s.down
		wrote, err := rec.Record(ctx, fs, "r", s.run, nil)
		if wrote != s.wrote || (err != nil) != s.down {
			t.Fatalf("step %d: wrote %v, err %v", i, wrote, err)
		}
	}
	h, err := history.Load(ctx, st, "p:", history.Query{})
	if err != nil {
		t.Fatal(err)
	}
	got := []int{}
	for _, r := range h.Runs {
		got = append(got, r.Runs)
	}
	want := []int{2, 3, 0} // newest first
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("records stand for %v runs, want %v", got, want)
	}
}
