package bench

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/baseline"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// The store baseline, a Lambda function that reads its tokens from Redis and
// POSTs (test/baseline/storelambda), built like the others.
func init() { binaries["baseline-store"] = "../baseline/storelambda" }

// storeEnv is wxcloudenv minting its tokens from the component and
// authorizer credentials, sharing them through storeURL.
func storeEnv(srv *wechattest.Server, storeURL string) map[string]string {
	env := configtest.MintingVars(srv.URL)
	env["WXCLOUDENV_STORE"] = storeURL
	return env
}

// seed runs one invocation of the core with env in this process, so that
// the store holds valid component and authorizer tokens, minted once.
func seed(tb testing.TB, env map[string]string) {
	tb.Helper()
	h := newCore(tb, env)
	ctx, cancel := lambdaContext()
	defer cancel()
	out, err := h.Invoke(ctx, directAll)
	if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
		tb.Fatalf("seeding the store: %v %.300s", err, out)
	}
}

// mints is how many tokens srv has minted.
func mints(srv *wechattest.Server) int {
	return srv.Calls(wechat.ComponentTokenPath) + srv.Calls(wechat.AuthorizerTokenPath)
}

// coldTarget is one sub-benchmark of coldStarts: a built function and its
// variables (the Runtime API's are added).
type coldTarget struct {
	name, bin string
	env       map[string]string
}

// coldStart starts one function per answer, as runProcesses does, and
// returns how long exec to first answer took and the process's peak RSS.
func coldStart(tb testing.TB, bin string, vars map[string]string) (time.Duration, int64) {
	tb.Helper()
	api := runtimeapi.New()
	defer api.Close()
	env := api.Env(vars)
	start := time.Now()
	p := startProcess(tb, bin, env)
	a, _, err := api.Invoke(directAll, 30*time.Second)
	d := time.Since(start)
	defer p.stop()
	if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
		tb.Fatalf("%s: %v %.300s\n%s", filepath.Base(bin), err, a.Body, p.out.String())
	}
	rss, _ := p.peakRSS()
	return d, rss
}

// runColdStarts is runProcesses for targets with variables of their own;
// each sub-benchmark also reports the mints made during it.
func runColdStarts(b *testing.B, srv *wechattest.Server, targets []coldTarget) {
	if runtime.GOOS != "linux" {
		b.Skip("the built functions are linux binaries")
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			bin := build(b, tg.bin, runtime.GOARCH)
			before := mints(srv)
			var rss int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				api := runtimeapi.New()
				env := api.Env(tg.env)
				b.StartTimer()
				p := startProcess(b, bin, env)
				a, _, err := api.Invoke(directAll, 30*time.Second)
				b.StopTimer()
				if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
					p.stop()
					api.Close()
					b.Fatalf("%s: %v %.300s\n%s", tg.name, err, a.Body, p.out.String())
				}
				if r, ok := p.peakRSS(); ok {
					rss += r
				}
				p.stop()
				api.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(rss)/float64(b.N), "peak-RSS-B")
			b.ReportMetric(float64(mints(srv)-before), "mints")
		})
	}
}

// BenchmarkStoreColdStartLatency100ms: a cold start that finds valid
// tokens in Redis, with 100 ms of latency on each WeChat endpoint, against
// the store baseline (one MGET of both tokens, then both POSTs). Its "mints"
// metric is the number of tokens minted by all b.N cold starts: 0.
func BenchmarkStoreColdStartLatency100ms(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	env := storeEnv(srv, storetest.StartRedis(b))
	seed(b, env)
	srv.SetLatency(wechat.GetEnvInfoPath, 100*time.Millisecond)
	srv.SetLatency(wechat.DescribeCloudBaseRunEnvsPath, 100*time.Millisecond)
	runColdStarts(b, srv, []coldTarget{{"baseline", "baseline-store", env}, {"wxcloudenv", "wxcloudenv", env}})
}

// BenchmarkStoreColdStart is BenchmarkColdStart with a store configured:
// the baseline (static tokens, no store) against wxcloudenv that reads its
// minted tokens from a bbolt file or from Redis, both seeded by an earlier
// invocation.
func BenchmarkStoreColdStart(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	fileEnv := storeEnv(srv, "file://"+filepath.Join(b.TempDir(), "store.db"))
	redisEnv := storeEnv(srv, storetest.StartRedis(b))
	seed(b, fileEnv)
	seed(b, redisEnv)
	runColdStarts(b, srv, []coldTarget{
		{"baseline", "baseline", configtest.StaticVars(srv.URL)},
		{"wxcloudenv-file", "wxcloudenv", fileEnv},
		{"wxcloudenv-redis", "wxcloudenv", redisEnv},
	})
}

