package wechat

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"
)

// WeChat's API domains: the general one, and the disaster-recovery one
// that WeChat documents for failover.
const (
	DefaultBaseURL       = "https://api.weixin.qq.com"
	DefaultBackupBaseURL = "https://api2.weixin.qq.com"
	// DefaultBaseURLs is the default base URL list, comma-separated as
	// WECHAT_API_BASE_URL takes it.
	DefaultBaseURLs = DefaultBaseURL + "," + DefaultBackupBaseURL
)

// Defaults for the transport behaviour.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultRetries     = 2
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffMax  = 2 * time.Second
	// DefaultMaxResponseBytes is the default answer size limit. Every
	// answer the event can carry is below the 6 MB answer cap of Lambda
	// and SCF; 8 MiB leaves room for a compact event's item counts, and
	// whatever its shape, an answer this large is read, checked and
	// refused within a 128 MB function (docs/reliability.md has the
	// measurements).
	DefaultMaxResponseBytes = 8 << 20
	// MaxResponseBytesLimit is the largest answer size limit a client
	// accepts: above it, a 128 MB function could run out of memory.
	MaxResponseBytesLimit = 64 << 20
	// StickyFailover is how long a client keeps starting its calls at the
	// base URL that last answered, after the one before it in the list
	// failed with a network error, a timeout or an HTTP 5xx. Then it
	// tries the first URL again.
	StickyFailover = 2 * time.Minute
)

// Client calls WeChat's cloud environment APIs. It is safe for concurrent
// use; create one and reuse it across invocations.
type Client struct {
	hc          *http.Client
	baseURLs    []*url.URL
	timeout     time.Duration
	retries     int
	maxBytes    int64
	backoffBase time.Duration
	backoffMax  time.Duration
	userAgent   string
	uaHeader    []string // the User-Agent header's value
	now         func() time.Time
	scrub       *Scrubber

	// sticky is the failover state: calls start at URL index start until
	// the time until.
	sticky struct {
		sync.Mutex
		start int
		until time.Time
	}
}

// NewClient returns a client for the default base URLs (DefaultBaseURLs)
// with the default transport behaviour, changed by opts.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		hc:          &http.Client{Transport: newTransport()},
		timeout:     DefaultTimeout,
		retries:     DefaultRetries,
		maxBytes:    DefaultMaxResponseBytes,
		backoffBase: DefaultBackoffBase,
		backoffMax:  DefaultBackoffMax,
		userAgent:   "wxcloudenv",
		now:         time.Now,
	}
	c.baseURLs, _ = ParseBaseURLs(DefaultBaseURL, DefaultBackupBaseURL)
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.scrub == nil {
		c.scrub = &Scrubber{now: func() time.Time { return c.now() }}
	}
	c.hc = noRedirects(c.hc)
	c.uaHeader = []string{c.userAgent}
	return c, nil
}

// Scrubber returns the scrubber the client keeps every secret it sees in
// (its own, or the one given with WithScrubber): tokens until they expire,
// credentials for its life. Scrub texts that may hold them with it.
func (c *Client) Scrubber() *Scrubber { return c.scrub }

// newTransport returns http.DefaultTransport's configuration with a few
// more idle connections per host, since both endpoints share one host.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	return t
}

// Response is what came back from one API call, successful or not.
type Response struct {
	// Body is the last answer's bytes as received (nil when none was read).
	Body []byte
	// Attempts counts the HTTP requests made to the endpoint, retries and
	// failover moves included; token minting is not counted.
	Attempts int
	// StatusCode is the HTTP status of the last answer.
	StatusCode int
	// Host is the host that gave the last answer or failure.
	Host string
	// Duration is the time the call took, backoff and minting included.
	Duration time.Duration
	// Health is what was read of a successful environment list, in the
	// same pass that validated it.
	Health Health
}

// call describes one API request.
type call struct {
	op         string      // name used in errors
	path       string      // endpoint path
	tokenParam string      // query parameter carrying the token, "" for none
	ts         TokenSource // source of the token, nil for none
	body       []byte      // JSON body
	want       string      // key that marks a successful answer without errcode
	shape      *scan.Shape // the environment list to read, nil for none
	secrets    []string    // extra values to keep out of error texts
	keep       scan.Filter // the resources Response.Health keeps
}

