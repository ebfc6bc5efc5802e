package tokens_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestPreloadFleetReadsExtraKeys: the keys a fleet run asks for are read
// in the preload's one GetMany, their live values returned and not taken
// for tokens; a private store reads nothing, and says so (nil).
func TestPreloadFleetReadsExtraKeys(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	st := &counting{Store: store.NewMemory()}
	writer := keeper(t, st, c)
	ids := []string{"wxauthorizer0001", "wxauthorizer0002"}
	for _, id := range ids {
		if err := writer.SaveAuthorization(t.Context(), wechattest.ComponentAppID, id, "preloaded-"+id, time.Hour, "refresh@@@"+id); err != nil {
			t.Fatal(err)
		}
	}
	// A value shaped like a stored token under another key is the
	// caller's, not a token.
	other := `{"token":"not-a-token","expires_at":"2999-01-01T00:00:00Z"}`
	if err := st.Set(t.Context(), "wxcloudenv:names:wxauthorizer0001", store.Value{Data: []byte(other)}); err != nil {
		t.Fatal(err)
	}
	k := keeper(t, st, c)
	before := st.getManys.Load()
	asked := 0
	extra := []string{"wxcloudenv:names:wxauthorizer0001", "wxcloudenv:names:wxauthorizer0002"}
	got, err := k.PreloadFleet(t.Context(), wechattest.ComponentAppID, ids, func() []string { asked++; return extra })
	if err != nil {
		t.Fatal(err)
	}
	if n := st.getManys.Load() - before; n != 1 || asked != 1 {
		t.Fatalf("%d GetMany calls, extra asked %d times; want one each", n, asked)
	}
	if keys := slices.Sorted(maps.Keys(got)); len(keys) != 1 || keys[0] != extra[0] || string(got[extra[0]].Data) != other {
		t.Fatalf("extra values %v, want only %s", got, extra[0])
	}
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	for _, id := range ids {
		tok, err := k.Authorizer(comp, wechattest.ComponentAppID, id, "").Token(t.Context())
		if err != nil || tok.Value.Reveal() != "preloaded-"+id {
			t.Fatalf("Token(%s) = %v, %v", id, tok, err)
		}
	}
	if got := c.Scrubber().Scrub("x not-a-token x"); got != "x not-a-token x" {
		t.Errorf("an extra value was kept as a token: %q", got)
	}
	// No appids: nothing read, extra not asked.
	if got, err := k.PreloadFleet(t.Context(), wechattest.ComponentAppID, nil, func() []string { t.Error("extra asked with no appids"); return nil }); got != nil || err != nil {
		t.Errorf("PreloadFleet of nobody = %v, %v", got, err)
	}
}