// BenchmarkStoreWarm is BenchmarkWarm with WXCLOUDENV_STORE=redis://… and
// minted tokens, against the baseline (static tokens, no store): once the tokens are in memory
// the store is not read (TestWarmReadsStoreOnlyWhenNeeded counts that).
func BenchmarkStoreWarm(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	runPair(b, srv, storeEnv(srv, storetest.StartRedis(b)), directAll)
}

// BenchmarkStoreBaselineWarm is the store baseline warm: one MGET and both POSTs
// per invocation, for comparison with the baseline without a store.
func BenchmarkStoreBaselineWarm(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	env := storeEnv(srv, storetest.StartRedis(b))
	seed(b, env)
	opt, err := redis.ParseURL(env["WXCLOUDENV_STORE"])
	if err != nil {
		b.Fatal(err)
	}
	opt.DisableIdentity = true
	rc := redis.NewClient(opt)
	defer rc.Close()
	ck, ak := baseline.StoreKeys(wechattest.ComponentAppID, wechattest.AuthorizerAppID)
	hc := newBaselineClient(b)
	for b.Loop() {
		ctx, cancel := lambdaContext()
		out, err := baseline.FetchFromRedis(ctx, rc, hc, srv.URL, ck, ak)
		cancel()
		if err != nil || len(out) == 0 {
			b.Fatalf("store baseline: %v", err)
		}
	}
}

// TestStoreColdStartMintsNothing: the built function, cold-started again
// and again with a Redis store that holds valid tokens (and with 100 ms
// latency on WeChat's endpoints, as the benchmark), makes no minting call;
// the store baseline reads the same tokens and gets the same answers.
func TestStoreColdStartMintsNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the built functions are linux binaries")
	}
	srv := wechattest.NewServer()
	defer srv.Close()
	for _, tc := range []struct{ name, url string }{
		{"redis", storetest.StartRedis(t)},
		{"file", "file://" + filepath.Join(t.TempDir(), "store.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := storeEnv(srv, tc.url)
			before := mints(srv)
			coldStart(t, build(t, "wxcloudenv", runtime.GOARCH), env) // the first instance mints
			if got := mints(srv) - before; got != 2 {
				t.Fatalf("first cold start minted %d tokens, want 2 (component and authorizer)", got)
			}
			srv.SetLatency(wechat.GetEnvInfoPath, 100*time.Millisecond)
			srv.SetLatency(wechat.DescribeCloudBaseRunEnvsPath, 100*time.Millisecond)
			defer srv.SetLatency(wechat.GetEnvInfoPath, 0)
			defer srv.SetLatency(wechat.DescribeCloudBaseRunEnvsPath, 0)
			before = mints(srv)
			bins := []string{"wxcloudenv"}
			if tc.name == "redis" {
				bins = append(bins, "baseline-store")
			}
			for _, name := range bins {
				for range 3 {
					coldStart(t, build(t, name, runtime.GOARCH), env)
				}
			}
			if got := mints(srv) - before; got != 0 {
				t.Errorf("cold starts with valid stored tokens minted %d tokens, want 0", got)
			}
		})
	}
}

// countingStore counts every operation on the token keys of the store it
// wraps (tokens, leases, refresh tokens, tickets) in ops, and the others
// (the alert state) in otherOps; families records every operation with
// its first key's family (the key up to an appid or a time stamp).
type countingStore struct {
	store.Store
	ops      atomic.Int64
	otherOps atomic.Int64
	mu       sync.Mutex
	log      []string
	families []string
}

// family is key up to its appid or time stamp.
func family(key string) string {
	for _, cut := range []string{":wx", ":2"} {
		if i := strings.Index(key, cut); i > 0 {
			key = key[:i]
		}
	}
	return key
}

// takeFamilies returns the operations recorded since the last call, sorted.
func (s *countingStore) takeFamilies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.families
	s.families = nil
	slices.Sort(out)
	return out
}

