package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const manageKey = "manage-api-key-4c1f9b"

// httpV2 is a Function URL (HTTP API v2) event.
func httpV2(method, path, body string, headers map[string]string) []byte {
	h := map[string]string{"content-type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	ev := map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": h,
		"requestContext": map[string]any{"http": map[string]any{"method": method, "path": path}, "requestId": "r", "stage": "$default"},
		"body":           body, "isBase64Encoded": false}
	b, _ := json.Marshal(ev)
	return b
}

// httpResult is a Function URL answer.
type httpResult struct {
	status int
	body   string
	header map[string]string
}

func callHTTP(t *testing.T, api runtimeAPI, all *strings.Builder, method, path, body string, headers map[string]string) httpResult {
	t.Helper()
	a, _ := api.invoke(t, httpV2(method, path, body, headers), 30*time.Second)
	all.Write(a.body)
	var r struct {
		StatusCode int               `json:"statusCode"`
		Body       string            `json:"body"`
		Headers    map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, a.body)
	}
	return httpResult{r.StatusCode, r.Body, r.Headers}
}

// TestManagementThroughBinary: the silences' routes through the built
// Lambda binary on Redis and on DynamoDB (dynalite), shared by two
// instances (the owner robots' route: robots_test.go).
func TestManagementThroughBinary(t *testing.T) {
	t.Parallel()
	type backend struct {
		name string
		env  func(t *testing.T) map[string]string
	}
	backends := []backend{
		{"redis", func(t *testing.T) map[string]string {
			return map[string]string{"WXCLOUDENV_STORE": storetest.StartRedis(t)}
		}},
		{"dynamodb", func(t *testing.T) map[string]string {
			url, env := storetest.StartDynamo(t)
			env["WXCLOUDENV_STORE"] = url
			return env
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			env := configtest.MintingVars(srv.URL)
			for k, v := range b.env(t) {
				env[k] = v
			}
			var all strings.Builder

			// Without WXCLOUDENV_API_KEY the routes are forbidden.
			open, openOut := startLambda(t, env)
			if r := callHTTP(t, open, &all, "GET", "/silences", "", nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "WXCLOUDENV_API_KEY") {
				t.Fatalf("without a key: %d %s", r.status, r.body)
			}

			env["WXCLOUDENV_API_KEY"] = manageKey
			a, aOut := startLambda(t, env)
			c, cOut := startLambda(t, env) // a second instance on the same store
			bearer := map[string]string{"authorization": "Bearer " + manageKey}
			basic := map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+manageKey))}
			xkey := map[string]string{"x-api-key": manageKey}

			if r := callHTTP(t, a, &all, "GET", "/silences", "", map[string]string{"x-api-key": "guess"}); r.status != http.StatusUnauthorized ||
				!strings.HasPrefix(r.header["WWW-Authenticate"], "Basic") {
				t.Fatalf("wrong key: %d %v", r.status, r.header)
			}
			// A silence on an authorizer, one on an errcode across the
			// fleet, one on an env; each key form works.
			var ids []string
			for i, tc := range []struct {
				body    string
				headers map[string]string
			}{
				{`{"matchers":{"authorizer":"wxf1ee700000000001"},"duration":"2h","comment":"ticket 4711 with WeChat","created_by":"ops"}`, bearer},
				{`{"matchers":{"errcode":"85088"},"ends_at":"` + time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339) + `"}`, basic},
				{`{"matchers":{"env":"env0-000002","status":"HALTED"},"duration":"30m"}`, xkey},
			} {
				r := callHTTP(t, a, &all, "POST", "/prod/silences", tc.body, tc.headers)
				var s struct {
					ID string `json:"id"`
				}
				if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &s) != nil || s.ID == "" {
					t.Fatalf("silence %d: %d %s", i, r.status, r.body)
				}
				ids = append(ids, s.ID)
			}
			// The other instance lists them; DELETE ends one at once.
			list := func(api runtimeAPI) (active, ended int) {
				r := callHTTP(t, api, &all, "GET", "/silences", "", bearer)
				var l struct {
					Silences []struct {
						ID     string    `json:"id"`
						EndsAt time.Time `json:"ends_at"`
					} `json:"silences"`
				}
				if r.status != 200 || json.Unmarshal([]byte(r.body), &l) != nil {
					t.Fatalf("list: %d %s", r.status, r.body)
				}
				for _, s := range l.Silences {
					if s.EndsAt.After(time.Now()) {
						active++
					} else {
						ended++
					}
				}
				return active, ended
			}
			if act, end := list(c); act != 3 || end != 0 {
				t.Fatalf("the second instance lists %d active, %d ended; want 3, 0", act, end)
			}
			if r := callHTTP(t, c, &all, "DELETE", "/silences/"+ids[0], "", basic); r.status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", r.status, r.body)
			}
			if act, end := list(a); act != 2 || end != 1 {
				t.Fatalf("after DELETE: %d active, %d ended; want 2, 1", act, end)
			}
			if r := callHTTP(t, a, &all, "DELETE", "/silences/ffffffffffffffff", "", bearer); r.status != http.StatusNotFound {
				t.Fatalf("DELETE unknown: %d", r.status)
			}

			// Every refusal is 400 naming the field, and changes nothing.
			for _, tc := range []struct{ body, field string }{
				{`{"matchers":{"region":"x"},"duration":"1h"}`, "matchers.region"},
				{`{"matchers":{"errcode":"abc"},"duration":"1h"}`, "matchers.errcode"},
				{`{"matchers":{"env":"e"},"ends_at":"tomorrow"}`, "ends_at"},
				{`{"matchers":{"env":"e"},"duration":"2200h"}`, "duration"},
				{`{"matchers":{"env":"e"},"duration":"1h","comment":"` + strings.Repeat("x", 1001) + `"}`, "comment"},
				{`{"duration":"1h"}`, "matchers"},
				{`{"matchers":{"env":"e"},"duration":"1h","extra":1}`, "extra"},
			} {
				r := callHTTP(t, a, &all, "POST", "/silences", tc.body, bearer)
				var e struct {
					Error struct{ Code, Field string } `json:"error"`
				}
				if r.status != http.StatusBadRequest || json.Unmarshal([]byte(r.body), &e) != nil || e.Error.Field != tc.field {
					t.Errorf("%s: %d %s, want 400 naming %s", tc.body, r.status, r.body, tc.field)
				}
			}
			if act, end := list(c); act != 2 || end != 1 {
				t.Fatalf("after the refusals: %d active, %d ended", act, end)
			}
			if r := callHTTP(t, a, &all, "POST", "/silences", `{"comment":"`+strings.Repeat("x", 70<<10)+`"}`, bearer); r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("a 70 KiB body: %d", r.status)
			}

			out := all.String() + openOut.String() + aOut.String() + cOut.String()
			for _, secret := range []string{manageKey} {
				if strings.Contains(out, secret) {
					t.Errorf("%q reached an answer or a log", secret)
				}
			}
		})
	}
}

