package wechat_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// TestKeepSecretForms checks that a kept secret is removed as given,
// quoted, URL-encoded and cut short, and that text near it survives.
// Each case keeps its own secrets: the registry is process-wide.
func TestKeepSecretForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, secret, text, want string
	}{
		{"plain", "tok-plain-0123456789abcdefXYZ", "token tok-plain-0123456789abcdefXYZ rejected", "token REDACTED rejected"},
		{"quoted", "tok\"quoted\\0123456789abcdef", fmt.Sprintf("got %q", "tok\"quoted\\0123456789abcdef"), `got "REDACTED"`},
		{"url-encoded", "tok+/=urlenc0123456789abcdef", "access_token=" + url.QueryEscape("tok+/=urlenc0123456789abcdef") + "&x=1", "access_token=REDACTED&x=1"},
		{"truncated", "tok-trunc-0123456789abcdefghijklmnop", "errmsg: token tok-trunc-0123456789a…", "errmsg: token REDACTED…"},
		{"truncated at end", "tok-trunc2-0123456789abcdefghijklmnop", "tok-trunc2-0123456789", "REDACTED"},
		{"short prefix kept", "tok-pre-0123456789abcdefghijklmnop", "tok-pre-0123456 is not a secret", "tok-pre-0123456 is not a secret"},
		{"twice", "tok-twice-0123456789abcdef", "a tok-twice-0123456789abcdef b tok-twice-0123456789abcdef c", "a REDACTED b REDACTED c"},
		{"short secret", "s3cr", "key s3cr here", "key REDACTED here"},
		{"too short ignored", "ab", "ab cd", "ab cd"},
		{"utf-8", "令牌-0123456789abcdef令牌", "x 令牌-0123456789abcdef令牌 y", "x REDACTED y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wechat.KeepSecret(tc.secret)
			if got := wechat.Scrub(tc.text); got != tc.want {
				t.Errorf("Scrub(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// TestKeepSecretOverlap checks that the longest of overlapping secrets is
// removed whole, whatever order they were kept in.
func TestKeepSecretOverlap(t *testing.T) {
	t.Parallel()
	long := "ovl-0123456789abcdef-ovl-long-tail"
	short := "ovl-0123456789abcdef-ovl"
	wechat.KeepSecret(short)
	wechat.KeepSecret(long)
	text := "a " + long + " b " + short + "X c"
	if got, want := wechat.Scrub(text), "a REDACTED b REDACTEDX c"; got != want {
		t.Errorf("Scrub(%q) = %q, want %q", text, got, want)
	}
}

// TestScrubCallSecrets checks the secrets passed to Scrub itself, in
// their escaped forms too.
func TestScrubCallSecrets(t *testing.T) {
	t.Parallel()
	sec := "call\"secret/0123456789"
	text := fmt.Sprintf("%s %q %s", sec, sec, url.QueryEscape(sec))
	got := wechat.Scrub(text, sec)
	if strings.Contains(got, "0123456789") {
		t.Errorf("Scrub(%q) = %q, secret left", text, got)
	}
}

// BenchmarkScrubFleet scrubs a 4 KiB error text with 20,000 kept secrets
// (a fleet's tokens); its cost must not grow with the number of secrets.
func BenchmarkScrubFleet(b *testing.B) {
	for i := range 20000 {
		wechat.KeepSecret(fmt.Sprintf("fleet-token-%08d-abcdefghijklmnopqrstuvwxyz", i))
	}
	text := strings.Repeat("wechat: getenvinfo: upstream: errcode 40001 (invalid credential) ", 64)[:4096]
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if wechat.Scrub(text) != text {
			b.Fatal("changed")
		}
	}
}

// TestKeepSecretUntil: a value kept until a time is scrubbed before it and
// dropped after the next sweep; one also kept for life stays.
func TestKeepSecretUntil(t *testing.T) {
	// Not parallel: it sweeps the process-wide registry.
	past := time.Now().Add(-time.Minute)
	gone := "until-gone-0123456789abcdefXYZ"
	stays := "until-stays-0123456789abcdefXYZ"
	later := "until-later-0123456789abcdefXYZ"
	wechat.KeepSecretUntil(time.Now().Add(time.Hour), gone, stays, later)
	if got := wechat.Scrub(gone + " " + stays); got != "REDACTED REDACTED" {
		t.Fatalf("before expiry: %q", got)
	}
	wechat.KeepSecret(stays)
	wechat.KeepSecretUntil(past, gone, stays) // never earlier: gone stays until its hour
	wechat.ExpireKeptSecret(gone)             // test hook: its time has passed
	wechat.KeepSecretUntil(time.Now().Add(time.Hour), "until-trigger-0123456789abcdef")
	if got, want := wechat.Scrub(gone+" "+stays+" "+later), gone+" REDACTED REDACTED"; got != want {
		t.Errorf("after expiry: %q, want %q", got, want)
	}
}
