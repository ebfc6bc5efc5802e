package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// setup starts a fake WeChat and a client for it with fast backoff.
func setup(t *testing.T, opts ...wechat.Option) (*wechattest.Server, *wechat.Client) {
	t.Helper()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	base := []wechat.Option{wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(time.Millisecond, 5*time.Millisecond), wechat.WithTimeout(2 * time.Second)}
	c, err := wechat.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return srv, c
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.Golden(t, filepath.Join("testdata", name), got)
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return reflect.DeepEqual(x, y)
}

func TestGetEnvInfo(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	got, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
	if err != nil {
		t.Fatalf("GetEnvInfo: %v", err)
	}
	if resp.Attempts != 1 || resp.StatusCode != 200 {
		t.Errorf("attempts, status = %d, %d, want 1, 200", resp.Attempts, resp.StatusCode)
	}
	if string(resp.Body) != string(wechattest.EnvInfoAnswer()) {
		t.Errorf("Response.Body is not the answer as received")
	}
	// Every field decoded: the typed value encodes back to the same JSON.
	typed, _ := json.Marshal(got)
	if !sameJSON(t, typed, resp.Body) {
		t.Errorf("typed answer lost fields:\n%s\nvs\n%s", typed, resp.Body)
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	golden(t, "getenvinfo.golden.json", out)

	want := time.Date(2019, 4, 4, 14, 10, 28, 0, wechat.ChinaTime)
	if ct := got.InfoList[0].CreateTime; !ct.Time.Equal(want) || ct.Raw != "2019-04-04 14:10:28" {
		t.Errorf("CreateTime = %v (%q), want %v", ct.Time, ct.Raw, want)
	}
	if srv.Calls(wechat.GetEnvInfoPath) != 1 {
		t.Errorf("calls = %d, want 1", srv.Calls(wechat.GetEnvInfoPath))
	}
}

func TestGetEnvInfoFilter(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	got, _, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "prod-7c21be")
	if err != nil {
		t.Fatalf("GetEnvInfo: %v", err)
	}
	if len(got.InfoList) != 1 || got.InfoList[0].Env != "prod-7c21be" {
		t.Errorf("InfoList = %+v, want only prod-7c21be", got.InfoList)
	}
}

func TestDescribeCloudBaseRunEnvs(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	got, resp, err := c.DescribeCloudBaseRunEnvs(t.Context(), wechat.StaticTokenSource(wechattest.ComponentAccessToken))
	if err != nil {
		t.Fatalf("DescribeCloudBaseRunEnvs: %v", err)
	}
	typed, _ := json.Marshal(got)
	if !sameJSON(t, typed, resp.Body) {
		t.Errorf("typed answer lost fields:\n%s\nvs\n%s", typed, resp.Body)
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	golden(t, "describecloudbaserunenvs.golden.json", out)

	prod := got.EnvList[1]
	if prod.LogServices[0].LogsetName != "tcb-logset-prod-7c21be" || prod.CustomLogServices[0].CLSLogsetID == "" {
		t.Errorf("log service names not decoded from their wire names: %+v %+v", prod.LogServices, prod.CustomLogServices)
	}
	if !prod.IsAutoDegrade || prod.IsDefault || prod.Tags[1].Value != "production" || prod.StaticStorages[0].Status != wechat.StaticStorageOnline {
		t.Errorf("env fields not decoded: %+v", prod)
	}
	if want := time.Date(2024, 3, 8, 10, 15, 42, 0, wechat.ChinaTime); !prod.CustomLogServices[0].CreateTime.Time.Equal(want) {
		t.Errorf("custom log create_time = %v, want %v", prod.CustomLogServices[0].CreateTime.Time, want)
	}
}

func TestUnknownFieldsKeptInBody(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	answer := `{"errcode":0,"errmsg":"ok","env_list":[{"env_id":"e1","status":"NORMAL","brand_new":{"x":1}}],"next_token":"abc"}`
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, []byte(answer))
	got, resp, err := c.DescribeCloudBaseRunEnvs(t.Context(), wechat.StaticTokenSource(wechattest.ComponentAccessToken))
	if err != nil {
		t.Fatalf("DescribeCloudBaseRunEnvs: %v", err)
	}
	if string(resp.Body) != answer {
		t.Errorf("Body = %s, want the answer verbatim", resp.Body)
	}
	if got.EnvList[0].EnvID != "e1" {
		t.Errorf("EnvID = %q", got.EnvList[0].EnvID)
	}
}