type attemptsKey struct{}

// CountingAttempts returns a context under which every request a client
// sends for the call made with it adds one to n as it is sent (the token
// mints the call needs do not count). It lets a caller that gives up on a
// call at a deadline still report how many requests it made, which
// Response.Attempts says only when the call returns.
func CountingAttempts(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, attemptsKey{}, n)
}

// do posts cl.body to cl.path with a token from cl.ts, with retries and
// failover, and checks WeChat's errcode. On success the Response holds the
// answer as received. The Response is never nil, so that attempts are
// known on failure.
func (c *Client) do(ctx context.Context, cl *call) (*Response, error) {
	start := c.now()
	resp := &Response{}
	counter, _ := ctx.Value(attemptsKey{}).(*atomic.Int64)
	if counter != nil {
		// The token mints this call needs are not its attempts.
		ctx = context.WithValue(ctx, attemptsKey{}, (*atomic.Int64)(nil))
	}
	defer func() { resp.Duration = c.now().Sub(start) }()

	transient := 0 // retries used
	urlIdx := c.firstURL()
	reminted := false
	var rejection error // WeChat's rejection of the token replaced last
	for {
		var tok *Token
		var tokValue string
		if cl.ts != nil {
			t, err := cl.ts.Token(ctx)
			if err != nil {
				return resp, keepRejection(wrapTokenError(cl.op, err), rejection)
			}
			tok, tokValue = t, t.Value.Reveal()
			// Whatever its source (configured, minted, a shared store),
			// the token is kept out of every text from now on: until it
			// expires when its expiry is known.
			c.scrub.KeepUntil(t.Expiry, tokValue)
		}
		c.scrub.KeepForUse(cl.secrets...)
		var err error
		for {
			base := c.baseURLs[urlIdx%len(c.baseURLs)]
			resp.Attempts++
			if counter != nil {
				counter.Add(1)
			}
			resp.Host = base.Host
			var raw []byte
			var health Health
			raw, resp.StatusCode, health, err = c.attempt(ctx, base, cl, tokValue)
			if err == nil {
				c.answered(urlIdx % len(c.baseURLs))
				resp.Body, resp.Health = raw, health
				return resp, nil
			}
			var we *Error
			isErr := errors.As(err, &we)
			moves := isErr && (we.Kind == KindNetwork || we.Kind == KindTimeout || (we.Kind == KindUpstream && we.StatusCode >= 500))
			if isErr && !moves {
				c.answered(urlIdx % len(c.baseURLs))
			}
			if !isErr || !we.Retryable || transient >= c.retries || ctx.Err() != nil {
				break
			}
			if moves {
				urlIdx++
			}
			if !c.sleep(ctx, transient) {
				break
			}
			transient++
		}
		inv, ok := cl.ts.(Invalidator)
		if !reminted && ok && tok != nil && tok.Minted() && IsTokenRejected(err) {
			inv.Invalidate(tok)
			reminted, rejection = true, err
			continue
		}
		if we := (*Error)(nil); errors.As(err, &we) && reminted && IsTokenRejected(err) {
			we.Reminted = true
		}
		return resp, err
	}
}

// firstURL returns the index of the base URL a call starts at.
func (c *Client) firstURL() int {
	c.sticky.Lock()
	defer c.sticky.Unlock()
	if c.sticky.start != 0 && !c.now().Before(c.sticky.until) {
		c.sticky.start = 0
	}
	return c.sticky.start
}

// answered notes that base URL i gave an answer (any answer that is not a
// network error, a timeout or a 5xx): later calls start there for
// StickyFailover when it is not the first.
func (c *Client) answered(i int) {
	c.sticky.Lock()
	defer c.sticky.Unlock()
	if i != c.sticky.start {
		c.sticky.start = i
		c.sticky.until = c.now().Add(StickyFailover)
	}
}

