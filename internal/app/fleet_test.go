package app_test

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/wxcloudenv/wxcloudenv/internal/app"
	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestFleetAllKeepsOneCopy: a later read of the authorizer list gives the
// same appids, sorted, as the strings the keeper holds their tokens by, so
// that a warm fleet run does not hold a second copy of every appid.
func TestFleetAllKeepsOneCopy(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.Unauthorize(wechattest.AuthorizerAppID)
	ids := srv.SetFleet(20)
	c, err := config.Parse(config.Map(map[string]string{
		"WECHAT_API_BASE_URL":            srv.URL,
		"WECHAT_COMPONENT_APPID":         wechattest.ComponentAppID,
		"WECHAT_COMPONENT_APPSECRET":     wechattest.ComponentAppSecret,
		"WECHAT_COMPONENT_VERIFY_TICKET": wechattest.VerifyTicket,
		"WXCLOUDENV_AUTHORIZERS":         "all",
	}))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := app.Build(c, app.Deps{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	first, err := rt.Fleet.All(t.Context())
	if err != nil || !slices.Equal(first, ids) {
		t.Fatalf("first All = %v, %v; want %v", first, err, ids)
	}
	second, err := rt.Fleet.All(t.Context())
	if err != nil || !slices.Equal(second, ids) {
		t.Fatalf("second All = %v, %v; want %v", second, err, ids)
	}
	for i := range second {
		if unsafe.StringData(second[i]) != unsafe.StringData(first[i]) {
			t.Fatalf("appid %s of the second read is a copy, not the string the keeper holds", second[i])
		}
	}
}
