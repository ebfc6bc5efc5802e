package invoke_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// fakeInvoke is SCF's Invoke API keeping each asynchronous event, or
// refusing every call with code (its signature is checked in
// internal/queue's tests).
type fakeInvoke struct {
	mu     sync.Mutex
	events [][]byte
	code   string
}

func (f *fakeInvoke) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct{ ClientContext, InvocationType string }
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.code != "" {
		json.NewEncoder(w).Encode(map[string]any{"Response": map[string]any{"Error": map[string]string{"Code": f.code, "Message": "no such function"}, "RequestId": "r"}})
		return
	}
	if p.InvocationType == "Event" {
		f.events = append(f.events, []byte(p.ClientContext))
	}
	json.NewEncoder(w).Encode(map[string]any{"Response": map[string]any{"Result": map[string]any{"RetMsg": "async"}, "RequestId": "r"}})
}

func scfQueueEnv(t *testing.T, srv *wechattest.Server, api string, robots *notifytest.Server) env {
	e := mintEnv(srv)
	e["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	e["WXCLOUDENV_AUTHORIZERS"] = "all"
	e["WXCLOUDENV_STORE"] = "file://" + filepath.Join(t.TempDir(), "state.db")
	e["WXCLOUDENV_FLEET_QUEUE"] = "scf:default/wxcloudenv"
	e["WXCLOUDENV_FLEET_BATCH"] = "3"
	e["WXCLOUDENV_SCF_ENDPOINT"] = api
	e["WXCLOUDENV_NOTIFY"] = robots.WeComURL("scf-queue-robot")
	e["TENCENTCLOUD_SECRETID"], e["TENCENTCLOUD_SECRETKEY"], e["TENCENTCLOUD_SESSIONTOKEN"] = "AKIDtest", "scf-secret-key-test", "scf-session-test"
	return e
}

const timerTick = `{"Type":"Timer","TriggerName":"every-10-minutes","Time":"2026-12-06T12:00:00Z","Message":""}`

// TestSCFQueuedRun: on SCF, the timer plans the fleet into asynchronous
// invocations of the function, each batch delivered as the event itself
// is worked, and the run's one robot message follows the last batch; a
// redelivered batch changes nothing.
func TestSCFQueuedRun(t *testing.T) {
	srv := newServer(t)
	ids := srv.SetFleet(7) // and the server's one known authorizer: 8
	srv.SetAuthorizer(ids[4], wechattest.Authorizer{Revoked: true})
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	fake := &fakeInvoke{}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	hs := newHarness(t, srv, scfQueueEnv(t, srv, api.URL, robots))

	out, err := hs.invoke(t, []byte(timerTick), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ev invoke.Event
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Planned == nil || ev.Planned.Run != "20261206T120000Z" || ev.Planned.Batches != 3 || ev.Planned.Authorizers != 8 || len(fake.events) != 3 {
		t.Fatalf("planned %+v with %d invocations, want 8 authorizers in 3", ev.Planned, len(fake.events))
	}
	for i, batch := range append(fake.events, fake.events[0]) { // the first one delivered twice
		out, err := hs.invoke(t, batch, 20*time.Second)
		if err != nil || !strings.Contains(string(out), `"failed":0`) {
			t.Fatalf("batch %d: %s %v", i, out, err)
		}
	}
	got := robots.ReceivedBy("scf-queue-robot")
	if len(got) != 1 || strings.Count(got[0].Text, ids[4]) != 1 {
		t.Fatalf("the robot got %d messages, want one naming %s once: %+v", len(got), ids[4], got)
	}
	for _, id := range ids {
		if n := srv.AuthorizerCalls(id); id != ids[4] && n != 1 {
			t.Errorf("%s checked %d times, want once", id, n)
		}
	}
	if strings.Contains(hs.log.String(), "scf-secret-key-test") || strings.Contains(hs.log.String(), "scf-session-test") {
		t.Error("a Tencent credential reached the log")
	}
}

// TestSCFQueueRefused: an Invoke error that is not retryable fails the
// scheduled run with kind upstream and Tencent's error code.
func TestSCFQueueRefused(t *testing.T) {
	srv := newServer(t)
	srv.SetFleet(4)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	api := httptest.NewServer(&fakeInvoke{code: "ResourceNotFound.Function"})
	t.Cleanup(api.Close)
	hs := newHarness(t, srv, scfQueueEnv(t, srv, api.URL, robots))
	_, err := hs.invoke(t, []byte(timerTick), 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFound.Function") || !strings.Contains(err.Error(), "upstream") {
		t.Fatalf("err = %v, want the scheduled run failed with upstream and the code", err)
	}
}