// sleep waits before retry n, returning false when ctx ends first or the
// delay would run past its deadline.
func (c *Client) sleep(ctx context.Context, n int) bool {
	d := c.backoffBase << n
	if d > c.backoffMax || d <= 0 {
		d = c.backoffMax
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	if dl, ok := ctx.Deadline(); ok && c.now().Add(d).After(dl) {
		return false
	}
	if d == 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt makes one HTTP request and checks its answer.
func (c *Client) attempt(ctx context.Context, base *url.URL, cl *call, token string) ([]byte, int, Health, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := *base
	u.Path = base.Path + cl.path
	if cl.tokenParam != "" {
		u.RawQuery = cl.tokenParam + "=" + url.QueryEscape(token)
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(cl.body))
	if err != nil {
		return nil, 0, Health{}, &Error{Kind: KindConfig, Op: cl.op, Message: "cannot build the request", Err: c.scrub.sanitize(err, c.secretsOf(cl, token)...)}
	}
	req.Header = c.header()
	hr, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, Health{}, c.transportError(ctx, actx, cl, err, token, 0)
	}
	defer hr.Body.Close()

	switch {
	case hr.StatusCode >= 500:
		_, _ = io.Copy(io.Discard, io.LimitReader(hr.Body, 4<<10))
		return nil, hr.StatusCode, Health{}, &Error{Kind: KindUpstream, Op: cl.op, StatusCode: hr.StatusCode, Retryable: true,
			Message: fmt.Sprintf("WeChat answered HTTP %d", hr.StatusCode)}
	case hr.StatusCode >= 300 && hr.StatusCode < 400:
		// Not followed, and not retried: WeChat never redirects.
		_, _ = io.Copy(io.Discard, io.LimitReader(hr.Body, 4<<10))
		return nil, hr.StatusCode, Health{}, &Error{Kind: KindUpstream, Op: cl.op, StatusCode: hr.StatusCode,
			Message: fmt.Sprintf("WeChat answered HTTP %d, a redirect, which is never followed; check WECHAT_API_BASE_URL", hr.StatusCode)}
	case hr.StatusCode != http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(hr.Body, 4<<10))
		kind := KindUpstream
		if hr.StatusCode == http.StatusTooManyRequests {
			kind = KindRateLimit
		}
		return nil, hr.StatusCode, Health{}, &Error{Kind: kind, Op: cl.op, StatusCode: hr.StatusCode,
			Message: fmt.Sprintf("WeChat answered HTTP %d", hr.StatusCode)}
	}
	if ce := hr.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// The transport decodes gzip itself when it asked for it, and then
		// removes the header; an encoding left here cannot be read.
		return nil, hr.StatusCode, Health{}, &Error{Kind: KindBadResponse, Op: cl.op, StatusCode: hr.StatusCode,
			Message: "the answer has a content encoding that was not asked for"}
	}
	if hr.ContentLength > c.maxBytes {
		return nil, hr.StatusCode, Health{}, &Error{Kind: KindBadResponse, Op: cl.op, StatusCode: hr.StatusCode,
			Message: fmt.Sprintf("the answer of %d bytes is over the limit of %d bytes (WECHAT_MAX_RESPONSE_BYTES)", hr.ContentLength, c.maxBytes)}
	}
	raw, a, scanErr, err := c.readAnswer(hr, cl.want, cl.shape, cl.keep)
	if err != nil {
		var we *Error
		if errors.As(err, &we) {
			we.Op = cl.op
			we.StatusCode = hr.StatusCode
			return nil, hr.StatusCode, Health{}, we
		}
		if hr.Uncompressed && isDecompressError(err) {
			return nil, hr.StatusCode, Health{}, &Error{Kind: KindBadResponse, Op: cl.op, StatusCode: hr.StatusCode,
				Message: "the answer is marked gzip but does not decompress"}
		}
		return nil, hr.StatusCode, Health{}, c.transportError(ctx, actx, cl, err, token, hr.StatusCode)
	}
	if !utf8.Valid(raw) {
		// The event embeds the answer as it came, and must stay valid JSON.
		return nil, hr.StatusCode, Health{}, &Error{Kind: KindBadResponse, Op: cl.op, StatusCode: hr.StatusCode,
			Message: "the answer is not valid UTF-8"}
	}
	health, aerr := judge(c.scrub, cl.op, cl.want, a, scanErr, c.secretsOf(cl, token)...)
	if aerr != nil {
		aerr.StatusCode = hr.StatusCode
		return raw, hr.StatusCode, Health{}, aerr
	}
	return raw, hr.StatusCode, health, nil
}

// jsonHeader is the value of Content-Type and Accept.
var jsonHeader = []string{"application/json"}

