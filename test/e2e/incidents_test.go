package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// The robots' keys of the incident tests; none may reach any output.
const (
	stormWeCom    = "wecom-storm-key-5d0a1e"
	stormDingTalk = "dingtalk-storm-token-77b2c4"
	stormFeishu   = "feishu-storm-hook-3f9e80"
)

// storm is one built Lambda process watching a fleet on wechattest, with
// a file store and WeCom, DingTalk and Feishu robots on notifytest.
type storm struct {
	srv     *wechattest.Server
	robots  *notifytest.Server
	api     runtimeAPI
	out     *safeBuffer
	ids     []string // the generated fleet
	answers strings.Builder
}

// newStorm starts a process over a fleet of n generated authorizers (plus
// wechattest's default one); set changes the fleet before the process
// starts; extra variables override the defaults.
func newStorm(t *testing.T, n int, set func(s *storm), extra map[string]string) *storm {
	t.Helper()
	s := &storm{srv: wechattest.NewServer(), robots: notifytest.NewServer(notifytest.Options{})}
	t.Cleanup(s.srv.Close)
	t.Cleanup(s.robots.Close)
	s.ids = s.srv.SetFleet(n)
	if set != nil {
		set(s)
	}
	env := configtest.MintingVars(s.srv.URL)
	env["WECHAT_TIMEOUT"] = "5s"
	env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	env["WXCLOUDENV_CONCURRENCY"] = "64"
	env["WXCLOUDENV_STORE"] = "file://" + filepath.Join(t.TempDir(), "state.db")
	env["WXCLOUDENV_NOTIFY"] = strings.Join([]string{s.robots.WeComURL(stormWeCom), s.robots.DingTalkURL(stormDingTalk),
		s.robots.FeishuURL(stormFeishu)}, ",")
	for k, v := range extra {
		env[k] = v
	}
	s.api, s.out = startLambda(t, env)
	t.Cleanup(func() {
		all := s.answers.String() + s.out.String()
		for _, key := range []string{stormWeCom, stormDingTalk, stormFeishu} {
			if strings.Contains(all, key) {
				t.Errorf("the robot key %q reached an answer or the process output", key)
			}
		}
	})
	return s
}

// run invokes the process once with a deadline of timeout and decodes the
// event; it returns the messages each robot got in this run.
func (s *storm) run(t *testing.T, timeout time.Duration) (*invoke.Event, map[string][]notifytest.Received) {
	t.Helper()
	before := map[string]int{}
	for _, k := range []string{stormWeCom, stormDingTalk, stormFeishu} {
		before[k] = len(s.robots.ReceivedBy(k))
	}
	a, _ := s.api.invoke(t, []byte(`{}`), timeout)
	if a.isError {
		t.Fatalf("invocation failed: %.2000s", a.body)
	}
	s.answers.Write(a.body)
	ev, _ := getEnvInfoResult(t, a.body)
	got := map[string][]notifytest.Received{}
	for k, n := range before {
		got[k] = s.robots.ReceivedBy(k)[n:]
	}
	return ev, got
}

// lines returns a message's lines after its title.
func lines(m notifytest.Received) []string {
	l := strings.Split(m.Text, "\n")
	return l[1:]
}

// one fails unless each robot got exactly one message, and returns
// WeCom's.
func one(t *testing.T, got map[string][]notifytest.Received) notifytest.Received {
	t.Helper()
	for k, msgs := range got {
		if len(msgs) != 1 {
			t.Fatalf("robot %s got %d messages, want 1", k[:8], len(msgs))
		}
	}
	m := got[stormWeCom][0]
	if len(m.Text) > notify.WeComMaxContent {
		t.Fatalf("the WeCom message is %d bytes, over %d", len(m.Text), notify.WeComMaxContent)
	}
	return m
}

// none fails unless no robot got a message.
func none(t *testing.T, got map[string][]notifytest.Received) {
	t.Helper()
	for k, msgs := range got {
		if len(msgs) != 0 {
			t.Fatalf("robot %s got %d messages, want none: %q", k[:8], len(msgs), msgs[0].Text)
		}
	}
}

