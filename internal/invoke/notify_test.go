package invoke_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const robotKey = "wecom-robot-key-7c1f0e2d"

// alertHarness is an instance whose alert state lives in st, notifying one
// WeCom robot and one DingTalk robot.
func alertHarness(t *testing.T, srv *wechattest.Server, robots *notifytest.Server, st store.Store) *harness {
	t.Helper()
	e := staticEnv(srv)
	e["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	e["WXCLOUDENV_NOTIFY"] = robots.WeComURL(robotKey) + "," + robots.DingTalkURL("dingtalk-robot-token-55aa")
	e["WXCLOUDENV_NOTIFY_DINGTALK_SECRET"] = "SECdingtalk-secret-0123456789"
	hs := newHarness(t, srv, e)
	hs.h.Runtimes.OpenStore = func(string, ...store.Option) (store.Store, error) { return st, nil }
	return hs
}

func run(t *testing.T, hs *harness) *invoke.Event {
	t.Helper()
	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ev invoke.Event
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// TestAlertsReachPeople: a new HALTED environment sends exactly one message
// per robot naming it; the same state sends nothing and keeps since;
// recovery sends one resolved; a failing robot leaves the run ok.
func TestAlertsReachPeople(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	robots := notifytest.NewServer(notifytest.Options{DingTalkSecret: "SECdingtalk-secret-0123456789"})
	t.Cleanup(robots.Close)
	halted := []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"prod-7c21be","alias":"prod","status":"HALTED"},{"env":"test-1","status":"NORMAL"}]}`)
	healthy := []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"prod-7c21be","alias":"prod","status":"NORMAL"},{"env":"test-1","status":"NORMAL"}]}`)
	hs := alertHarness(t, srv, robots, store.NewMemory())

	srv.SetAnswer(wechat.GetEnvInfoPath, halted)
	ev := run(t, hs)
	if len(ev.Changes) != 1 || ev.Changes[0].Change != "new" || ev.Changes[0].Env != "prod-7c21be" || ev.Alerts[0].Since.IsZero() {
		t.Fatalf("first run: changes %+v alerts %+v", ev.Changes, ev.Alerts)
	}
	if len(ev.Notifications) != 2 || ev.Notifications[0].Status != "sent" || ev.Notifications[1].Status != "sent" {
		t.Errorf("notifications = %+v", ev.Notifications)
	}
	msgs := robots.ReceivedBy(robotKey)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "prod-7c21be") || !strings.Contains(msgs[0].Text, "HALTED") {
		t.Fatalf("WeCom got %+v, want one message naming the environment", msgs)
	}
	since := ev.Alerts[0].Since

	ev = run(t, hs)
	if len(ev.Changes) != 0 || ev.Notifications != nil || !ev.Alerts[0].Since.Equal(since) {
		t.Errorf("same state: changes %+v, notifications %+v, since %v (was %v)", ev.Changes, ev.Notifications, ev.Alerts[0].Since, since)
	}
	if n := len(robots.ReceivedBy(robotKey)); n != 1 {
		t.Errorf("the same state sent again: %d messages", n)
	}

	robots.SetAnswer(robotKey, notifytest.Answer{ErrCode: 93000, ErrMsg: "invalid webhook url"})
	srv.SetAnswer(wechat.GetEnvInfoPath, healthy)
	ev = run(t, hs)
	if !ev.OK || len(ev.Changes) != 1 || ev.Changes[0].Change != "resolved" {
		t.Fatalf("recovery: ok %v changes %+v", ev.OK, ev.Changes)
	}
	var wecom invoke.Notification
	for _, n := range ev.Notifications {
		if strings.HasPrefix(n.Channel, "wecom") {
			wecom = n
		}
	}
	if wecom.Status != "failed" || !strings.Contains(wecom.Error, "93000") {
		t.Errorf("a robot's errcode: notification %+v", wecom)
	}
	out := hs.log.String()
	for _, e := range ev.Notifications {
		out += e.Error
	}
	for _, secret := range []string{robotKey, "dingtalk-robot-token-55aa", "SECdingtalk-secret-0123456789"} {
		if strings.Contains(out, secret) {
			t.Errorf("a robot's key or secret reached the output")
		}
	}
}

// TestAlertsTwoInstancesOneTick: two instances sharing the store, running
// the same tick, send one message between them.
func TestAlertsTwoInstancesOneTick(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	robots := notifytest.NewServer(notifytest.Options{DingTalkSecret: "SECdingtalk-secret-0123456789"})
	t.Cleanup(robots.Close)
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"prod-7c21be","status":"UNAVAILABLE"}]}`))
	shared := store.NewMemory()
	a, b := alertHarness(t, srv, robots, shared), alertHarness(t, srv, robots, shared)
	var wg sync.WaitGroup
	changes := make([]int, 2)
	for i, hs := range []*harness{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			var ev invoke.Event
			json.Unmarshal(out, &ev)
			changes[i] = len(ev.Changes)
		}()
	}
	wg.Wait()
	if changes[0]+changes[1] != 1 || len(robots.ReceivedBy(robotKey)) != 1 {
		t.Errorf("changes %v, WeCom messages %d; want the change claimed and sent once", changes, len(robots.ReceivedBy(robotKey)))
	}
}
