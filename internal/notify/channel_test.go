package notify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

const (
	weComKey    = "wecom-key-7d1f0c2a-5b9e-4e11-9a3c-0f6b2d8e4a51"
	dingToken   = "dingtoken4f0a9c2e7b1d6e3f5a8c0b2d4e6f8a1c3e5b7d9f"
	feishuToken = "feishu-hook-2b6e0a4c-8d1f-4a3e-b5c7-9e0d2f4a6b8c"
	dingSecret  = "SECding-secret-6c2e8a0b4d1f3e5a7c9b0d2f4e6a8c1e"
	fsSecret    = "feishu-secret-3a5c7e9b1d2f4a6c8e0b"
)

var allSecrets = []string{weComKey, dingToken, feishuToken, dingSecret, fsSecret}

// assertNoSecret fails when any secret shows in text.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range allSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows a secret: %q", what, text)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	secrets := notify.Secrets{DingTalk: dingSecret, Feishu: fsSecret}
	tests := []struct {
		name      string
		in        string
		want      []string // channel names
		wantSign  []bool
		wantErr   string // substring of the error
		secretsIn notify.Secrets
	}{
		{name: "empty", in: "", want: nil},
		{name: "blank", in: "  ", want: nil},
		{
			name: "all three, any host, spaces",
			in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + weComKey +
				" , https://oapi.dingtalk.com/robot/send?access_token=" + dingToken +
				",https://open.feishu.cn/open-apis/bot/v2/hook/" + feishuToken +
				",http://127.0.0.1:8080/proxy/cgi-bin/webhook/send?key=" + weComKey + "2" +
				",https://open.larksuite.com/open-apis/bot/v2/hook/" + feishuToken + "2",
			want:      []string{"wecom qyapi.weixin.qq.com", "dingtalk oapi.dingtalk.com", "feishu open.feishu.cn", "wecom 127.0.0.1:8080", "feishu open.larksuite.com"},
			wantSign:  []bool{false, true, true, false, true},
			secretsIn: secrets,
		},
		{
			name:     "unsigned without secrets",
			in:       "https://oapi.dingtalk.com/robot/send?access_token=" + dingToken + ",https://open.feishu.cn/open-apis/bot/v2/hook/" + feishuToken,
			want:     []string{"dingtalk oapi.dingtalk.com", "feishu open.feishu.cn"},
			wantSign: []bool{false, false},
		},
		{name: "unrecognised path", in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + weComKey + ",https://example.com/hooks/" + feishuToken, wantErr: "WXCLOUDENV_NOTIFY: entry 2 of 2: not a WeCom"},
		{name: "wecom without key", in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?token=" + weComKey, wantErr: "entry 1 of 1: the WeCom robot URL (host qyapi.weixin.qq.com) has no key"},
		{name: "dingtalk without token", in: "https://oapi.dingtalk.com/robot/send?key=" + dingToken, wantErr: "has no access_token"},
		{name: "feishu without token", in: "https://open.feishu.cn/open-apis/bot/v2/hook/", wantErr: "has no hook token"},
		{name: "feishu token with a slash", in: "https://open.feishu.cn/open-apis/bot/v2/hook/" + feishuToken + "/x", wantErr: "has no hook token"},
		{name: "same robot twice", in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + weComKey + ",https://oapi.dingtalk.com/robot/send?access_token=" + dingToken + ",http://proxy/cgi-bin/webhook/send?key=" + weComKey, wantErr: "entry 3 of 3: the same robot as entry 1"},
		{name: "empty entry", in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + weComKey + ",,", wantErr: "entry 2 of 3: empty"},
		{name: "not a URL", in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + weComKey + "%zz\x7f", wantErr: "entry 1 of 1: not a valid URL"},
		{name: "bad scheme", in: "ftp://h/cgi-bin/webhook/send?key=" + weComKey, wantErr: "scheme must be https or http"},
		{name: "no host", in: "https:///cgi-bin/webhook/send?key=" + weComKey, wantErr: "no host"},
		{name: "user info", in: "https://" + dingSecret + "@h/robot/send?access_token=" + dingToken, wantErr: "user info is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chans, err := notify.Parse(tt.in, tt.secretsIn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tt.wantErr)
				}
				assertNoSecret(t, "Parse error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []string
			for i, ch := range chans {
				got = append(got, ch.Name())
				if ch.Signed() != tt.wantSign[i] {
					t.Errorf("channel %d Signed() = %v, want %v", i, ch.Signed(), tt.wantSign[i])
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("channels = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestChannelPrinting checks that no way of printing a channel shows its
// URL, token or secret.
func TestChannelPrinting(t *testing.T) {
	t.Parallel()
	chans, err := notify.Parse("https://oapi.dingtalk.com/robot/send?access_token="+dingToken+",https://open.feishu.cn/open-apis/bot/v2/hook/"+feishuToken, notify.Secrets{DingTalk: dingSecret, Feishu: fsSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans {
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("notify", "channel", ch, "channels", chans)
		js, err := json.Marshal(map[string]any{"c": ch, "all": chans})
		if err != nil {
			t.Fatal(err)
		}
		for what, text := range map[string]string{
			"%v": fmt.Sprintf("%v", ch), "%+v": fmt.Sprintf("%+v", ch), "%#v": fmt.Sprintf("%#v", ch),
			"%s slice": fmt.Sprintf("%s", chans), "%+v pointer": fmt.Sprintf("%+v", &ch),
			"slog": logged.String(), "json": string(js),
		} {
			assertNoSecret(t, what, text)
			if !strings.Contains(text, ch.Host) {
				t.Errorf("%s = %q, want the host %q shown", what, text, ch.Host)
			}
		}
	}
}
