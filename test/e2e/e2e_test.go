package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventOf returns the output event of an answer, unwrapping HTTP answers,
// and the HTTP status (0 for non-HTTP answers).
func eventOf(t *testing.T, body []byte) (map[string]any, int) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, body)
	}
	sc, ok := m["statusCode"].(float64)
	if !ok {
		return m, 0
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(m["body"].(string)), &ev); err != nil {
		t.Fatalf("HTTP body is not JSON: %v", err)
	}
	return ev, int(sc)
}

func wechatEnv(srv *wechattest.Server) map[string]string {
	return map[string]string{
		"WECHAT_API_BASE_URL":           srv.URL,
		"WECHAT_ACCESS_TOKEN":           wechattest.AccessToken,
		"WECHAT_COMPONENT_ACCESS_TOKEN": wechattest.ComponentAccessToken,
		"WECHAT_TIMEOUT":                "1s",
		"WECHAT_RETRIES":                "1",
	}
}

// logLine finds the function's JSON log line for a request id.
func logLine(t *testing.T, out *safeBuffer, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(out.String(), "\n") {
			if !strings.Contains(l, id) || !strings.HasPrefix(l, "{") {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line for %s in:\n%s", id, out.String())
	return nil
}

func TestLambdaTriggers(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	api, out := startLambda(t, wechatEnv(srv))
	tests := []struct {
		file, trigger string
		status        int
	}{
		{"aws-schedule.json", "schedule", 0},
		{"aws-scheduler.json", "schedule", 0},
		{"aws-rest-api-v1.json", "http", 200},
		{"aws-http-api-v2.json", "http", 200},
		{"aws-function-url.json", "http", 200},
		{"direct.json", "direct", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, id := api.invoke(t, readEvent(t, tt.file), 10*time.Second)
			if a.isError {
				t.Fatalf("invocation failed: %s", a.body)
			}
			if a.contentType != "application/json" {
				t.Errorf("response Content-Type = %q, want application/json", a.contentType)
			}
			ev, status := eventOf(t, a.body)
			if status != tt.status || ev["ok"] != true || ev["trigger"] != tt.trigger || ev["platform"] != "aws-lambda" || ev["request_id"] != id {
				t.Errorf("status %d, event %v", status, ev)
			}
			if l := logLine(t, out, id); l["level"] != "INFO" || l["trigger"] != tt.trigger {
				t.Errorf("log line = %v", l)
			}
		})
	}
}

func TestLambdaFailures(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	api, out := startLambda(t, wechatEnv(srv))

	t.Run("bad input", func(t *testing.T) {
		a, _ := api.invoke(t, []byte(`{"operations":["everything"]}`), 10*time.Second)
		var e struct{ ErrorMessage, ErrorType string }
		json.Unmarshal(a.body, &e)
		if !a.isError || !strings.Contains(e.ErrorMessage, `unknown operation "everything"`) || e.ErrorType != "InvocationError" {
			t.Errorf("answer = %s, want an InvocationError naming the operation", a.body)
		}
	})
	t.Run("scheduled partial failure", func(t *testing.T) {
		srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 61004})
		defer srv.Reset()
		a, id := api.invoke(t, readEvent(t, "aws-schedule.json"), 10*time.Second)
		if !a.isError || !strings.Contains(string(a.body), "describecloudbaserunenvs (permission, errcode 61004)") {
			t.Errorf("answer = %s, want a failure naming the operation", a.body)
		}
		l := logLine(t, out, id)
		ops := l["operations"].(map[string]any)
		if l["level"] != "WARN" || ops["getenvinfo"].(map[string]any)["ok"] != true {
			t.Errorf("log line = %v", l)
		}
	})
	t.Run("direct partial failure", func(t *testing.T) {
		srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{Status: 503, Body: []byte("<html>busy</html>")})
		defer srv.Reset()
		a, _ := api.invoke(t, []byte(`{}`), 10*time.Second)
		ev, _ := eventOf(t, a.body)
		r := ev["results"].(map[string]any)
		g := r["getenvinfo"].(map[string]any)
		if a.isError || ev["ok"] != false || g["attempts"] != 2.0 || g["error"].(map[string]any)["kind"] != "upstream" ||
			r["describecloudbaserunenvs"].(map[string]any)["ok"] != true {
			t.Errorf("event = %v", ev)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{Hang: true})
		srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Hang: true})
		defer srv.Reset()
		deadline := time.Now().Add(1500 * time.Millisecond)
		a, _ := api.invoke(t, readEvent(t, "aws-http-api-v2.json"), 1500*time.Millisecond)
		if time.Now().After(deadline) {
			t.Errorf("answered after the deadline")
		}
		ev, status := eventOf(t, a.body)
		if status != 504 || ev["ok"] != false {
			t.Errorf("status %d, event %v; want 504", status, ev)
		}
	})
	t.Run("after failures the function still serves", func(t *testing.T) {
		a, _ := api.invoke(t, []byte(`{}`), 10*time.Second)
		if ev, _ := eventOf(t, a.body); ev["ok"] != true {
			t.Errorf("event = %v", ev)
		}
	})
}

