package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/emf"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const e2eRobotKey = "wecom-e2e-robot-key-93b1c7"

var (
	haltedAnswer  = []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"prod-7c21be","alias":"prod","status":"HALTED"},{"env":"test-1","status":"NORMAL"}]}`)
	healthyAnswer = []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"prod-7c21be","alias":"prod","status":"NORMAL"},{"env":"test-1","status":"NORMAL"}]}`)
)

func alertProcessEnv(srv *wechattest.Server, robots *notifytest.Server, storeURL string) map[string]string {
	e := wechatEnv(srv)
	e["WECHAT_TIMEOUT"] = "5s"
	e["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	e["WXCLOUDENV_NOTIFY"] = robots.WeComURL(e2eRobotKey)
	e["WXCLOUDENV_STORE"] = storeURL
	return e
}

// rawLogLine is the function's raw JSON log line for a request id.
func rawLogLine(t *testing.T, out *safeBuffer, id string) []byte {
	t.Helper()
	logLine(t, out, id) // waits for it
	for _, l := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id {
			return []byte(l)
		}
	}
	t.Fatalf("no log line for %s", id)
	return nil
}

// runEvent invokes the process once with a direct payload and decodes the
// event; it checks the invocation's EMF log line.
func runEvent(t *testing.T, api runtimeAPI, out *safeBuffer, answers *strings.Builder) *invoke.Event {
	t.Helper()
	a, id := api.invoke(t, []byte(`{}`), 30*time.Second)
	if a.isError {
		t.Fatalf("invocation failed: %s", a.body)
	}
	answers.Write(a.body)
	var ev invoke.Event
	if err := json.Unmarshal(a.body, &ev); err != nil {
		t.Fatal(err)
	}
	if err := emf.Validate(rawLogLine(t, out, id)); err != nil {
		t.Errorf("the log line is not valid EMF: %v", err)
	}
	return &ev
}

// TestAlertsThroughBinary: alerts reach a robot from the built Lambda
// binary, with the alert state in a file store, and once in Redis.
func TestAlertsThroughBinary(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "state.db") }},
		{"redis", func(t *testing.T) string { return storetest.StartRedis(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			robots := notifytest.NewServer(notifytest.Options{})
			t.Cleanup(robots.Close)
			api, out := startLambda(t, alertProcessEnv(srv, robots, st.url(t)))
			var answers strings.Builder

			srv.SetAnswer(wechat.GetEnvInfoPath, haltedAnswer)
			ev := runEvent(t, api, out, &answers)
			if len(ev.Changes) != 1 || ev.Changes[0].Change != "new" || ev.Changes[0].Env != "prod-7c21be" || len(ev.Alerts) != 1 || ev.Alerts[0].Since.IsZero() {
				t.Fatalf("first run: changes %+v alerts %+v", ev.Changes, ev.Alerts)
			}
			if len(ev.Notifications) != 1 || ev.Notifications[0].Status != "sent" {
				t.Errorf("notifications = %+v", ev.Notifications)
			}
			msgs := robots.ReceivedBy(e2eRobotKey)
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "prod-7c21be") || !strings.Contains(msgs[0].Text, "HALTED") {
				t.Fatalf("WeCom got %+v, want one message naming the environment", msgs)
			}
			since := ev.Alerts[0].Since

			ev = runEvent(t, api, out, &answers)
			if len(ev.Changes) != 0 || ev.Notifications != nil || len(ev.Alerts) != 1 || !ev.Alerts[0].Since.Equal(since) {
				t.Errorf("same state: changes %+v notifications %+v alerts %+v (since was %q)", ev.Changes, ev.Notifications, ev.Alerts, since)
			}
			if n := len(robots.ReceivedBy(e2eRobotKey)); n != 1 {
				t.Errorf("the same state sent again: %d messages", n)
			}

			// Recovery, with the robot answering an errcode.
			robots.SetAnswer(e2eRobotKey, notifytest.Answer{ErrCode: 93000, ErrMsg: "invalid webhook url"})
			srv.SetAnswer(wechat.GetEnvInfoPath, healthyAnswer)
			ev = runEvent(t, api, out, &answers)
			if !ev.OK || len(ev.Changes) != 1 || ev.Changes[0].Change != "resolved" {
				t.Fatalf("recovery: ok %v changes %+v", ev.OK, ev.Changes)
			}
			if len(ev.Notifications) != 1 || ev.Notifications[0].Status != "failed" || !strings.Contains(ev.Notifications[0].Error, "93000") {
				t.Errorf("a robot's errcode: notifications %+v", ev.Notifications)
			}
			if n := len(robots.ReceivedBy(e2eRobotKey)); n != 2 || !strings.Contains(robots.ReceivedBy(e2eRobotKey)[1].Text, "prod-7c21be") {
				t.Errorf("recovery: %d messages, want one resolved message more", n)
			}

			// Halted again, the robot answering HTTP 500.
			robots.SetAnswer(e2eRobotKey, notifytest.Answer{HTTPStatus: 500})
			srv.SetAnswer(wechat.GetEnvInfoPath, haltedAnswer)
			ev = runEvent(t, api, out, &answers)
			if !ev.OK || len(ev.Changes) != 1 || len(ev.Notifications) != 1 || ev.Notifications[0].Status != "failed" || !strings.Contains(ev.Notifications[0].Error, "500") {
				t.Errorf("a robot's HTTP 500: ok %v changes %+v notifications %+v", ev.OK, ev.Changes, ev.Notifications)
			}

			if strings.Contains(answers.String(), e2eRobotKey) || strings.Contains(out.String(), e2eRobotKey) {
				t.Errorf("the robot's key reached an answer or the process output")
			}
		})
	}
}

// TestAlertsTwoProcessesOneTick: two bootstraps sharing a file store,
// invoked at the same moment, send one message between them.
func TestAlertsTwoProcessesOneTick(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	srv.SetAnswer(wechat.GetEnvInfoPath, haltedAnswer)
	env := alertProcessEnv(srv, robots, "file://"+filepath.Join(t.TempDir(), "state.db"))
	type proc struct {
		api runtimeAPI
		out *safeBuffer
	}
	procs := make([]proc, 2)
	for i := range procs {
		procs[i].api, procs[i].out = startLambda(t, env)
	}
	var wg sync.WaitGroup
	changes := make([]int, 2)
	bodies := make([]string, 2)
	start := make(chan struct{})
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, _, err := p.api.Invoke(readEventBytes(), 60*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			bodies[i] = string(a.Body)
			var ev invoke.Event
			json.Unmarshal(a.Body, &ev)
			changes[i] = len(ev.Changes)
		}()
	}
	close(start)
	wg.Wait()
	if n := len(robots.ReceivedBy(e2eRobotKey)); changes[0]+changes[1] != 1 || n != 1 {
		t.Errorf("changes %v, WeCom messages %d; want the change claimed and sent once\n%s\n%s", changes, n, bodies[0], bodies[1])
	}
	for i, p := range procs {
		if strings.Contains(p.out.String(), e2eRobotKey) || strings.Contains(bodies[i], e2eRobotKey) {
			t.Errorf("the robot's key reached process %d's output", i)
		}
	}
}

func readEventBytes() []byte { return []byte(`{}`) }
