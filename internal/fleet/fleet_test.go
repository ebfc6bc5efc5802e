package fleet

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestShardIsStable pins the documented hash: changing it would move every
// authorizer to another schedule.
func TestShardIsStable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		appid string
		n     int
		want  int
	}{
		{"wx0000000000000001", 4, Shard("wx0000000000000001", 4)},
		{"", 7, 2166136261 % 7}, // FNV-1a's offset basis: the hash of nothing
		{"a", 1000, 0xe40c292c % 1000},
		{"wxA", 1, 0},
	}
	for _, tt := range tests {
		if got := Shard(tt.appid, tt.n); got != tt.want {
			t.Errorf("Shard(%q, %d) = %d, want %d", tt.appid, tt.n, got, tt.want)
		}
	}
}

// TestShardsPartition: N shards cover every appid exactly once and are
// roughly even.
func TestShardsPartition(t *testing.T) {
	t.Parallel()
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("wx%016x", i*7919)
	}
	const n = 8
	seen := map[string]int{}
	for k := range n {
		part := InShard(ids, k, n)
		if len(part) < len(ids)/n/2 || len(part) > len(ids)/n*2 {
			t.Errorf("shard %d has %d of %d", k, len(part), len(ids))
		}
		for _, id := range part {
			seen[id]++
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("%s is in %d shards", id, seen[id])
		}
	}
}

func TestRunBoundsConcurrencyAndKeepsOrder(t *testing.T) {
	t.Parallel()
	items := make([]string, 200)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	var now, peak atomic.Int32
	got := Run(context.Background(), items, 8, time.Second, func(_ context.Context, s string) string {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		now.Add(-1)
		return "done " + s
	}, func(s string) string { return "cut " + s })
	if peak.Load() > 8 || peak.Load() < 2 {
		t.Errorf("peak concurrency %d, want 2..8", peak.Load())
	}
	for i, r := range got {
		if r != "done "+items[i] {
			t.Fatalf("result %d = %q", i, r)
		}
	}
}

// TestRunCutsWhatTheDeadlineLeaves: items never started and items stuck
// past the grace are reported, not dropped, and Run returns.
func TestRunCutsWhatTheDeadlineLeaves(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	items := []string{"fast", "stuck", "a", "b", "c"}
	release := make(chan struct{})
	defer close(release)
	got := Run(ctx, items, 2, 20*time.Millisecond, func(ctx context.Context, s string) string {
		switch s {
		case "fast":
			return "ok"
		case "stuck":
			<-release // ignores its context
			return "late"
		}
		<-ctx.Done()
		return "timeout " + s
	}, func(s string) string { return "cut " + s })
	if got[0] != "ok" || got[1] != "cut stuck" {
		t.Errorf("got %q", got)
	}
	for _, r := range got[2:] {
		if r != "timeout a" && r != "cut b" && r != "cut c" && r != "timeout b" && r != "timeout c" {
			t.Errorf("unexpected %q in %q", r, got)
		}
	}
	if len(got) != len(items) {
		t.Fatalf("%d results for %d items", len(got), len(items))
	}
}
