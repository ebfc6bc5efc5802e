// Package configtest sets wxcloudenv's configuration for a test, the way a
// platform does: through the environment.
package configtest

import (
	"os"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// Set unsets every configuration variable for the rest of the test, then
// sets vars. It cannot be used in parallel tests.
func Set(tb testing.TB, vars map[string]string) {
	tb.Helper()
	for _, k := range config.Variables {
		tb.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range vars {
		tb.Setenv(k, v)
	}
}

// StaticVars returns the variables that point wxcloudenv at the fake
// WeChat at baseURL (a wechattest.Server's URL) with its static access and
// component access tokens.
func StaticVars(baseURL string) map[string]string {
	return map[string]string{
		"WECHAT_API_BASE_URL":           baseURL,
		"WECHAT_ACCESS_TOKEN":           wechattest.AccessToken,
		"WECHAT_COMPONENT_ACCESS_TOKEN": wechattest.ComponentAccessToken,
	}
}

// MintingVars returns the variables that point wxcloudenv at the fake
// WeChat at baseURL with the component and authorizer credentials, so that
// both tokens are minted.
func MintingVars(baseURL string) map[string]string {
	return map[string]string{
		"WECHAT_API_BASE_URL":             baseURL,
		"WECHAT_COMPONENT_APPID":          wechattest.ComponentAppID,
		"WECHAT_COMPONENT_APPSECRET":      wechattest.ComponentAppSecret,
		"WECHAT_COMPONENT_VERIFY_TICKET":  wechattest.VerifyTicket,
		"WECHAT_AUTHORIZER_APPID":         wechattest.AuthorizerAppID,
		"WECHAT_AUTHORIZER_REFRESH_TOKEN": wechattest.AuthorizerRefreshToken,
	}
}
