package store

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzCodec checks that encode and decode round-trip any value, and that
// decode of any bytes either fails or yields a value that encodes back to
// those bytes.
func FuzzCodec(f *testing.F) {
	f.Add([]byte("token"), int64(0), []byte{})
	f.Add([]byte{}, int64(1_800_000_000_000_000_000), []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Add([]byte{0, 0xff}, int64(-5), []byte{2})
	f.Fuzz(func(t *testing.T, data []byte, nanos int64, raw []byte) {
		v := Value{Data: data}
		if nanos != 0 {
			v.Expires = time.Unix(0, nanos)
		}
		got, err := decode(encode(v))
		if err != nil {
			t.Fatalf("decode(encode(%v)) = %v", v, err)
		}
		want := v.Expires
		if nanos < 0 {
			want = time.Unix(0, 1) // before 1970: long expired, kept as such
		}
		if !bytes.Equal(got.Data, data) || !got.Expires.Equal(want) {
			t.Fatalf("decode(encode({%q %v})) = {%q %v}", data, v.Expires, got.Data, got.Expires)
		}
		if d, err := decode(raw); err == nil && !bytes.Equal(encode(d), raw) {
			t.Fatalf("decode(%x) = %v, which encodes to %x", raw, d, encode(d))
		}
	})
}

// FuzzRedactedHidesPassword checks that no password, however spelled,
// reaches Redacted or an Open error.
func FuzzRedactedHidesPassword(f *testing.F) {
	f.Add("user", "s3cret-pw", "127.0.0.1:6379", "redis")
	f.Add("", "p@ss:w/rd%", "cache:notaport", "rediss")
	f.Add("a", "hunter22", "h:1", "mysql")
	f.Fuzz(func(t *testing.T, user, pass, host, scheme string) {
		if len(pass) < 6 {
			return
		}
		raw := scheme + "://" + url.UserPassword(user, pass).String() + "@" + host + "/0"
		rest := scheme + "://" + url.User(user).String() + "@" + host + "/0"
		for _, form := range secretForms(pass) {
			if strings.Contains(rest, form) || strings.Contains("xxxxx(unparseable)"+EnvStore, form) {
				return // the password is spelled elsewhere in the URL
			}
		}
		texts := []string{Redacted(raw)}
		if s, err := Open(raw, WithEnv(func(string) (string, bool) { return "", false })); err != nil {
			texts = append(texts, err.Error())
		} else {
			s.Close()
		}
		for _, text := range texts {
			for _, form := range secretForms(pass) {
				if strings.Contains(text, form) {
					t.Fatalf("URL %q: %q shows the password %q", raw, text, pass)
				}
			}
		}
	})
}
