package wechat_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// TestKeepSecretForms checks that a kept secret is removed as given,
// quoted, URL-encoded and cut short, and that text near it survives.
func TestKeepSecretForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, secret, text, want string
	}{
		{"plain", "tok-plain-0123456789abcdefXYZ", "token tok-plain-0123456789abcdefXYZ rejected", "token REDACTED rejected"},
		{"quoted", "tok\"quoted\\0123456789abcdef", fmt.Sprintf("got %q", "tok\"quoted\\0123456789abcdef"), `got "REDACTED"`},
		{"url-encoded", "tok+/=urlenc0123456789abcdef", "access_token=" + url.QueryEscape("tok+/=urlenc0123456789abcdef") + "&x=1", "access_token=REDACTED&x=1"},
		{"url-encoded refresh token", "refreshtoken@@@0123456789abcdef", "b=refreshtoken%40%40%400123456789abcdef&c", "b=REDACTED&c"},
		{"path-encoded", "tok?;,/path0123456789abcdef", "/a/" + url.PathEscape("tok?;,/path0123456789abcdef") + "/b", "/a/REDACTED/b"},
		{"url-encoded truncated", "refreshtoken@@@0123456789abcdef", "b=refreshtoken%40%40%40012345…", "b=REDACTED…"},
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
			sc := wechat.NewScrubber()
			sc.Keep(tc.secret)
			if got := sc.Scrub(tc.text); got != tc.want {
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
	sc := wechat.NewScrubber()
	sc.Keep(short)
	sc.Keep(long)
	text := "a " + long + " b " + short + "X c"
	if got, want := sc.Scrub(text), "a REDACTED b REDACTEDX c"; got != want {
		t.Errorf("Scrub(%q) = %q, want %q", text, got, want)
	}
}

// TestScrubCallSecrets checks the secrets passed to Scrub itself, in
// their escaped forms too.
func TestScrubCallSecrets(t *testing.T) {
	t.Parallel()
	sec := "call\"secret/0123456789"
	text := fmt.Sprintf("%s %q %s", sec, sec, url.QueryEscape(sec))
	got := wechat.NewScrubber().Scrub(text, sec)
	if got2 := (*wechat.Scrubber)(nil).Scrub(text, sec); got2 != got {
		t.Errorf("a nil scrubber removes %q, a new one %q", got2, got)
	}
	if strings.Contains(got, "0123456789") {
		t.Errorf("Scrub(%q) = %q, secret left", text, got)
	}
}

// BenchmarkScrubFleet scrubs a 4 KiB error text with 20,000 kept secrets
// shaped like WeChat's tokens ("86_" and 130 random characters); its cost
// must not grow with the number of secrets. "echoed" holds two of them,
// one cut short.
func BenchmarkScrubFleet(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	tokens := make([]string, 20000)
	for i := range tokens {
		tok := []byte("86_")
		for range 130 {
			tok = append(tok, alphabet[rng.IntN(len(alphabet))])
		}
		tokens[i] = string(tok)
	}
	sc := wechat.NewScrubber()
	sc.Keep(tokens...)
	clean := strings.Repeat("wechat: getenvinfo: auth: errcode 40001 (invalid credential, access_token is invalid or not latest, 86_x) ", 64)[:4096]
	echoed := clean[:1000] + tokens[7] + clean[1000:2000] + tokens[19999][:40] + clean[2000:3900]
	for _, bc := range []struct{ name, text string }{{"clean", clean}, {"echoed", echoed}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				if out := sc.Scrub(bc.text); (out == bc.text) != (bc.name == "clean") {
					b.Fatal("wrong scrub")
				}
			}
		})
	}
}

