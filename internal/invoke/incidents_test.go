package invoke_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestIncidentsInTheEvent: a fleet where most authorizers fail alike
// groups them into one incident; the component token's failure inhibits
// every per-authorizer failure and resolves once; names and permission
// set 49 reach the event; the event round-trips through encoding/json.
func TestIncidentsInTheEvent(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ids := srv.SetFleet(30)
	for _, id := range ids[:25] {
		srv.SetAuthorizer(id, wechattest.Authorizer{EnvInfoErrCode: 85088})
	}
	srv.SetAuthorizer(ids[25], wechattest.Authorizer{EnvInfoErrCode: 61007})
	e := fleetEnv(srv)
	e["WXCLOUDENV_STORE"] = "memory"
	hs := newHarness(t, srv, e)

	out, err := hs.invoke(t, []byte(`{}`), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ev, r := fleetResult(t, out)
	if len(ev.Incidents) != 1 || ev.Incidents[0].Count != 25 || ev.Incidents[0].ErrCode != 85088 || len(ev.Incidents[0].Authorizers) != 25 {
		t.Fatalf("incidents = %+v", ev.Incidents)
	}
	a := byAuthorizer(r)
	if a[ids[0]].Name != wechattest.NameFor(ids[0]) || a[ids[29]].Name == "" {
		t.Fatalf("names: %q %q", a[ids[0]].Name, a[ids[29]].Name)
	}
	if msg := a[ids[25]].Error.Message; !strings.Contains(msg, "permission set 49 (cloud development) not granted") {
		t.Fatalf("61007 message = %q", msg)
	}
	named := 0
	for _, c := range ev.Changes {
		if c.Name != "" {
			named++
		}
	}
	if len(ev.Changes) != 26 || named != 26 {
		t.Fatalf("changes %d, named %d; want 26 named", len(ev.Changes), named)
	}
	roundTrip(t, out)

	// The component token cannot be had: one platform failure, the
	// per-authorizer failures inhibited and their state unchanged.
	srv.StrictTickets(true)
	srv.RevokeTokens()
	out, err = hs.invoke(t, []byte(`{}`), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ev, r = fleetResult(t, out)
	if len(ev.Changes) != 1 || ev.Changes[0].Operation != "platform:component_token" || ev.Changes[0].Change != "new" {
		t.Fatalf("changes = %+v", ev.Changes)
	}
	if len(ev.PlatformFailures) != 1 || ev.PlatformFailures[0].Cause != "component_token" {
		t.Fatalf("platform failures = %+v", ev.PlatformFailures)
	}
	for _, x := range r.Authorizers {
		if x.Error == nil || x.Error.InhibitedBy != "platform:component_token" {
			t.Fatalf("%s: error %+v, want inhibited by the component token", x.Authorizer, x.Error)
		}
	}
	roundTrip(t, out)

	srv.StrictTickets(false)
	out, err = hs.invoke(t, []byte(`{}`), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ = fleetResult(t, out)
	if len(ev.Changes) != 1 || ev.Changes[0].Operation != "platform:component_token" || ev.Changes[0].Change != "resolved" {
		t.Fatalf("recovery changes = %+v", ev.Changes)
	}
}

// roundTrip decodes an event and encodes it again, byte for byte.
func roundTrip(t *testing.T, out []byte) {
	t.Helper()
	var ev invoke.Event
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Fatalf("round trip changed the event:\n got %.2000s\nwant %.2000s", again, out)
	}
}

var _ = wechat.OpGetEnvInfo