func TestSCFTriggers(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	f := startSCF(t, wechatEnv(srv))
	tests := []struct {
		file, trigger string
		status        int
	}{
		{"scf-timer.json", "schedule", 0},
		{"scf-function-url.json", "http", 200},
		{"scf-apigateway.json", "http", 200},
		{"direct.json", "direct", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, id := f.invoke(t, readEvent(t, tt.file), 10*time.Second, nil)
			if a.isError {
				t.Fatalf("invocation failed: %s", a.body)
			}
			ev, status := eventOf(t, a.body)
			if status != tt.status || ev["ok"] != true || ev["trigger"] != tt.trigger || ev["platform"] != "tencent-scf" || ev["request_id"] != id {
				t.Errorf("status %d, event %v", status, ev)
			}
			logLine(t, f.out, id)
		})
	}
	t.Run("bad input", func(t *testing.T) {
		a, _ := f.invoke(t, []byte(`{"env":"no spaces allowed"}`), 10*time.Second, nil)
		if !a.isError || !strings.Contains(string(a.body), "invalid payload") {
			t.Errorf("answer = %s", a.body)
		}
	})
	t.Run("scheduled failure", func(t *testing.T) {
		srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 45009})
		defer srv.Reset()
		a, _ := f.invoke(t, readEvent(t, "scf-timer.json"), 10*time.Second, nil)
		if !a.isError || !strings.Contains(string(a.body), "rate_limit, errcode 45009") {
			t.Errorf("answer = %s", a.body)
		}
	})
}

// TestSCFVariablesWithInvocation: SCF may deliver the function's variables
// only with the invocation.
func TestSCFVariablesWithInvocation(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	f := startSCF(t, nil)
	vars := configtest.MintingVars(srv.URL)
	for i := range 3 {
		a, _ := f.invoke(t, readEvent(t, "scf-timer.json"), 10*time.Second, vars)
		if a.isError {
			t.Fatalf("invocation %d: %s", i, a.body)
		}
		if ev, _ := eventOf(t, a.body); ev["ok"] != true {
			t.Fatalf("invocation %d: %v", i, ev)
		}
	}
	if srv.Calls(wechat.ComponentTokenPath) != 1 {
		t.Errorf("component token minted %d times over 3 warm invocations, want 1", srv.Calls(wechat.ComponentTokenPath))
	}
	// Variables that change between invocations take effect at once: the
	// process's environment is set anew each time (docs/contract.md,
	// Configuration rules), unlike Lambda's.
	srv2 := wechattest.NewServer()
	defer srv2.Close()
	a, _ := f.invoke(t, readEvent(t, "scf-timer.json"), 10*time.Second, configtest.MintingVars(srv2.URL))
	if a.isError || srv2.Calls(wechat.DescribeCloudBaseRunEnvsPath) == 0 {
		t.Errorf("changed WECHAT_API_BASE_URL: the second server answered %d calls (%.300s)", srv2.Calls(wechat.DescribeCloudBaseRunEnvsPath), a.body)
	}
	for _, secret := range []string{wechattest.ComponentAppSecret, wechattest.VerifyTicket, wechattest.AuthorizerRefreshToken} {
		if strings.Contains(f.out.String(), secret) {
			t.Errorf("the function's output holds a secret")
		}
	}
}
