package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/status"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// demoNames are the merchants of the demo page.
var demoNames = map[string]string{
	"wx5c0ffee0000000001": "Blue Harbor Coffee",
	"wx5c0ffee0000000002": "茶语小铺",
	"wx5c0ffee0000000003": "Lucky Noodle Bar",
	"wx5c0ffee0000000004": "云朵花店",
	"wx5c0ffee0000000005": "North Pier Books",
	"wx5c0ffee0000000006": "Sunrise Bakery",
}

// demoStore is a small platform's week: a fleet run every 15 minutes; an
// upstream outage on the third day; three environments halted since this
// morning (one incident), one revoked authorization.
func demoStore(t testing.TB, now time.Time) store.Store {
	t.Helper()
	ctx := context.Background()
	st := store.NewMemory()
	st.Now = func() time.Time { return now }
	const fleet = 240
	start := now.Add(-history.TTL + 10*time.Minute)
	k := 0
	for at := start; at.Before(now); at = at.Add(15 * time.Minute) {
		k++
		h := at.Sub(start).Hours()
		failing := 1 + int(2*math.Abs(math.Sin(h/9)))
		if h > 52 && h < 55 {
			failing = 60 + int(40*math.Sin((h-52)*math.Pi/3)) // WeChat's bad afternoon
		}
		alerts := 1
		if now.Sub(at) < 5*time.Hour {
			alerts = 4
		}
		r := history.Run{Time: at, Kind: history.KindFleet, Trigger: "schedule", OK: failing == 0, Operations: 2,
			Authorizers: fleet, FailedAuthorizers: failing, Alerts: alerts, DurationMS: 3800 + int64(k%7)*130}
		if err := history.Record(ctx, st, prefix, fmt.Sprintf("demo-%d", k), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	changes := func(at time.Time, cs ...history.Change) {
		if err := history.Record(ctx, st, prefix, "demo-c-"+at.Format("150405"), history.Run{Time: at, Kind: history.KindFleet,
			Trigger: "schedule", Operations: 2, Authorizers: fleet, FailedAuthorizers: 2, Alerts: 4, DurationMS: 4100}, cs); err != nil {
			t.Fatal(err)
		}
	}
	halted := func(a, env string) history.Change {
		return history.Change{Change: "new", Authorizer: a, Operation: "getenvinfo", Env: env, Resource: "environment", Status: "HALTED",
			Message: "environment " + env + " is HALTED, not NORMAL"}
	}
	changes(now.Add(-4*time.Hour-50*time.Minute), halted("wx5c0ffee0000000001", "prod-8f21c0"), halted("wx5c0ffee0000000002", "cloud1-4ad2"),
		halted("wx5c0ffee0000000003", "main-77e0b1"))
	changes(now.Add(-26*time.Hour), history.Change{Change: "new", Authorizer: "wx5c0ffee0000000004", Operation: "getenvinfo", Resource: "operation",
		Kind: "auth", ErrCode: 61023, Message: "the merchant revoked or renewed the authorization"})
	changes(now.Add(-3*24*time.Hour), history.Change{Change: "resolved", Authorizer: "wx5c0ffee0000000005", Operation: "describecloudbaserunenvs",
		Env: "shop-19c3", Resource: "database:tnt-3kd9", Status: "UNUSABLE"})

	run := alertstate.Run{}
	for a := range demoNames {
		run.Checked = append(run.Checked, alertstate.Scope{Operation: "getenvinfo", Authorizer: a})
	}
	if _, err := alertstate.Update(ctx, st, prefix, now.Add(-26*time.Hour), alertstate.Run{Failures: []alertstate.Failure{{
		Authorizer: "wx5c0ffee0000000004", Operation: "getenvinfo", Kind: "auth", ErrCode: 61023,
		Message: "the merchant revoked or renewed the authorization"}}}, 0); err != nil {
		t.Fatal(err)
	}
	for i, env := range []string{"prod-8f21c0", "cloud1-4ad2", "main-77e0b1"} {
		a := fmt.Sprintf("wx5c0ffee000000000%d", i+1)
		run.Alerts = append(run.Alerts, alertstate.Alert{Authorizer: a, Operation: "getenvinfo", Env: env, Resource: "environment",
			Status: "HALTED", Message: "environment " + env + " is HALTED, not NORMAL"})
	}
	run.Failures = append(run.Failures, alertstate.Failure{Authorizer: "wx5c0ffee0000000004", Operation: "getenvinfo", Kind: "auth", ErrCode: 61023,
		Message: "the merchant revoked or renewed the authorization"})
	if _, err := alertstate.Update(ctx, st, prefix, now.Add(-4*time.Hour-50*time.Minute), run, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := alertstate.Update(ctx, st, prefix, now.Add(-2*time.Hour), alertstate.Run{Alerts: []alertstate.Alert{{
		Operation: "describecloudbaserunenvs", Env: "shop-19c3", Resource: "static_storage:static-19c3", Status: "offline",
		Message: "static storage static-19c3 of environment shop-19c3 is offline"}}}, 0); err != nil {
		t.Fatal(err)
	}
	tk := tokens.Keys{Prefix: prefix}
	ticket, _ := json.Marshal(map[string]any{"ticket": "ticket@@@demo", "create_time": now.Add(-4 * time.Minute).Unix()})
	for k, v := range map[string]store.Value{
		tk.Ticket("wxcomponent"):         {Data: ticket, Expires: now.Add(11 * time.Hour)},
		tk.ComponentToken("wxcomponent"): {Data: []byte(`{}`), Expires: now.Add(83 * time.Minute)},
	} {
		if err := st.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestDemoPage pins the page of a small platform's week (golden file;
// -update rewrites it). make status-screenshot draws docs/status-page.png
// from it.
func TestDemoPage(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	st := demoStore(t, now)
	d, err := status.Load(context.Background(), source(st, now, demoNames))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "testdata/demo.html", d.HTML())
	a, err := status.LoadAuthorizer(context.Background(), source(st, now, demoNames), "wx5c0ffee0000000002")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "testdata/demo-authorizer.html", a.HTML())
}
