package invoke_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestGoldenEvents replays every sample in events/ and AWS's own captured
// samples, and compares the answers with golden files.
func TestGoldenEvents(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	files, _ := filepath.Glob("../../events/*.json")
	if len(files) < 8 {
		t.Fatalf("found %d files in events/, want one per trigger", len(files))
	}
	aws := moduleDir(t, "github.com/aws/aws-lambda-go")
	for _, f := range []string{
		"events/testdata/apigw-request.json",                  // REST v1, POST /hello/world: 404
		"events/testdata/apigw-v2-request-no-authorizer.json", // HTTP API v2, GET /: 404
		"events/testdata/apigw-v2-request-iam.json",
		"events/testdata/lambda-urls-request.json", // Function URL, POST /my/path: 404
		"lambdaurl/testdata/function-url-domain-only-get-request.json",
		"lambdaurl/testdata/function-url-domain-only-request-with-base64-encoded-body.json",
	} {
		files = append(files, filepath.Join(aws, f))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			hs := newHarness(t, srv, staticEnv(srv))
			out, err := hs.invoke(t, readFile(t, f), 10*time.Second)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			golden(t, name, normalize(t, out))
			if n := len(hs.log.Lines(t)); n != 1 {
				t.Errorf("%d log lines, want 1", n)
			}
		})
	}
}

func TestTriggers(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		file    string
		trigger string
		status  int
		ops     []string
	}{
		{"aws-schedule.json", "schedule", 0, []string{"getenvinfo", "describecloudbaserunenvs"}},
		{"aws-scheduler.json", "schedule", 0, []string{"getenvinfo", "describecloudbaserunenvs"}},
		{"aws-rest-api-v1.json", "http", 200, []string{"getenvinfo", "describecloudbaserunenvs"}},
		{"aws-http-api-v2.json", "http", 200, []string{"describecloudbaserunenvs"}},
		{"aws-function-url.json", "http", 200, []string{"getenvinfo"}},
		{"direct.json", "direct", 0, []string{"getenvinfo", "describecloudbaserunenvs"}},
		{"scf-timer.json", "schedule", 0, []string{"describecloudbaserunenvs"}},
		{"scf-function-url.json", "http", 200, []string{"getenvinfo", "describecloudbaserunenvs"}},
		{"scf-apigateway.json", "http", 200, []string{"getenvinfo"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			hs := newHarness(t, srv, staticEnv(srv))
			out, err := hs.invoke(t, readFile(t, "../../events/"+tt.file), 10*time.Second)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			d := decode(t, out)
			if d.status != tt.status {
				t.Errorf("status = %d, want %d", d.status, tt.status)
			}
			if tt.status != 0 && d.headers["Content-Type"] != "application/json" {
				t.Errorf("Content-Type = %q", d.headers["Content-Type"])
			}
			if d.body["trigger"] != tt.trigger || d.body["ok"] != true || d.body["source"] != "wxcloudenv" ||
				d.body["platform"] != "aws-lambda" || d.body["request_id"] != "8f6b1c2d-test-request" || d.body["time"] != "2026-11-24T08:00:00.123Z" {
				t.Errorf("event header = %v", d.body)
			}
			results := d.body["results"].(map[string]any)
			if len(results) != len(tt.ops) {
				t.Errorf("results = %v, want %v", keys(results), tt.ops)
			}
			for _, op := range tt.ops {
				r, ok := results[op].(map[string]any)
				if !ok || r["ok"] != true || r["attempts"] != 1.0 || r["response"] == nil || r["error"] != nil {
					t.Errorf("result %s = %v", op, r)
				}
			}
		})
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestEnvFilter(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hs := newHarness(t, srv, staticEnv(srv))
	out, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"env":"prod-7c21be"}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	list := decode(t, out).body["results"].(map[string]any)["getenvinfo"].(map[string]any)["response"].(map[string]any)["info_list"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["env"] != "prod-7c21be" {
		t.Errorf("info_list = %v, want prod-7c21be only", list)
	}
	// WECHAT_ENV is the default filter.
	hs = newHarness(t, srv, env{"WECHAT_ENV": "test2-4a89da", "WECHAT_API_BASE_URL": srv.URL, "WECHAT_ACCESS_TOKEN": wechattest.AccessToken})
	out, _ = hs.invoke(t, []byte(`{"operations":["getenvinfo"]}`), 10*time.Second)
	if !strings.Contains(string(out), `"env":"test2-4a89da"`) || strings.Contains(string(out), "prod-7c21be") {
		t.Errorf("WECHAT_ENV not applied: %s", out)
	}
}

func TestInvalidPayloads(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		name    string
		payload string
		want    string // in the error
	}{
		{"unknown field", `{"operation":["getenvinfo"]}`, `unknown field "operation"`},
		{"empty operations", `{"operations":[]}`, "operation list is empty"},
		{"unknown operation", `{"operations":["getenvinfo","listall"]}`, `unknown operation "listall"`},
		{"operations not a list", `{"operations":"getenvinfo"}`, "must be a list of strings"},
		{"env with a slash", `{"env":"prod/7c"}`, "is not 1 to 128 characters"},
		{"empty env", `{"env":""}`, "is not 1 to 128 characters"},
		{"long env", `{"env":"` + strings.Repeat("a", 129) + `"}`, "is not 1 to 128 characters"},
		{"not an object", `["getenvinfo"]`, "not a JSON object"},
		{"a string", `"hello"`, "not a JSON object"},
		{"malformed", `{"operations":`, "not valid JSON"},
		{"trailing data", `{"env":"a"} {"env":"b"}`, "not valid JSON"},
		{"timer message object", `{"Type":"Timer","TriggerName":"t","Time":"2026-11-24T08:00:00Z","Message":"{\"env\":\"bad env\"}"}`, "SCF timer Message"},
		{"eventbridge non-schedule", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, "is not a schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, srv, staticEnv(srv))
			before := srv.Calls(wechat.GetEnvInfoPath) + srv.Calls(wechat.DescribeCloudBaseRunEnvsPath)
			out, err := hs.invoke(t, []byte(tt.payload), 10*time.Second)
			var ie *invoke.InvocationError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) || out != nil {
				t.Fatalf("Invoke(%s) = %s, %v; want an InvocationError containing %q", tt.payload, out, err, tt.want)
			}
			if after := srv.Calls(wechat.GetEnvInfoPath) + srv.Calls(wechat.DescribeCloudBaseRunEnvsPath); after != before {
				t.Errorf("an invalid payload called WeChat")
			}
		})
	}
}

