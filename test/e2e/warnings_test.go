package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/emf"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// directRun invokes api with an empty direct payload and decodes the event
// and its log line.
func directRun(t *testing.T, api runtimeAPI, out *safeBuffer) (*invoke.Event, map[string]any) {
	t.Helper()
	a, id := api.invoke(t, []byte(`{}`), 60*time.Second)
	if a.isError {
		t.Fatalf("invocation failed: %s", a.body)
	}
	var ev invoke.Event
	if err := json.Unmarshal(a.body, &ev); err != nil {
		t.Fatalf("%v: %.300s", err, a.body)
	}
	raw := rawLogLine(t, out, id)
	if err := emf.Validate(raw); err != nil {
		t.Errorf("the log line is not valid EMF: %v", err)
	}
	var line map[string]any
	_ = json.Unmarshal(raw, &line)
	return &ev, line
}

// platformAlerts returns the event's alerts with resource res.
func platformAlerts(ev *invoke.Event, res string) []invoke.Alert {
	var out []invoke.Alert
	for _, a := range ev.Alerts {
		if a.Resource == res {
			out = append(out, a)
		}
	}
	return out
}

// changesOf returns the event's changes with resource res.
func changesOf(ev *invoke.Event, res string) []invoke.Change {
	var out []invoke.Change
	for _, c := range ev.Changes {
		if c.Resource == res {
			out = append(out, c)
		}
	}
	return out
}

// TestVerifyTicketStaleThroughBinary: the built Lambda binary receives
// pushes; when the newest ticket is 31 minutes old, a run raises one
// STALE alert for verify_ticket that says how long since the push and
// that 11h29m of minting are left, sent to the robot; the next push
// resolves it. The metric VerifyTicketAgeSeconds follows the ticket.
func TestVerifyTicketStaleThroughBinary(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.StrictTickets(true)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	env := pushProcessEnv(srv, "file://"+filepath.Join(t.TempDir(), "state.db"))
	env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(e2eRobotKey)
	api, out := startLambda(t, env)
	tr := httpTransport{t: t, invoke: func(t *testing.T, p []byte) answer { a, _ := api.invoke(t, p, 30*time.Second); return a }}
	p, err := srv.Pusher(pushURL, wechattest.PushToken, wechattest.PushEncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	p.Client = &http.Client{Transport: tr}

	// The last push WeChat made was 31 minutes ago.
	created := time.Now().Add(-31 * time.Minute).Truncate(time.Second)
	old := srv.NewTicketAt(created)
	if res, err := p.Send(t.Context(), wechattest.TicketMessage(wechattest.ComponentAppID, old, created)); err != nil || res.Status != http.StatusOK {
		t.Fatalf("push: %+v %v", res, err)
	}
	ev, line := directRun(t, api, out)
	stale := platformAlerts(ev, "verify_ticket")
	if len(stale) != 1 {
		t.Fatalf("verify_ticket alerts %+v, want one", ev.Alerts)
	}
	a := stale[0]
	if a.Status != "STALE" || a.Operation != "component" || a.Authorizer != "" ||
		!strings.Contains(a.Message, "for 31m") || !strings.Contains(a.Message, "minted for 11h29m") {
		t.Errorf("alert %+v, want STALE, 31m since the push, 11h29m left", a)
	}
	if c := changesOf(ev, "verify_ticket"); len(c) != 1 || c[0].Change != "new" {
		t.Errorf("changes %+v, want one new", ev.Changes)
	}
	if age, _ := line["VerifyTicketAgeSeconds"].(float64); age < 31*60 || age > 33*60 {
		t.Errorf("VerifyTicketAgeSeconds = %v, want about 1860", line["VerifyTicketAgeSeconds"])
	}
	if msgs := robots.ReceivedBy(e2eRobotKey); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "verify_ticket") {
		t.Errorf("robot got %+v, want one message naming verify_ticket", msgs)
	}
	// Still stale: the same alert, no new change.
	ev, _ = directRun(t, api, out)
	if len(platformAlerts(ev, "verify_ticket")) != 1 || len(changesOf(ev, "verify_ticket")) != 0 {
		t.Errorf("second run: alerts %+v changes %+v", ev.Alerts, ev.Changes)
	}
	// WeChat pushes again: resolved.
	fresh, res, err := p.Ticket(t.Context())
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("push: %+v %v", res, err)
	}
	ev, line = directRun(t, api, out)
	if len(platformAlerts(ev, "verify_ticket")) != 0 {
		t.Errorf("after a push: alerts %+v", ev.Alerts)
	}
	if c := changesOf(ev, "verify_ticket"); len(c) != 1 || c[0].Change != "resolved" {
		t.Errorf("after a push: changes %+v, want one resolved", ev.Changes)
	}
	if age, _ := line["VerifyTicketAgeSeconds"].(float64); age > 120 {
		t.Errorf("VerifyTicketAgeSeconds = %v after a fresh push", age)
	}
	for _, secret := range []string{old, fresh, wechattest.PushToken, e2eRobotKey} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("the process output holds a secret")
		}
	}
}

