package trunc_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
)

func TestCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "abc", 3, "abc"},
		{"empty", "", 0, ""},
		{"ascii", "abcdefgh", 6, "abc…"},
		{"rune boundary", "ab令牌cd", 7, "ab…"},
		{"rune kept whole", "ab令牌cd", 8, "ab令…"},
		{"tiny n", "abcdef", 1, "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := trunc.Cut(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

// FuzzCut: the result is valid UTF-8 when the input is, at most n bytes
// (n ≥ 3), and either s or a prefix of s followed by the ellipsis.
func FuzzCut(f *testing.F) {
	f.Add("令牌-0123456789", 7)
	f.Add("abc", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < len(trunc.Ellipsis) || n > 1<<20 {
			return
		}
		got := trunc.Cut(s, n)
		if len(got) > n || (utf8.ValidString(s) && !utf8.ValidString(got)) {
			t.Fatalf("Cut(%q, %d) = %q", s, n, got)
		}
		if got != s && !(strings.HasSuffix(got, trunc.Ellipsis) && strings.HasPrefix(s, strings.TrimSuffix(got, trunc.Ellipsis))) {
			t.Fatalf("Cut(%q, %d) = %q, not a prefix with an ellipsis", s, n, got)
		}
	})
}
