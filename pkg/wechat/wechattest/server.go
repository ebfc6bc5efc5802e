// Package wechattest runs a fake WeChat API server for tests, benchmarks and
// local runs, in the spirit of net/http/httptest.
//
// The server answers the two cloud environment endpoints with realistic data
// (the examples of WeChat's documentation, made valid), mints and checks
// tokens on the three token endpoints exactly as WeChat's wire format has
// it, and can inject faults: errcodes, HTTP statuses, delays, hangs, resets,
// malformed, truncated and oversized bodies, and token revocation. It counts
// the calls to every path.
//
// For third-party platforms it also plays WeChat's side of part two: verify
// tickets that expire after 12 hours (Ticket, NewTicket, StrictTickets),
// authorization codes (Authorize) exchanged at api_query_auth, a fleet of
// authorizers of any size (SetFleet, AddAuthorizers, SetAuthorizer,
// Unauthorize), each with its own refresh token, tokens, getenvinfo answer
// and faults, paged by api_get_authorizer_list, api_start_push_ticket, and
// a Pusher that sends signed, encrypted authorization events to a URL.
package wechattest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Credentials the server accepts. Static tokens are always valid; minted
// tokens are valid until they expire or are revoked.
const (
	AccessToken            = "wechattest-static-access-token"
	ComponentAccessToken   = "wechattest-static-component-access-token"
	AppID                  = "wx7e1a2b3c4d5e6f70"
	AppSecret              = "wechattest-app-secret-0123456789abcdef"
	ComponentAppID         = "wx0c1d2e3f4a5b6c70"
	ComponentAppSecret     = "wechattest-component-secret-fedcba9876543210"
	VerifyTicket           = "ticket@@@wechattest-verify-ticket"
	AuthorizerAppID        = "wx9a8b7c6d5e4f3a20"
	AuthorizerRefreshToken = "refreshtoken@@@wechattest-authorizer"
)

var (
	//go:embed data/getenvinfo.json
	envInfoFile []byte
	//go:embed data/describecloudbaserunenvs.json
	runEnvsFile []byte

	// WeChat answers compact JSON.
	envInfoAnswer = compact(envInfoFile)
	runEnvsAnswer = compact(runEnvsFile)
)

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		panic("wechattest: embedded answer is not JSON: " + err.Error())
	}
	return buf.Bytes()
}

// EnvInfoAnswer returns the default answer of /tcb/getenvinfo.
func EnvInfoAnswer() []byte { return bytes.Clone(envInfoAnswer) }

// RunEnvsAnswer returns the default answer of
// /componenttcb/describecloudbaserunenvs.
func RunEnvsAnswer() []byte { return bytes.Clone(runEnvsAnswer) }

// Fault is one way for the server to misbehave on a request. The zero Fault
// answers normally.
type Fault struct {
	// ErrCode, when not 0, is answered with HTTP 200 and this errcode.
	ErrCode int
	// ErrMsg goes with ErrCode; a " rid: ..." suffix is added.
	ErrMsg string
	// Status, when not 0, is the HTTP status; Body is sent with it.
	Status int
	// Body, when not nil, is sent verbatim (HTTP 200 unless Status is set).
	Body []byte
	// ContentType overrides the answer's Content-Type.
	ContentType string
	// Delay is waited before answering, or until the client gives up.
	Delay time.Duration
	// Hang never answers: the server waits until the client gives up.
	Hang bool
	// Reset closes the connection without an answer, with a TCP reset.
	Reset bool
	// Oversize, when positive, streams an answer of this many bytes.
	Oversize int64
	// DeclareLength sends Content-Length with an Oversize answer.
	DeclareLength bool
}

type tokenInfo struct {
	kind    string // "access", "component" or "authorizer"
	appID   string // the authorizer an authorizer token is for
	expires time.Time
}

// Server is a fake WeChat API server listening on 127.0.0.1.
type Server struct {
	// URL is the base URL of the server, as WECHAT_API_BASE_URL takes it.
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	answers  map[string][]byte
	queued   map[string][]Fault
	always   map[string]Fault
	latency  map[string]time.Duration
	calls    map[string]int
	written  map[string]int64
	tokens   map[string]tokenInfo
	tokenTTL time.Duration
	seq      uint64
	rid      atomic.Uint64

	fleet  // authorizers, codes, tickets, counters: fleet.go, ticket.go
	pushes sync.WaitGroup
}

// NewServer starts a server. Close it when done.
func NewServer() *Server {
	s := &Server{
		answers:  map[string][]byte{},
		queued:   map[string][]Fault{},
		always:   map[string]Fault{},
		latency:  map[string]time.Duration{},
		calls:    map[string]int{},
		written:  map[string]int64{},
		tokens:   map[string]tokenInfo{},
		tokenTTL: 7200 * time.Second,
	}
	s.initFleet()
	s.answers[wechat.GetEnvInfoPath] = envInfoAnswer
	s.answers[wechat.DescribeCloudBaseRunEnvsPath] = runEnvsAnswer
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, ending hung requests, and waits for the
// pushes that StartPushTicket began.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.pushes.Wait()
}