// header returns a request's header: Content-Type and Accept JSON, and the
// User-Agent. The value slices are shared by every request, never
// written: net/http only reads them, and an Add would append to a copy
// (their capacity is their length).
func (c *Client) header() http.Header {
	if c.userAgent == "" {
		return http.Header{"Content-Type": jsonHeader, "Accept": jsonHeader}
	}
	return http.Header{"Content-Type": jsonHeader, "Accept": jsonHeader, "User-Agent": c.uaHeader}
}

// isDecompressError reports whether err comes from decoding a gzip body
// rather than from the connection.
func isDecompressError(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &ce)
}

func (c *Client) secretsOf(cl *call, token string) []string {
	return append([]string{token}, cl.secrets...)
}

// transportError classifies a failure to get or read an answer.
func (c *Client) transportError(ctx, actx context.Context, cl *call, err error, token string, status int) *Error {
	clean := c.scrub.sanitize(err, c.secretsOf(cl, token)...)
	switch {
	case ctx.Err() != nil:
		msg := "the call ran out of time"
		if errors.Is(ctx.Err(), context.Canceled) {
			msg = "the call was cancelled"
		}
		return &Error{Kind: KindTimeout, Op: cl.op, StatusCode: status, Retryable: true, Message: msg, Err: clean}
	case actx.Err() != nil || isTimeout(err):
		return &Error{Kind: KindTimeout, Op: cl.op, StatusCode: status, Retryable: true,
			Message: fmt.Sprintf("no answer within %v (WECHAT_TIMEOUT)", c.timeout), Err: clean}
	default:
		return &Error{Kind: KindNetwork, Op: cl.op, StatusCode: status, Retryable: true, Message: "the connection failed", Err: clean}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkAnswer reads raw in one pass (package scan). It reports a non-zero
// errcode as an *Error, and as bad_response an answer that is not a JSON
// object with errcode or the wanted key, or whose environment list does
// not have the documented shape. On success it returns what it read of
// the list.
func checkAnswer(op string, raw []byte, want string, shape *scan.Shape) (Health, *Error) {
	a, err := scan.Scan(raw, want, shape, nil)
	return judge(nil, op, want, a, err)
}

// judge turns what scan.Scan read, and its error, into checkAnswer's
// result. secrets are removed from an errmsg, as are those sc keeps.
func judge(sc *Scrubber, op, want string, a scan.Answer, err error, secrets ...string) (Health, *Error) {
	switch {
	case errors.Is(err, scan.ErrNotObject):
		return Health{}, &Error{Kind: KindBadResponse, Op: op, Message: "the answer is not a JSON object"}
	case err != nil:
		return Health{}, &Error{Kind: KindBadResponse, Op: op, Message: "the answer is not valid JSON", Err: err}
	case a.ErrCodeErr != nil:
		return Health{}, &Error{Kind: KindBadResponse, Op: op, Message: "the answer is not valid JSON", Err: a.ErrCodeErr}
	case a.HasErrCode && a.ErrCode != 0:
		return Health{}, newAPIError(sc, op, 0, a.ErrCode, sc.Scrub(a.ErrMsg, secrets...))
	case !a.HasErrCode && !a.HasWant:
		return Health{}, &Error{Kind: KindBadResponse, Op: op, Message: fmt.Sprintf("the answer has neither errcode nor %s", want)}
	case a.ShapeErr != "":
		return Health{}, &Error{Kind: KindBadResponse, Op: op, Message: "the answer does not have the documented shape: " + a.ShapeErr}
	}
	return healthOf(a.Health), nil
}

// redactURLString is RedactURL for a URL that may not parse.
func redactURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return Redacted
	}
	return redactURL(u)
}

// keepRejection returns tokErr, the failure to replace a token WeChat
// rejected, with WeChat's errcode, errmsg, rid and HTTP status of that
// rejection (when tokErr carries none of its own), so that what WeChat
// said is not lost.
func keepRejection(tokErr, rejection error) error {
	var te, re *Error
	if rejection == nil || !errors.As(tokErr, &te) || !errors.As(rejection, &re) || te.ErrCode != 0 {
		return tokErr
	}
	cp := *te
	cp.ErrCode, cp.ErrMsg, cp.RID = re.ErrCode, re.ErrMsg, re.RID
	if cp.StatusCode == 0 {
		cp.StatusCode = re.StatusCode
	}
	return &cp
}
