package config_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

func setenv(t *testing.T, e map[string]string) {
	t.Helper()
	for _, k := range config.Variables {
		t.Setenv(k, "")
	}
	for k, v := range e {
		t.Setenv(k, v)
	}
}

func TestDefaults(t *testing.T) {
	setenv(t, nil)
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURLs[0] != "https://api.weixin.qq.com" || time.Duration(c.Timeout) != 5*time.Second || c.Retries != 2 ||
		c.MaxResponseBytes != 16777216 || strings.Join(c.Operations, ",") != "getenvinfo,describecloudbaserunenvs" || c.LogLevel != "info" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadValues(t *testing.T) {
	setenv(t, map[string]string{
		"WECHAT_API_BASE_URL": "https://api.weixin.qq.com, https://api2.weixin.qq.com",
		"WECHAT_TIMEOUT":      "1500ms", "WECHAT_RETRIES": "0", "WECHAT_MAX_RESPONSE_BYTES": "1024",
		"WXCLOUDENV_OPERATIONS": "describecloudbaserunenvs", "WECHAT_ENV": "prod-7c21be", "LOG_LEVEL": "debug",
	})
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.BaseURLs) != 2 || c.BaseURLs[1] != "https://api2.weixin.qq.com" || time.Duration(c.Timeout) != 1500*time.Millisecond ||
		c.Retries != 0 || c.MaxResponseBytes != 1024 || c.Operations[0] != "describecloudbaserunenvs" || c.Env != "prod-7c21be" {
		t.Errorf("config = %+v", c)
	}
}

func TestInvalidValues(t *testing.T) {
	tests := []struct{ key, val string }{
		{"WECHAT_TIMEOUT", "five seconds"}, {"WECHAT_TIMEOUT", "-1s"}, {"WECHAT_RETRIES", "two"}, {"WECHAT_RETRIES", "11"},
		{"WECHAT_MAX_RESPONSE_BYTES", "0"}, {"WECHAT_API_BASE_URL", "ftp://x"}, {"WECHAT_API_BASE_URL", "https://x/?access_token=SECRETVALUE"},
		{"WXCLOUDENV_OPERATIONS", "getenvinfo,all"}, {"WECHAT_ENV", "a b"}, {"LOG_LEVEL", "loud"},
	}
	for _, tt := range tests {
		setenv(t, map[string]string{tt.key: tt.val})
		_, err := config.Load()
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Variable != tt.key {
			t.Errorf("%s=%q: err = %v, want a config.Error naming it", tt.key, tt.val, err)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("error text holds a query value: %v", err)
		}
	}
}

func TestTokenPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		op         string
		wantMinted bool
		wantErr    string // config error text, "" for a usable source
	}{
		{"static access", map[string]string{"WECHAT_ACCESS_TOKEN": "a", "WECHAT_APPID": "x", "WECHAT_APPSECRET": "y"}, wechat.OpGetEnvInfo, false, ""},
		{"authorizer over app", map[string]string{"WECHAT_AUTHORIZER_APPID": "x", "WECHAT_AUTHORIZER_REFRESH_TOKEN": "r", "WECHAT_COMPONENT_APPID": "c",
			"WECHAT_COMPONENT_ACCESS_TOKEN": "ct", "WECHAT_APPID": "x", "WECHAT_APPSECRET": "y"}, wechat.OpGetEnvInfo, true, ""},
		{"app credentials", map[string]string{"WECHAT_APPID": "x", "WECHAT_APPSECRET": "y"}, wechat.OpGetEnvInfo, true, ""},
		{"nothing", nil, wechat.OpGetEnvInfo, false, "set WECHAT_ACCESS_TOKEN"},
		{"half an app", map[string]string{"WECHAT_APPID": "x"}, wechat.OpGetEnvInfo, false, "WECHAT_APPSECRET is not"},
		{"authorizer without component appid", map[string]string{"WECHAT_AUTHORIZER_APPID": "x", "WECHAT_AUTHORIZER_REFRESH_TOKEN": "r"}, wechat.OpGetEnvInfo, false, "WECHAT_COMPONENT_APPID"},
		{"static component", map[string]string{"WECHAT_COMPONENT_ACCESS_TOKEN": "c"}, wechat.OpDescribeCloudBaseRunEnvs, false, ""},
		{"component credentials", map[string]string{"WECHAT_COMPONENT_APPID": "a", "WECHAT_COMPONENT_APPSECRET": "s", "WECHAT_COMPONENT_VERIFY_TICKET": "t"}, wechat.OpDescribeCloudBaseRunEnvs, true, ""},
		{"component lacks ticket", map[string]string{"WECHAT_COMPONENT_APPID": "a", "WECHAT_COMPONENT_APPSECRET": "s"}, wechat.OpDescribeCloudBaseRunEnvs, false, "lack WECHAT_COMPONENT_VERIFY_TICKET"},
		{"no component", nil, wechat.OpDescribeCloudBaseRunEnvs, false, "WECHAT_COMPONENT_ACCESS_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.env)
			c, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			rt, err := c.Build(nil)
			if err != nil {
				t.Fatal(err)
			}
			if rt.Minted[tt.op] != tt.wantMinted {
				t.Errorf("minted = %v, want %v", rt.Minted[tt.op], tt.wantMinted)
			}
			if tt.wantErr == "" {
				return
			}
			_, err = rt.Tokens[tt.op].Token(context.Background())
			if !errors.Is(err, wechat.ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Token error = %v, want config naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoaderRebuildsOnChange(t *testing.T) {
	setenv(t, map[string]string{"WECHAT_ACCESS_TOKEN": "a"})
	var l config.Loader
	rt1, _ := l.Load()
	rt2, _ := l.Load()
	if rt1 != rt2 {
		t.Error("the runtime was rebuilt with the same variables")
	}
	t.Setenv("WECHAT_ACCESS_TOKEN", "b")
	if rt3, _ := l.Load(); rt3 == rt1 || rt3.Config.AccessToken != "b" {
		t.Error("the runtime was not rebuilt when a variable changed")
	}
}