func TestDefaultPayloads(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, p := range []string{``, `null`, `{}`, ` {} `, `{"operations":null}`,
		`{"Type":"Timer","TriggerName":"t","Message":""}`,
		`{"Type":"Timer","TriggerName":"t","Message":"hello"}`,
		`{"Type":"Timer","TriggerName":"t","Message":"[1,2]"}`,
		`{"Type":"Timer","TriggerName":"t","Message":"{broken"}`} {
		hs := newHarness(t, srv, staticEnv(srv))
		out, err := hs.invoke(t, []byte(p), 10*time.Second)
		if err != nil {
			t.Errorf("Invoke(%q): %v", p, err)
			continue
		}
		if r := decode(t, out).body["results"].(map[string]any); len(r) != 2 {
			t.Errorf("Invoke(%q) ran %v, want both operations", p, keys(r))
		}
	}
}

func TestOperationsFromConfig(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	e := staticEnv(srv)
	e["WXCLOUDENV_OPERATIONS"] = "describecloudbaserunenvs"
	hs := newHarness(t, srv, e)
	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r := decode(t, out).body["results"].(map[string]any); len(r) != 1 || r["describecloudbaserunenvs"] == nil {
		t.Errorf("ran %v, want describecloudbaserunenvs only", keys(r))
	}
}

