package jsonw_test

import (
	"encoding/json"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/jsonw"
)

func FuzzAppendStringMatchesMarshal(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " back \ slash`, "<a>&", "\x00\x1f", "名字", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := jsonw.AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	})
}
