package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is an access token and when it stops being valid.
type Token struct {
	// Value is the token; it prints as REDACTED.
	Value Secret
	// Expiry is when WeChat stops accepting the token; zero means unknown.
	Expiry time.Time

	minted bool
	margin time.Duration // how long before Expiry a cache replaces it
}

// Minted reports whether the token was minted by a token source, and so can
// be minted anew when WeChat rejects it.
func (t *Token) Minted() bool { return t != nil && t.minted }

// TokenSource supplies tokens. Implementations must be safe for concurrent
// use.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// Invalidator is implemented by token sources that cache: Invalidate drops
// tok from the cache if it is still the cached token, so that the next
// Token call mints a new one.
type Invalidator interface {
	Invalidate(tok *Token)
}

// StaticTokenSource returns a source that always returns value. WeChat's
// rejection of a static token is reported, never retried.
func StaticTokenSource(value string) TokenSource {
	return staticSource{tok: &Token{Value: Secret(value)}}
}

type staticSource struct{ tok *Token }

func (s staticSource) Token(context.Context) (*Token, error) { return s.tok, nil }

// MintFunc mints a new token.
type MintFunc func(ctx context.Context) (*Token, error)

// CachedTokenSource caches the tokens that mint returns. A token is used
// until early before its expiry, or until it is invalidated; concurrent
// callers that find no valid token share a single mint.
type CachedTokenSource struct {
	mint  MintFunc
	early time.Duration
	now   func() time.Time

	mu     sync.Mutex
	tok    *Token
	flight *flight
	mints  int
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
	// leaderGone reports that the mint failed because the leader's own
	// context ended: waiters whose context is alive mint again.
	leaderGone bool
	waiters    int // callers waiting on the flight, for tests
}

// NewCachedTokenSource returns a source that caches what mint returns.
func NewCachedTokenSource(mint MintFunc) *CachedTokenSource {
	return &CachedTokenSource{mint: mint, early: DefaultRefreshAhead, now: time.Now}
}

// Token returns the cached token while it is valid, and otherwise mints one,
// sharing the mint with concurrent callers. A caller that waited on a mint
// which ended because its leader's context ended (the leader's deadline, on
// a platform where concurrent invocations share one process) takes over and
// mints itself while its own context is alive.
func (s *CachedTokenSource) Token(ctx context.Context) (*Token, error) {
	for {
		s.mu.Lock()
		if s.valid(s.tok) {
			t := s.tok
			s.mu.Unlock()
			return t, nil
		}
		f := s.flight
		leader := f == nil
		if leader {
			f = &flight{done: make(chan struct{})}
			s.flight = f
			s.mints++
		} else {
			f.waiters++
		}
		s.mu.Unlock()

		if leader {
			return s.lead(ctx, f)
		}
		select {
		case <-f.done:
			if f.err != nil && f.leaderGone && ctx.Err() == nil {
				continue // the leader ran out of time, not this caller
			}
			return f.tok, f.err
		case <-ctx.Done():
			return nil, &Error{Kind: KindTimeout, Retryable: true, Message: "gave up waiting for a token", Err: ctx.Err()}
		}
	}
}

// lead runs the mint of flight f and shares its outcome.
func (s *CachedTokenSource) lead(ctx context.Context, f *flight) (*Token, error) {
	tok, err := s.mint(ctx)
	if err == nil && (tok == nil || tok.Value == "") {
		err = errors.New("wechat: mint returned no token")
	}
	if err == nil {
		tok.minted = true
		tok.margin = refreshMargin(s.early, s.now(), tok.Expiry)
	}
	s.mu.Lock()
	f.tok, f.err = tok, err
	f.leaderGone = err != nil && ctx.Err() != nil
	if err == nil {
		s.tok = tok
	}
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
	return tok, err
}

// refreshMargin is how long before expiry a token is replaced: early, or a
// tenth of the lifetime left for short-lived tokens, so that the margin
// never exceeds the lifetime.
func refreshMargin(early time.Duration, now, expiry time.Time) time.Duration {
	if expiry.IsZero() {
		return early
	}
	if life := expiry.Sub(now); life/10 < early {
		return max(life/10, 0)
	}
	return early
}

// RefreshMargin is how long before expiry a cache replaces a token issued
// at issued that expires at expiry: the smaller of DefaultRefreshAhead and
// a tenth of its lifetime. Shared caches use it so that every instance
// agrees on when a token is due.
func RefreshMargin(issued, expiry time.Time) time.Duration {
	return refreshMargin(DefaultRefreshAhead, issued, expiry)
}

// valid reports whether t can still be used. Callers hold s.mu.
func (s *CachedTokenSource) valid(t *Token) bool {
	if t == nil {
		return false
	}
	if t.Expiry.IsZero() {
		return true
	}
	return s.now().Add(t.margin).Before(t.Expiry)
}

// Invalidate drops tok if it is still the cached token.
func (s *CachedTokenSource) Invalidate(tok *Token) {
	s.mu.Lock()
	if s.tok == tok {
		s.tok = nil
	}
	s.mu.Unlock()
}