func (s *countingStore) count(op string, keys ...string) {
	s.mu.Lock()
	if op == "setmany" || len(keys) == 0 {
		s.families = append(s.families, op)
	} else {
		s.families = append(s.families, op+" "+family(keys[0]))
	}
	s.mu.Unlock()
	defer func() {
		if len(keys) > 0 && !isTokenKey(keys[0]) {
			s.otherOps.Add(1)
		}
	}()
	for _, k := range keys {
		rest := strings.TrimPrefix(k, "wxcloudenv:")
		for _, p := range []string{"token:", "lease:", "refresh:", "ticket:"} {
			if strings.HasPrefix(rest, p) {
				s.ops.Add(1)
				s.mu.Lock()
				s.log = append(s.log, op+" "+k)
				s.mu.Unlock()
				return
			}
		}
	}
}

func isTokenKey(k string) bool {
	rest := strings.TrimPrefix(k, "wxcloudenv:")
	for _, p := range []string{"token:", "lease:", "refresh:", "ticket:"} {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return false
}

func (s *countingStore) Get(ctx context.Context, key string) (store.Value, error) {
	s.count("get", key)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	s.count("getmany", keys...)
	return s.Store.GetMany(ctx, keys)
}

func (s *countingStore) Set(ctx context.Context, key string, v store.Value) error {
	s.count("set", key)
	return s.Store.Set(ctx, key, v)
}

func (s *countingStore) CompareAndSwap(ctx context.Context, key string, old []byte, v store.Value) (bool, error) {
	s.count("cas", key)
	return s.Store.CompareAndSwap(ctx, key, old, v)
}

func (s *countingStore) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	s.count("cad", key)
	return s.Store.CompareAndDelete(ctx, key, old)
}

// SetMany is one batch (one round trip on Redis; BatchWriteItem calls of
// 25 items sent at once on DynamoDB).
func (s *countingStore) SetMany(ctx context.Context, items []store.Item) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	s.count("setmany", keys...)
	return store.SetMany(ctx, s.Store, items)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.count("delete", key)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	s.count("keys", prefix)
	return s.Store.Keys(ctx, prefix)
}

// TestWarmReadsStoreOnlyWhenNeeded: with WXCLOUDENV_STORE=redis://…, an
// instance touches the token keys of the store only while its memory holds
// no valid token: the first invocation (which mints and stores), then
// none for many warm invocations; a second, cold instance reads the store
// once and mints nothing, then does not touch it either.
func TestWarmReadsStoreOnlyWhenNeeded(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	env := storeEnv(srv, storetest.StartRedis(t))
	instance := func() (func(), *countingStore) {
		h := newCore(t, maps.Clone(env))
		cs := &countingStore{}
		h.Runtimes.OpenStore = func(raw string, opts ...store.Option) (store.Store, error) {
			st, err := store.Open(raw, opts...)
			cs.Store = st
			return cs, err
		}
		return func() {
			ctx, cancel := lambdaContext()
			defer cancel()
			out, err := h.Invoke(ctx, directAll)
			if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
				t.Fatalf("invoke: %v %.300s", err, out)
			}
		}, cs
	}
	invoke, cs := instance()
	invoke()
	if cs.ops.Load() == 0 || mints(srv) != 2 {
		t.Fatalf("first invocation: %d store operations, %d mints; want some, and 2", cs.ops.Load(), mints(srv))
	}
	first, firstOther := cs.ops.Load(), cs.otherOps.Load()
	for range 50 {
		invoke()
	}
	if got := cs.ops.Load() - first; got != 0 {
		t.Errorf("50 warm invocations made %d operations on token keys, want 0: %v", got, cs.log[first:])
	}
	// What a warm invocation does read: the alert state (one GetMany of
	// the checked shards, internal/alertstate), once per invocation. This
	// is the store's whole cost in BenchmarkStoreWarm.
	if got := cs.otherOps.Load() - firstOther; got > 50 {
		t.Errorf("50 warm invocations made %d operations on the alert state, want at most one each", got)
	}
	invoke2, cs2 := instance()
	invoke2()
	if cs2.ops.Load() == 0 {
		t.Errorf("a cold instance did not read the store")
	}
	for _, op := range cs2.log {
		if !strings.HasPrefix(op, "get") {
			t.Errorf("a cold instance with valid stored tokens wrote: %s", op)
		}
	}
	cold := cs2.ops.Load()
	for range 50 {
		invoke2()
	}
	if got := cs2.ops.Load() - cold; got != 0 {
		t.Errorf("the second instance's warm invocations made %d operations, want 0: %v", got, cs2.log[cold:])
	}
	if mints(srv) != 2 {
		t.Errorf("%d mints in all, want 2", mints(srv))
	}
}
