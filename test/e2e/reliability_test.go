package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// The tests of docs/reliability.md#what-a-person-can-rely-on, through the
// built Lambda binary.

// acceptedBy returns the messages the robot with token accepted.
func acceptedBy(robots *notifytest.Server, token string) []notifytest.Received {
	var out []notifytest.Received
	for _, r := range robots.ReceivedBy(token) {
		if r.Accepted {
			out = append(out, r)
		}
	}
	return out
}

// invokeEvent invokes api once with an empty direct payload and decodes
// the event (a failed invocation fails the test).
func invokeEvent(t *testing.T, api runtimeAPI, timeout time.Duration) *invoke.Event {
	t.Helper()
	a, _ := api.invoke(t, []byte(`{}`), timeout)
	if a.isError {
		t.Fatalf("invocation failed: %.400s", a.body)
	}
	var ev invoke.Event
	if err := json.Unmarshal(a.body, &ev); err != nil {
		t.Fatalf("%v\n%.400s", err, a.body)
	}
	return &ev
}

// TestFleetOutageResolvesThroughBinary: a fleet-wide failure (the
// component token cannot be minted, errcode 40125) sends one PLATFORM
// message (docs/incidents.md#root-cause); WeChat's recovery sends one RESOLVED; a second fleet-wide
// outage (the authorizer list refused, 61005) is a new change with a new
// since, and sends one message.
func TestFleetOutageResolvesThroughBinary(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetFleet(3)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	env := configtest.MintingVars(srv.URL)
	env["WECHAT_TIMEOUT"] = "5s"
	env["WECHAT_RETRIES"] = "0"
	env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(e2eRobotKey)
	env["WXCLOUDENV_STORE"] = "file://" + filepath.Join(t.TempDir(), "state.db")
	api, out := startLambda(t, env)

	fleetChange := func(ev *invoke.Event) (invoke.Change, bool) {
		for _, c := range ev.Changes {
			// A fleet that cannot be read as a whole is a platform-level
			// failure: platform:component_token, platform:authorizer_list.
			if c.Authorizer == "" && strings.HasPrefix(c.Operation, "platform:") && c.Resource == "operation" {
				return c, true
			}
		}
		return invoke.Change{}, false
	}

	// 1. The component token cannot be minted.
	srv.Always(wechat.ComponentTokenPath, wechattest.Fault{ErrCode: 40125, ErrMsg: "invalid appsecret"})
	ev := invokeEvent(t, api, 60*time.Second)
	first, ok := fleetChange(ev)
	if !ok || first.Change != "new" || first.ErrCode != 40125 {
		t.Fatalf("outage: changes %+v, want the fleet's 40125 as new", ev.Changes)
	}
	if got := acceptedBy(robots, e2eRobotKey); len(got) != 1 || !strings.Contains(got[0].Text, "PLATFORM") || !strings.Contains(got[0].Text, "40125") {
		t.Fatalf("outage: messages %+v, want one PLATFORM 40125", got)
	}

	// 2. WeChat recovers.
	srv.Always(wechat.ComponentTokenPath, wechattest.Fault{})
	ev = invokeEvent(t, api, 60*time.Second)
	if c, ok := fleetChange(ev); !ok || c.Change != "resolved" {
		t.Fatalf("recovery: changes %+v, want the fleet's failure resolved", ev.Changes)
	}
	if got := acceptedBy(robots, e2eRobotKey); len(got) != 2 || !strings.Contains(got[1].Text, "RESOLVED") {
		t.Fatalf("recovery: %d messages, want a second one with RESOLVED", len(got))
	}

	// 3. A second fleet-wide outage, a little later.
	time.Sleep(1100 * time.Millisecond) // a since in a later second
	srv.Always(wechat.GetAuthorizerListPath, wechattest.Fault{ErrCode: 61005, ErrMsg: "component ticket is expired"})
	ev = invokeEvent(t, api, 60*time.Second)
	second, ok := fleetChange(ev)
	if !ok || second.Change != "new" || second.ErrCode != 61005 {
		t.Fatalf("second outage: changes %+v, want the fleet's 61005 as new", ev.Changes)
	}
	if !second.Since.After(first.Since) {
		t.Errorf("second outage since %v, want after the first's %v", second.Since, first.Since)
	}
	if got := acceptedBy(robots, e2eRobotKey); len(got) != 3 || !strings.Contains(got[2].Text, "61005") {
		t.Fatalf("second outage: %d messages, want a third one with 61005", len(got))
	}
	if strings.Contains(out.String(), e2eRobotKey) {
		t.Error("the robot's key reached the process output")
	}
}