// TestKeepSecretUntil: a value kept until a time is scrubbed up to it and
// dropped at the first sweep after it; one also kept for life stays, and
// keeping a value again never moves its time earlier.
func TestKeepSecretUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sc := wechat.NewScrubberClock(func() time.Time { return now })
	gone := "until-gone-0123456789abcdefXYZ"
	stays := "until-stays-0123456789abcdefXYZ"
	later := "until-later-0123456789abcdefXYZ"
	sc.KeepUntil(now.Add(time.Hour), gone, stays)
	sc.KeepUntil(now.Add(3*time.Hour), later)
	if got := sc.Scrub(gone + " " + stays); got != "REDACTED REDACTED" {
		t.Fatalf("before expiry: %q", got)
	}
	sc.Keep(stays)
	sc.KeepUntil(now.Add(-time.Minute), gone, stays) // never earlier: gone stays until its hour
	now = now.Add(time.Hour)
	if got := sc.Scrub(gone); got != "REDACTED" {
		t.Fatalf("at its time: %q, want it still kept", got)
	}
	now = now.Add(time.Second)
	if n := sc.Sweep(); n != 2 {
		t.Errorf("after the sweep %d values kept, want 2", n)
	}
	if got, want := sc.Scrub(gone+" "+stays+" "+later), gone+" REDACTED REDACTED"; got != want {
		t.Errorf("after expiry: %q, want %q", got, want)
	}
	// KeepUntil sweeps on its own every few minutes.
	now = now.Add(3 * time.Hour)
	sc.KeepUntil(now.Add(time.Hour), "until-trigger-0123456789abcdef")
	if got, want := sc.Scrub(later), later; got != want || sc.Len() != 2 {
		t.Errorf("after a KeepUntil past its time: %q and %d values, want %q and 2", got, sc.Len(), want)
	}
}

// TestKeepSharedPrefixOnce checks secrets that share their indexed prefix
// (WeChat's refresh tokens all start "refreshtoken@@@"), kept in any order
// and again through each way of keeping: each form is indexed once, and
// every one, in each form, is still removed.
func TestKeepSharedPrefixOnce(t *testing.T) {
	t.Parallel()
	const n = 300
	values := make([]string, n)
	for i := range values {
		// Lengths differ as well as bytes: the list is ordered by both.
		values[i] = fmt.Sprintf("refreshtoken@@@shared-%0*d", 4+i%3, i)
	}
	sc := wechat.NewScrubber()
	for _, i := range rand.Perm(n) {
		sc.KeepForUse(values[i])
	}
	forms := wechat.ScrubberForms(sc)
	if forms != 2*n { // as given, and URL-encoded (%40)
		t.Fatalf("%d forms indexed for %d values, want %d", forms, n, 2*n)
	}
	for _, i := range rand.Perm(n) {
		sc.KeepUntil(time.Now().Add(time.Hour), values[i])
		if i%2 == 0 {
			sc.Keep(values[i])
		}
	}
	if got := wechat.ScrubberForms(sc); got != forms {
		t.Errorf("keeping the values again indexed %d forms, want %d", got, forms)
	}
	if got := sc.Len(); got != n {
		t.Errorf("Len() = %d, want %d", got, n)
	}
	for _, v := range values {
		for _, text := range []string{"x " + v + " y", "x " + url.QueryEscape(v) + " y"} {
			if got := sc.Scrub(text); got != "x REDACTED y" {
				t.Fatalf("Scrub(%q) = %q", text, got)
			}
		}
	}
}

// TestKeepSharedForm: a form two values share (one value is the other
// URL-encoded) stays as long as either value does, whichever expires
// first.
func TestKeepSharedForm(t *testing.T) {
	t.Parallel()
	raw := "shared form+0123456789abcdef/xyz"
	encoded := url.QueryEscape(raw) // a value of its own, and raw's form
	for _, tc := range []struct {
		name           string
		rawFor, encFor time.Duration
		want           string // Scrub of "raw encoded" after two hours
	}{
		{"the encoded value outlives", time.Hour, 3 * time.Hour, raw + " REDACTED"},
		{"the raw value outlives", 3 * time.Hour, time.Hour, "REDACTED REDACTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			sc := wechat.NewScrubberClock(func() time.Time { return now })
			sc.KeepUntil(now.Add(tc.rawFor), raw)
			sc.KeepUntil(now.Add(tc.encFor), encoded)
			now = now.Add(2 * time.Hour)
			sc.Sweep()
			if got := sc.Scrub(raw + " " + encoded); got != tc.want {
				t.Errorf("Scrub = %q, want %q", got, tc.want)
			}
			now = now.Add(2 * time.Hour)
			if n := sc.Sweep(); n != 0 {
				t.Errorf("%d values kept after both times, want 0", n)
			}
			if got := sc.Scrub(encoded); got != encoded {
				t.Errorf("after both times: %q", got)
			}
		})
	}
}
