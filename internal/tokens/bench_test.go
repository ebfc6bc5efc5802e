package tokens_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// BenchmarkTokenFromMemory measures a Token call that memory answers.
func BenchmarkTokenFromMemory(b *testing.B) {
	_, c := setupB(b)
	src := keeper(&testing.T{}, store.NewMemory(), c).Stable(wechattest.AppID, wechattest.AppSecret)
	if _, err := src.Token(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Token(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreload10000 measures Preload of a 10,000-authorizer fleet in
// chunks of 500 over the memory store, then one Token call per authorizer.
func BenchmarkPreload10000(b *testing.B) {
	_, c := setupB(b)
	st := store.NewMemory()
	w := keeper(&testing.T{}, st, c)
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("wxauthorizer%05d", i)
		if err := w.SaveAuthorization(b.Context(), wechattest.ComponentAppID, ids[i], "token-"+ids[i], time.Hour, "refresh-"+ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	b.ReportAllocs()
	for b.Loop() {
		k := keeper(&testing.T{}, st, c)
		for i := 0; i < len(ids); i += 500 {
			if err := k.Preload(b.Context(), wechattest.ComponentAppID, ids[i:i+500]); err != nil {
				b.Fatal(err)
			}
		}
		for _, id := range ids {
			if _, err := k.Authorizer(comp, wechattest.ComponentAppID, id, "").Token(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func setupB(b *testing.B) (*wechattest.Server, *wechat.Client) {
	srv := wechattest.NewServer()
	b.Cleanup(srv.Close)
	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		b.Fatal(err)
	}
	return srv, c
}