// TestSilencesAndOwnersThroughBinary: on Redis and on DynamoDB, silences
// on an authorizer, on an errcode across the fleet and on an env keep
// their changes in the event and from the robots; DELETE ends one at once
// and the next run sends what it covered, once, as a reminder; a
// merchant's own robot gets its authorizer's lines only while the
// platform's robot gets every line that is not silenced.
func TestSilencesAndOwnersThroughBinary(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) map[string]string{
		"redis": func(t *testing.T) map[string]string {
			return map[string]string{"WXCLOUDENV_STORE": storetest.StartRedis(t)}
		},
		"dynamodb": func(t *testing.T) map[string]string {
			url, env := storetest.StartDynamo(t)
			env["WXCLOUDENV_STORE"] = url
			return env
		},
	}
	for name, storeEnv := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			silencesAndOwners(t, storeEnv(t))
		})
	}
}

func silencesAndOwners(t *testing.T, storeEnv map[string]string) {
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	ids := srv.SetFleet(5)
	srv.SetAuthorizer(ids[0], wechattest.Authorizer{Revoked: true})
	srv.SetAuthorizer(ids[1], wechattest.Authorizer{EnvInfoErrCode: 85088})
	srv.SetAuthorizer(ids[2], wechattest.Authorizer{Status: "HALTED"})
	srv.SetAuthorizer(ids[3], wechattest.Authorizer{EnvInfoErrCode: 61007})
	const platformKey, ownerKey = "platform-robot-key-51d0", "owner-robot-key-e3a7"
	// ids[3]'s own robot: its authorizer is silenced, so it hears nothing.
	const silencedOwnerKey = "owner-robot-key-77c4"
	env := configtest.MintingVars(srv.URL)
	env["WECHAT_TIMEOUT"] = "5s"
	env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	for k, v := range storeEnv {
		env[k] = v
	}
	env["WXCLOUDENV_API_KEY"] = manageKey
	env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(platformKey)
	api, out := startLambda(t, env)
	var all strings.Builder
	bearer := map[string]string{"authorization": "Bearer " + manageKey}

	if r := callHTTP(t, api, &all, "PUT", "/authorizers/"+ids[0]+"/robots", fmt.Sprintf(`{"urls":[%q]}`, robots.WeComURL(ownerKey)), bearer); r.status != 200 {
		t.Fatalf("PUT robots: %d %s", r.status, r.body)
	}
	if r := callHTTP(t, api, &all, "PUT", "/authorizers/"+ids[3]+"/robots", fmt.Sprintf(`{"urls":[%q]}`, robots.WeComURL(silencedOwnerKey)), bearer); r.status != 200 {
		t.Fatalf("PUT robots: %d %s", r.status, r.body)
	}
	silenceIDs := map[string]string{}
	for who, body := range map[string]string{
		ids[1]: `{"matchers":{"errcode":"85088"},"duration":"1h","comment":"WeChat ticket 123"}`,
		ids[3]: `{"matchers":{"authorizer":["` + ids[3] + `"]},"duration":"1h"}`,
		ids[2]: `{"matchers":{"env":"` + wechattest.EnvID(ids[2], 0) + `"},"duration":"1h"}`,
	} {
		r := callHTTP(t, api, &all, "POST", "/silences", body, bearer)
		var sil struct {
			ID string `json:"id"`
		}
		if r.status != 201 || json.Unmarshal([]byte(r.body), &sil) != nil {
			t.Fatalf("POST silence: %d %s", r.status, r.body)
		}
		silenceIDs[who] = sil.ID
	}

	a, id := api.invoke(t, []byte(`{}`), 60*time.Second)
	all.Write(a.body)
	ev, _ := getEnvInfoResult(t, a.body)
	silenced := 0
	for _, c := range ev.Changes {
		if c.Silenced != "" {
			silenced++
			if c.Silenced != silenceIDs[c.Authorizer] {
				t.Fatalf("change %+v silenced by the wrong silence (want %s)", c, silenceIDs[c.Authorizer])
			}
		}
	}
	if len(ev.Changes) != 4 || silenced != 3 {
		t.Fatalf("changes %+v, want 4 with three silenced", ev.Changes)
	}
	platform := robots.ReceivedBy(platformKey)
	if len(platform) != 1 || !strings.Contains(platform[0].Text, ids[0]) || strings.Contains(platform[0].Text, ids[1]) ||
		strings.Contains(platform[0].Text, ids[2]) || strings.Contains(platform[0].Text, ids[3]) {
		t.Fatalf("the platform's robot got %+v", platform)
	}
	owner := robots.ReceivedBy(ownerKey)
	if len(owner) != 1 || !strings.Contains(owner[0].Text, ids[0]) || strings.Contains(owner[0].Text, ids[2]) || strings.Contains(owner[0].Text, ids[1]) {
		t.Fatalf("the owner's robot got %+v", owner)
	}
	if line := logLine(t, out, id); line["SilencedChanges"] != 3.0 {
		t.Fatalf("log line SilencedChanges = %v", line["SilencedChanges"])
	}

	// DELETE ends the errcode silence at once; the next run sends what it
	// covered and is still open, once, as a reminder; the others stay
	// silenced.
	if r := callHTTP(t, api, &all, "DELETE", "/silences/"+silenceIDs[ids[1]], "", bearer); r.status != 204 {
		t.Fatalf("DELETE: %d", r.status)
	}
	for range 2 {
		a, _ = api.invoke(t, []byte(`{}`), 60*time.Second)
		all.Write(a.body)
	}
	platform = robots.ReceivedBy(platformKey)
	if len(platform) != 2 || !strings.Contains(platform[1].Text, "STILL OPEN") || !strings.Contains(platform[1].Text, ids[1]) ||
		strings.Contains(platform[1].Text, ids[0]) || strings.Contains(platform[1].Text, ids[3]) {
		t.Fatalf("after the silence ended the platform's robot got %d messages: %+v", len(platform), platform)
	}
	if n := len(robots.ReceivedBy(ownerKey)); n != 1 {
		t.Fatalf("the owner's robot got %d messages, want still 1", n)
	}
	if got := robots.ReceivedBy(silencedOwnerKey); len(got) != 0 {
		t.Fatalf("the silenced authorizer's own robot got %+v", got)
	}
	for _, secret := range []string{platformKey, ownerKey, silencedOwnerKey, manageKey} {
		if strings.Contains(all.String()+out.String(), secret) {
			t.Errorf("%q reached an answer or a log", secret)
		}
	}
}