// TestErrcodes checks the classification of every errcode the docs name.
func TestErrcodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      int
		kind      wechat.Kind
		retryable bool
	}{
		{-1, wechat.KindUpstream, true},
		{-1000, wechat.KindUpstream, true},
		{40001, wechat.KindAuth, false},
		{40013, wechat.KindAuth, false},
		{40014, wechat.KindAuth, false},
		{40097, wechat.KindInvalidRequest, false},
		{40101, wechat.KindInvalidRequest, false},
		{40125, wechat.KindAuth, false},
		{40164, wechat.KindPermission, false},
		{41001, wechat.KindAuth, false},
		{41004, wechat.KindAuth, false},
		{42001, wechat.KindAuth, false},
		{43002, wechat.KindInvalidRequest, false},
		{44002, wechat.KindInvalidRequest, false},
		{45009, wechat.KindRateLimit, false},
		{45011, wechat.KindRateLimit, false},
		{47001, wechat.KindInvalidRequest, false},
		{48001, wechat.KindPermission, false},
		{61004, wechat.KindPermission, false},
		{61005, wechat.KindAuth, false},
		{61006, wechat.KindAuth, false},
		{61007, wechat.KindPermission, false},
		{61023, wechat.KindAuth, false},
		{85088, wechat.KindPermission, false},
		{99999, wechat.KindUpstream, false},
		{61011, wechat.KindUpstream, false},
	}
	srv, c := setup(t, wechat.WithRetries(2))
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.kind, tt.code), func(t *testing.T) {
			kind, retryable := wechat.Classify(tt.code)
			if kind != tt.kind || retryable != tt.retryable {
				t.Errorf("Classify(%d) = %s, %v, want %s, %v", tt.code, kind, retryable, tt.kind, tt.retryable)
			}
		})
	}
	// Over the wire, on a fresh path each so the cases can share a server.
	for _, tt := range tests {
		srv.Reset()
		srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: tt.code})
		_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
		var we *wechat.Error
		if !errors.As(err, &we) {
			t.Fatalf("errcode %d: error %v is not a *wechat.Error", tt.code, err)
		}
		if we.Kind != tt.kind || we.Retryable != tt.retryable || we.ErrCode != tt.code {
			t.Errorf("errcode %d: got kind %s retryable %v errcode %d", tt.code, we.Kind, we.Retryable, we.ErrCode)
		}
		if we.RID == "" || !strings.Contains(we.ErrMsg, we.RID) {
			t.Errorf("errcode %d: rid %q not parsed from %q", tt.code, we.RID, we.ErrMsg)
		}
		wantAttempts := 1
		if tt.retryable {
			wantAttempts = 3
		}
		if resp.Attempts != wantAttempts {
			t.Errorf("errcode %d: attempts = %d, want %d", tt.code, resp.Attempts, wantAttempts)
		}
		if !errors.Is(err, &wechat.Error{Kind: tt.kind}) || !errors.Is(err, &wechat.Error{ErrCode: tt.code}) {
			t.Errorf("errcode %d: errors.Is does not match kind and errcode", tt.code)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		retries      int
		faults       []wechattest.Fault
		wantErr      wechat.Kind
		wantAttempts int
		wantStatus   int
	}{
		{name: "busy then ok", retries: 2, faults: []wechattest.Fault{{ErrCode: -1}, {ErrCode: -1000}}, wantAttempts: 3},
		{name: "busy past budget", retries: 2, faults: []wechattest.Fault{{ErrCode: -1}, {ErrCode: -1}, {ErrCode: -1}}, wantErr: wechat.KindUpstream, wantAttempts: 3},
		{name: "no retries", retries: 0, faults: []wechattest.Fault{{ErrCode: -1}}, wantErr: wechat.KindUpstream, wantAttempts: 1},
		{name: "5xx then ok", retries: 1, faults: []wechattest.Fault{{Status: 503, Body: []byte("<html>busy</html>"), ContentType: "text/html"}}, wantAttempts: 2},
		{name: "5xx html past budget", retries: 1, faults: []wechattest.Fault{{Status: 502, Body: []byte("<html/>")}, {Status: 500, Body: []byte("<html/>")}}, wantErr: wechat.KindUpstream, wantAttempts: 2, wantStatus: 500},
		{name: "reset then ok", retries: 2, faults: []wechattest.Fault{{Reset: true}}, wantAttempts: 2},
		{name: "not retried: 45009", retries: 2, faults: []wechattest.Fault{{ErrCode: 45009}}, wantErr: wechat.KindRateLimit, wantAttempts: 1},
		{name: "not retried: html 200", retries: 2, faults: []wechattest.Fault{{Body: []byte("<html>hi</html>")}}, wantErr: wechat.KindBadResponse, wantAttempts: 1, wantStatus: 200},
		{name: "not retried: truncated", retries: 2, faults: []wechattest.Fault{{Body: []byte(`{"errcode":0,"errmsg":"ok","env_li`)}}, wantErr: wechat.KindBadResponse, wantAttempts: 1},
		{name: "not retried: no list", retries: 2, faults: []wechattest.Fault{{Body: []byte(`{"errmsg":"ok"}`)}}, wantErr: wechat.KindBadResponse, wantAttempts: 1},
		{name: "not retried: 404", retries: 2, faults: []wechattest.Fault{{Status: 404, Body: []byte("nope")}}, wantErr: wechat.KindUpstream, wantAttempts: 1, wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, wechat.WithRetries(tt.retries))
			srv.Inject(wechat.DescribeCloudBaseRunEnvsPath, tt.faults...)
			_, resp, err := c.DescribeCloudBaseRunEnvs(t.Context(), wechat.StaticTokenSource(wechattest.ComponentAccessToken))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" {
				var we *wechat.Error
				if !errors.As(err, &we) || we.Kind != tt.wantErr {
					t.Fatalf("error = %v, want kind %s", err, tt.wantErr)
				}
				if tt.wantStatus != 0 && we.StatusCode != tt.wantStatus {
					t.Errorf("status = %d, want %d", we.StatusCode, tt.wantStatus)
				}
			}
			if resp.Attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", resp.Attempts, tt.wantAttempts)
			}
			if got := srv.Calls(wechat.DescribeCloudBaseRunEnvsPath); got != tt.wantAttempts {
				t.Errorf("server saw %d calls, want %d", got, tt.wantAttempts)
			}
		})
	}
}

