package wechat_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func TestGetAuthorizerInfo(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	comp := componentSource(c)
	srv.SetAuthorizer("wxnamed", wechattest.Authorizer{Name: "**Shop** [x](y)", Principal: "Acme Ltd"})
	srv.SetAuthorizer("wxno49", wechattest.Authorizer{NoCloudDevelopment: true})
	srv.SetAuthorizer("wx61007", wechattest.Authorizer{EnvInfoErrCode: 61007})
	srv.SetAuthorizer("wxbroken", wechattest.Authorizer{InfoErrCode: 61004})
	srv.AddAuthorizers("wxplain")

	tests := []struct {
		name, appid   string
		wantName      string
		wantPrincipal string
		want49        bool
		wantErrCode   int
		wantKind      wechat.Kind
	}{
		{name: "default names", appid: "wxplain", wantName: wechattest.NameFor("wxplain"), wantPrincipal: wechattest.PrincipalFor("wxplain"), want49: true},
		{name: "set names kept as sent", appid: "wxnamed", wantName: "**Shop** [x](y)", wantPrincipal: "Acme Ltd", want49: true},
		{name: "without permission set 49", appid: "wxno49", wantName: wechattest.NameFor("wxno49"), wantPrincipal: wechattest.PrincipalFor("wxno49")},
		{name: "getenvinfo 61007 implies no 49", appid: "wx61007", wantName: wechattest.NameFor("wx61007"), wantPrincipal: wechattest.PrincipalFor("wx61007")},
		{name: "errcode from WeChat", appid: "wxbroken", wantErrCode: 61004, wantKind: wechat.KindPermission},
		{name: "unknown authorizer", appid: "wxnobody", wantErrCode: 61003, wantKind: wechat.KindUpstream},
		{name: "no appid", appid: "", wantKind: wechat.KindInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := c.GetAuthorizerInfo(context.Background(), comp, wechattest.ComponentAppID, tt.appid)
			if tt.wantKind != "" {
				var we *wechat.Error
				if !errors.As(err, &we) || we.Kind != tt.wantKind || we.ErrCode != tt.wantErrCode || we.Op != wechat.OpGetAuthorizerInfo {
					t.Fatalf("GetAuthorizerInfo(%q) error = %v, want kind %s errcode %d", tt.appid, err, tt.wantKind, tt.wantErrCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetAuthorizerInfo(%q): %v", tt.appid, err)
			}
			if info.AuthorizerAppID != tt.appid || info.NickName != tt.wantName || info.PrincipalName != tt.wantPrincipal {
				t.Fatalf("GetAuthorizerInfo(%q) = %+v, want %q, %q", tt.appid, info, tt.wantName, tt.wantPrincipal)
			}
			if got := info.HasFunc(wechat.FuncCloudDevelopment); got != tt.want49 {
				t.Fatalf("HasFunc(49) = %v, want %v (funcs %v)", got, tt.want49, info.FuncIDs)
			}
		})
	}
}

// TestGetAuthorizerInfoDocumentedAnswer reads the documentation's
// mini-program answer: only the names and the permission sets are kept,
// sorted and without duplicates.
func TestGetAuthorizerInfoDocumentedAnswer(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	body, err := os.ReadFile(filepath.Join("testdata", "authorizer_info_miniprogram.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(wechat.GetAuthorizerInfoPath, wechattest.Fault{Body: body})
	info, err := c.GetAuthorizerInfo(context.Background(), componentSource(c), wechattest.ComponentAppID, "wxf8b4f85f3a794e77")
	if err != nil {
		t.Fatal(err)
	}
	want := wechat.AuthorizerInfo{AuthorizerAppID: "wxf8b4f85f3a794e77", NickName: "云开发示例小程序", PrincipalName: "某某科技有限公司", FuncIDs: []int{17, 18, 49}}
	if info.AuthorizerAppID != want.AuthorizerAppID || info.NickName != want.NickName || info.PrincipalName != want.PrincipalName || !slices.Equal(info.FuncIDs, want.FuncIDs) {
		t.Fatalf("GetAuthorizerInfo = %+v, want %+v", info, want)
	}
	if got := srv.Calls(wechat.GetAuthorizerInfoPath); got != 1 {
		t.Fatalf("calls = %d, want 1", got)
	}
}

func TestGetAuthorizerInfoBadAnswer(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.Inject(wechat.GetAuthorizerInfoPath, wechattest.Fault{Body: []byte(`{"authorizer_info":{"nick_name":7}}`)})
	_, err := c.GetAuthorizerInfo(context.Background(), componentSource(c), wechattest.ComponentAppID, "wxplain")
	var we *wechat.Error
	if !errors.As(err, &we) || we.Kind != wechat.KindBadResponse {
		t.Fatalf("error = %v, want kind bad_response", err)
	}
}
