package notifytest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
)

const secret = "SECfake-robot-secret"

func mac(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// post sends body to u by hand and returns the robot's status code.
func post(t *testing.T, u, body string) (int, int) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		ErrCode *int `json:"errcode"`
		Code    *int `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer: %v", err)
	}
	switch {
	case a.ErrCode != nil:
		return resp.StatusCode, *a.ErrCode
	case a.Code != nil:
		return resp.StatusCode, *a.Code
	}
	t.Fatal("answer has no status code")
	return 0, 0
}

func TestServer(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{DingTalkSecret: secret, FeishuSecret: secret})
	t.Cleanup(srv.Close)
	now := time.Now()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	sec := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-2*time.Hour).Unix(), 10)
	feishu := func(ts, sign, text string) string {
		b, _ := json.Marshal(map[string]any{"timestamp": ts, "sign": sign, "msg_type": "text", "content": map[string]string{"text": text}})
		return string(b)
	}
	wecom := func(content string) string {
		b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": content}})
		return string(b)
	}
	ding := `{"msgtype":"markdown","markdown":{"title":"t","text":"x"}}`
	tests := []struct {
		name     string
		url      string
		body     string
		token    string
		answer   notifytest.Answer
		wantHTTP int
		wantCode int
	}{
		{name: "wecom ok", url: srv.WeComURL("w1"), token: "w1", body: wecom("### hi"), wantCode: 0},
		{name: "wecom 4097 bytes", url: srv.WeComURL("w2"), token: "w2", body: wecom(strings.Repeat("x", 4097)), wantCode: 40058},
		{name: "wecom text type", url: srv.WeComURL("w3"), token: "w3", body: `{"msgtype":"text","text":{"content":"x"}}`, wantCode: 40008},
		{name: "wecom no key", url: srv.URL + notifytest.WeComPath, body: wecom("x"), wantCode: 93000},
		{name: "dingtalk signed", url: srv.DingTalkURL("d1") + "&timestamp=" + ms + "&sign=" + url.QueryEscape(mac(secret, ms+"\n"+secret)), token: "d1", body: ding, wantCode: 0},
		{name: "dingtalk bad sign", url: srv.DingTalkURL("d2") + "&timestamp=" + ms + "&sign=" + url.QueryEscape(mac("other", ms+"\n"+secret)), token: "d2", body: ding, wantCode: 310000},
		{name: "dingtalk unsigned", url: srv.DingTalkURL("d3"), token: "d3", body: ding, wantCode: 310000},
		{name: "feishu signed", url: srv.FeishuURL("f1"), token: "f1", body: feishu(sec, mac(sec+"\n"+secret, ""), "hi"), wantCode: 0},
		{name: "feishu signed two hours ago", url: srv.FeishuURL("f2"), token: "f2", body: feishu(old, mac(old+"\n"+secret, ""), "hi"), wantCode: 19021},
		{name: "feishu bad sign", url: srv.FeishuURL("f3"), token: "f3", body: feishu(sec, mac(secret, sec), "hi"), wantCode: 19021},
		{name: "feishu body over 20000", url: srv.FeishuURL("f4"), token: "f4", body: feishu(sec, mac(sec+"\n"+secret, ""), strings.Repeat("x", 20000)), wantCode: 9499},
		{name: "errcode on demand", url: srv.WeComURL("w4"), token: "w4", body: wecom("x"), answer: notifytest.Answer{ErrCode: 45009, ErrMsg: "api freq out of limit"}, wantCode: 45009},
		{name: "HTTP 500 on demand", url: srv.FeishuURL("f5"), token: "f5", body: feishu(sec, mac(sec+"\n"+secret, ""), "hi"), answer: notifytest.Answer{HTTPStatus: 500}, wantHTTP: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv.SetAnswer(tt.token, tt.answer)
			if tt.wantHTTP != 0 {
				resp, err := http.Post(tt.url, "application/json", strings.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.wantHTTP {
					t.Errorf("HTTP %d, want %d", resp.StatusCode, tt.wantHTTP)
				}
			} else if status, code := post(t, tt.url, tt.body); status != http.StatusOK || code != tt.wantCode {
				t.Errorf("answer HTTP %d code %d, want 200 and %d", status, code, tt.wantCode)
			}
			if tt.token == "" {
				return
			}
			got := srv.ReceivedBy(tt.token)
			if len(got) != 1 {
				t.Fatalf("recorded %d messages, want 1", len(got))
			}
			if got[0].Accepted != (tt.wantCode == 0 && tt.wantHTTP == 0) {
				t.Errorf("Accepted = %v", got[0].Accepted)
			}
			if got[0].Text == "" && tt.wantCode == 0 {
				t.Error("accepted message has no text")
			}
		})
	}
}
