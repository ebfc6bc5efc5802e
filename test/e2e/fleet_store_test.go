package e2e

import (
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func getEnvInfoResult(t *testing.T, body []byte) (*invoke.Event, *invoke.Result) {
	t.Helper()
	var ev invoke.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("%v\n%.400s", err, body)
	}
	for i := range ev.Results {
		if ev.Results[i].Operation == wechat.OpGetEnvInfo {
			return &ev, &ev.Results[i]
		}
	}
	t.Fatalf("no getenvinfo result: %.400s", body)
	return nil, nil
}

// TestFleetThroughBinary: a scheduled fleet run of the built Lambda binary
// with per-authorizer faults succeeds as an invocation and reports each
// failure in the event; a NEW process on the same file store, within the
// tokens' life, mints nothing (a cold start that finds valid tokens makes
// zero minting calls).
func TestFleetThroughBinary(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.SetFleet(6)
	srv.SetAuthorizer(ids[1], wechattest.Authorizer{Revoked: true})
	srv.SetAuthorizer(ids[2], wechattest.Authorizer{EnvInfoErrCode: 61007})
	srv.SetAuthorizer(ids[3], wechattest.Authorizer{EnvInfoErrCode: 85088})
	srv.SetAuthorizer(ids[4], wechattest.Authorizer{Status: "HALTED"})
	env := configtest.MintingVars(srv.URL)
	env["WECHAT_TIMEOUT"] = "5s"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	env["WXCLOUDENV_CONCURRENCY"] = "2"
	env["WXCLOUDENV_STORE"] = "file://" + filepath.Join(t.TempDir(), "state.db")
	want := map[string]struct {
		kind    string
		errcode int
	}{ids[1]: {"auth", 61023}, ids[2]: {"permission", 61007}, ids[3]: {"permission", 85088}}

	check := func(t *testing.T, body []byte) {
		t.Helper()
		ev, r := getEnvInfoResult(t, body)
		got := map[string]invoke.Result{}
		for _, a := range r.Authorizers {
			got[a.Authorizer] = a
		}
		if r.OK || r.Total < len(ids) || r.Failed != len(want) || r.Error != nil {
			t.Errorf("fleet ok %v, total %d, failed %d, error %v", r.OK, r.Total, r.Failed, r.Error)
		}
		for _, id := range ids {
			a, ok := got[id]
			switch w, failing := want[id]; {
			case !ok:
				t.Errorf("%s is missing from the fleet result", id)
			case failing && (a.OK || a.Error == nil || a.Error.Kind != w.kind || a.Error.ErrCode != w.errcode):
				t.Errorf("%s = %+v, want %s %d", id, a.Error, w.kind, w.errcode)
			case !failing && !a.OK:
				t.Errorf("%s = %+v, want ok", id, a.Error)
			}
		}
		halted := false
		for _, a := range ev.Alerts {
			halted = halted || a.Authorizer == ids[4] && a.Status == "HALTED"
		}
		if !halted {
			t.Errorf("no alert for %s's HALTED environment: %+v", ids[4], ev.Alerts)
		}
	}

	api, _ := startLambda(t, env)
	a, _ := api.invoke(t, readEvent(t, "aws-schedule.json"), 60*time.Second)
	// A scheduled run fails its invocation only when an operation fails as
	// a whole; per-authorizer failures are in the event.
	if a.isError {
		t.Fatalf("a scheduled fleet run with failing authorizers failed the invocation: %s", a.body)
	}
	check(t, a.body)
	authMints, compMints := srv.Mints("authorizer"), srv.Mints("component")
	if authMints == 0 || compMints != 1 {
		t.Fatalf("first run minted %d authorizer and %d component tokens", authMints, compMints)
	}

	// A new process (a cold start) on the same store.
	api2, _ := startLambda(t, env)
	a, _ = api2.invoke(t, readEvent(t, "aws-schedule.json"), 60*time.Second)
	if a.isError {
		t.Fatalf("second run: %s", a.body)
	}
	check(t, a.body)
	if d, c := srv.Mints("authorizer")-authMints, srv.Mints("component")-compMints; d != 0 || c != 0 {
		t.Errorf("a cold start that finds valid tokens minted %d authorizer and %d component tokens, want none", d, c)
	}
	for _, id := range ids {
		if id != ids[1] && srv.AuthorizerMints(id) != 1 {
			t.Errorf("%s minted %d times over the two runs, want once", id, srv.AuthorizerMints(id))
		}
	}
}

// TestStoreColdStartStampede: twenty processes of the built Lambda binary
// start cold at once against one shared store and are each invoked once:
// exactly one mint per token.
func TestStoreColdStartStampede(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name  string
		store func(t *testing.T) (string, map[string]string)
	}{
		{"redis", func(t *testing.T) (string, map[string]string) { return storetest.StartRedis(t), nil }},
		{"dynamodb", func(t *testing.T) (string, map[string]string) { return storetest.StartDynamo(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			url, extra := st.store(t)
			env := configtest.MintingVars(srv.URL)
			env["WECHAT_TIMEOUT"] = "20s"
			env["WXCLOUDENV_STORE"] = url
			for k, v := range extra {
				env[k] = v
			}
			const n = 20
			apis := make([]runtimeAPI, n)
			for i := range apis {
				apis[i], _ = startLambda(t, env)
			}
			var wg sync.WaitGroup
			bodies := make([][]byte, n)
			errs := make([]error, n)
			start := make(chan struct{})
			for i, api := range apis {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					a, _, err := api.Invoke([]byte(`{}`), 120*time.Second)
					if err != nil {
						errs[i] = err
						return
					}
					bodies[i] = a.Body
				}()
			}
			close(start)
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Errorf("process %d: %v", i, errs[i])
					continue
				}
				if ev, _ := eventOf(t, bodies[i]); ev["ok"] != true {
					t.Errorf("process %d: %s", i, bodies[i])
				}
			}
			if c, a := srv.Mints("component"), srv.Mints("authorizer"); c != 1 || a != 1 {
				t.Errorf("%d cold processes minted %d component and %d authorizer tokens, want one each", n, c, a)
			}
			if c := srv.Calls(wechat.ComponentTokenPath); c != 1 {
				t.Errorf("%d calls to the component token endpoint, want 1", c)
			}
		})
	}
}