// fleetEnv is a fleet configuration of srv on storeURL.
func fleetEnv(srv *wechattest.Server, storeURL string) map[string]string {
	env := configtest.MintingVars(srv.URL)
	delete(env, "WECHAT_AUTHORIZER_APPID")
	delete(env, "WECHAT_AUTHORIZER_REFRESH_TOKEN")
	env["WECHAT_TIMEOUT"] = "10s"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	env["WXCLOUDENV_STORE"] = storeURL
	return env
}

// fleetRun runs a scheduled fleet run on a new process and returns the
// getenvinfo fleet result.
func fleetRun(t *testing.T, env map[string]string) *invoke.Result {
	t.Helper()
	api, _ := startLambda(t, env)
	a, _ := api.invoke(t, readEvent(t, "aws-schedule.json"), 120*time.Second)
	if a.isError {
		t.Fatalf("fleet run failed: %.500s", a.body)
	}
	_, r := getEnvInfoResult(t, a.body)
	return r
}

// refreshOf reads the refresh token stored for appid.
func refreshOf(t *testing.T, st store.Store, appid string) string {
	t.Helper()
	v, err := st.Get(context.Background(), tokens.Keys{Prefix: tokens.DefaultPrefix}.Refresh(wechattest.ComponentAppID, appid))
	if err != nil {
		return ""
	}
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(v.Data, &r)
	return r.RefreshToken
}

