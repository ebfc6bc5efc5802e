package invoke

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkers: every function runs once, however many at once; at most
// keep goroutines stay, and they are the ones the next functions run on.
func TestWorkers(t *testing.T) {
	var w workers
	const keep = 2
	var ran atomic.Int64
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 10 { // more at once than kept
		wg.Add(1)
		w.run(keep, func() {
			defer wg.Done()
			<-release
			ran.Add(1)
		})
	}
	close(release)
	wg.Wait()
	if ran.Load() != 10 {
		t.Fatalf("%d ran, want 10", ran.Load())
	}
	waitIdle(t, &w, keep)
	before := runtime.NumGoroutine()
	for range 50 {
		var g sync.WaitGroup
		for range keep {
			g.Add(1)
			w.run(keep, func() {
				defer g.Done()
				defer func() { _ = recover() }()
				panic("recovered inside, as the operations do")
			})
		}
		g.Wait()
		waitIdle(t, &w, keep)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after: the kept ones were not reused", before, after)
	}
}

// TestWorkersNone: keep 0 runs each function on a goroutine of its own
// and keeps none.
func TestWorkersNone(t *testing.T) {
	t.Parallel()
	var w workers
	done := make(chan struct{})
	w.run(0, func() { close(done) })
	<-done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.idle) != 0 {
		t.Errorf("%d kept, want none", len(w.idle))
	}
}

// waitIdle waits until n workers are idle.
func waitIdle(t *testing.T, w *workers, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		idle := len(w.idle)
		w.mu.Unlock()
		if idle == n {
			return
		}
		if idle > n || time.Now().After(deadline) {
			t.Fatalf("%d idle workers, want %d", idle, n)
		}
		time.Sleep(time.Millisecond)
	}
}