// perAuthorizer counts the changes about one authorizer.
func perAuthorizer(ev *invoke.Event) int {
	n := 0
	for _, c := range ev.Changes {
		if c.Authorizer != "" {
			n++
		}
	}
	return n
}

// TestIncidentSameErrcode (a): 2,000 authorizers failing with the same
// errcode are one grouped line with the count and five names.
func TestIncidentSameErrcode(t *testing.T) {
	s := newStorm(t, 2000, func(s *storm) {
		for _, id := range s.ids {
			s.srv.SetAuthorizer(id, wechattest.Authorizer{EnvInfoErrCode: 85088})
		}
	}, nil)
	ev, got := s.run(t, 120*time.Second)
	m := one(t, got)
	l := lines(m)
	if len(l) != 1 {
		t.Fatalf("WeCom message has %d lines after the title, want one grouped line:\n%s", len(l), m.Text)
	}
	for _, want := range []string{"**FAILING** 2000 authorizers: getenvinfo: permission errcode 85088", "+1995 more",
		wechattest.NameFor(s.ids[0]) + " (" + s.ids[0] + ")", wechattest.NameFor(s.ids[4]) + " (" + s.ids[4] + ")"} {
		if !strings.Contains(l[0], want) {
			t.Fatalf("grouped line lacks %q:\n%s", want, m.Text)
		}
	}
	if len(ev.Changes) != 2000 || len(ev.Incidents) != 1 || ev.Incidents[0].Count != 2000 || len(ev.Incidents[0].Authorizers) != 100 {
		t.Fatalf("changes %d, incidents %+v", len(ev.Changes), ev.Incidents)
	}
	for _, k := range []string{stormDingTalk, stormFeishu} {
		if text := got[k][0].Text; !strings.Contains(text, "2000 authorizers") || strings.Count(text, "\n") != 1 {
			t.Fatalf("robot %s got:\n%s", k[:8], text)
		}
	}
	t.Logf("WeCom message (%d bytes):\n%s", len(m.Text), m.Text)

	// The same state again: nothing new.
	_, got = s.run(t, 120*time.Second)
	none(t, got)
}

// TestIncidentComponentToken (b): the component token cannot be minted —
// one platform line and no per-authorizer line; the recovery is one
// resolved line and no per-authorizer resolved.
func TestIncidentComponentToken(t *testing.T) {
	s := newStorm(t, 2000, nil, nil)
	ev, got := s.run(t, 120*time.Second)
	if len(ev.Changes) != 0 {
		t.Fatalf("healthy run: %d changes", len(ev.Changes))
	}
	none(t, got)

	s.srv.StrictTickets(true) // the configured ticket is refused (61006)
	s.srv.RevokeTokens()      // and every token must be minted again
	ev, got = s.run(t, 120*time.Second)
	if len(ev.Changes) != 1 || ev.Changes[0].Operation != "platform:component_token" || perAuthorizer(ev) != 0 {
		t.Fatalf("changes = %+v", ev.Changes)
	}
	m := one(t, got)
	if l := lines(m); len(l) != 1 || !strings.HasPrefix(l[0], "- **PLATFORM** the component access token cannot be had") {
		t.Fatalf("WeCom got:\n%s", m.Text)
	}
	_, r := fleetOf(t, ev)
	for _, a := range r.Authorizers {
		if a.Error == nil || a.Error.InhibitedBy != "platform:component_token" {
			t.Fatalf("%s: %+v, want inhibited by the component token", a.Authorizer, a.Error)
		}
	}
	t.Logf("WeCom message:\n%s", m.Text)

	_, got = s.run(t, 120*time.Second)
	none(t, got)

	s.srv.StrictTickets(false)
	ev, got = s.run(t, 120*time.Second)
	if len(ev.Changes) != 1 || ev.Changes[0].Change != "resolved" || ev.Changes[0].Operation != "platform:component_token" {
		t.Fatalf("recovery changes = %+v", ev.Changes)
	}
	if l := lines(one(t, got)); len(l) != 1 || !strings.Contains(l[0], "RESOLVED") {
		t.Fatalf("recovery message: %q", l)
	}
}