// TestScheduleSemantics: a failed scheduled run fails the invocation,
// naming each failed operation and its kind; a direct run returns the event.
func TestScheduleSemantics(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	schedule := readFile(t, "../../events/aws-schedule.json")

	hs := newHarness(t, srv, staticEnv(srv))
	srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 85088})
	defer srv.Reset()
	_, err := hs.invoke(t, schedule, 10*time.Second)
	var ie *invoke.InvocationError
	if !errors.As(err, &ie) {
		t.Fatalf("scheduled run with a failure: err = %v, want an InvocationError", err)
	}
	for _, want := range []string{"1 of 2 operations failed", "describecloudbaserunenvs (permission, errcode 85088)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	lines := hs.log.Lines(t)
	if len(lines) != 1 || lines[0]["level"] != "WARN" || lines[0]["ok"] != false {
		t.Errorf("log = %v, want one WARN line", lines)
	}

	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatalf("direct run with a failure: %v", err)
	}
	ev := decode(t, out).body
	if ev["ok"] != false {
		t.Errorf("ok = %v, want false", ev["ok"])
	}
	r := ev["results"].(map[string]any)
	if r["getenvinfo"].(map[string]any)["ok"] != true || r["getenvinfo"].(map[string]any)["response"] == nil {
		t.Errorf("the failure of one operation hid the other's result: %v", r["getenvinfo"])
	}
	e := r["describecloudbaserunenvs"].(map[string]any)
	if e["response"] != nil {
		t.Errorf("a failed operation carries a response")
	}
	info := e["error"].(map[string]any)
	if info["kind"] != "permission" || info["errcode"] != 85088.0 || info["rid"] == "" || info["retryable"] != false ||
		!strings.Contains(info["errmsg"].(string), "no qbase privilege") {
		t.Errorf("error = %v", info)
	}
}

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

// TestDeadline: upstream work stops before the platform deadline and is
// reported as timeout.
func TestDeadline(t *testing.T) {
	srv := newServer(t)
	e := staticEnv(srv)
	e["WECHAT_TIMEOUT"] = "30s"
	hs := newHarness(t, srv, e)
	srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{Hang: true})
	defer srv.Reset()
	deadline := time.Now().Add(800 * time.Millisecond)
	out, err := hs.invoke(t, []byte(`{}`), 800*time.Millisecond)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if !time.Now().Before(deadline) {
		t.Errorf("the invocation answered after its deadline")
	}
	r := decode(t, out).body["results"].(map[string]any)
	g := r["getenvinfo"].(map[string]any)
	if g["ok"] != false || g["error"].(map[string]any)["kind"] != "timeout" {
		t.Errorf("getenvinfo = %v, want a timeout", g)
	}
	if d := r["describecloudbaserunenvs"].(map[string]any); d["ok"] != true {
		t.Errorf("the hung operation hid the other's result: %v", d)
	}
}