// haltedEnvs is a getenvinfo answer with n HALTED environments.
func haltedEnvs(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"errcode":0,"errmsg":"ok","info_list":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"env":"prod-%02d","alias":"prod","status":"HALTED"}`, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// TestOwedChangesThroughBinary: a robot that answered 503, was over its
// rate limit, or whose send was cut off by the invocation's deadline gets
// the owed changes with the next run, exactly once though two processes
// run that tick at the same moment.
func TestOwedChangesThroughBinary(t *testing.T) {
	t.Parallel()
	const n = 21
	redisURL := storetest.StartRedis(t)
	cases := []struct {
		name    string
		fail    func(t *testing.T, robots *notifytest.Server, st store.Store, prefix string)
		heal    func(t *testing.T, robots *notifytest.Server, st store.Store, prefix string)
		timeout time.Duration
		status  string
	}{
		{"503", func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(e2eRobotKey, notifytest.Answer{HTTPStatus: http.StatusServiceUnavailable})
		}, func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(e2eRobotKey, notifytest.Answer{})
		}, 30 * time.Second, "failed"},
		{"rate limited", func(t *testing.T, r *notifytest.Server, st store.Store, prefix string) {
			// The robot's 20 messages of this minute and the next are
			// spent.
			chans, err := notify.Parse(r.WeComURL(e2eRobotKey), notify.Secrets{})
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range []time.Time{time.Now(), time.Now().Add(time.Minute)} {
				for range 20 {
					if ok, err := notify.Allow(t.Context(), st, prefix, chans[0], at); err != nil || !ok {
						t.Fatalf("spending the rate: %v %v", ok, err)
					}
				}
			}
		}, func(t *testing.T, _ *notifytest.Server, st store.Store, prefix string) {
			// The minutes pass.
			keys, err := st.Keys(t.Context(), prefix+"notify:rate:")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if err := st.Delete(t.Context(), k); err != nil {
					t.Fatal(err)
				}
			}
		}, 30 * time.Second, "rate_limited"},
		{"cut off", func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(e2eRobotKey, notifytest.Answer{Delay: time.Minute})
		}, func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(e2eRobotKey, notifytest.Answer{})
		}, 3 * time.Second, "failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			srv.SetAnswer(wechat.GetEnvInfoPath, haltedEnvs(n))
			robots := notifytest.NewServer(notifytest.Options{})
			t.Cleanup(robots.Close)
			prefix := "wxcloudenv-" + strings.ReplaceAll(tc.name, " ", "-") + ":"
			env := alertProcessEnv(srv, robots, redisURL)
			env["WXCLOUDENV_STORE_PREFIX"] = prefix
			st, err := store.Open(redisURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			apis := make([]runtimeAPI, 2)
			outs := make([]*safeBuffer, 2)
			for i := range apis {
				apis[i], outs[i] = startLambda(t, env)
			}

			tc.fail(t, robots, st, prefix)
			ev := invokeEvent(t, apis[0], tc.timeout)
			if len(ev.Changes) != n || len(ev.Notifications) != 1 {
				t.Fatalf("first run: %d changes, notifications %+v", len(ev.Changes), ev.Notifications)
			}
			if o := ev.Notifications[0]; o.Status != tc.status || o.Owed != n {
				t.Fatalf("first run: notification %+v, want %s with %d owed", o, tc.status, n)
			}
			if got := acceptedBy(robots, e2eRobotKey); len(got) != 0 {
				t.Fatalf("the robot accepted %d messages in the first run", len(got))
			}
			tc.heal(t, robots, st, prefix)

			// The next tick: two processes at the same moment.
			var wg sync.WaitGroup
			evs := make([]*invoke.Event, 2)
			gate := make(chan struct{})
			for i, api := range apis {
				wg.Go(func() {
					<-gate
					a, _, err := api.Invoke([]byte(`{}`), 60*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					var ev invoke.Event
					if err := json.Unmarshal(a.Body, &ev); err != nil {
						t.Errorf("process %d: %v: %.300s", i, err, a.Body)
						return
					}
					evs[i] = &ev
				})
			}
			close(gate)
			wg.Wait()
			got := acceptedBy(robots, e2eRobotKey)
			if len(got) != 1 {
				t.Fatalf("next run: the robot accepted %d messages, want exactly 1", len(got))
			}
			if !strings.Contains(got[0].Text, fmt.Sprintf("%d new", n)) {
				t.Errorf("the owed message does not carry the %d changes:\n%s", n, got[0].Text)
			}
			for i := range n {
				if env := fmt.Sprintf("prod-%02d", i); !strings.Contains(got[0].Text, env) && !strings.Contains(got[0].Text, "more") {
					t.Errorf("the owed message lacks %s:\n%s", env, got[0].Text)
				}
			}
			for i, ev := range evs {
				if ev == nil {
					continue
				}
				if len(ev.Changes) != 0 {
					t.Errorf("process %d claimed %d changes again", i, len(ev.Changes))
				}
				for _, o := range ev.Notifications {
					if o.Owed != 0 {
						t.Errorf("process %d: still owed %+v", i, o)
					}
				}
			}
			for i, out := range outs {
				if strings.Contains(out.String(), e2eRobotKey) {
					t.Errorf("the robot's key reached process %d's output", i)
				}
			}
		})
	}
}

// TestDeadlineHoldsThroughBinary: 5,000 authorizers, too many to check
// within a 10 s deadline, and every one of them new to the alert state
// and to the robot: the answer still reaches the platform at least 100 ms
// before the deadline. It asserts the order of the two instants (the
// deadline is set after the test notes its start), not a speed.
func TestDeadlineHoldsThroughBinary(t *testing.T) {
	t.Parallel()
	const (
		fleet    = 5000
		deadline = 10 * time.Second
		margin   = 100 * time.Millisecond
	)
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetFleet(fleet) // and the authorizer of configtest.MintingVars
	srv.SetLatency(wechat.GetEnvInfoPath, 100*time.Millisecond)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	env := configtest.MintingVars(srv.URL)
	env["WECHAT_TIMEOUT"] = "5s"
	env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(e2eRobotKey)
	env["WXCLOUDENV_STORE"] = storetest.StartRedis(t)
	api, out := startLambda(t, env)

	start := time.Now() // the emulator's deadline is later than start+deadline
	a, _ := api.invoke(t, []byte(`{}`), deadline)
	answered := time.Now()
	if a.isError {
		t.Fatalf("invocation failed: %.400s", a.body)
	}
	if latest := start.Add(deadline - margin); answered.After(latest) {
		t.Errorf("answered %v after the start, later than %v before the %v deadline", answered.Sub(start), margin, deadline)
	}
	_, r := getEnvInfoResult(t, a.body)
	notReached := 0
	for _, au := range r.Authorizers {
		if au.Error != nil && au.Error.Kind == "timeout" {
			notReached++
		}
	}
	if r.Total < fleet || notReached == 0 {
		t.Errorf("fleet total %d with %d not reached: the run should have met its deadline", r.Total, notReached)
	}
	t.Logf("answered %v after the start; %d of %d authorizers not reached", answered.Sub(start).Round(time.Millisecond), notReached, r.Total)
	if strings.Contains(out.String(), `"msg":"changes owed to a robot were dropped"`) {
		t.Errorf("claimed changes were dropped at the deadline instead of deferred:\n%.3000s", out.String())
	}
	if strings.Contains(out.String(), "panic") {
		t.Errorf("the function panicked:\n%.2000s", out.String())
	}
}
