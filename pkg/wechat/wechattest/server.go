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
// For third-party platforms it also plays WeChat's side of the platform's flows: verify
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
	"net/http"
	"net/http/httptest"
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

// Server is a fake WeChat API server listening on 127.0.0.1.
type Server struct {
	// URL is the base URL of the server, for wechat.WithBaseURLs.
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

	fleet                   // authorizers, codes, tickets, counters: fleet.go, ticket.go
	quotas map[string]quota // quota.go
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

// Handler serves the same API in process, without a connection: for tests
// that make more calls than loopback connections afford.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

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
	case wechat.GetAuthorizerInfoPath:
		if !s.componentCall(w, r, str("component_appid")) {
			return
		}
		s.authorizerInfo(w, str("authorizer_appid"))
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
	case wechat.QuotaPath:
		s.quotaGet(w, r, str("cgi_path"))
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
