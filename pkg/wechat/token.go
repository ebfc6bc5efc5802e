package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// ErrorTokenSource returns a source whose Token always fails with err. It
// stands in for a token that cannot be had from the configuration.
func ErrorTokenSource(err error) TokenSource { return errorSource{err} }

type errorSource struct{ err error }

func (s errorSource) Token(context.Context) (*Token, error) { return nil, s.err }

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
}

// DefaultRefreshAhead is how long before its expiry a cached token is
// replaced: the smaller of this and a tenth of its lifetime.
const DefaultRefreshAhead = 5 * time.Minute

// NewCachedTokenSource returns a source that caches what mint returns.
func NewCachedTokenSource(mint MintFunc) *CachedTokenSource {
	return &CachedTokenSource{mint: mint, early: DefaultRefreshAhead, now: time.Now}
}

// Token returns the cached token while it is valid, and otherwise mints one,
// sharing the mint with concurrent callers.
func (s *CachedTokenSource) Token(ctx context.Context) (*Token, error) {
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
	}
	s.mu.Unlock()

	if leader {
		tok, err := s.mint(ctx)
		if err == nil && (tok == nil || tok.Value == "") {
			err = errors.New("wechat: mint returned no token")
		}
		if err == nil {
			tok.minted = true
			tok.margin = s.early
			if !tok.Expiry.IsZero() {
				// Short-lived tokens are refreshed a tenth of their
				// lifetime early, not by a margin that could exceed it.
				if life := tok.Expiry.Sub(s.now()); life/10 < tok.margin {
					tok.margin = max(life/10, 0)
				}
			}
		}
		s.mu.Lock()
		f.tok, f.err = tok, err
		if err == nil {
			s.tok = tok
		}
		s.flight = nil
		s.mu.Unlock()
		close(f.done)
		return tok, err
	}
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, &Error{Kind: KindTimeout, Retryable: true, Message: "gave up waiting for a token", Err: ctx.Err()}
	}
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

// Mints returns how many mints the source has started.
func (s *CachedTokenSource) Mints() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mints
}

// Token endpoints.
const (
	StableTokenPath     = "/cgi-bin/stable_token"
	ComponentTokenPath  = "/cgi-bin/component/api_component_token"
	AuthorizerTokenPath = "/cgi-bin/component/api_authorizer_token"
)

// NewStableTokenSource returns a cached source of access tokens minted with
// an app's credentials from /cgi-bin/stable_token. Minting in its normal
// mode never invalidates tokens other instances hold.
func NewStableTokenSource(c *Client, appID, appSecret string) *CachedTokenSource {
	return NewCachedTokenSource(func(ctx context.Context) (*Token, error) {
		body, _ := json.Marshal(map[string]any{
			"grant_type": "client_credential", "appid": appID, "secret": appSecret, "force_refresh": false,
		})
		var out struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		if err := c.mint(ctx, &call{op: "stable_token", path: StableTokenPath, body: body,
			want: "access_token", secrets: []string{appSecret}}, &out); err != nil {
			return nil, err
		}
		return c.newToken("stable_token", out.AccessToken, out.ExpiresIn)
	})
}

// NewComponentTokenSource returns a cached source of component access tokens
// minted from /cgi-bin/component/api_component_token with a third-party
// platform's appid, secret and latest verify ticket.
func NewComponentTokenSource(c *Client, appID, appSecret, verifyTicket string) *CachedTokenSource {
	return NewCachedTokenSource(func(ctx context.Context) (*Token, error) {
		body, _ := json.Marshal(map[string]string{
			"component_appid": appID, "component_appsecret": appSecret, "component_verify_ticket": verifyTicket,
		})
		var out struct {
			Token     string `json:"component_access_token"`
			ExpiresIn int64  `json:"expires_in"`
		}
		if err := c.mint(ctx, &call{op: "component_token", path: ComponentTokenPath, body: body,
			want: "component_access_token", secrets: []string{appSecret, verifyTicket}}, &out); err != nil {
			return nil, err
		}
		return c.newToken("component_token", out.Token, out.ExpiresIn)
	})
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
		body, _ := json.Marshal(map[string]string{
			"component_appid": componentAppID, "authorizer_appid": authorizerAppID, "authorizer_refresh_token": rt,
		})
		var out struct {
			Token        string `json:"authorizer_access_token"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"authorizer_refresh_token"`
		}
		if err := c.mint(ctx, &call{op: "authorizer_token", path: AuthorizerTokenPath, tokenParam: "component_access_token",
			ts: component, body: body, want: "authorizer_access_token", secrets: []string{rt, refreshToken}}, &out); err != nil {
			return nil, err
		}
		if out.RefreshToken != "" {
			mu.Lock()
			current = out.RefreshToken
			mu.Unlock()
		}
		return c.newToken("authorizer_token", out.Token, out.ExpiresIn)
	})
}

// mint calls a token endpoint and decodes its answer into out.
func (c *Client) mint(ctx context.Context, cl *call, out any) error {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &Error{Kind: KindBadResponse, Op: cl.op, StatusCode: resp.StatusCode, Message: "the token answer does not decode", Err: err}
	}
	return nil
}

// newToken builds a minted token that expires expiresIn seconds from now
// (7200 when WeChat gave no lifetime).
func (c *Client) newToken(op, value string, expiresIn int64) (*Token, error) {
	if value == "" {
		return nil, &Error{Kind: KindBadResponse, Op: op, Message: "the token answer holds an empty token"}
	}
	if expiresIn <= 0 {
		expiresIn = 7200
	}
	return &Token{Value: Secret(value), Expiry: c.now().Add(time.Duration(expiresIn) * time.Second)}, nil
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