func TestAlerts(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"a-1","alias":"a","status":"NORMAL"},{"env":"b-2","alias":"b","status":"HALTED"}]}`))
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, []byte(`{"errcode":0,"errmsg":"ok","env_list":[`+
		`{"env_id":"c-3","status":"UNAVAILABLE","databases":[{"instance_id":"db1","status":"RUNNING"},{"instance_id":"db2","status":"OVERDUE"}],"static_storages":[{"bucket":"bk1","status":"offline"}]},`+
		`{"env_id":"d-4","status":"NORMAL","databases":[{"instance_id":"db3","status":"UNUSABLE"}],"static_storages":[{"bucket":"bk2","status":"online"}]}]}`))
	defer srv.Reset()
	hs := newHarness(t, srv, staticEnv(srv))
	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "alerts.json", normalize(t, out))
	alerts := decode(t, out).body["alerts"].([]any)
	want := []string{"getenvinfo b-2 environment HALTED", "describecloudbaserunenvs c-3 environment UNAVAILABLE",
		"describecloudbaserunenvs c-3 database:db2 OVERDUE", "describecloudbaserunenvs c-3 static_storage:bk1 offline",
		"describecloudbaserunenvs d-4 database:db3 UNUSABLE"}
	if len(alerts) != len(want) {
		t.Fatalf("alerts = %v, want %d", alerts, len(want))
	}
	for i, a := range alerts {
		m := a.(map[string]any)
		if got := fmt.Sprint(m["operation"], " ", m["env"], " ", m["resource"], " ", m["status"]); got != want[i] || m["message"] == "" {
			t.Errorf("alert %d = %v, want %s", i, m, want[i])
		}
	}
	if hs.log.Lines(t)[0]["alerts_total"] != 5.0 {
		t.Errorf("log line does not count the alerts: %v", hs.log.Lines(t)[0])
	}
}

func TestAnswerCap(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, wechattest.GenerateRunEnvs(7000))
	defer srv.Reset()
	hs := newHarness(t, srv, staticEnv(srv))
	_, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "6 MB") || !strings.Contains(err.Error(), "env filter") {
		t.Fatalf("err = %v, want one naming the 6 MB limit and the env filter", err)
	}
	out, err := hs.invoke(t, readFile(t, "../../events/aws-rest-api-v1.json"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, out)
	if d.status != http.StatusBadGateway || d.body["error"].(map[string]any)["code"] != "response_too_large" || len(out) > invoke.MaxAnswerBytes {
		t.Errorf("HTTP answer over the cap: status %d, %d bytes, body %v", d.status, len(out), d.body)
	}
	// A scheduled run is never lost to the cap: it answers a compact event.
	out, err = hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 10*time.Second)
	if err != nil {
		t.Fatalf("scheduled run over the cap: %v", err)
	}
	var ev invoke.Event
	if err := json.Unmarshal(out, &ev); err != nil || !ev.Compact || len(out) > invoke.MaxAnswerBytes {
		t.Fatalf("scheduled run over the cap: compact %v, %d bytes, err %v", ev.Compact, len(out), err)
	}
	for _, r := range ev.Results {
		if r.Response != nil || (r.Operation == "describecloudbaserunenvs" && r.Items == 0) {
			t.Errorf("compact result %s = %+v, want items and no response", r.Operation, r)
		}
	}
}

// TestConfigPerInvocation: SCF may set the variables just before the
// handler runs; the handler reads them then, and keeps minted tokens while
// they stay the same.
func TestConfigPerInvocation(t *testing.T) {
	srv := newServer(t)
	configtest.Set(t, nil)
	hs := newHarness(t, srv, nil)
	hs.h.Lookup = os.LookupEnv // as on SCF: the process environment, read on every invocation
	out, _ := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if decode(t, out).body["ok"] != false {
		t.Fatalf("no configuration, yet ok")
	}
	for k, v := range mintEnv(srv) {
		t.Setenv(k, v)
	}
	for i := range 3 {
		out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
		if err != nil || decode(t, out).body["ok"] != true {
			t.Fatalf("invocation %d after the variables arrived: %s %v", i, out, err)
		}
	}
	if srv.Calls(wechat.ComponentTokenPath) != 1 || srv.Calls(wechat.AuthorizerTokenPath) != 1 {
		t.Errorf("mints: component %d, authorizer %d; want 1 each across warm invocations",
			srv.Calls(wechat.ComponentTokenPath), srv.Calls(wechat.AuthorizerTokenPath))
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hs := newHarness(t, srv, staticEnv(srv))
	if _, err := hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	lines := hs.log.Lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1", len(lines))
	}
	l := lines[0]
	if l["level"] != "INFO" || l["request_id"] != "8f6b1c2d-test-request" || l["trigger"] != "schedule" || l["ok"] != true {
		t.Errorf("log line = %v", l)
	}
	ops := l["operations"].(map[string]any)
	if g := ops["getenvinfo"].(map[string]any); g["items"] != 2.0 || g["attempts"] != 1.0 {
		t.Errorf("getenvinfo summary = %v", g)
	}
	if strings.Contains(hs.log.String(), "info_list") {
		t.Errorf("the log line holds the answers")
	}
	// LOG_LEVEL=warn hides successful runs.
	e := staticEnv(srv)
	e["LOG_LEVEL"] = "warn"
	hs = newHarness(t, srv, e)
	hs.invoke(t, []byte(`{}`), 10*time.Second)
	if hs.log.String() != "" {
		t.Errorf("LOG_LEVEL=warn logged a successful run: %s", hs.log.String())
	}
}

// TestEventRoundTrip: a Go consumer can json.Unmarshal the event the core
// writes, and marshalling it again gives the same bytes.
func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"b-2","alias":"b","status":"HALTED"}],"extra":{"kept":[1,2]}}`))
	cases := map[string]env{"ok with an alert": staticEnv(srv), "failures": nil}
	for name, e := range cases {
		hs := newHarness(t, srv, e)
		out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ev invoke.Event
		if err := json.Unmarshal(out, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ev.Results) != 2 || ev.Results[0].Operation != "getenvinfo" || ev.Source != invoke.EventSource {
			t.Errorf("%s: decoded %+v", name, ev)
		}
		again, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(out) {
			t.Errorf("%s: round trip changed the event:\n got %s\nwant %s", name, again, out)
		}
	}
}
