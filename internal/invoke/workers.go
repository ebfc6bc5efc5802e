package invoke

import "sync"

// workers are goroutines kept between invocations to run operations
// (Handler.KeepWorkers). The zero value keeps none until run is asked to.
type workers struct {
	mu   sync.Mutex
	idle []chan func()
}

// run runs f on a kept goroutine, or on a new one that is kept afterwards
// while fewer than keep are idle. It never blocks.
func (w *workers) run(keep int, f func()) {
	if keep <= 0 {
		go f()
		return
	}
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		ch := w.idle[n-1]
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		ch <- f // buffered, and its worker waits for nothing else
		return
	}
	w.mu.Unlock()
	go w.loop(keep, make(chan func(), 1), f)
}

// loop runs f, then what arrives on ch while it is kept.
func (w *workers) loop(keep int, ch chan func(), f func()) {
	for {
		f()
		w.mu.Lock()
		if len(w.idle) >= keep {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, ch)
		w.mu.Unlock()
		f = <-ch
	}
}
