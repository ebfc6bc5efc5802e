package wechat

import (
	"net/url"
	"strings"
	"testing"
	"unsafe"
)

// encoders are the net/url functions the encodings stand for.
var encoders = map[uint8]func(string) string{
	encNone:  func(s string) string { return s },
	encQuery: url.QueryEscape,
	encPath:  url.PathEscape,
}

// TestFormEncodings holds encodedByte to net/url's encodings for every
// byte.
func TestFormEncodings(t *testing.T) {
	t.Parallel()
	for enc, escape := range encoders {
		for c := range 256 {
			b, n := encodedByte(enc, byte(c))
			if got, want := string(b[:n]), escape(string([]byte{byte(c)})); got != want {
				t.Errorf("encoding %d of byte %#x: %q, want %q", enc, c, got, want)
			}
		}
	}
}

// TestEncodedForms checks the length, comparison and common prefix of
// encoded forms against the forms written out.
func TestEncodedForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ v, f string }{
		{"refreshtoken@@@abc", "refreshtoken%40%40%40abc"},
		{"refreshtoken@@@abc", "refreshtoken%40%40%40abd"},
		{"refreshtoken@@@abc", "refreshtoken%40%40%40ab"},
		{"refreshtoken@@@abc", "refreshtoken%40%40%40abcd"},
		{"refreshtoken@@@abc", "refreshtoken%4"},
		{"a b+c/d", "a+b%2Bc%2Fd"},
		{"a b+c/d", "a%20b+c%2Fd"},
		{"", ""},
		{"x", ""},
		{"令牌", "%E4%BB%A4%E7%89%8C"},
	} {
		for enc := range encoders {
			checkEncoded(t, enc, tc.v, tc.f)
		}
	}
}

func checkEncoded(t *testing.T, enc uint8, v, f string) {
	t.Helper()
	form := encoders[enc](v)
	if got := encodedLen(enc, v); got != len(form) {
		t.Errorf("encodedLen(%d, %q) = %d, want %d", enc, v, got, len(form))
	}
	if got, want := encodedCompare(enc, v, f), strings.Compare(form, f); got != want {
		t.Errorf("encodedCompare(%d, %q, %q) = %d, want %d", enc, v, f, got, want)
	}
	if got, want := encodedCommonPrefix(enc, v, f), commonPrefix(form, f); got != want {
		t.Errorf("encodedCommonPrefix(%d, %q, %q) = %d, want %d", enc, v, f, got, want)
	}
}

// FuzzEncodedForms: the encoded forms compare as the strings net/url
// writes.
func FuzzEncodedForms(f *testing.F) {
	f.Add("refreshtoken@@@abc", "refreshtoken%40%40%40abd")
	f.Add("a b", "a+b")
	f.Fuzz(func(t *testing.T, v, other string) {
		for enc, escape := range encoders {
			checkEncoded(t, enc, v, other)
			checkEncoded(t, enc, v, escape(other))
			form := escape(v)
			checkEncoded(t, enc, v, form)
			if len(form) > 0 {
				checkEncoded(t, enc, v, form[:len(form)/2])
			}
		}
	})
}

// TestKeptSize holds an indexed form, of which a fleet keeps tens of
// thousands, to 16 bytes.
func TestKeptSize(t *testing.T) {
	if n := unsafe.Sizeof(kept{}); n > 16 {
		t.Errorf("a kept form is %d bytes, want 16", n)
	}
}

// TestKeptSecs: times round up to the second; the scrubber's life stays
// itself.
func TestKeptSecs(t *testing.T) {
	for _, tc := range []struct {
		nanos int64
		want  uint32
	}{{0, 0}, {-5, 0}, {1, 1}, {1e9, 1}, {1e9 + 1, 2}, {foreverNanos, foreverSecs}, {1 << 62, foreverSecs - 1}} {
		if got := keptSecs(tc.nanos); got != tc.want {
			t.Errorf("keptSecs(%d) = %d, want %d", tc.nanos, got, tc.want)
		}
	}
}