// TestIncidentUnreachable (c): 95% of the checks time out — "WeChat
// unreachable", the per-authorizer timeouts inhibited, one resolved line.
func TestIncidentUnreachable(t *testing.T) {
	// A timeout generous enough that a busy machine's healthy run is
	// healthy, and a latency well past it.
	s := newStorm(t, 2000, nil, map[string]string{"WECHAT_TIMEOUT": "2s", "WECHAT_RETRIES": "0", "WXCLOUDENV_CONCURRENCY": "256"})
	if ev, _ := s.run(t, 120*time.Second); len(ev.Changes) != 0 {
		t.Fatalf("healthy run: %d changes", len(ev.Changes))
	}
	slow := s.ids[:1900]
	for _, id := range slow {
		s.srv.SetAuthorizer(id, wechattest.Authorizer{Latency: 6 * time.Second})
	}
	ev, got := s.run(t, 120*time.Second)
	if len(ev.Changes) != 1 || ev.Changes[0].Operation != "platform:wechat_unreachable" || perAuthorizer(ev) != 0 {
		t.Fatalf("changes = %+v", ev.Changes[:min(len(ev.Changes), 3)])
	}
	m := one(t, got)
	if l := lines(m); len(l) != 1 || !strings.Contains(l[0], "WeChat unreachable: 1900 of 2001 authorizer checks failed") {
		t.Fatalf("WeCom got:\n%s", m.Text)
	}
	t.Logf("WeCom message:\n%s", m.Text)
	for _, id := range slow {
		s.srv.SetAuthorizer(id, wechattest.Authorizer{})
	}
	ev, got = s.run(t, 120*time.Second)
	if len(ev.Changes) != 1 || ev.Changes[0].Change != "resolved" || perAuthorizer(ev) != 0 {
		t.Fatalf("recovery changes = %+v", ev.Changes[:min(len(ev.Changes), 3)])
	}
	one(t, got)
}

// TestIncidentDeadline (c2): a run cut off by its own deadline changes no
// authorizer's state and says how many it reached.
func TestIncidentDeadline(t *testing.T) {
	// The state in memory: the alert path has only the reserve left after
	// a cut-off run, and a loaded machine's file-store fsync can take
	// longer than that.
	s := newStorm(t, 2000, nil, map[string]string{"WXCLOUDENV_CONCURRENCY": "16", "WXCLOUDENV_STORE": "memory"})
	s.srv.SetLatency(wechat.GetEnvInfoPath, 250*time.Millisecond)
	ev, got := s.run(t, 10*time.Second)
	if len(ev.PlatformFailures) != 1 || ev.PlatformFailures[0].Cause != "deadline" {
		t.Fatalf("platform failures = %+v", ev.PlatformFailures)
	}
	want := fmt.Sprintf("reached %d of 2001 authorizers", ev.PlatformFailures[0].Reached)
	if pf := ev.PlatformFailures[0]; pf.Total == 0 {
		// On a loaded machine the deadline can come before the fleet's
		// results are even collected: still one deadline line, no
		// authorizer's change.
		want = "the run's deadline came before the fleet's results could be collected"
	} else if pf.Total != 2001 || pf.Reached >= 2001 {
		t.Fatalf("platform failures = %+v", ev.PlatformFailures)
	}
	if len(ev.Changes) != 1 || ev.Changes[0].Operation != "platform:deadline" || perAuthorizer(ev) != 0 {
		t.Fatalf("changes = %+v", ev.Changes[:min(len(ev.Changes), 3)])
	}
	// The robots share what is left of the invocation after its checks
	// (the reserve, 250 ms by default); a send that does not fit is
	// reported in notifications, and is the outbox's to deliver later.
	sent := 0
	for k, msgs := range got {
		if len(msgs) > 1 {
			t.Fatalf("robot %s got %d messages", k[:8], len(msgs))
		}
		if len(msgs) == 1 {
			sent++
			if l := lines(msgs[0]); len(l) != 1 || !strings.Contains(l[0], want) {
				t.Fatalf("robot %s got %q, want one line with %q", k[:8], msgs[0].Text, want)
			}
			t.Logf("robot %s got:\n%s", k[:8], msgs[0].Text)
		}
	}
	if len(ev.Notifications) != 3 {
		t.Fatalf("notifications = %+v, want one outcome per robot", ev.Notifications)
	}
	t.Logf("%d of 3 robots reached within the reserve; notifications %+v", sent, ev.Notifications)

	s.srv.SetLatency(wechat.GetEnvInfoPath, 0)
	ev, _ = s.run(t, 120*time.Second)
	if len(ev.Changes) != 1 || ev.Changes[0].Change != "resolved" || ev.Changes[0].Operation != "platform:deadline" {
		t.Fatalf("full run changes = %+v", ev.Changes[:min(len(ev.Changes), 3)])
	}
}

