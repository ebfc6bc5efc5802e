package config_test

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, vars := range []map[string]string{nil, {"WECHAT_TIMEOUT": " ", "WECHAT_RETRIES": "", "WXCLOUDENV_CONCURRENCY": ""}} {
		c, err := config.Parse(config.Map(vars))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(c.BaseURLs, ",") != wechat.DefaultBaseURLs || c.Timeout != wechat.DefaultTimeout || c.Retries != wechat.DefaultRetries ||
			c.MaxResponseBytes != wechat.DefaultMaxResponseBytes || strings.Join(c.Operations, ",") != "getenvinfo,describecloudbaserunenvs" ||
			c.LogLevel != slog.LevelInfo || c.Store != "memory" || c.StorePrefix != "wxcloudenv:" || c.TokenLayout != "wxcloudenv" ||
			c.Concurrency != 16 || c.NotifyRepeat != 24*time.Hour || c.Fleet() {
			t.Errorf("defaults = %+v", c)
		}
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(config.Map(map[string]string{
		"WECHAT_API_BASE_URL": "https://api.weixin.qq.com, https://api2.weixin.qq.com",
		"WECHAT_TIMEOUT":      "1500ms", "WECHAT_RETRIES": "0", "WECHAT_MAX_RESPONSE_BYTES": "1024",
		"WXCLOUDENV_OPERATIONS": "describecloudbaserunenvs", "WECHAT_ENV": "prod-7c21be", "LOG_LEVEL": "WARNING",
		"WXCLOUDENV_STORE": "redis://:pw@127.0.0.1:6379/2", "WXCLOUDENV_TOKEN_LAYOUT": "wxjava", "WXCLOUDENV_TOKEN_KEY_PREFIX": "wx:open",
		"WXCLOUDENV_AUTHORIZERS": "wxA, wxB_2", "WXCLOUDENV_CONCURRENCY": "256", "WXCLOUDENV_NOTIFY_REPEAT": "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.BaseURLs) != 2 || c.BaseURLs[1] != "https://api2.weixin.qq.com" || c.Timeout != 1500*time.Millisecond ||
		c.Retries != 0 || c.MaxResponseBytes != 1024 || c.Operations[0] != "describecloudbaserunenvs" || c.Env != "prod-7c21be" ||
		c.LogLevel != slog.LevelWarn || c.StoreScheme() != "redis" || !slices.Equal(c.Authorizers, []string{"wxA", "wxB_2"}) ||
		c.Concurrency != 256 || c.NotifyRepeat != 0 || !c.Fleet() {
		t.Errorf("config = %+v", c)
	}
}

// TestInvalidValues: every value out of range is rejected by name, never
// replaced by a default, and the error never quotes the value.
func TestInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, val string
		with     map[string]string
	}{
		{"WECHAT_TIMEOUT", "five seconds", nil}, {"WECHAT_TIMEOUT", "-1s", nil}, {"WECHAT_TIMEOUT", "0", nil}, {"WECHAT_TIMEOUT", "1h", nil},
		{"WECHAT_RETRIES", "two", nil}, {"WECHAT_RETRIES", "11", nil}, {"WECHAT_RETRIES", "-1", nil},
		{"WECHAT_MAX_RESPONSE_BYTES", "0", nil}, {"WECHAT_MAX_RESPONSE_BYTES", "-5", nil},
		{"WECHAT_MAX_RESPONSE_BYTES", "67108865", nil}, {"WECHAT_MAX_RESPONSE_BYTES", "99999999999999999999999", nil},
		{"WECHAT_API_BASE_URL", "ftp://x", nil}, {"WECHAT_API_BASE_URL", "https://x/?access_token=SECRETVALUE", nil},
		{"WECHAT_API_BASE_URL", "https://user:SECRETVALUE@x", nil},
		{"WXCLOUDENV_OPERATIONS", "getenvinfo,all", nil}, {"WXCLOUDENV_OPERATIONS", "getenvinfo,getenvinfo", nil},
		{"WECHAT_ENV", "a b", nil}, {"LOG_LEVEL", "loud", nil},
		{"WXCLOUDENV_STORE", "mongodb://u:SECRETVALUE@x", nil}, {"WXCLOUDENV_STORE", "redis:SECRETVALUE", nil},
		{"WXCLOUDENV_STORE_PREFIX", "a b", nil},
		{"WXCLOUDENV_TOKEN_LAYOUT", "easywechat", nil}, {"WXCLOUDENV_TOKEN_LAYOUT", "wxjava", map[string]string{"WXCLOUDENV_STORE": "dynamodb://t"}},
		{"WXCLOUDENV_TOKEN_KEY_PREFIX", "wx:open", nil},
		{"WECHAT_COMPONENT_ENCODING_AES_KEY", "SECRETVALUE", nil},
		{"WXCLOUDENV_AUTHORIZERS", "wxA,wx-B", nil}, {"WXCLOUDENV_AUTHORIZERS", "wxA,wxA", nil}, {"WXCLOUDENV_AUTHORIZERS", "all,wxA", nil},
		{"WXCLOUDENV_CONCURRENCY", "0", nil}, {"WXCLOUDENV_CONCURRENCY", "257", nil},
		{"WXCLOUDENV_NOTIFY", "ftp://hook?key=SECRETVALUE", nil}, {"WXCLOUDENV_NOTIFY_REPEAT", "-1h", nil},
	}
	for _, tt := range tests {
		vars := map[string]string{tt.key: tt.val}
		for k, v := range tt.with {
			vars[k] = v
		}
		_, err := config.Parse(config.Map(vars))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Variable != tt.key {
			t.Errorf("%s=%q: err = %v, want a config.Error naming it", tt.key, tt.val, err)
		}
		if err != nil && (strings.Contains(err.Error(), "SECRETVALUE") || len(tt.val) >= 4 && strings.Contains(err.Error(), tt.val)) {
			t.Errorf("%s: the error text quotes the value: %v", tt.key, err)
		}
	}
}

// TestErrorsNameTheEntryAndTheFix: an error a user can cause names the
// variable, the entry (quoted when it cannot be a secret) and the fix.
func TestErrorsNameTheEntryAndTheFix(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, val, want string }{
		{"WXCLOUDENV_OPERATIONS", "getenvinfo,describecloudbaserunenv", `WXCLOUDENV_OPERATIONS: entry 2 of 2: unknown operation "describecloudbaserunenv": did you mean describecloudbaserunenvs?`},
		{"WXCLOUDENV_OPERATIONS", "GetEnvInfo", `entry 1 of 1: unknown operation "GetEnvInfo": names are case-sensitive, write getenvinfo`},
		{"WXCLOUDENV_OPERATIONS", "getenvinfo,listall", `entry 2 of 2: unknown operation "listall"; known: getenvinfo, describecloudbaserunenvs`},
		{"WXCLOUDENV_STORE", "dynamodb://", "dynamodb:// needs the table's name"},
		{"WXCLOUDENV_STORE", "dynamodb:///", "dynamodb:// needs the table's name"},
	}
	for _, tt := range tests {
		_, err := config.Parse(config.Map(map[string]string{tt.key: tt.val}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: err = %v, want it to contain %q", tt.key, tt.val, err, tt.want)
		}
	}
}

func TestVariablesComeFromTheStruct(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"WECHAT_API_BASE_URL", "LOG_LEVEL", "WXCLOUDENV_STORE", "WXCLOUDENV_NOTIFY_REPEAT", "WECHAT_COMPONENT_ENCODING_AES_KEY"} {
		if !slices.Contains(config.Variables, v) {
			t.Errorf("Variables lacks %s", v)
		}
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(config.Map(map[string]string{
		"WECHAT_ACCESS_TOKEN": "tok-aaaa", "WXCLOUDENV_STORE": "rediss://default:storepass1@cache:6380/0",
		"WXCLOUDENV_NOTIFY":      "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecomkey1,https://open.feishu.cn/open-apis/bot/v2/hook/feishutoken-0123456789",
		"WECHAT_COMPONENT_APPID": "wxcomponentappid",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Secrets()
	for _, want := range []string{"tok-aaaa", "storepass1", "wecomkey1", "feishutoken-0123456789"} {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %q", want)
		}
	}
	if slices.Contains(got, "wxcomponentappid") {
		t.Error("an appid is not a secret")
	}
}
