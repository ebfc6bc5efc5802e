package invoke_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	v2 := func(method, path, query, body string, headers map[string]string, b64 bool) string {
		h := `{"content-type":"application/json"`
		for k, v := range headers {
			h += fmt.Sprintf(`,%q:%q`, k, v)
		}
		h += "}"
		return fmt.Sprintf(`{"version":"2.0","routeKey":"$default","rawPath":%q,"rawQueryString":%q,"headers":%s,`+
			`"requestContext":{"http":{"method":%q,"path":%q},"requestId":"r","stage":"$default"},"body":%q,"isBase64Encoded":%v}`,
			path, query, h, method, path, body, b64)
	}
	key := map[string]string{"authorization": "Bearer s3cr3t-api-key"}
	big := `{"env":"` + strings.Repeat("a", 70<<10) + `"}`
	tests := []struct {
		name     string
		apiKey   string
		event    string
		fault    *wechattest.Fault
		noToken  bool
		status   int
		code     string // error code for rejections
		upstream bool   // whether WeChat is called
	}{
		{name: "ok", event: v2("GET", "/envs", "", "", nil, false), status: 200, upstream: true},
		{name: "stage prefix", event: v2("GET", "/prod/v1/envs/", "env=test2-4a89da", "", nil, false), status: 200, upstream: true},
		{name: "post body", event: v2("POST", "/envs", "", `{"operations":["getenvinfo"]}`, nil, false), status: 200, upstream: true},
		{name: "post base64", event: v2("POST", "/envs", "", "eyJlbnYiOiJwcm9kLTdjMjFiZSJ9", nil, true), status: 200, upstream: true},
		{name: "post empty body", event: v2("POST", "/envs", "", "", nil, false), status: 200, upstream: true},
		{name: "healthz", event: v2("GET", "/healthz", "", "", nil, false), status: 200},
		{name: "healthz without key", apiKey: "s3cr3t-api-key", event: v2("GET", "/healthz", "", "", nil, false), status: 200},
		{name: "key in bearer", apiKey: "s3cr3t-api-key", event: v2("GET", "/envs", "", "", key, false), status: 200, upstream: true},
		{name: "key in x-api-key", apiKey: "s3cr3t-api-key", event: v2("GET", "/envs", "", "", map[string]string{"x-api-key": "s3cr3t-api-key"}, false), status: 200, upstream: true},
		{name: "missing key", apiKey: "s3cr3t-api-key", event: v2("GET", "/envs", "", "", nil, false), status: 401, code: "unauthorized"},
		{name: "wrong key", apiKey: "s3cr3t-api-key", event: v2("GET", "/envs", "", "", map[string]string{"x-api-key": "guess"}, false), status: 401, code: "unauthorized"},
		{name: "401 before 404", apiKey: "s3cr3t-api-key", event: v2("GET", "/nope", "", "", nil, false), status: 401, code: "unauthorized"},
		{name: "unknown path", event: v2("GET", "/environments", "", "", nil, false), status: 404, code: "not_found"},
		{name: "not a suffix match", event: v2("GET", "/myenvs", "", "", nil, false), status: 404, code: "not_found"},
		{name: "404 before 405", event: v2("DELETE", "/nope", "", "", nil, false), status: 404, code: "not_found"},
		{name: "wrong method", event: v2("DELETE", "/envs", "", "", nil, false), status: 405, code: "method_not_allowed"},
		{name: "post on an operation", event: v2("POST", "/envs/getenvinfo", "", "{}", nil, false), status: 405, code: "method_not_allowed"},
		{name: "405 before 413", event: v2("PUT", "/envs", "", big, nil, false), status: 405, code: "method_not_allowed"},
		{name: "body too large", event: v2("POST", "/envs", "", big, nil, false), status: 413, code: "payload_too_large"},
		{name: "bad json", event: v2("POST", "/envs", "", `{"env":`, nil, false), status: 400, code: "bad_request"},
		{name: "unknown operation", event: v2("GET", "/envs", "operations=getenvinfo,nope", "", nil, false), status: 400, code: "bad_request"},
		{name: "empty operations", event: v2("GET", "/envs", "operations=", "", nil, false), status: 400, code: "bad_request"},
		{name: "bad env", event: v2("GET", "/envs/getenvinfo", "env=a%20b", "", nil, false), status: 400, code: "bad_request"},
		{name: "bad base64", event: v2("POST", "/envs", "", "!!!not base64", nil, true), status: 400, code: "bad_request"},
		{name: "upstream failure", event: v2("GET", "/envs", "", "", nil, false), fault: &wechattest.Fault{ErrCode: 48001}, status: 502, upstream: true},
		{name: "config failure", event: v2("GET", "/envs", "", "", nil, false), noToken: true, status: 500, upstream: true},
		{name: "every failure a timeout", event: v2("GET", "/envs/describecloudbaserunenvs", "", "", nil, false), fault: &wechattest.Fault{Hang: true}, status: 504, upstream: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Reset()
			e := staticEnv(srv)
			e["WECHAT_TIMEOUT"] = "200ms"
			e["WECHAT_RETRIES"] = "0"
			if tt.apiKey != "" {
				e["WXCLOUDENV_API_KEY"] = tt.apiKey
			}
			if tt.noToken {
				delete(e, "WECHAT_COMPONENT_ACCESS_TOKEN")
			}
			if tt.fault != nil {
				srv.Always(wechat.DescribeCloudBaseRunEnvsPath, *tt.fault)
			}
			hs := newHarness(t, srv, e)
			out, err := hs.invoke(t, []byte(tt.event), 10*time.Second)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			d := decode(t, out)
			if d.status != tt.status {
				t.Errorf("status = %d, want %d; body %v", d.status, tt.status, d.body)
			}
			if d.headers["Content-Type"] != "application/json" {
				t.Errorf("Content-Type = %q", d.headers["Content-Type"])
			}
			if tt.code != "" {
				e, _ := d.body["error"].(map[string]any)
				if e["code"] != tt.code || e["message"] == "" {
					t.Errorf("error body = %v, want code %s", d.body, tt.code)
				}
			}
			if tt.status == 405 && d.headers["Allow"] == "" {
				t.Errorf("405 without Allow")
			}
			if tt.status >= 500 && d.body["results"] == nil {
				t.Errorf("a %d does not carry the event: %v", tt.status, d.body)
			}
			calls := srv.Calls(wechat.GetEnvInfoPath) + srv.Calls(wechat.DescribeCloudBaseRunEnvsPath)
			if (calls > 0) != tt.upstream {
				t.Errorf("WeChat called %d times, want upstream=%v", calls, tt.upstream)
			}
			if len(hs.log.Lines(t)) != 1 {
				t.Errorf("want one log line, got %q", hs.log.String())
			}
		})
	}
}