// TestRefreshTokensRecoverThroughBinary: on a real Redis, a fleet whose
// refresh tokens were flushed, then restored from an outdated backup,
// keeps working with no 61023 and the store holds WeChat's current tokens
// again; a rotated stored token is never replaced by the older one a
// stale list serves (docs/contract.md#refresh-tokens-heal). Each run is a new
// process (a cold start).
func TestRefreshTokensRecoverThroughBinary(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.SetFleet(40)
	rotated := ids[7]
	srv.SetAuthorizer(rotated, wechattest.Authorizer{RotateRefresh: true})
	url := storetest.StartRedis(t)
	st, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env := fleetEnv(srv, url)
	keys := tokens.Keys{Prefix: tokens.DefaultPrefix}
	all := append([]string{wechattest.AuthorizerAppID}, ids...)

	check := func(t *testing.T, r *invoke.Result, what string) {
		t.Helper()
		if !r.OK || r.Failed != 0 || r.Total != len(all) {
			for _, a := range r.Authorizers {
				if !a.OK {
					t.Errorf("%s: %s failed: %+v", what, a.Authorizer, a.Error)
				}
			}
			t.Fatalf("%s: ok %v, %d of %d failed", what, r.OK, r.Failed, r.Total)
		}
		for _, id := range all {
			if got, want := refreshOf(t, st, id), srv.RefreshToken(id); got != want {
				t.Errorf("%s: %s's stored refresh token is not WeChat's current one", what, id)
			}
		}
	}
	check(t, fleetRun(t, env), "first run")

	// Redis loses every refresh token (a restart without persistence).
	for _, id := range all {
		if err := st.Delete(t.Context(), keys.Refresh(wechattest.ComponentAppID, id)); err != nil {
			t.Fatal(err)
		}
	}
	mints := srv.Mints("authorizer")
	check(t, fleetRun(t, env), "after the flush")
	if d := srv.Mints("authorizer") - mints; d != 0 {
		t.Errorf("writing the list's tokens back minted %d tokens; the access tokens were still valid", d)
	}

	// Redis restarts empty: every key is gone, tokens included.
	gone, err := st.Keys(t.Context(), tokens.DefaultPrefix)
	if err != nil || len(gone) == 0 {
		t.Fatalf("keys: %v %v", gone, err)
	}
	for _, k := range gone {
		if err := st.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	check(t, fleetRun(t, env), "after a restart with no data")

	// A backup from before puts back outdated refresh tokens, and the
	// access tokens have expired: WeChat refuses every stored token.
	for _, id := range all {
		b, _ := json.Marshal(map[string]string{"refresh_token": "refreshtoken@@@restored-from-backup-" + id})
		if err := st.Set(t.Context(), keys.Refresh(wechattest.ComponentAppID, id), store.Value{Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range all {
		if err := st.Delete(t.Context(), keys.AuthorizerToken(wechattest.ComponentAppID, id)); err != nil {
			t.Fatal(err)
		}
	}
	r := fleetRun(t, env)
	for _, a := range r.Authorizers {
		if a.Error != nil && a.Error.ErrCode == 61023 {
			t.Errorf("%s: 61023 after the restore", a.Authorizer)
		}
	}
	check(t, r, "after the restore")

	// The rotating authorizer's token has rotated on every mint; now the
	// list serves its first, outdated one. The stored (newer) token is
	// kept, with and without a mint.
	if srv.RefreshToken(rotated) == wechattest.RefreshTokenFor(rotated) {
		t.Fatal("the rotating authorizer did not rotate")
	}
	srv.SetAuthorizer(rotated, wechattest.Authorizer{RotateRefresh: true, StaleList: true})
	check(t, fleetRun(t, env), "with a stale list")
	if err := st.Delete(t.Context(), keys.AuthorizerToken(wechattest.ComponentAppID, rotated)); err != nil {
		t.Fatal(err)
	}
	check(t, fleetRun(t, env), "with a stale list, minting")
}

// TestQuotaOnceAnHourThroughBinary: ten cold processes of the built
// Lambda binary on one Redis, a component API at 5% of its daily quota:
// the quotas are read once, one LOW alert is claimed and sent once, and
// runs within the hour read nothing more.
func TestQuotaOnceAnHourThroughBinary(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetFleet(3)
	srv.SetQuota(wechat.GetAuthorizerListPath, 2000, 1900)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	env := fleetEnv(srv, storetest.StartRedis(t))
	env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(e2eRobotKey)
	const n = 10
	apis := make([]runtimeAPI, n)
	outs := make([]*safeBuffer, n)
	for i := range apis {
		apis[i], outs[i] = startLambda(t, env)
	}
	round := func() []*invoke.Event {
		evs := make([]*invoke.Event, n)
		var wg sync.WaitGroup
		for i := range apis {
			wg.Go(func() { evs[i], _ = directRun(t, apis[i], outs[i]) })
		}
		wg.Wait()
		return evs
	}
	const res = "quota:" + wechat.GetAuthorizerListPath
	paths := srv.Calls(wechat.QuotaPath)
	if paths != 0 {
		t.Fatalf("%d quota reads before any run", paths)
	}
	news := 0
	for _, ev := range round() {
		for _, c := range changesOf(ev, res) {
			if c.Change == "new" && c.Status == "LOW" {
				news++
			}
		}
	}
	reads := srv.Calls(wechat.QuotaPath)
	// One read of each component API the function calls: the component
	// token, the authorizer token and the list.
	if reads != 3 {
		t.Errorf("ten processes made %d quota reads, want 3 (one reading)", reads)
	}
	for _, ev := range round() {
		if len(platformAlerts(ev, res)) != 1 {
			t.Errorf("within the hour: alerts %+v", ev.Alerts)
		}
		for _, c := range changesOf(ev, res) {
			if c.Change == "new" {
				news++
			}
		}
	}
	if news != 1 {
		t.Errorf("%d new quota changes over twenty runs, want 1", news)
	}
	if srv.Calls(wechat.QuotaPath) != reads {
		t.Errorf("read again within the hour: %d → %d", reads, srv.Calls(wechat.QuotaPath))
	}
	sent := 0
	for _, m := range robots.ReceivedBy(e2eRobotKey) {
		if strings.Contains(m.Text, wechat.GetAuthorizerListPath) {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("the robot heard of the quota %d times, want once", sent)
	}
}
