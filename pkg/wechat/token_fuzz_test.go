package wechat

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzMintAnswer feeds any bytes to the reader of token endpoints' answers:
// it never panics, never makes a token without a value, and never one that
// is already expired or outlives MaxTokenLifetime.
func FuzzMintAnswer(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"ACCESS_TOKEN","expires_in":7200}`,
		`{"component_access_token":"tok","expires_in":"7200"}`,
		`{"authorizer_access_token":"tok","expires_in":7200.5,"authorizer_refresh_token":"refresh"}`,
		`{"access_token":"tok","expires_in":1e999}`,
		`{"access_token":"tok","expires_in":-1}`,
		`{"access_token":"tok","expires_in":"NaN"}`,
		`{"access_token":"tok","expires_in":"-Inf"}`,
		`{"access_token":"","expires_in":7200}`,
		`{"access_token":null}`, `{"access_token":1}`, `[]`, `null`, ``, `{"a":`,
		`{"access_token":"a","access_token":"b","expires_in":{"x":1}}`,
		`{"authorizer_access_token":"t","authorizer_refresh_token":5}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	fields := []string{"access_token", "component_access_token", "authorizer_access_token"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte, pick uint8) {
		field := fields[int(pick)%len(fields)]
		tok, refresh, err := readMintAnswer(nil, now, "op", field, raw)
		if err != nil {
			if tok != nil || refresh != "" || err.Kind != KindBadResponse || err.Op != "op" {
				t.Fatalf("readMintAnswer(%q) = %v, %q, %#v", raw, tok, refresh, err)
			}
			return
		}
		if tok == nil || tok.Value == "" || !tok.Minted() {
			t.Fatalf("readMintAnswer(%q) made token %+v", raw, tok)
		}
		if !tok.Expiry.After(now) || tok.Expiry.After(now.Add(MaxTokenLifetime)) {
			t.Fatalf("readMintAnswer(%q): expiry %v, minted at %v", raw, tok.Expiry, now)
		}
		// The reference: what encoding/json reads for the same fields.
		var ref map[string]json.RawMessage
		if json.Unmarshal(raw, &ref) != nil {
			t.Fatalf("readMintAnswer accepted %q, which is not a JSON object", raw)
		}
		var value string
		if json.Unmarshal(ref[field], &value) != nil || value != tok.Value.Reveal() {
			t.Fatalf("readMintAnswer(%q) token %q, json reads %q", raw, tok.Value.Reveal(), value)
		}
		var n float64
		if json.Unmarshal(ref["expires_in"], &n) == nil && n >= 1 && n < MaxTokenLifetime.Seconds() {
			if want := now.Add(time.Duration(n * float64(time.Second))); !tok.Expiry.Equal(want) {
				t.Fatalf("readMintAnswer(%q): expiry %v, want %v", raw, tok.Expiry, want)
			}
		}
	})
}
