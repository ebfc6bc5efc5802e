package bench

import (
	"bytes"
	"slices"
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

// TestNewWorkStoreRoundTrips holds what BenchmarkStoreRoundTrips shows:
// a warm single-authorizer invocation touches the store not at all (its
// history record is counted into the next minute's); the first fleet run
// of an instance makes, beside each authorizer's mint, what it made
// before names, history, silences, owner robots and warnings existed,
// less the alert state's read (the names, the owner robots, the alert
// state and the quota reading are read in the token preload's batches),
// plus one batch write (names learnt, the history record, the quota
// reading) and the hour's quota lease; a later fleet run of a warm
// instance adds the batch write to what it read before: the token preload
// and the fleet's listing.
func TestNewWorkStoreRoundTrips(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	h := newCore(t, configtest.MintingVars(srv.URL))
	l := countStore(h)
	for i := range 20 {
		ctx, cancel := lambdaContext()
		out, err := h.Invoke(ctx, directAll)
		cancel()
		if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
			t.Fatalf("invoke: %v %.300s", err, out)
		}
		if ops := l.takeFamilies(); i > 0 && len(ops) > 0 {
			t.Fatalf("warm invocation %d touched the store: %q", i, ops)
		}
	}

	const n = 300
	fsrv := newFleetServer(t, n, 0)
	hf := newCore(t, fleetVars(fsrv))
	lf := countStore(hf)
	ev := scheduleEvent(t)
	for run := range 3 {
		ctx, cancel := fleetContext()
		out, err := hf.Invoke(ctx, ev)
		cancel()
		checkFleetEvent(t, out, err, n)
		ops := lf.takeFamilies()
		want := []string{"getmany wxcloudenv:token:authorizer", "getmany wxcloudenv:token:authorizer",
			"keys wxcloudenv:fleet", "setmany"}
		if run == 0 {
			// Each authorizer's mint: read its token, lease, read again,
			// read the refresh token, mint, store both, release.
			ops = withoutEach(t, ops, n, map[string]int{
				"get wxcloudenv:token:authorizer": 2, "cas wxcloudenv:lease:token:authorizer": 1,
				"get wxcloudenv:refresh": 1, "cas wxcloudenv:refresh": 1,
				"set wxcloudenv:token:authorizer": 1, "cad wxcloudenv:lease:token:authorizer": 1})
			// The component token's mint from the verify ticket, and the
			// hour's quota lease.
			want = append(want, "cad wxcloudenv:lease:token:component", "cas wxcloudenv:lease:quota",
				"cas wxcloudenv:lease:token:component", "get wxcloudenv:ticket", "get wxcloudenv:token:component",
				"get wxcloudenv:token:component", "set wxcloudenv:token:component")
			slices.Sort(want)
			// What the batch write carried: names learnt, the quota reading.
			learnt, err := lf.Store.Keys(t.Context(), "wxcloudenv:names:")
			if _, qerr := lf.Store.Get(t.Context(), "wxcloudenv:quota:"+wechattest.ComponentAppID); err != nil || len(learnt) == 0 || qerr != nil {
				t.Errorf("after the first run: %d names (%v), quota reading: %v", len(learnt), err, qerr)
			}
		}
		if !slices.Equal(ops, want) {
			t.Fatalf("fleet run %d: store operations\n%q\nwant\n%q", run+1, ops, want)
		}
	}
}

// withoutEach removes from ops each family's count times n operations,
// failing t when ops has a different number of them.
func withoutEach(t *testing.T, ops []string, n int, each map[string]int) []string {
	t.Helper()
	got := map[string]int{}
	for _, op := range ops {
		got[op]++
	}
	for fam, k := range each {
		if got[fam] != k*n {
			t.Errorf("first fleet run: %d of %q, want %d (%d per authorizer)", got[fam], fam, k*n, k)
		}
	}
	return slices.DeleteFunc(ops, func(op string) bool { return each[op] > 0 })
}
