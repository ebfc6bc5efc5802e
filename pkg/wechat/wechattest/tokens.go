package wechattest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

type tokenInfo struct {
	kind    string // "access", "component" or "authorizer"
	appID   string // the authorizer an authorizer token is for
	expires time.Time
}

// SetTokenTTL sets the expires_in of tokens minted from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// RevokeTokens makes every minted token invalid (errcode 40001), as when
// another party minted a new one.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ExpireTokens makes every minted token expired (errcode 42001).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for k, v := range s.tokens {
		v.expires = past
		s.tokens[k] = v
	}
}

func (s *Server) mintToken(kind, appID string) (string, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	tok := fmt.Sprintf("wechattest-%s-token-%06d-%x", kind, s.seq, time.Now().UnixNano())
	s.tokens[tok] = tokenInfo{kind: kind, appID: appID, expires: time.Now().Add(s.tokenTTL)}
	s.mints[kind]++
	if a := s.auths[appID]; a != nil && kind == "authorizer" {
		a.mints++
	}
	return tok, int64(s.tokenTTL / time.Second)
}

// componentToken returns the component token of a request, from
// component_access_token (older docs) or access_token.
func componentToken(r *http.Request) string {
	q := r.URL.Query()
	if tok := q.Get("component_access_token"); tok != "" {
		return tok
	}
	return q.Get("access_token")
}

// checkToken returns 0 when tok is a valid token of one of kinds, or the
// errcode WeChat would answer.
func (s *Server) checkToken(tok string, kinds ...string) int {
	code, _ := s.lookupToken(tok, kinds...)
	return code
}

// lookupToken is checkToken that also returns the authorizer appid an
// authorizer token is for ("" for other tokens).
func (s *Server) lookupToken(tok string, kinds ...string) (int, string) {
	if tok == "" {
		return 41001, ""
	}
	for _, k := range kinds {
		if (k == "access" && tok == AccessToken) || (k == "component" && tok == ComponentAccessToken) {
			return 0, ""
		}
	}
	s.mu.Lock()
	info, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok {
		if strings.HasPrefix(tok, "wechattest-") {
			return 40001, ""
		}
		return 40014, ""
	}
	for _, k := range kinds {
		if info.kind == k {
			if time.Now().After(info.expires) {
				return 42001, ""
			}
			return 0, info.appID
		}
	}
	return 40001, ""
}
