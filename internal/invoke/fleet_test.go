package invoke_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/fleet"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// fleetEnv mints the component token and covers the whole fleet.
func fleetEnv(srv *wechattest.Server) env {
	e := mintEnv(srv)
	e["WXCLOUDENV_AUTHORIZERS"] = "all"
	e["WXCLOUDENV_CONCURRENCY"] = "4"
	return e
}

func fleetResult(t *testing.T, out []byte) (*invoke.Event, *invoke.Result) {
	t.Helper()
	var ev invoke.Event
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("%v\n%.400s", err, out)
	}
	for i := range ev.Results {
		if ev.Results[i].Operation == wechat.OpGetEnvInfo {
			return &ev, &ev.Results[i]
		}
	}
	t.Fatalf("no getenvinfo result: %.400s", out)
	return nil, nil
}

func byAuthorizer(r *invoke.Result) map[string]invoke.Result {
	m := map[string]invoke.Result{}
	for _, a := range r.Authorizers {
		m[a.Authorizer] = a
	}
	return m
}

// TestFleetFaults: each authorizer's failure is reported where it belongs,
// and the rest of the fleet's results are intact.
func TestFleetFaults(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ids := srv.SetFleet(12)
	srv.SetAuthorizer(ids[1], wechattest.Authorizer{Revoked: true})
	srv.SetAuthorizer(ids[2], wechattest.Authorizer{EnvInfoErrCode: 61007})
	srv.SetAuthorizer(ids[3], wechattest.Authorizer{EnvInfoErrCode: 85088})
	srv.SetAuthorizer(ids[4], wechattest.Authorizer{Status: "HALTED"})
	hs := newHarness(t, srv, fleetEnv(srv))
	out, err := hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 20*time.Second)
	if err != nil {
		t.Fatalf("a scheduled fleet run with failing authorizers failed the invocation: %v", err)
	}
	ev, r := fleetResult(t, out)
	got := byAuthorizer(r)
	want := map[string]struct {
		kind    string
		errcode int
	}{ids[1]: {"auth", 61023}, ids[2]: {"permission", 61007}, ids[3]: {"permission", 85088}}
	if r.OK || ev.OK || r.Total < 12 || r.Failed != len(want) || r.Error != nil {
		t.Errorf("fleet ok %v, total %d, failed %d, error %v", r.OK, r.Total, r.Failed, r.Error)
	}
	attempts := 0
	for _, id := range ids {
		a, ok := got[id]
		if !ok {
			t.Errorf("%s is missing from the fleet result", id)
			continue
		}
		attempts += a.Attempts
		if w, failing := want[id]; failing {
			if a.OK || a.Error == nil || a.Error.Kind != w.kind || a.Error.ErrCode != w.errcode {
				t.Errorf("%s = %+v, want %s %d", id, a.Error, w.kind, w.errcode)
			}
		} else if !a.OK || len(a.Response) == 0 {
			t.Errorf("%s = %+v, want its answer", id, a)
		}
	}
	if attempts > r.Attempts {
		t.Errorf("fleet attempts %d < the authorizers' %d", r.Attempts, attempts)
	}
	var halted bool
	for _, a := range ev.Alerts {
		halted = halted || a.Authorizer == ids[4] && a.Status == "HALTED"
		if a.Authorizer == "" && a.Operation == wechat.OpGetEnvInfo {
			t.Errorf("a fleet alert without its authorizer: %+v", a)
		}
	}
	if !halted {
		t.Errorf("no alert for %s's HALTED environment: %+v", ids[4], ev.Alerts)
	}
	// Over HTTP the same run answers 502, as any failure does.
	e := fleetEnv(srv)
	hs = newHarness(t, srv, e)
	out, _ = hs.invoke(t, httpGet("/envs?operations=getenvinfo&authorizers=all"), 20*time.Second)
	if d := decode(t, out); d.status != http.StatusBadGateway {
		t.Errorf("HTTP status %d, want 502", d.status)
	}
}

// TestFleetListFails: when the authorizer list cannot be read, the fleet
// result says so and a scheduled run fails; the authorizers the store knows
// are still checked.
func TestFleetListFails(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetFleet(3)
	srv.Always(wechat.GetAuthorizerListPath, wechattest.Fault{ErrCode: 45009})
	hs := newHarness(t, srv, fleetEnv(srv))
	_, err := hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "getenvinfo (rate_limit, errcode 45009)") {
		t.Fatalf("err = %v, want the list's failure", err)
	}
	out, err := hs.invoke(t, []byte(`{"authorizers":"all","operations":["getenvinfo"]}`), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, r := fleetResult(t, out)
	if r.Error == nil || r.Error.Kind != "rate_limit" || !strings.Contains(r.Error.Message, "as a whole") {
		t.Errorf("fleet error = %+v", r.Error)
	}
}