func TestFailover(t *testing.T) {
	t.Parallel()
	primary := wechattest.NewServer()
	defer primary.Close()
	backup := wechattest.NewServer()
	defer backup.Close()
	dead := testkit.ClosedURL(t)

	t.Run("refused moves on", func(t *testing.T) {
		c, _ := wechat.NewClient(wechat.WithBaseURLs(dead, backup.URL), wechat.WithBackoff(0, 0))
		_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
		if err != nil {
			t.Fatalf("GetEnvInfo: %v", err)
		}
		if resp.Attempts != 2 || resp.Host != strings.TrimPrefix(backup.URL, "http://") {
			t.Errorf("attempts %d host %s, want 2 on the backup", resp.Attempts, resp.Host)
		}
	})
	t.Run("5xx moves on, errcode does not", func(t *testing.T) {
		primary.Reset()
		primary.Inject(wechat.GetEnvInfoPath, wechattest.Fault{Status: 502}, wechattest.Fault{ErrCode: -1})
		backup.Reset()
		backup.Inject(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: -1})
		c, _ := wechat.NewClient(wechat.WithBaseURLs(primary.URL, backup.URL), wechat.WithBackoff(0, 0), wechat.WithRetries(2))
		_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
		if err != nil {
			t.Fatalf("GetEnvInfo: %v", err)
		}
		// 502 on primary moves to backup; -1 on backup retries the backup.
		if resp.Attempts != 3 || primary.Calls(wechat.GetEnvInfoPath) != 1 || backup.Calls(wechat.GetEnvInfoPath) != 2 {
			t.Errorf("attempts %d, primary %d, backup %d; want 3, 1, 2", resp.Attempts,
				primary.Calls(wechat.GetEnvInfoPath), backup.Calls(wechat.GetEnvInfoPath))
		}
	})
	t.Run("all down", func(t *testing.T) {
		c, _ := wechat.NewClient(wechat.WithBaseURLs(dead, testkit.ClosedURL(t)), wechat.WithBackoff(0, 0), wechat.WithRetries(3))
		_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
		if !errors.Is(err, wechat.ErrNetwork) {
			t.Fatalf("error = %v, want network", err)
		}
		if resp.Attempts != 4 {
			t.Errorf("attempts = %d, want 4", resp.Attempts)
		}
	})
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	t.Run("caller deadline cuts a hung server", func(t *testing.T) {
		srv, c := setup(t, wechat.WithTimeout(time.Minute), wechat.WithRetries(2))
		srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		_, resp, err := c.GetEnvInfo(ctx, wechat.StaticTokenSource(wechattest.AccessToken), "")
		var we *wechat.Error
		if !errors.As(err, &we) || we.Kind != wechat.KindTimeout || !we.Retryable {
			t.Fatalf("error = %v, want a retryable timeout", err)
		}
		if resp.Attempts != 1 {
			t.Errorf("attempts = %d, want 1: no retry past the caller's deadline", resp.Attempts)
		}
	})
	t.Run("attempt timeout retries", func(t *testing.T) {
		srv, c := setup(t, wechat.WithTimeout(100*time.Millisecond), wechat.WithRetries(1))
		srv.Inject(wechat.GetEnvInfoPath, wechattest.Fault{Hang: true})
		_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
		if err != nil {
			t.Fatalf("GetEnvInfo: %v", err)
		}
		if resp.Attempts != 2 {
			t.Errorf("attempts = %d, want 2", resp.Attempts)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		srv, c := setup(t, wechat.WithTimeout(100*time.Millisecond), wechat.WithRetries(0))
		srv.Inject(wechat.GetEnvInfoPath, wechattest.Fault{Delay: time.Second})
		_, _, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
		if !errors.Is(err, wechat.ErrTimeout) {
			t.Fatalf("error = %v, want timeout", err)
		}
	})
}

