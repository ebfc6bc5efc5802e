package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/app"
	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

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
			t.Parallel()
			c, err := config.Parse(config.Map(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			rt, err := app.Build(c, app.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			// A minted token can be dropped and minted anew: its source is
			// an Invalidator; a static token's, or a missing one's, is not.
			if _, minted := rt.Tokens[tt.op].(wechat.Invalidator); minted != tt.wantMinted {
				t.Errorf("minted = %v, want %v", minted, tt.wantMinted)
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

func TestCacheRebuildsOnChange(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"WECHAT_ACCESS_TOKEN": "token-a"}
	var c app.Cache
	rt1, _ := c.Get(config.Map(vars))
	rt2, _ := c.Get(config.Map(vars))
	if rt1 == nil || rt1 != rt2 {
		t.Error("the runtime was rebuilt with the same variables")
	}
	vars = map[string]string{"WECHAT_ACCESS_TOKEN": "token-b"}
	if rt3, _ := c.Get(config.Map(vars)); rt3 == rt1 || rt3.Config.AccessToken != "token-b" {
		t.Error("the runtime was not rebuilt when a variable changed")
	}
	vars["WECHAT_RETRIES"] = "-1"
	if _, err := c.Get(config.Map(vars)); err == nil {
		t.Error("an invalid configuration was cached as valid")
	}
}

// TestCacheFixedEnv: with FixedEnv, the first configuration (or its
// error) serves every call, the variables not read again.
func TestCacheFixedEnv(t *testing.T) {
	t.Parallel()
	reads := 0
	vars := map[string]string{"WECHAT_ACCESS_TOKEN": "token-a"}
	lookup := func(k string) (string, bool) { reads++; v, ok := vars[k]; return v, ok }
	c := app.Cache{FixedEnv: true}
	rt1, err := c.Get(lookup)
	if err != nil || rt1 == nil {
		t.Fatal(err)
	}
	first := reads
	vars["WECHAT_ACCESS_TOKEN"] = "token-b"
	if rt2, _ := c.Get(lookup); rt2 != rt1 || reads != first {
		t.Errorf("a second call read %d variables and gave another runtime (%v)", reads-first, rt2 != rt1)
	}

	bad := app.Cache{FixedEnv: true}
	broken := config.Map(map[string]string{"WECHAT_ACCESS_TOKEN": "t", "WECHAT_RETRIES": "-1"})
	if _, err := bad.Get(broken); err == nil {
		t.Fatal("an invalid configuration was accepted")
	}
	if _, err := bad.Get(config.Map(vars)); err == nil {
		t.Error("a fixed environment's configuration error was not kept")
	}
}
