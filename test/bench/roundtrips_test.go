package bench

import (
	"bytes"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// countStore makes h's store (memory here) count its operations: on
// Redis or DynamoDB each is one round trip.
func countStore(h *invoke.Handler) *countingStore {
	cs := &countingStore{}
	h.Runtimes.OpenStore = func(raw string, opts ...store.Option) (store.Store, error) {
		st, err := store.Open(raw, opts...)
		cs.Store = st
		return cs, err
	}
	return cs
}

func (s *countingStore) total() int64 { return s.ops.Load() + s.otherOps.Load() }

// BenchmarkStoreRoundTrips counts the store operations (one round trip
// each on a shared store) of a warm single-authorizer invocation (tokens
// minted and kept, so only what the run itself keeps in the store: the
// alert state and whatever later work adds) and of the first and second
// fleet run of one instance over 600 authorizers. Run the same benchmark
// on an older commit to see what a change adds.
func BenchmarkStoreRoundTrips(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	h := newCore(b, configtest.MintingVars(srv.URL))
	cs := countStore(h)
	warm := func() {
		ctx, cancel := lambdaContext()
		defer cancel()
		out, err := h.Invoke(ctx, directAll)
		if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
			b.Fatalf("core: %v %.300s", err, out)
		}
	}
	warm()
	first := cs.total()
	b.ResetTimer()
	for b.Loop() {
		warm()
	}
	b.StopTimer()
	b.ReportMetric(float64(first), "first-invocation-store-ops")
	b.ReportMetric(float64(cs.total()-first)/float64(b.N), "warm-store-ops")

	const n = 600
	fsrv := newFleetServer(b, n, 0)
	hf := newCore(b, fleetVars(fsrv))
	fcs := countStore(hf)
	ev := scheduleEvent(b)
	var runs [2]int64
	for i := range runs {
		before := fcs.total()
		ctx, cancel := fleetContext()
		out, err := hf.Invoke(ctx, ev)
		cancel()
		checkFleetEvent(b, out, err, n)
		runs[i] = fcs.total() - before
	}
	b.ReportMetric(float64(runs[0]), "fleet-first-run-store-ops")
	b.ReportMetric(float64(runs[1]), "fleet-second-run-store-ops")
}
