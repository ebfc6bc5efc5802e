package invoke_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOpenRoutesHideConfigErrors: /healthz and the push route skip the API
// key check, so with an invalid configuration they answer a generic 500
// that says nothing about it; the log line carries the cause, and a caller
// who shows the key is told what is wrong.
func TestOpenRoutesHideConfigErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const key = "open-routes-api-key-0042"
	tests := []struct {
		name, method, path string
		header             http.Header
		wantCode           string
		wantCause          bool // the answer names the invalid variable
	}{
		{name: "healthz, no key", method: "GET", path: "/healthz", wantCode: "internal"},
		{name: "healthz, wrong key", method: "GET", path: "/healthz", header: http.Header{"X-Api-Key": {"wrong"}}, wantCode: "internal"},
		{name: "push, no key", method: "POST", path: "/wechat/authorization-events", wantCode: "internal"},
		{name: "healthz, with the key", method: "GET", path: "/healthz", header: http.Header{"X-Api-Key": {key}}, wantCode: "config", wantCause: true},
		{name: "envs, with the key", method: "GET", path: "/envs", header: http.Header{"X-Api-Key": {key}}, wantCode: "config", wantCause: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := staticEnv(srv)
			e["WXCLOUDENV_API_KEY"] = key
			e["WECHAT_TIMEOUT"] = "soon" // invalid
			hs := newHarness(t, srv, e)
			req, _ := http.NewRequest(tt.method, "https://fn.lambda-url.example"+tt.path, strings.NewReader("<xml></xml>"))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := functionURL{hs.h}.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500; body %s", resp.StatusCode, b)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", b, err)
			}
			if body.Error.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (body %s)", body.Error.Code, tt.wantCode, b)
			}
			if got := strings.Contains(string(b), "WECHAT_TIMEOUT"); got != tt.wantCause {
				t.Errorf("answer names the variable: %v, want %v (body %s)", got, tt.wantCause, b)
			}
			lines := hs.log.Lines(t)
			if len(lines) != 1 || !strings.Contains(hs.log.String(), "WECHAT_TIMEOUT") {
				t.Errorf("want one log line naming WECHAT_TIMEOUT, got %q", hs.log.String())
			}
		})
	}
}

// TestPushUnconfiguredAnswersConfigKind: a push while the push variables
// are unset answers 500 in JSON with the error code config, like every
// other error answer, naming the variables to set.
func TestPushUnconfiguredAnswersConfigKind(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hs := newHarness(t, srv, mintEnv(srv)) // no WECHAT_COMPONENT_TOKEN nor AES key
	req, _ := http.NewRequest(http.MethodPost, pushURL+"?timestamp=1&nonce=2&msg_signature=x", strings.NewReader("<xml></xml>"))
	resp, err := functionURL{hs.h}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, Content-Type %q, want 500 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	if body.Error.Code != "config" {
		t.Errorf("code = %q, want config", body.Error.Code)
	}
	for _, v := range []string{"WECHAT_COMPONENT_TOKEN", "WECHAT_COMPONENT_ENCODING_AES_KEY"} {
		if !strings.Contains(body.Error.Message, v) {
			t.Errorf("message %q does not name %s", body.Error.Message, v)
		}
	}
}
