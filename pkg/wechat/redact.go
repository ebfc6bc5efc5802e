package wechat

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
)

// Redacted is what stands in place of a secret in any text this package makes.
const Redacted = "REDACTED"

// sensitiveParams are query parameters whose values are never shown. WeChat
// takes tokens in the query string, and its classic token endpoint takes the
// app secret there too.
var sensitiveParams = []string{
	"access_token", "component_access_token", "authorizer_access_token",
	"token", "secret", "appsecret", "component_appsecret",
	"refresh_token", "authorizer_refresh_token", "component_verify_ticket", "ticket",
}

// redactURL returns u as a string with the value of every sensitive query
// parameter replaced by REDACTED, and any user info dropped.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for k := range q {
			if isSensitiveParam(k) {
				q[k] = []string{Redacted}
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

func isSensitiveParam(name string) bool {
	name = strings.ToLower(name)
	for _, p := range sensitiveParams {
		if name == p {
			return true
		}
	}
	return false
}

// sanitize rewrites the URL inside a *url.Error so that its text carries no
// token, and removes the secrets sc keeps and the given ones from what
// remains.
func (sc *Scrubber) sanitize(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = redactURL(u)
		} else {
			ue.URL = Redacted
		}
	}
	text := err.Error()
	clean := sc.Scrub(text, secrets...)
	if clean == text {
		return err
	}
	return &scrubbedError{text: clean, err: err}
}

// scrubbedError keeps the chain of an error whose text had to be cleaned.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// Scrub replaces in s every occurrence of each secret sc keeps, and of each
// given one, with REDACTED: as given, quoted (%q or JSON) and URL-encoded.
// A kept secret cut short (a prefix of at least 16 bytes) is removed too.
// Its cost grows with len(s), not with the number of kept secrets.
func (sc *Scrubber) Scrub(s string, secrets ...string) string {
	s = sc.scrubKept(s)
	for _, sec := range secrets {
		if len(sec) < minSecretBytes {
			continue
		}
		for _, f := range secretForms(sec) {
			if strings.Contains(s, f.text) {
				s = strings.ReplaceAll(s, f.text, Redacted)
			}
		}
	}
	return s
}

// Secret is a string that never shows its value when printed with fmt,
// logged with log/slog or encoded as JSON. Use Reveal to get the value.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return `wechat.Secret("` + Redacted + `")` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
