package wechat

import (
	"encoding/json"
	"testing"
)

// FuzzCheckAnswer feeds arbitrary bytes to the answer decoder: it never
// panics, accepts only JSON objects, and classifies every errcode.
func FuzzCheckAnswer(f *testing.F) {
	for _, s := range []string{`{"errcode":0,"errmsg":"ok","info_list":[]}`, `{"errcode":-1,"errmsg":"system error rid: a-b-c"}`,
		`{"errmsg":"ok"}`, `<html></html>`, `{"errcode":"0"}`, `{"errcode":1e3}`, `null`, `[]`, `{"env_list":null}`, ``} {
		f.Add([]byte(s), "info_list")
	}
	f.Fuzz(func(t *testing.T, raw []byte, want string) {
		err := checkAnswer("op", raw, want)
		if err == nil {
			var v map[string]any
			if json.Unmarshal(raw, &v) != nil || v == nil {
				t.Fatalf("accepted a non-object answer: %q", raw)
			}
			return
		}
		if err.Kind == "" || err.Op != "op" || err.Error() == "" {
			t.Fatalf("unclassified error %#v", err)
		}
		var out RunEnvList
		_ = json.Unmarshal(raw, &out) // the typed decoder must not panic either
	})
}
