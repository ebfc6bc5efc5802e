package owners_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/owners"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

const wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=owner-secret-key-1"

func TestParse(t *testing.T) {
	tests := []struct {
		body, field string
	}{
		{body: `{"urls":["` + wecom + `"]}`},
		{body: `{"urls":["` + wecom + `","https://open.feishu.cn/open-apis/bot/v2/hook/owner-hook"]}`},
		{body: `{"urls":[]}`, field: "urls"},
		{body: `{"urls":"` + wecom + `"}`, field: "urls"},
		{body: `{"urls":["https://example.com/x?key=owner-secret-key-2"]}`, field: "urls[0]"},
		{body: `{"urls":["` + wecom + `","` + wecom + `"]}`, field: "urls"},
		{body: `{"urls":["` + wecom + `,` + wecom + `"]}`, field: "urls[0]"},
		{body: `{"urls":["ftp://x/cgi-bin/webhook/send?key=k"]}`, field: "urls[0]"},
		{body: `{"hooks":[]}`, field: "hooks"},
		{body: `[`, field: "body"},
		{body: `{"urls":["` + strings.Repeat(wecom+`","`, 10) + wecom + `"]}`, field: "urls"},
	}
	for _, tt := range tests {
		_, err := owners.Parse([]byte(tt.body))
		var fe *owners.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("Parse(%.80s) = %v", tt.body, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("Parse(%.80s) = %v, want a FieldError on %s", tt.body, err, tt.field)
		case err != nil && strings.Contains(err.Error(), "owner-secret-key"):
			t.Errorf("the error shows the robot key: %v", err)
		}
	}
}

func TestBook(t *testing.T) {
	b := &owners.Book{Store: store.NewMemory(), Prefix: "t:"}
	ctx := context.Background()
	if r, err := b.Robots(ctx, "wxA"); err != nil || len(r) != 0 {
		t.Fatalf("no robots: %v %v", r, err)
	}
	if err := b.Put(ctx, "wxA", []string{wecom}); err != nil {
		t.Fatal(err)
	}
	r, err := b.Robots(ctx, "wxA")
	if err != nil || len(r) != 1 || r[0].Kind != "wecom" || r[0].Host != "qyapi.weixin.qq.com" {
		t.Fatalf("Robots = %+v, %v", r, err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", r, r, r), "owner-secret") {
		t.Fatal("a robot shows its key")
	}
	if err := b.Delete(ctx, "wxA"); err != nil {
		t.Fatal(err)
	}
	if r, _ := b.Robots(ctx, "wxA"); len(r) != 0 {
		t.Fatalf("after Delete: %+v", r)
	}
}

// FuzzParse: a robots body is accepted with 1 to 10 URLs or refused with
// a field named, and a refusal never shows what it was given.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"urls":["` + wecom + `"]}`))
	f.Add([]byte(`{"urls":["https://x/robot/send?access_token=owner-secret-key-3"]}`))
	f.Add([]byte(`{"urls":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		urls, err := owners.Parse(body)
		if err != nil {
			var fe *owners.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || urls != nil {
				t.Fatalf("Parse(%q) = %v, %v", body, urls, err)
			}
			for _, secret := range secretsIn(string(body)) {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the refusal shows the secret %q: %v", secret, err)
				}
			}
			return
		}
		if len(urls) == 0 || len(urls) > owners.MaxRobots {
			t.Fatalf("accepted %d URLs", len(urls))
		}
	})
}

// secretsIn returns the query values and last path segments of the URLs
// in a body: what a robot URL keeps secret (the host is not).
func secretsIn(body string) []string {
	var r struct {
		URLs []string `json:"urls"`
	}
	if json.Unmarshal([]byte(body), &r) != nil {
		return nil
	}
	var out []string
	for _, raw := range r.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		cands := []string{path.Base(u.Path)}
		for _, vs := range u.Query() {
			cands = append(cands, vs...)
		}
		for _, c := range cands {
			if len(c) >= 6 && !strings.Contains(u.Host, c) && !strings.Contains("cgi-bin webhook send robot open-apis", c) {
				out = append(out, c)
			}
		}
	}
	return out
}