// mintCount returns how many mints the source has started.
func (s *CachedTokenSource) mintCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mints
}

// NewStableTokenSource returns a cached source of access tokens minted with
// an app's credentials from /cgi-bin/stable_token. Minting in its normal
// mode never invalidates tokens other instances hold.
func NewStableTokenSource(c *Client, appID, appSecret string) *CachedTokenSource {
	return NewCachedTokenSource(func(ctx context.Context) (*Token, error) {
		return MintStableToken(ctx, c, appID, appSecret)
	})
}

// MintStableToken mints an access token with an app's credentials from
// /cgi-bin/stable_token (force_refresh false, so other holders' tokens stay
// valid). The secret is kept in the client's Scrubber, the token until it
// expires; the token reports Minted.
func MintStableToken(ctx context.Context, c *Client, appID, appSecret string) (*Token, error) {
	c.scrub.Keep(appSecret)
	body, err := json.Marshal(map[string]any{
		"grant_type": "client_credential", "appid": appID, "secret": appSecret, "force_refresh": false,
	})
	if err != nil {
		return nil, &Error{Kind: KindConfig, Op: "stable_token", Message: "the request does not encode"}
	}
	tok, _, err := c.mint(ctx, &call{op: "stable_token", path: StableTokenPath, body: body,
		want: "access_token", secrets: []string{appSecret}})
	return tok, err
}

// NewComponentTokenSource returns a cached source of component access tokens
// minted from /cgi-bin/component/api_component_token with a third-party
// platform's appid, secret and latest verify ticket.
func NewComponentTokenSource(c *Client, appID, appSecret, verifyTicket string) *CachedTokenSource {
	return NewCachedTokenSource(func(ctx context.Context) (*Token, error) {
		return MintComponentToken(ctx, c, appID, appSecret, verifyTicket)
	})
}

// MintComponentToken mints a component access token from
// /cgi-bin/component/api_component_token with a third-party platform's
// appid, secret and verify ticket. The secret, the ticket and the token are
// kept in the client's Scrubber (the token until it expires); the token
// reports Minted.
func MintComponentToken(ctx context.Context, c *Client, appID, appSecret, verifyTicket string) (*Token, error) {
	c.scrub.Keep(appSecret)
	c.scrub.KeepForUse(verifyTicket)
	body, err := json.Marshal(map[string]string{
		"component_appid": appID, "component_appsecret": appSecret, "component_verify_ticket": verifyTicket,
	})
	if err != nil {
		return nil, &Error{Kind: KindConfig, Op: "component_token", Message: "the request does not encode"}
	}
	tok, _, err := c.mint(ctx, &call{op: "component_token", path: ComponentTokenPath, body: body,
		want: "component_access_token", secrets: []string{appSecret, verifyTicket}})
	return tok, err
}

// NewAuthorizerTokenSource returns a cached source of authorizer access
// tokens minted from /cgi-bin/component/api_authorizer_token with a component
// token and the authorizer's refresh token. When WeChat rotates the refresh
// token, the new one is used for later mints.
func NewAuthorizerTokenSource(c *Client, component TokenSource, componentAppID, authorizerAppID, refreshToken string) *CachedTokenSource {
	var mu sync.Mutex
	current := refreshToken
	return NewCachedTokenSource(func(ctx context.Context) (*Token, error) {
		mu.Lock()
		rt := current
		mu.Unlock()
		tok, next, err := MintAuthorizerToken(ctx, c, component, componentAppID, authorizerAppID, rt)
		if err != nil {
			return nil, err
		}
		if next != "" {
			mu.Lock()
			current = next
			mu.Unlock()
		}
		return tok, nil
	})
}

// MintAuthorizerToken mints an authorizer access token from
// /cgi-bin/component/api_authorizer_token with a component token and the
// authorizer's refresh token. newRefresh is the refresh token WeChat
// returned when it differs from refreshToken ("" otherwise): save it, since
// later mints need it. The refresh tokens and the token are registered with
// the client's Scrubber; the token reports Minted.
func MintAuthorizerToken(ctx context.Context, c *Client, component TokenSource, componentAppID, authorizerAppID, refreshToken string) (tok *Token, newRefresh string, err error) {
	c.scrub.KeepForUse(refreshToken)
	body, err := json.Marshal(map[string]string{
		"component_appid": componentAppID, "authorizer_appid": authorizerAppID, "authorizer_refresh_token": refreshToken,
	})
	if err != nil {
		return nil, "", &Error{Kind: KindConfig, Op: "authorizer_token", Message: "the request does not encode"}
	}
	tok, next, err := c.mint(ctx, &call{op: "authorizer_token", path: AuthorizerTokenPath, tokenParam: "component_access_token",
		ts: component, body: body, want: "authorizer_access_token", secrets: []string{refreshToken}})
	if err != nil {
		return nil, "", err
	}
	if next != refreshToken {
		newRefresh = next
	}
	return tok, newRefresh, nil
}

