package robots_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// FuzzBody feeds arbitrary PUT bodies and appids to PutBody over a store
// that already holds an authorizer's robots. It must never panic; a
// refusal is a FieldError naming a field, quotes no URL the body holds and
// leaves the store exactly as it was; what is accepted is at most MaxURLs
// robots that read back as the same kinds.
func FuzzBody(f *testing.F) {
	f.Add("wxfuzz01", []byte(`{"urls":["`+wecomURL+`"]}`))
	f.Add("wxfuzz01", []byte(`{"urls":["`+wecomURL+`","`+dingtalkURL+`","`+feishuURL+`"]}`))
	f.Add("wxfuzz02", []byte(`{"urls":["https://example.com/open-apis/bot/v2/hook/a/b"]}`))
	f.Add("wx/../x", []byte(`{"urls":[]}`))
	f.Add("wxfuzz01", []byte(`{"urls":["`+wecomURL+`"],"secret":"x"}`))
	f.Add("wxfuzz01", []byte(`{"urls":null} {}`))
	f.Fuzz(func(t *testing.T, appid string, body []byte) {
		ctx := t.Context()
		st := store.NewMemory()
		if err := robots.Put(ctx, st, "f:", "wxfuzz01", []string{dingtalkURL}); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, st)
		chans, err := robots.PutBody(ctx, st, "f:", appid, body)
		if err != nil {
			var fe *robots.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("refusal %v is not a FieldError naming a field", err)
			}
			if after := snapshot(t, st); !maps.Equal(before, after) {
				t.Fatalf("a refused body changed the store: %v", err)
			}
			for _, s := range stringsIn(body) {
				if len(s) >= 12 && strings.Contains(s, "/") && strings.Contains(err.Error(), s) {
					t.Fatalf("the refusal quotes %q: %v", s, err)
				}
			}
			return
		}
		if len(chans) == 0 || len(chans) > robots.MaxURLs {
			t.Fatalf("accepted %d robots", len(chans))
		}
		got, err := robots.Get(ctx, st, "f:", appid)
		if err != nil || len(got) != len(chans) {
			t.Fatalf("read back %d robots (%v), accepted %d", len(got), err, len(chans))
		}
		for i := range got {
			if got[i].Kind != chans[i].Kind || got[i].Host != chans[i].Host {
				t.Fatalf("robot %d reads back as %v, accepted as %v", i, got[i], chans[i])
			}
		}
	})
}

func snapshot(t *testing.T, st store.Store) map[string]string {
	keys, err := st.Keys(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := st.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range vals {
		out[k] = string(v.Data)
	}
	return out
}

// stringsIn returns the JSON strings of body, if it decodes.
func stringsIn(body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
