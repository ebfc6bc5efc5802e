package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/queue"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

// FuzzInvoke feeds arbitrary bytes through recognition, routing, event
// building and logging. No token is configured, so nothing goes upstream:
// every operation fails with kind config. It must never panic, and must
// answer JSON or a clear error.
func FuzzInvoke(f *testing.F) {
	files, _ := filepath.Glob("../../events/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte(`{"version":"2.0","rawPath":"/x/envs/","rawQueryString":"env=a&operations=getenvinfo","requestContext":{"http":{"method":"GET"}}}`))
	f.Add([]byte(`{"httpMethod":"POST","path":"/envs","headers":{"X-Api-Key":"k"},"body":"e30=","isBase64Encoded":true}`))
	for _, k := range []string{"WECHAT_API_BASE_URL", "WECHAT_ACCESS_TOKEN", "WECHAT_COMPONENT_ACCESS_TOKEN", "WXCLOUDENV_API_KEY", "WECHAT_APPID", "WECHAT_APPSECRET",
		"WECHAT_COMPONENT_APPID", "WECHAT_COMPONENT_APPSECRET", "WECHAT_COMPONENT_VERIFY_TICKET", "WECHAT_AUTHORIZER_APPID", "WECHAT_AUTHORIZER_REFRESH_TOKEN", "WECHAT_ENV", "WXCLOUDENV_OPERATIONS"} {
		f.Setenv(k, "")
	}
	h := NewWithLog(PlatformLocal, io.Discard)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := h.Invoke(ctx, raw)
		if err != nil {
			var ie *InvocationError
			if !errors.As(err, &ie) || ie.Message == "" {
				t.Fatalf("error %T %v is not a clear InvocationError", err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("answer is not JSON: %s", out)
		}
	})
}

// FuzzRouting checks route matching and request reading on any path,
// query and body.
func FuzzRouting(f *testing.F) {
	f.Add("GET", "/prod/envs", "env=a&operations=getenvinfo", []byte(""))
	f.Add("POST", "/envs/", "", []byte(`{"env":"x"}`))
	f.Add("GET", "/envs/describecloudbaserunenvs", "env=", []byte(""))
	f.Add("PUT", "/prod/authorizers/wx1/robots", "", []byte(`{"urls":["https://h/cgi-bin/webhook/send?key=k"]}`))
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		raw, _ := json.Marshal(map[string]any{"httpMethod": method, "path": path, "headers": map[string]string{},
			"queryString": map[string]string{"q": query}, "body": string(body)})
		r, err := trigger.Parse(raw)
		if err != nil {
			return
		}
		rt, ok := matchRoute(r.HTTP.Path)
		if !ok {
			return
		}
		p, err := requestPayload(rt, r.HTTP)
		if err == nil && p.Env != "" && trigger.CheckEnv(p.Env) != nil {
			t.Fatalf("invalid env %q accepted", p.Env)
		}
	})
}

// FuzzMayBeQueued: whatever queue.Detect recognises, mayBeQueued lets
// through to it.
func FuzzMayBeQueued(f *testing.F) {
	for _, s := range []string{`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{}"}]}`,
		`{"\u0052ecords":[{"messageId":"m1","eventSource":"aws:sqs","body":"{}"}]}`,
		`{"run":"r","batch":1,"authorizers":["wxA"]}`, `{"run":"r","b\u0061tch":1,"authorizers":["wxA"]}`, `{}`, `{"env":"a"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, ok := queue.Detect(raw); ok && !mayBeQueued(raw) {
			t.Fatalf("queue.Detect recognises %q, mayBeQueued does not", raw)
		}
	})
}

// TestMayBeQueued: the seeds Detect recognises pass, and the common
// triggers do not.
func TestMayBeQueued(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{}"}]}`,
		`{"\u0052ecords":[{"messageId":"m1","eventSource":"aws:sqs","body":"{}"}]}`, `{"run":"r","b\u0061tch":1,"authorizers":["wxA"]}`} {
		if _, ok := queue.Detect([]byte(s)); !ok || !mayBeQueued([]byte(s)) {
			t.Errorf("%s: Detect %v, mayBeQueued %v", s, ok, mayBeQueued([]byte(s)))
		}
	}
	files, _ := filepath.Glob("../../events/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		if mayBeQueued(b) {
			t.Errorf("%s: mayBeQueued", file)
		}
	}
}
