package invoke_test

import (
	"errors"
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