// TestFleetNamedAndSharded: a named list and shards narrow the run; the
// shards of N cover every authorizer once; a second run mints nothing.
func TestFleetNamedAndSharded(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ids := srv.SetFleet(20)
	hs := newHarness(t, srv, fleetEnv(srv))
	out, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":["`+ids[0]+`","`+ids[5]+`"]}`), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, r := fleetResult(t, out); r.Total != 2 || !r.OK {
		t.Errorf("named run: total %d ok %v", r.Total, r.OK)
	}
	seen := map[string]int{}
	for k := range 3 {
		out, err := hs.invoke(t, httpGet("/envs?operations=getenvinfo&authorizers=all&shard="+string(rune('0'+k))+"/3"), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ev invoke.Event
		if err := json.Unmarshal([]byte(decodeBody(t, out)), &ev); err != nil {
			t.Fatal(err)
		}
		for _, a := range ev.Results[0].Authorizers {
			seen[a.Authorizer]++
			if fleet.Shard(a.Authorizer, 3) != k {
				t.Errorf("%s ran in shard %d", a.Authorizer, k)
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("%s ran %d times over the 3 shards", id, seen[id])
		}
	}
	mints := srv.Mints("authorizer_token")
	if _, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":"all"}`), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := srv.Mints("authorizer_token"); n != mints {
		t.Errorf("a second run minted %d authorizer tokens, want none", n-mints)
	}
	for _, bad := range []string{"authorizers=wx-bad", "shard=3/3", "shard=1/0", "authorizers=all&shard=x"} {
		out, _ := hs.invoke(t, httpGet("/envs?"+bad), 5*time.Second)
		if d := decode(t, out); d.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, d.status)
		}
	}
	if _, err := hs.invoke(t, []byte(`{"authorizers":["wx bad"]}`), 5*time.Second); err == nil {
		t.Error("a direct payload with an invalid appid was accepted")
	}
}

// TestFleetDeadline: authorizers not reached in time are reported as
// timeout, never dropped.
func TestFleetDeadline(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ids := srv.SetFleet(8)
	for _, id := range ids {
		srv.SetAuthorizer(id, wechattest.Authorizer{Latency: 400 * time.Millisecond})
	}
	e := fleetEnv(srv)
	e["WXCLOUDENV_CONCURRENCY"] = "1"
	hs := newHarness(t, srv, e)
	out, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":"all"}`), 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, r := fleetResult(t, out)
	timeouts := 0
	for _, a := range r.Authorizers {
		if a.Error != nil && a.Error.Kind == "timeout" {
			timeouts++
		}
	}
	if r.Total < len(ids) || timeouts == 0 || r.Failed < timeouts {
		t.Errorf("total %d, failed %d, timeouts %d; want every authorizer reported, some as timeout", r.Total, r.Failed, timeouts)
	}
}

// TestFleetStoreFailsMidRun: a store that fails during the run is kind
// store where it was needed; tokens already in memory are not lost, and the
// rest of the fleet keeps its results.
func TestFleetStoreFailsMidRun(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ids := srv.SetFleet(3)
	st := &flakyStore{Memory: store.NewMemory()}
	hs := newHarness(t, srv, fleetEnv(srv))
	hs.h.Runtimes.OpenStore = func(string, ...store.Option) (store.Store, error) { return st, nil }
	if _, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":"all"}`), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	srv.AddAuthorizers("wxjoinedduringoutage")
	out, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":"all"}`), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, r := fleetResult(t, out)
	got := byAuthorizer(r)
	for _, id := range ids {
		if !got[id].OK {
			t.Errorf("%s lost its token in memory to the outage: %+v", id, got[id].Error)
		}
	}
	if a := got["wxjoinedduringoutage"]; a.OK || a.Error == nil || a.Error.Kind != "store" {
		t.Errorf("the new authorizer = %+v, want kind store", a.Error)
	}
	if r.Error == nil || r.Error.Kind != "store" {
		t.Errorf("fleet error = %+v, want kind store (its membership could not be read)", r.Error)
	}
}

// flakyStore is a Memory store that fails every operation while down.
type flakyStore struct {
	*store.Memory
	down atomic.Bool
}

func (f *flakyStore) err() error {
	if f.down.Load() {
		return fmt.Errorf("%w: test outage", store.ErrUnavailable)
	}
	return nil
}

func (f *flakyStore) Get(ctx context.Context, k string) (store.Value, error) {
	if err := f.err(); err != nil {
		return store.Value{}, err
	}
	return f.Memory.Get(ctx, k)
}

func (f *flakyStore) GetMany(ctx context.Context, ks []string) (map[string]store.Value, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Memory.GetMany(ctx, ks)
}

func (f *flakyStore) Set(ctx context.Context, k string, v store.Value) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Memory.Set(ctx, k, v)
}

func (f *flakyStore) CompareAndSwap(ctx context.Context, k string, old []byte, v store.Value) (bool, error) {
	if err := f.err(); err != nil {
		return false, err
	}
	return f.Memory.CompareAndSwap(ctx, k, old, v)
}

func (f *flakyStore) CompareAndDelete(ctx context.Context, k string, old []byte) (bool, error) {
	if err := f.err(); err != nil {
		return false, err
	}
	return f.Memory.CompareAndDelete(ctx, k, old)
}

func (f *flakyStore) Delete(ctx context.Context, k string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Memory.Delete(ctx, k)
}

func (f *flakyStore) Keys(ctx context.Context, p string) ([]string, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Memory.Keys(ctx, p)
}

func httpGet(pathAndQuery string) []byte {
	path, query, _ := strings.Cut(pathAndQuery, "?")
	b, _ := json.Marshal(map[string]any{"version": "2.0", "rawPath": path, "rawQueryString": query,
		"headers": map[string]string{}, "requestContext": map[string]any{"http": map[string]string{"method": "GET", "path": path}}})
	return b
}

func decodeBody(t *testing.T, out []byte) string {
	t.Helper()
	var m struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m.Body
}
