package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// EnvStore is the variable that chooses the backend (docs/contract.md#the-shared-store).
const EnvStore = "WXCLOUDENV_STORE"

// DefaultTimeout bounds each backend operation (a dial, a read, a write, a
// file lock wait) unless WithTimeout says otherwise.
const DefaultTimeout = 3 * time.Second

// Option tunes Open.
type Option func(*options)

type options struct {
	now     func() time.Time
	lookup  func(string) (string, bool)
	timeout time.Duration
}

// WithClock makes the store judge expiry by now instead of time.Now (for
// tests that need a value to expire while the backend still holds it).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithEnv makes Open read the AWS_* variables through lookup instead of
// os.LookupEnv (for tests that run in parallel with their own DynamoDB).
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(o *options) { o.lookup = lookup }
}

// WithTimeout bounds each backend operation: Redis dial, read and write
// timeouts, the file lock wait, and each DynamoDB call. Zero or less keeps
// DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// Open returns the store that rawURL (WXCLOUDENV_STORE's value) names:
//
//	"" or memory                          Memory, this process only
//	file:///abs/path                      File, a bbolt file shared by the processes of one machine
//	redis://[user:pass@]host:port[/db]    Redis (rediss:// for TLS)
//	dynamodb://TABLE                      Dynamo, region and credentials from AWS_*
//
// Open checks the URL and builds the client; it does not reach the server,
// so an outage shows up as ErrUnavailable on the first operation. Its
// errors name WXCLOUDENV_STORE and never contain the URL's password.
func Open(rawURL string, opts ...Option) (Store, error) {
	o := options{now: time.Now, lookup: os.LookupEnv, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	raw := strings.TrimSpace(rawURL)
	if raw == "" || raw == "memory" || raw == "memory://" {
		m := NewMemory()
		m.Now = o.now
		m.private = true // no other process reaches it (Local)
		return m, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badURL(raw, "malformed URL", err)
	}
	switch u.Scheme {
	case "file":
		return openFile(raw, u, o)
	case "redis", "rediss":
		return openRedis(raw, u, o)
	case "dynamodb":
		return openDynamo(raw, u, o)
	case "":
		return nil, badURL(raw, "no scheme (want memory, file:///abs/path, redis://, rediss:// or dynamodb://TABLE)", nil)
	default:
		return nil, badURL(raw, fmt.Sprintf("unknown scheme %q (want memory, file, redis, rediss or dynamodb)", u.Scheme), nil)
	}
}

// badURL is an error about WXCLOUDENV_STORE's value. It shows the redacted
// URL and the cause's own words with every secret of raw removed; a
// *url.Error contributes only its inner error, since its text repeats the
// whole URL.
func badURL(raw, what string, cause error) error {
	msg := fmt.Sprintf("%s=%s: %s", EnvStore, Redacted(raw), what)
	if cause != nil {
		var ue *url.Error
		if errors.As(cause, &ue) {
			cause = ue.Err
		}
		msg += ": " + scrub(cause.Error(), urlSecrets(raw))
	}
	return errors.New(msg)
}

func openFile(raw string, u *url.URL, o options) (Store, error) {
	if u.User != nil {
		return nil, badURL(raw, "file URL has user info; want file:///abs/path", nil)
	}
	if u.Host != "" && u.Host != "localhost" {
		return nil, badURL(raw, "file URL has a host; want file:///abs/path (three slashes)", nil)
	}
	p := u.Path
	if u.Opaque != "" || p == "" || !filepath.IsAbs(p) {
		return nil, badURL(raw, "file path must be absolute: file:///abs/path", nil)
	}
	if strings.HasSuffix(p, "/") {
		return nil, badURL(raw, "file path names a directory; want a file", nil)
	}
	return newFile(filepath.Clean(p), o), nil
}

// Redacted returns rawURL fit for a log line: a password is replaced by
// "xxxxx", and a URL that does not parse, or whose password would still
// show, is reduced to its scheme.
func Redacted(rawURL string) string {
	raw := strings.TrimSpace(rawURL)
	u, err := url.Parse(raw)
	if err == nil && u.Opaque == "" && u.Fragment == "" {
		out := u.Redacted()
		ats := 0 // the '@' that ends the user info
		if u.User != nil {
			ats = 1
		}
		// Anything else means the URL parses differently than it reads.
		if strings.Count(out, "@") == ats && !containsAny(out, urlSecrets(raw)) {
			return out
		}
	}
	if err == nil && u.Opaque != "" && u.Fragment == "" && !strings.Contains(raw, "@") {
		return u.String() // file:store.db: no user info to hide
	}
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" || strings.Trim(scheme, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") != "" {
		return "(unparseable)"
	}
	return scheme + "://(unparseable)"
}

// containsAny reports whether s shows any of secrets in any spelling.
func containsAny(s string, secrets []string) bool {
	for _, sec := range secrets {
		for _, form := range secretForms(sec) {
			if sec != "" && strings.Contains(s, form) {
				return true
			}
		}
	}
	return false
}

// Secrets returns the secrets that rawURL gives the store: the URL's
// password (also from a URL that does not parse) and, for dynamodb://, the
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN of the environment. Keep
// them in the runtime's scrubber so no log or error shows them.
func Secrets(rawURL string) []string {
	out := urlSecrets(rawURL)
	if strings.HasPrefix(strings.TrimSpace(rawURL), "dynamodb:") {
		for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
			if v, ok := os.LookupEnv(k); ok && v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// urlSecrets returns the password of raw as url.Parse sees it and as a
// reader would: what lies between the first ':' and the last '@' of the
// part after "://" (up to the first '/', '?' or '#'), so a URL that does
// not parse, or parses differently than it reads, still has its password
// found.
func urlSecrets(raw string) []string {
	raw = strings.TrimSpace(raw)
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pass, ok := strings.Cut(rest[:at], ":"); ok {
				add(pass)
				if un, err := url.PathUnescape(pass); err == nil {
					add(un)
				}
			}
		}
	}
	return out
}

// secretForms are the spellings under which sec may appear in a text.
func secretForms(sec string) []string {
	forms := []string{sec}
	for _, f := range []string{url.QueryEscape(sec), url.PathEscape(sec), url.UserPassword("", sec).String()[1:]} {
		if f != sec && f != "" {
			forms = append(forms, f)
		}
	}
	return forms
}
