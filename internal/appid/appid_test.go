package appid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"wx0c1d2e3f4a5b6c70", true},
		{"A_z_0_9", true},
		{strings.Repeat("a", MaxLen), true},
		{"", false},
		{strings.Repeat("a", MaxLen+1), false},
		{"wx-1", false},
		{"wx 1", false},
		{"wx/1", false},
		{"wxé", false},
		{"wx\x00", false},
		{"wx`", false},
		{"wx{", false},
		{"wx@", false},
		{"wx[", false},
	} {
		if got := Valid(tc.in); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
