package invoke_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestKeepWorkers: with kept goroutines (as the platform mains run),
// invocations one after another and at once answer both operations
// intact, and a failing operation still reports its own outcome.
func TestKeepWorkers(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hs := newHarness(t, srv, staticEnv(srv))
	hs.h.KeepWorkers = 2
	check := func(t *testing.T) {
		out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		checkIntact(t, wechat.OpGetEnvInfo, out, wechattest.EnvInfoAnswer())
		checkIntact(t, wechat.OpDescribeCloudBaseRunEnvs, out, wechattest.RunEnvsAnswer())
	}
	for range 20 {
		check(t)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); check(t) }()
	}
	wg.Wait()
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":40001,"errmsg":"invalid credential"}`))
	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, out)
	results := d.body["results"].(map[string]any)
	if ge := results[wechat.OpGetEnvInfo].(map[string]any); ge["ok"] != false {
		t.Errorf("getenvinfo = %v, want its failure", ge)
	}
	checkIntact(t, wechat.OpDescribeCloudBaseRunEnvs, out, wechattest.RunEnvsAnswer())
}
