package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const (
	robotsE2EKey      = "e2e-robots-api-key-0b7d"
	ownerWeComKey     = "e2e-owner-wecom-key-3c51"
	ownerDingTalkTok  = "e2e-owner-dingtalk-token-8e02"
	platformRobotKey2 = "e2e-platform-wecom-key-a4f9"
)

// robotsReq sends one request to a management route through tr and
// returns the status and the decoded body (nil when empty).
func robotsReq(t *testing.T, tr httpTransport, method, path, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "https://fn.example"+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, m
}

// TestOwnerRobotsThroughBinaries: a merchant's robots, set through the
// built SCF binary's Function URL, are used by the built Lambda binary's
// scheduled fleet run on the same store (Redis, DynamoDB): each merchant's
// robot gets only its own authorizer's lines, in its own message, while
// the platform robot gets every line. 403 while no key is configured;
// 400 naming the field and nothing stored for bad input; 413; no robot
// URL or key in any answer or output.
func TestOwnerRobotsThroughBinaries(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name  string
		store func(t *testing.T) (string, map[string]string)
	}{
		{"redis", func(t *testing.T) (string, map[string]string) { return storetest.StartRedis(t), nil }},
		{"dynamodb", func(t *testing.T) (string, map[string]string) { return storetest.StartDynamo(t) }},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			ids := srv.SetFleet(4)
			srv.SetAuthorizer(ids[0], wechattest.Authorizer{Status: "HALTED"})
			srv.SetAuthorizer(ids[1], wechattest.Authorizer{Status: "UNAVAILABLE"})
			srv.SetAuthorizer(ids[2], wechattest.Authorizer{EnvInfoErrCode: 85088})
			robots := notifytest.NewServer(notifytest.Options{})
			t.Cleanup(robots.Close)

			storeURL, storeEnv := s.store(t)
			env := configtest.MintingVars(srv.URL)
			maps.Copy(env, storeEnv)
			env["WECHAT_TIMEOUT"] = "5s"
			env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
			env["WXCLOUDENV_AUTHORIZERS"] = "all"
			env["WXCLOUDENV_STORE"] = storeURL
			env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(platformRobotKey2)

			// A function with no key configured refuses to change robots.
			noKey := pushPlatforms()[0].start
			tr0, out0 := noKey(t, env)
			status, body := robotsReq(t, tr0, http.MethodPut, "/authorizers/"+ids[0]+"/robots", "Bearer anything",
				`{"urls":["`+robots.WeComURL(ownerWeComKey)+`"]}`)
			if e, _ := body["error"].(map[string]any); status != http.StatusForbidden || e["code"] != "forbidden" || !strings.Contains(e["message"].(string), "WXCLOUDENV_API_KEY") {
				t.Fatalf("no key configured: %d %v", status, body)
			}

			env["WXCLOUDENV_API_KEY"] = robotsE2EKey
			scf, scfOut := pushPlatforms()[1].start(t, env)
			bearer := "Bearer " + robotsE2EKey
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("merchant:"+robotsE2EKey))
			owner0 := "/authorizers/" + ids[0] + "/robots"
			owner1 := "/authorizers/" + ids[1] + "/robots"

			// Bad input: 400 naming the field (or 413), nothing stored.
			bad := []struct {
				name, path, body, field string
				status                  int
			}{
				{"bad appid", "/authorizers/wx-bad!/robots", `{"urls":["` + robots.WeComURL(ownerWeComKey) + `"]}`, "appid", 400},
				{"unknown field", owner0, `{"urls":["` + robots.WeComURL(ownerWeComKey) + `"],"at":"all"}`, "at", 400},
				{"bad URL", owner0, `{"urls":["` + robots.URL + `/hook?key=` + ownerWeComKey + `"]}`, "urls[0]", 400},
				{"too many", owner0, `{"urls":["` + strings.Repeat(robots.WeComURL(ownerWeComKey)+`1","`, 5) + robots.WeComURL(ownerWeComKey) + `"]}`, "urls", 400},
				{"no URL", owner0, `{"urls":[]}`, "urls", 400},
				{"not JSON", owner0, `urls=` + robots.WeComURL(ownerWeComKey), "body", 400},
				{"too large", owner0, `{"urls":["` + robots.WeComURL(ownerWeComKey) + `"],"x":"` + strings.Repeat("y", 65<<10) + `"}`, "", 413},
			}
			for _, b := range bad {
				status, body := robotsReq(t, scf, http.MethodPut, b.path, bearer, b.body)
				e, _ := body["error"].(map[string]any)
				if status != b.status || b.field != "" && e["field"] != b.field {
					t.Errorf("%s: %d %v, want %d naming %q", b.name, status, body, b.status, b.field)
				}
				if status, body := robotsReq(t, scf, http.MethodGet, owner0, bearer, ""); status != 200 || len(body["robots"].([]any)) != 0 {
					t.Fatalf("after %s: %d %v, want no robots", b.name, status, body)
				}
			}

			// Merchant 0: a WeCom robot; merchant 1: a DingTalk robot (with
			// HTTP Basic, as a browser or curl -u would send it).
			status, body = robotsReq(t, scf, http.MethodPut, owner0, bearer, `{"urls":["`+robots.WeComURL(ownerWeComKey)+`"]}`)
			if status != 200 || len(body["robots"].([]any)) != 1 {
				t.Fatalf("PUT merchant 0: %d %v", status, body)
			}
			status, body = robotsReq(t, scf, http.MethodPut, owner1, basic, `{"urls":["`+robots.DingTalkURL(ownerDingTalkTok)+`"]}`)
			if status != 200 {
				t.Fatalf("PUT merchant 1: %d %v", status, body)
			}
			status, body = robotsReq(t, scf, http.MethodGet, owner1, basic, "")
			r, _ := body["robots"].([]any)
			if status != 200 || len(r) != 1 || r[0].(map[string]any)["kind"] != "dingtalk" || r[0].(map[string]any)["host"] != strings.TrimPrefix(robots.URL, "http://") {
				t.Fatalf("GET merchant 1: %d %v", status, body)
			}

			// The scheduled run, on the Lambda binary and the same store.
			api, out := startLambda(t, env)
			a, _ := api.invoke(t, readEvent(t, "aws-schedule.json"), 60*time.Second)
			if a.isError {
				t.Fatalf("scheduled run failed: %.600s", a.body)
			}
			first := string(a.body)
			var ev invoke.Event
			if err := json.Unmarshal(a.body, &ev); err != nil {
				t.Fatal(err)
			}
			owners := map[string]string{}
			for _, n := range ev.Notifications {
				owners[strings.Join(n.Authorizers, ",")] = n.Status
			}
			if owners[""] != "sent" || owners[ids[0]] != "sent" || owners[ids[1]] != "sent" || len(ev.Notifications) != 3 {
				t.Errorf("notifications = %+v, want the platform robot and both owner robots sent", ev.Notifications)
			}

			names := func(text string) []string {
				var got []string
				for _, id := range ids {
					if strings.Contains(text, id) {
						got = append(got, id)
					}
				}
				return got
			}
			platform := acceptedBy(robots, platformRobotKey2)
			if len(platform) != 1 || strings.Join(names(platform[0].Text), ",") != strings.Join(ids[:3], ",") {
				t.Errorf("platform robot: %d messages naming %v, want one naming %v", len(platform), names(platform[0].Text), ids[:3])
			}
			m0, m1 := acceptedBy(robots, ownerWeComKey), acceptedBy(robots, ownerDingTalkTok)
			if len(m0) != 1 || strings.Join(names(m0[0].Text), ",") != ids[0] || !strings.Contains(m0[0].Text, "HALTED") {
				t.Errorf("merchant 0's robot: %+v, want one message about %s only", m0, ids[0])
			}
			if len(m1) != 1 || strings.Join(names(m1[0].Text), ",") != ids[1] || !strings.Contains(m1[0].Text, "UNAVAILABLE") {
				t.Errorf("merchant 1's robot: %+v, want one message about %s only", m1, ids[1])
			}

			// DELETE ends merchant 0's robot: the next change reaches the
			// platform robot only.
			if status, _ := robotsReq(t, scf, http.MethodDelete, owner0, bearer, ""); status != http.StatusNoContent {
				t.Fatalf("DELETE: %d", status)
			}
			srv.SetAuthorizer(ids[0], wechattest.Authorizer{})
			a, _ = api.invoke(t, readEvent(t, "aws-schedule.json"), 60*time.Second)
			if a.isError {
				t.Fatalf("second run failed: %.600s", a.body)
			}
			if n := len(acceptedBy(robots, ownerWeComKey)); n != 1 {
				t.Errorf("a deleted robot got %d messages, want still 1", n)
			}
			if p := acceptedBy(robots, platformRobotKey2); len(p) != 2 || !strings.Contains(p[1].Text, ids[0]) {
				t.Errorf("platform robot: %d messages, want a second naming %s's recovery", len(p), ids[0])
			}

			all := out.String() + scfOut.String() + out0.String() + scf.answers.String() + tr0.answers.String() + first + string(a.body)
			for _, secret := range []string{ownerWeComKey, ownerDingTalkTok, platformRobotKey2, robotsE2EKey} {
				if strings.Contains(all, secret) {
					t.Errorf("%q reached an answer or a process's output", secret)
				}
			}
		})
	}
}