// SetAnswer sets the successful answer of an endpoint path, sent verbatim.
// The getenvinfo answer is filtered by the requested env.
func (s *Server) SetAnswer(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[path] = bytes.Clone(body)
}

// Inject queues faults for path: each request to path takes the next one.
func (s *Server) Inject(path string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued[path] = append(s.queued[path], faults...)
}

// Always makes every request to path meet f, after any queued faults.
func (s *Server) Always(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[path] = f
}

// SetLatency delays every answer on path by d; path "" delays all paths.
func (s *Server) SetLatency(path string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency[path] = d
}

// SetTokenTTL sets the expires_in of tokens minted from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// Reset clears faults, latencies, call and mint counts, and restores the
// default answers. Minted tokens, tickets, codes and the fleet stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.queued)
	clear(s.always)
	clear(s.latency)
	clear(s.calls)
	clear(s.written)
	s.resetCounters()
	s.answers[wechat.GetEnvInfoPath] = envInfoAnswer
	s.answers[wechat.DescribeCloudBaseRunEnvsPath] = runEnvsAnswer
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

// Calls returns how many requests reached path.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// BytesWritten returns how many answer bytes the server managed to write
// on path; a client that refuses an oversized answer stops it early.
func (s *Server) BytesWritten(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written[path]
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

func (s *Server) nextFault(path string) (Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[path]++
	lat := s.latency[path] + s.latency[""]
	if q := s.queued[path]; len(q) > 0 {
		s.queued[path] = q[1:]
		return q[0], lat
	}
	return s.always[path], lat
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	f, lat := s.nextFault(r.URL.Path)
	// Read the body first: only then does net/http watch the connection,
	// so that a client giving up cancels r.Context() for Delay and Hang.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if !wait(r, lat+f.Delay) {
		return
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Minute):
		}
		return
	case f.Reset:
		reset(w)
		return
	case f.Oversize > 0:
		s.oversize(w, r.URL.Path, f)
		return
	case f.Status != 0 || f.Body != nil:
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write(f.Body)
		return
	case f.ErrCode != 0:
		s.fail(w, f.ErrCode, f.ErrMsg)
		return
	}
	s.route(w, r, body)
}

func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func (s *Server) oversize(w http.ResponseWriter, path string, f Fault) {
	w.Header().Set("Content-Type", "application/json")
	if f.DeclareLength {
		w.Header().Set("Content-Length", fmt.Sprint(f.Oversize))
	}
	w.WriteHeader(http.StatusOK)
	head := []byte(`{"errcode":0,"errmsg":"ok","env_list":["`)
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	left := f.Oversize
	write := func(b []byte) bool {
		if int64(len(b)) > left {
			b = b[:left]
		}
		n, err := w.Write(b)
		left -= int64(n)
		s.mu.Lock()
		s.written[path] += int64(n)
		s.mu.Unlock()
		return err == nil && left > 0
	}
	if !write(head) {
		return
	}
	for left > 2 {
		if !write(chunk[:min(int64(len(chunk)), left-2)]) {
			return
		}
	}
	write([]byte(`"]}`)[:left])
}

// rid returns a request id shaped like WeChat's.
func (s *Server) newRID() string {
	n := s.rid.Add(1)
	return fmt.Sprintf("6924c0de-%08x-%08x", uint32(time.Now().Unix()), uint32(n))
}

// fail answers HTTP 200 with an errcode, as WeChat does.
func (s *Server) fail(w http.ResponseWriter, code int, msg string) {
	if msg == "" {
		msg = errmsgs[code]
		if msg == "" {
			msg = "error"
		}
	}
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + " rid: " + s.newRID()})
}

var errmsgs = map[int]string{
	-1:    "system error",
	-1000: "system error",
	40001: "invalid credential, access_token is invalid or not latest",
	40013: "invalid appid",
	40014: "invalid access_token",
	40097: "invalid args",
	40125: "invalid appsecret",
	40164: "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist",
	41001: "access_token missing",
	42001: "access_token expired",
	43002: "require POST method",
	44002: "empty post data",
	45009: "reach max api daily quota limit",
	45011: "api minute-quota reach limit  mustslower  retry next minute",
	47001: "data format error",
	48001: "api unauthorized",
	61004: "access clientip is not registered requestIP: 203.0.113.7",
	61005: "component ticket is expired",
	61006: "component ticket is invalid",
	61007: "api is unauthorized to component",
	61010: "code is expired",
	61023: "refresh_token is invalid",
	85088: "no qbase privilege",
}