// TestIncidentTwoCauses (d): two causes are two groups, the more important
// first.
func TestIncidentTwoCauses(t *testing.T) {
	s := newStorm(t, 2000, func(s *storm) {
		for i, id := range s.ids {
			if i%3 == 0 {
				s.srv.SetAuthorizer(id, wechattest.Authorizer{Revoked: true})
			} else {
				s.srv.SetAuthorizer(id, wechattest.Authorizer{Status: "HALTED"})
			}
		}
	}, nil)
	ev, got := s.run(t, 120*time.Second)
	m := one(t, got)
	l := lines(m)
	if len(l) != 2 || !strings.HasPrefix(l[0], "- **FAILING** 667 authorizers: getenvinfo: auth errcode 61023") ||
		!strings.HasPrefix(l[1], "- **NEW** 1333 envs: getenvinfo") || !strings.Contains(l[1], "HALTED") {
		t.Fatalf("WeCom got:\n%s", m.Text)
	}
	if len(ev.Incidents) != 2 || ev.Incidents[0].Count != 667 || ev.Incidents[1].Count != 1333 {
		t.Fatalf("incidents = %+v", ev.Incidents)
	}
	t.Logf("WeCom message:\n%s", m.Text)
}

// TestIncidentPermissionAndNames (e, f): an authorizer without permission
// set 49 is told so; names with markdown, tags or control characters are
// harmless in WeCom, DingTalk and Feishu.
func TestIncidentPermissionAndNames(t *testing.T) {
	t.Parallel()
	const hostile = "**BOSS**\n- **RESOLVED** all fine [click](http://evil.example) <@all> <at user_id=\"all\">x</at>\x1b[2J"
	s := newStorm(t, 5, func(s *storm) {
		s.srv.SetAuthorizer(s.ids[0], wechattest.Authorizer{EnvInfoErrCode: 61007, Name: "云开发未授权商户"})
		s.srv.SetAuthorizer(s.ids[1], wechattest.Authorizer{EnvInfoErrCode: 85088, Name: hostile})
	}, nil)
	ev, got := s.run(t, 60*time.Second)
	one(t, got)
	var no49 bool
	for _, c := range ev.Changes {
		no49 = no49 || c.Authorizer == s.ids[0] && strings.Contains(c.Message, "permission set 49 (cloud development) not granted")
	}
	if !no49 {
		t.Fatalf("no change says permission set 49: %+v", ev.Changes)
	}
	for k, msgs := range got {
		text := msgs[0].Text
		if !strings.Contains(text, "云开发未授权商户 ("+s.ids[0]+") getenvinfo: permission errcode 61007: permission set 49 (cloud development) not granted") {
			t.Errorf("robot %s: no permission set 49 line:\n%s", k[:8], text)
		}
		if n := strings.Count(text, "\n"); n != 2 {
			t.Errorf("robot %s: %d lines after the title, want 2:\n%s", k[:8], n, text)
		}
		bad := []string{"<@all>", "<at ", "\x1b", "\n- **RESOLVED", "\n• RESOLVED"}
		if k != stormFeishu {
			bad = append(bad, "[click]", "**BOSS", "** all")
		}
		for _, b := range bad {
			if strings.Contains(text, b) {
				t.Errorf("robot %s keeps %q:\n%s", k[:8], b, text)
			}
		}
	}
}

// fleetOf is the getenvinfo fleet result of an event.
func fleetOf(t *testing.T, ev *invoke.Event) (*invoke.Event, *invoke.Result) {
	t.Helper()
	for i := range ev.Results {
		if ev.Results[i].Fleet || ev.Results[i].Operation == wechat.OpGetEnvInfo {
			return ev, &ev.Results[i]
		}
	}
	t.Fatal("no fleet result")
	return nil, nil
}
