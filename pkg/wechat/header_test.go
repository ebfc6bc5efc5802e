package wechat_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// TestRequestHeaders: every request says it sends and accepts JSON, and
// carries the User-Agent (the default, or WithUserAgent's).
func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts []wechat.Option
		ua   string
	}{
		{name: "default", ua: "wxcloudenv"},
		{name: "custom", opts: []wechat.Option{wechat.WithUserAgent("probe/1.0")}, ua: "probe/1.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.Header.Clone())
				mu.Unlock()
				_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","info_list":[]}`))
			}))
			defer srv.Close()
			c, err := wechat.NewClient(append([]wechat.Option{wechat.WithBaseURLs(srv.URL)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := c.Raw(t.Context(), wechat.OpGetEnvInfo, wechat.StaticTokenSource("tok"), nil); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 3 {
				t.Fatalf("%d requests, want 3", len(got))
			}
			for _, h := range got {
				if h.Get("Content-Type") != "application/json" || h.Get("Accept") != "application/json" || h.Get("User-Agent") != tt.ua ||
					len(h.Values("Content-Type")) != 1 || len(h.Values("Accept")) != 1 {
					t.Errorf("request headers %v, want JSON both ways and User-Agent %q", h, tt.ua)
				}
			}
		})
	}
}
