package invoke_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/test/testkit"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// Sentinels stand for every kind of secret; none may appear anywhere.
var sentinels = map[string]string{
	"WECHAT_ACCESS_TOKEN":             "SENTINEL-access-token-7d3f",
	"WECHAT_COMPONENT_ACCESS_TOKEN":   "SENTINEL-component-token-91ab",
	"WECHAT_COMPONENT_APPSECRET":      "SENTINEL-component-secret-55c2",
	"WECHAT_COMPONENT_VERIFY_TICKET":  "SENTINEL-verify-ticket-08e4",
	"WECHAT_AUTHORIZER_REFRESH_TOKEN": "SENTINEL-refresh-token-6b19",
	"WECHAT_APPSECRET":                "SENTINEL-app-secret-2f70",
	"WXCLOUDENV_API_KEY":              "SENTINEL-api-key-c4d8",
}

// TestNoSecretAnywhere runs faults with sentinel secrets and checks every
// answer, error and log line.
func TestNoSecretAnywhere(t *testing.T) {
	srv := newServer(t)
	dead := testkit.ClosedURL(t)
	withKey := `{"version":"2.0","rawPath":"/envs","rawQueryString":"","headers":{"x-api-key":"` + sentinels["WXCLOUDENV_API_KEY"] +
		`"},"requestContext":{"http":{"method":"GET","path":"/envs"}},"isBase64Encoded":false}`
	wrongKey := strings.Replace(withKey, sentinels["WXCLOUDENV_API_KEY"], "SENTINEL-api-key-c4d8-wrong", 1)
	staticTokens := env{
		"WECHAT_ACCESS_TOKEN":           sentinels["WECHAT_ACCESS_TOKEN"],
		"WECHAT_COMPONENT_ACCESS_TOKEN": sentinels["WECHAT_COMPONENT_ACCESS_TOKEN"],
		"WXCLOUDENV_API_KEY":            sentinels["WXCLOUDENV_API_KEY"],
	}
	minting := env{
		"WECHAT_COMPONENT_APPID":          wechattest.ComponentAppID,
		"WECHAT_COMPONENT_APPSECRET":      sentinels["WECHAT_COMPONENT_APPSECRET"],
		"WECHAT_COMPONENT_VERIFY_TICKET":  sentinels["WECHAT_COMPONENT_VERIFY_TICKET"],
		"WECHAT_AUTHORIZER_APPID":         wechattest.AuthorizerAppID,
		"WECHAT_AUTHORIZER_REFRESH_TOKEN": sentinels["WECHAT_AUTHORIZER_REFRESH_TOKEN"],
		"WXCLOUDENV_API_KEY":              sentinels["WXCLOUDENV_API_KEY"],
	}
	app := env{"WECHAT_APPID": wechattest.AppID, "WECHAT_APPSECRET": sentinels["WECHAT_APPSECRET"]}
	tests := []struct {
		name  string
		env   env
		base  string
		fault *wechattest.Fault
		event string
	}{
		{name: "dial failure (url.Error)", env: staticTokens, base: dead, event: withKey},
		{name: "dial failure while minting", env: minting, base: dead, event: `{}`},
		{name: "stable_token dial failure", env: app, base: dead, event: `{}`},
		{name: "static tokens rejected", env: staticTokens, event: withKey},
		{name: "minting rejected", env: minting, event: `{}`},
		{name: "stable_token rejected", env: app, event: `{}`},
		{name: "5xx", env: staticTokens, fault: &wechattest.Fault{Status: 503, Body: []byte("<html>" + sentinels["WECHAT_ACCESS_TOKEN"] + "</html>")}, event: withKey},
		{name: "errmsg echoing a token", env: staticTokens, fault: &wechattest.Fault{ErrCode: 40001, ErrMsg: "bad token " + sentinels["WECHAT_COMPONENT_ACCESS_TOKEN"]}, event: withKey},
		{name: "hung", env: staticTokens, fault: &wechattest.Fault{Hang: true}, event: withKey},
		{name: "reset", env: staticTokens, fault: &wechattest.Fault{Reset: true}, event: withKey},
		{name: "malformed", env: staticTokens, fault: &wechattest.Fault{Body: []byte(`{"errcode":0,` + sentinels["WECHAT_ACCESS_TOKEN"])}, event: withKey},
		{name: "wrong api key", env: staticTokens, event: wrongKey},
		{name: "scheduled failure", env: staticTokens, base: dead, event: `{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`},
		{name: "payload holding a secret", env: staticTokens, event: `{"env":"` + sentinels["WXCLOUDENV_API_KEY"] + `"}`},
		{name: "bad config value", env: env{"WECHAT_TIMEOUT": "x", "WECHAT_ACCESS_TOKEN": sentinels["WECHAT_ACCESS_TOKEN"]}, event: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Reset()
			e := env{"WECHAT_API_BASE_URL": srv.URL, "WECHAT_TIMEOUT": "300ms", "WECHAT_RETRIES": "1", "LOG_LEVEL": "debug"}
			if tt.base != "" {
				e["WECHAT_API_BASE_URL"] = tt.base + "," + tt.base
			}
			for k, v := range tt.env {
				e[k] = v
			}
			if tt.fault != nil {
				srv.Always(wechat.GetEnvInfoPath, *tt.fault)
				srv.Always(wechat.DescribeCloudBaseRunEnvsPath, *tt.fault)
			}
			hs := newHarness(t, srv, e)
			out, err := hs.invoke(t, []byte(tt.event), 3*time.Second)
			everything := string(out) + "\n" + fmt.Sprint(err) + fmt.Sprintf("%+v %#v", err, err) + "\n" + hs.log.String()
			for name, s := range sentinels {
				if strings.Contains(everything, s) {
					t.Errorf("%s leaked:\n%s", name, everything)
				}
			}
			if out == nil && err == nil {
				t.Error("neither an answer nor an error")
			}
		})
	}
}