func TestConfigErrorNamesVariables(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hs := newHarness(t, srv, env{"WECHAT_API_BASE_URL": srv.URL})
	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	r := decode(t, out).body["results"].(map[string]any)
	for op, vars := range map[string][]string{
		"getenvinfo":               {"WECHAT_ACCESS_TOKEN", "WECHAT_AUTHORIZER_APPID", "WECHAT_APPID"},
		"describecloudbaserunenvs": {"WECHAT_COMPONENT_ACCESS_TOKEN", "WECHAT_COMPONENT_VERIFY_TICKET"},
	} {
		res := r[op].(map[string]any)
		e := res["error"].(map[string]any)
		if e["kind"] != "config" || res["attempts"] != 0.0 {
			t.Errorf("%s: %v, want kind config and no attempt", op, res)
		}
		for _, v := range vars {
			if !strings.Contains(e["message"].(string), v) {
				t.Errorf("%s: message %q does not name %s", op, e["message"], v)
			}
		}
	}
	// An invalid value fails the invocation, naming the variable.
	hs = newHarness(t, srv, env{"WECHAT_TIMEOUT": "soon"})
	if _, err := hs.invoke(t, []byte(`{}`), 10*time.Second); err == nil || !strings.Contains(err.Error(), "WECHAT_TIMEOUT") {
		t.Errorf("err = %v, want one naming WECHAT_TIMEOUT", err)
	}
}