func TestOversizedAnswer(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	const size = 64 << 20
	for _, declare := range []bool{false, true} {
		t.Run(map[bool]string{false: "chunked", true: "content-length"}[declare], func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, wechat.WithMaxResponseBytes(limit))
			srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Oversize: size, DeclareLength: declare})
			_, resp, err := c.DescribeCloudBaseRunEnvs(t.Context(), wechat.StaticTokenSource(wechattest.ComponentAccessToken))
			var we *wechat.Error
			if !errors.As(err, &we) || we.Kind != wechat.KindBadResponse || we.Retryable {
				t.Fatalf("error = %v, want bad_response", err)
			}
			if resp.Attempts != 1 || resp.Body != nil {
				t.Errorf("attempts %d, body %d bytes; want 1 attempt and no body", resp.Attempts, len(resp.Body))
			}
			srv.Close() // waits for the handler, so the count is final
			if w := srv.BytesWritten(wechat.DescribeCloudBaseRunEnvsPath); w > size/4 {
				t.Errorf("server wrote %d of %d bytes: the answer was read whole", w, size)
			}
		})
	}
}

func TestNoTokenInErrors(t *testing.T) {
	t.Parallel()
	const token = "SENTINEL-token-6f1d2c3b4a59"
	dead := testkit.ClosedURL(t)
	c, _ := wechat.NewClient(wechat.WithBaseURLs(dead), wechat.WithRetries(0))
	_, _, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(token), "")
	if err == nil {
		t.Fatal("want a dial error")
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("error %v does not wrap *url.Error", err)
	}
	for _, text := range []string{err.Error(), ue.Error(), ue.URL} {
		if strings.Contains(text, token) {
			t.Errorf("error text holds the token: %s", text)
		}
	}
	if !strings.Contains(ue.URL, "access_token="+wechat.Redacted) {
		t.Errorf("url.Error URL = %q, want the token redacted", ue.URL)
	}

	// Minting: the secret goes in the body, never in error text.
	srv, c2 := setup(t)
	srv.Inject(wechat.StableTokenPath, wechattest.Fault{Reset: true}, wechattest.Fault{Reset: true}, wechattest.Fault{Reset: true})
	ts := wechat.NewStableTokenSource(c2, wechattest.AppID, wechattest.AppSecret)
	_, _, err = c2.GetEnvInfo(t.Context(), ts, "")
	if err == nil || strings.Contains(err.Error(), wechattest.AppSecret) {
		t.Errorf("minting error = %v, want an error without the secret", err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://api.weixin.qq.com/tcb/getenvinfo?access_token=abc", "https://api.weixin.qq.com/tcb/getenvinfo?access_token=REDACTED"},
		{"https://x/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s3", "https://x/cgi-bin/token?appid=wx1&grant_type=client_credential&secret=REDACTED"},
		{"https://x/a?component_access_token=t&Token=u", "https://x/a?Token=REDACTED&component_access_token=REDACTED"},
		{"https://user:pass@x/a", "https://x/a"},
		{"https://x/a?env=prod", "https://x/a?env=prod"},
	}
	for _, tt := range tests {
		if got := wechat.RedactURLString(tt.in); got != tt.want {
			t.Errorf("RedactURLString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseRID(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"system error rid: 61249f85-43a93e56-534b607a", "61249f85-43a93e56-534b607a"},
		{"invalid credential, access_token is invalid or not latest rid: 6924c0de-1a2b3c4d-5e6f7a8b", "6924c0de-1a2b3c4d-5e6f7a8b"},
		{"access clientip is not registered requestIP: 1.2.3.4 rid: abc-def, more", "abc-def"},
		{"ok", ""},
		{"rid:", ""},
	}
	for _, tt := range tests {
		if got := wechat.ParseRID(tt.in); got != tt.want {
			t.Errorf("ParseRID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2019-04-04 14:10:28", time.Date(2019, 4, 4, 6, 10, 28, 0, time.UTC), false},
		{"2021-01-01T00:00:00+08:00", time.Date(2020, 12, 31, 16, 0, 0, 0, time.UTC), false},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := wechat.ParseTime(tt.in)
		if (err != nil) != tt.wantErr || !got.Time.Equal(tt.want) || got.Raw != tt.in {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, err %v", tt.in, got.Time, err, tt.want, tt.wantErr)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := wechat.Secret("hunter2-secret")
	tok := &wechat.Token{Value: s}
	b, _ := json.Marshal(struct{ S wechat.Secret }{s})
	for _, text := range []string{s.String(), s.GoString(), string(b), tok.String(), fmtAll(s), fmtAll(tok)} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("secret shown in %q", text)
		}
	}
}

func fmtAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
}
