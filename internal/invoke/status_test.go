package invoke_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/status"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger/triggertest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const statusKey = "status-page-key-7f3a"

// statusFront serves hs through every HTTP trigger shape (triggertest.Mux).
func statusFront(t *testing.T, hs *harness) *httptest.Server {
	t.Helper()
	front := httptest.NewServer(triggertest.Mux(func(triggertest.Shape) triggertest.Invoker {
		return func(ctx context.Context, ev []byte) ([]byte, error) { return hs.h.Invoke(ctx, ev) }
	}))
	t.Cleanup(front.Close)
	return front
}

func get(t *testing.T, url string, set func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if set != nil {
		set(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestStatusAuth: the status routes take the key as Bearer, X-Api-Key or
// HTTP Basic's password, ask a browser for it with a Basic challenge, and
// answer 403 while no key is configured, on every HTTP trigger shape.
func TestStatusAuth(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	withKey := staticEnv(srv)
	withKey["WXCLOUDENV_API_KEY"] = statusKey
	fronts := map[bool]*httptest.Server{
		true:  statusFront(t, newHarness(t, srv, withKey)),
		false: statusFront(t, newHarness(t, srv, staticEnv(srv))),
	}
	basic := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	header := func(k, v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(k, v) }
	}
	tests := []struct {
		name   string
		key    bool
		path   string
		set    func(*http.Request)
		status int
	}{
		{"no key configured", false, "/status", basic("x", statusKey), 403},
		{"no credentials", true, "/status", nil, 401},
		{"wrong basic password", true, "/status", basic("admin", "nope"), 401},
		{"key as basic user only", true, "/status", basic(statusKey, ""), 401},
		{"bearer", true, "/status", header("Authorization", "Bearer "+statusKey), 200},
		{"x-api-key", true, "/status.json", header("X-Api-Key", statusKey), 200},
		{"basic", true, "/status", basic("anyone", statusKey), 200},
		{"authorizer page", true, "/status/authorizers/wx0123456789abcdef", basic("", statusKey), 200},
		{"bad appid", true, "/status/authorizers/wx%3Cb%3E", basic("", statusKey), 404},
		{"post", true, "/status", nil, 401},
	}
	for _, shape := range triggertest.Shapes {
		for _, tt := range tests {
			t.Run(string(shape)+"/"+tt.name, func(t *testing.T) {
				resp, body := get(t, fronts[tt.key].URL+"/"+string(shape)+"/stage"+tt.path, tt.set)
				if resp.StatusCode != tt.status {
					t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
				}
				switch tt.status {
				case 401:
					if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="wxcloudenv"` {
						t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
					}
				case 403:
					if !strings.Contains(string(body), "WXCLOUDENV_API_KEY") {
						t.Errorf("403 body %s does not name WXCLOUDENV_API_KEY", body)
					}
				case 200:
					want := map[string]string{
						"Cache-Control":           "no-store",
						"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
						"X-Content-Type-Options":  "nosniff",
						"Content-Type":            "text/html; charset=utf-8",
					}
					if strings.HasSuffix(tt.path, ".json") {
						want["Content-Type"] = "application/json"
					}
					for k, v := range want {
						if got := resp.Header.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
				}
				if strings.Contains(string(body), statusKey) {
					t.Error("the answer carries the API key")
				}
			})
		}
	}
	if n := srv.Calls(wechat.GetEnvInfoPath) + srv.Calls(wechat.DescribeCloudBaseRunEnvsPath); n != 0 {
		t.Errorf("the status routes called WeChat %d times", n)
	}
}

// TestStatusAfterRuns: runs record their history; the page, its JSON and
// an authorizer's page show it, from the store alone.
func TestStatusAfterRuns(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ids := srv.SetFleet(6)
	srv.SetAuthorizer(ids[1], wechattest.Authorizer{Revoked: true})
	srv.SetAuthorizer(ids[2], wechattest.Authorizer{Status: `<script>alert("x")</script>`})
	e := fleetEnv(srv)
	e["WXCLOUDENV_API_KEY"] = statusKey
	hs := newHarness(t, srv, e)
	hs.h.Now = time.Now // the history expires after 7 days of the store's clock
	for range 2 {
		if _, err := hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hs.invoke(t, []byte(`{"operations":["describecloudbaserunenvs"]}`), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls(wechat.GetEnvInfoPath) + srv.Calls(wechat.DescribeCloudBaseRunEnvsPath)
	front := statusFront(t, hs)
	auth := func(r *http.Request) { r.SetBasicAuth("", statusKey) }

	resp, body := get(t, front.URL+"/"+string(triggertest.SCFFunctionURL)+"/status.json", auth)
	if resp.StatusCode != 200 {
		t.Fatalf("status.json: %d %s", resp.StatusCode, body)
	}
	var d status.Data
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) != 3 || len(d.LastRuns) != 2 {
		t.Fatalf("runs %d, last runs %+v; want 3 runs, a fleet and a single", len(d.Runs), d.LastRuns)
	}
	fleet := d.LastRuns[1]
	if d.LastRuns[0].Kind != history.KindSingle || fleet.Kind != history.KindFleet || fleet.Authorizers != len(srv.Authorizers()) || fleet.FailedAuthorizers != 1 ||
		fleet.Trigger != "schedule" || fleet.Alerts != 1 {
		t.Errorf("last runs = %+v", d.LastRuns)
	}
	if d.Counts.Authorizers != len(srv.Authorizers()) || d.Counts.Failing != 1 || d.Counts.OpenAlerts < 1 {
		t.Errorf("counts = %+v", d.Counts)
	}
	if len(d.Changes) == 0 || len(d.Incidents) == 0 {
		t.Errorf("changes %d, incidents %d; want some", len(d.Changes), len(d.Incidents))
	}

	resp, body = get(t, front.URL+"/"+string(triggertest.RESTv1)+"/Prod/status", auth)
	page := string(body)
	if resp.StatusCode != 200 || !strings.Contains(page, ids[1]) || strings.Contains(page, "<script>") ||
		!strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "<svg") {
		t.Errorf("page (%d) does not show the fleet escaped with its picture:\n%.3000s", resp.StatusCode, page)
	}
	resp, body = get(t, front.URL+"/"+string(triggertest.HTTPv2)+"/status/authorizers/"+ids[2], auth)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "&lt;script&gt;") || !strings.Contains(string(body), ids[2]) {
		t.Errorf("authorizer page (%d):\n%.3000s", resp.StatusCode, body)
	}
	if n := srv.Calls(wechat.GetEnvInfoPath) + srv.Calls(wechat.DescribeCloudBaseRunEnvsPath); n != calls {
		t.Errorf("the status routes called WeChat %d times", n-calls)
	}
}

// TestStatusQueuedBatches: each worked batch of a queued fleet run is a
// run of kind batch in the history, a batch redelivered adds none.
func TestStatusQueuedBatches(t *testing.T) {
	srv := newServer(t)
	srv.SetFleet(7)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	fake := &fakeInvoke{}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	e := scfQueueEnv(t, srv, api.URL, robots)
	e["WXCLOUDENV_API_KEY"] = statusKey
	hs := newHarness(t, srv, e)
	hs.h.Now = time.Now // the history expires after 7 days of the store's clock
	if _, err := hs.invoke(t, []byte(timerTick), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, batch := range append(fake.events, fake.events[0]) {
		if _, err := hs.invoke(t, batch, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	front := statusFront(t, hs)
	resp, body := get(t, front.URL+"/"+string(triggertest.SCFFunctionURL)+"/status.json", func(r *http.Request) { r.SetBasicAuth("", statusKey) })
	var d status.Data
	if err := json.Unmarshal(body, &d); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status.json: %d %v %s", resp.StatusCode, err, body)
	}
	batches, authorizers := 0, 0
	for _, r := range d.Runs {
		if r.Kind == history.KindBatch {
			batches++
			authorizers += r.Authorizers
		}
	}
	if batches != len(fake.events) || authorizers != len(srv.Authorizers()) {
		t.Errorf("history has %d batches over %d authorizers, want %d over %d: %+v", batches, authorizers, len(fake.events), len(srv.Authorizers()), d.Runs)
	}
	if len(d.LastRuns) == 0 || d.LastRuns[len(d.LastRuns)-1].Kind != history.KindBatch {
		t.Errorf("last runs = %+v, want a batch", d.LastRuns)
	}
}