// NewToken builds a token from a value kept elsewhere, such as a shared
// store, for a TokenSource that can replace it: the token reports Minted,
// so when WeChat rejects it the client calls the source's Invalidate and
// tries once more. The client keeps the value in its Scrubber when it
// uses the token.
func NewToken(value string, expiry time.Time) *Token {
	return &Token{Value: Secret(value), Expiry: expiry, minted: true}
}

// mint calls a token endpoint and reads the token (and the refresh token
// an authorizer mint may return) from its answer.
func (c *Client) mint(ctx context.Context, cl *call) (*Token, string, error) {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, "", err
	}
	tok, refresh, rerr := readMintAnswer(c.scrub, c.now(), cl.op, cl.want, resp.Body)
	if rerr != nil {
		rerr.StatusCode = resp.StatusCode
		return nil, "", rerr
	}
	return tok, refresh, nil
}

// readMintAnswer reads a token endpoint's answer: the token under field,
// its expires_in and any authorizer_refresh_token. The token is minted, and
// it (until it expires) and the refresh token are kept in sc.
func readMintAnswer(sc *Scrubber, now time.Time, op, field string, raw []byte) (*Token, string, *Error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, "", &Error{Kind: KindBadResponse, Op: op, Message: "the token answer is not a JSON object"}
	}
	var value, refresh string
	if err := json.Unmarshal(top[field], &value); err != nil && top[field] != nil {
		return nil, "", &Error{Kind: KindBadResponse, Op: op, Message: "the token answer's " + field + " is not a string"}
	}
	if r, ok := top["authorizer_refresh_token"]; ok && json.Unmarshal(r, &refresh) != nil {
		return nil, "", &Error{Kind: KindBadResponse, Op: op, Message: "the token answer's authorizer_refresh_token is not a string"}
	}
	var exp ExpiresIn
	if e, ok := top["expires_in"]; ok {
		_ = exp.UnmarshalJSON(e) // never fails: a non-number counts as absent
	}
	if value == "" {
		return nil, "", &Error{Kind: KindBadResponse, Op: op, Message: "the token answer holds an empty token"}
	}
	tok := &Token{Value: Secret(value), Expiry: now.Add(exp.Lifetime()), minted: true}
	sc.KeepUntil(tok.Expiry, value)
	sc.KeepForUse(refresh)
	return tok, refresh, nil
}

// Token lifetimes.
const (
	// DefaultRefreshAhead is how long before its expiry a cached token is
	// replaced: the smaller of this and a tenth of its lifetime.
	DefaultRefreshAhead = 5 * time.Minute
	// DefaultTokenLifetime is the lifetime of a token whose answer gave
	// none, or gave one that is not a positive number of seconds.
	DefaultTokenLifetime = 7200 * time.Second
	// MaxTokenLifetime caps the lifetime a mint answer may claim, so that a
	// huge expires_in neither overflows into an already-expired token nor
	// keeps a token forever. WeChat's tokens live 2 hours.
	MaxTokenLifetime = 7 * 24 * time.Hour
)

// ExpiresIn is a mint answer's expires_in, in seconds. It decodes liberally:
// a JSON number (integer or float, such as 7200 or 7200.0), a numeric string
// ("7200"), or anything else, which counts as absent. Lifetime clamps it.
type ExpiresIn struct {
	seconds float64
	set     bool
}

// UnmarshalJSON implements json.Unmarshaler. It never fails: a value that
// is not a number counts as absent.
func (e *ExpiresIn) UnmarshalJSON(b []byte) error {
	*e = ExpiresIn{}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil //nolint:nilerr // never fails: a non-string counts as absent
		}
		b = []byte(strings.TrimSpace(s))
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil
	}
	if math.IsNaN(f) {
		return nil
	}
	e.seconds, e.set = f, true
	return nil
}

// Lifetime returns the lifetime the answer claims: DefaultTokenLifetime when
// it is absent or not positive, at most MaxTokenLifetime.
func (e ExpiresIn) Lifetime() time.Duration {
	if !e.set || !(e.seconds > 0) {
		return DefaultTokenLifetime
	}
	if e.seconds >= MaxTokenLifetime.Seconds() {
		return MaxTokenLifetime
	}
	return max(time.Duration(e.seconds*float64(time.Second)), time.Second)
}

// wrapTokenError names the operation that could not get its token.
func wrapTokenError(op string, err error) error {
	var we *Error
	if errors.As(err, &we) {
		if we.Op != "" {
			return err
		}
		// The error may be shared by concurrent callers: name the
		// operation on a copy.
		cp := *we
		cp.Op = op
		return &cp
	}
	return &Error{Kind: KindBadResponse, Op: op, Message: "no token", Err: err}
}

// String describes the token without its value.
func (t *Token) String() string {
	if t == nil {
		return "<nil token>"
	}
	return fmt.Sprintf("token(%s, expires %s)", Redacted, t.Expiry.Format(time.RFC3339))
}