// componentCall checks a call made with the component token for
// ComponentAppID, and answers its errcode when it fails.
func (s *Server) componentCall(w http.ResponseWriter, r *http.Request, componentAppID string) bool {
	if code := s.checkToken(componentToken(r), "component"); code != 0 {
		s.fail(w, code, "")
		return false
	}
	if componentAppID != ComponentAppID {
		s.fail(w, 40013, "")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Write(b)
}

// route serves a request that meets no fault.
func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		s.fail(w, 43002, "")
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.fail(w, 44002, "")
		return
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		s.fail(w, 47001, "")
		return
	}
	str := func(k string) string { v, _ := req[k].(string); return v }

	switch r.URL.Path {
	case wechat.StableTokenPath:
		switch {
		case str("grant_type") != "client_credential":
			s.fail(w, 40002, "invalid grant_type")
		case str("appid") != AppID:
			s.fail(w, 40013, "")
		case str("secret") != AppSecret:
			s.fail(w, 40125, "")
		default:
			tok, ttl := s.mintToken("access", "")
			writeJSON(w, map[string]any{"access_token": tok, "expires_in": ttl})
		}
	case wechat.ComponentTokenPath:
		switch {
		case str("component_appid") != ComponentAppID:
			s.fail(w, 40013, "")
		case str("component_appsecret") != ComponentAppSecret:
			s.fail(w, 40125, "")
		default:
			if code := s.checkTicket(str("component_verify_ticket")); code != 0 {
				s.fail(w, code, "")
				return
			}
			tok, ttl := s.mintToken("component", "")
			writeJSON(w, map[string]any{"component_access_token": tok, "expires_in": ttl})
		}
	case wechat.AuthorizerTokenPath:
		if !s.componentCall(w, r, str("component_appid")) {
			return
		}
		s.authorizerToken(w, r, str("authorizer_appid"), str("authorizer_refresh_token"))
	case wechat.GetEnvInfoPath:
		code, appID := s.lookupToken(r.URL.Query().Get("access_token"), "access", "authorizer")
		if code != 0 {
			s.fail(w, code, "")
			return
		}
		if s.fleetEnvInfo(w, r, appID, str("env")) {
			return
		}
		s.mu.Lock()
		answer := s.answers[r.URL.Path]
		s.mu.Unlock()
		if env := str("env"); env != "" {
			answer = filterEnvInfo(answer, env)
		}
		s.writeAnswer(w, answer)
	case wechat.QueryAuthPath:
		if !s.componentCall(w, r, str("component_appid")) {
			return
		}
		s.queryAuth(w, str("authorization_code"))
	case wechat.GetAuthorizerListPath:
		if !s.componentCall(w, r, str("component_appid")) {
			return
		}
		offset, okOff := req["offset"].(float64)
		count, okCount := req["count"].(float64)
		s.authorizerList(w, offset, count, okOff && okCount)
	case wechat.StartPushTicketPath:
		switch {
		case str("component_appid") != ComponentAppID:
			s.fail(w, 40013, "")
		case str("component_secret") != ComponentAppSecret:
			s.fail(w, 40125, "")
		default:
			writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
			s.startPushing()
		}
	case wechat.DescribeCloudBaseRunEnvsPath:
		if code := s.checkToken(r.URL.Query().Get("access_token"), "component"); code != 0 {
			s.fail(w, code, "")
			return
		}
		s.mu.Lock()
		answer := s.answers[r.URL.Path]
		s.mu.Unlock()
		s.writeAnswer(w, answer)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) writeAnswer(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Write(b)
}

// filterEnvInfo keeps the info_list entries whose env is env.
func filterEnvInfo(answer []byte, env string) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(answer, &top) != nil {
		return answer
	}
	var list []json.RawMessage
	if json.Unmarshal(top["info_list"], &list) != nil {
		return answer
	}
	kept := []json.RawMessage{}
	for _, item := range list {
		var e struct {
			Env string `json:"env"`
		}
		if json.Unmarshal(item, &e) == nil && e.Env == env {
			kept = append(kept, item)
		}
	}
	top["info_list"], _ = json.Marshal(kept)
	out, _ := json.Marshal(top)
	return out
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

// StaticVars returns the variables that point wxcloudenv at s with its
// static access and component access tokens.
func (s *Server) StaticVars() map[string]string {
	return map[string]string{
		"WECHAT_API_BASE_URL":           s.URL,
		"WECHAT_ACCESS_TOKEN":           AccessToken,
		"WECHAT_COMPONENT_ACCESS_TOKEN": ComponentAccessToken,
	}
}

// MintingVars returns the variables that point wxcloudenv at s with the
// component and authorizer credentials, so that both tokens are minted.
func (s *Server) MintingVars() map[string]string {
	return map[string]string{
		"WECHAT_API_BASE_URL":             s.URL,
		"WECHAT_COMPONENT_APPID":          ComponentAppID,
		"WECHAT_COMPONENT_APPSECRET":      ComponentAppSecret,
		"WECHAT_COMPONENT_VERIFY_TICKET":  VerifyTicket,
		"WECHAT_AUTHORIZER_APPID":         AuthorizerAppID,
		"WECHAT_AUTHORIZER_REFRESH_TOKEN": AuthorizerRefreshToken,
	}
}
