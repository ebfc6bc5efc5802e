package wechat

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Option configures a Client.
type Option func(*Client) error

// WithHTTPClient sets the HTTP client. Its Timeout should be zero: the
// client bounds each attempt itself. The client never follows a redirect,
// whatever hc's CheckRedirect says: it uses a shallow copy of hc.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("wechat: nil HTTP client")
		}
		c.hc = hc
		return nil
	}
}

// noRedirects returns a shallow copy of hc that hands every redirect back
// as the answer: WeChat never redirects, and following one would send the
// request, its token and its body (an app secret, a ticket) to another
// host.
func noRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// WithBaseURLs sets the base URLs, tried in order: a network error, a timeout
// or an HTTP 5xx moves the next attempt to the next URL.
func WithBaseURLs(urls ...string) Option {
	return func(c *Client) error {
		parsed, err := ParseBaseURLs(urls...)
		if err != nil {
			return err
		}
		c.baseURLs = parsed
		return nil
	}
}

// ParseBaseURLs is the one rule for base URLs, which WithBaseURLs applies:
// absolute http or https URLs without query or fragment, at least one;
// blank entries are skipped. Trailing slashes are dropped.
func ParseBaseURLs(urls ...string) ([]*url.URL, error) {
	var parsed []*url.URL
	for _, s := range urls {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("wechat: base URL %q is not an absolute http or https URL", redactURLString(s))
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("wechat: base URL %q must not have a query or fragment", redactURLString(s))
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		parsed = append(parsed, u)
	}
	if len(parsed) == 0 {
		return nil, errors.New("wechat: no base URL")
	}
	return parsed, nil
}

// WithTimeout sets the timeout of one attempt. The caller's deadline still
// bounds every attempt.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("wechat: timeout %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithRetries sets how many extra attempts a transient failure gets.
func WithRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 || n > 10 {
			return fmt.Errorf("wechat: retries %d is outside 0..10", n)
		}
		c.retries = n
		return nil
	}
}

// WithMaxResponseBytes caps the size of an answer. A larger answer is
// refused without being read whole.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 || n > MaxResponseBytesLimit {
			return fmt.Errorf("wechat: response size limit %d is outside 1..%d (64 MiB)", n, MaxResponseBytesLimit)
		}
		c.maxBytes = n
		return nil
	}
}

// WithBackoff sets the first retry delay and the largest one. Each delay
// doubles and is jittered to between half and all of its value.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *Client) error {
		if base < 0 || maxDelay < base {
			return fmt.Errorf("wechat: backoff %v..%v is not a valid range", base, maxDelay)
		}
		c.backoffBase, c.backoffMax = base, maxDelay
		return nil
	}
}

// WithScrubber makes the client keep the secrets it sees in s instead of
// a scrubber of its own, so that one scrubber, held by whoever outlives the
// calls, cleans every text of a process.
func WithScrubber(s *Scrubber) Option {
	return func(c *Client) error {
		if s == nil {
			return &Error{Kind: KindConfig, Message: "no scrubber"}
		}
		c.scrub = s
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}
