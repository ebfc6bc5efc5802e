package wechattest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Authorizer is how one authorizer of the server's fleet behaves. The zero
// Authorizer has DefaultEnvs healthy environments and no fault.
type Authorizer struct {
	// Envs is how many environments getenvinfo lists: 0 means
	// DefaultEnvs, a negative number none.
	Envs int
	// Status, when set, is the status of its first environment, such as
	// "HALTED" or "UNAVAILABLE"; the others are "NORMAL".
	Status string
	// EnvInfoErrCode, when not 0, is the errcode getenvinfo answers: 61007
	// (permission set 49 not granted; api_query_auth then leaves 49 out of
	// func_info), 85088 (no cloud development), or any other.
	EnvInfoErrCode int
	// Revoked makes api_authorizer_token answer 61023 for its refresh
	// token, as when the authorization was revoked and granted again.
	Revoked bool
	// Latency delays each of its api_authorizer_token and getenvinfo
	// answers, on top of SetLatency's.
	Latency time.Duration
	// RotateRefresh makes every api_authorizer_token mint return a new
	// refresh token; the one used stops working (61023), so a client must
	// keep the newest.
	RotateRefresh bool
	// StaleList makes api_get_authorizer_list serve the authorizer's first
	// refresh token (RefreshTokenFor) even after RotateRefresh replaced
	// it, as a list read before the rotation would.
	StaleList bool
	// Name is the nick_name api_get_authorizer_info answers; empty means
	// NameFor(appid).
	Name string
	// Principal is the principal_name api_get_authorizer_info answers;
	// empty means PrincipalFor(appid).
	Principal string
	// NoCloudDevelopment leaves permission set 49 (cloud development) out
	// of func_info in api_get_authorizer_info and api_query_auth, as does
	// EnvInfoErrCode 61007.
	NoCloudDevelopment bool
	// InfoErrCode, when not 0, is the errcode api_get_authorizer_info
	// answers for it.
	InfoErrCode int
}

// NameFor returns the nick_name an authorizer answers when its Name is
// not set: "测试商户-" and the appid's last six characters.
func NameFor(appID string) string { return "测试商户-" + tail(appID) }

// PrincipalFor returns the principal_name an authorizer answers when its
// Principal is not set.
func PrincipalFor(appID string) string { return "测试科技有限公司-" + tail(appID) }

func tail(appID string) string {
	if len(appID) > 6 {
		return appID[len(appID)-6:]
	}
	return appID
}

// funcIDs are the permission sets cfg's authorizer granted.
func (cfg Authorizer) funcIDs() []int {
	if cfg.EnvInfoErrCode == 61007 || cfg.NoCloudDevelopment {
		return []int{1, 18}
	}
	return []int{1, 18, 49}
}

// funcInfo writes func_info's array for ids.
func funcInfo(ids []int) string {
	var fi bytes.Buffer
	fi.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			fi.WriteByte(',')
		}
		fmt.Fprintf(&fi, `{"funcscope_category":{"id":%d}}`, id)
	}
	fi.WriteByte(']')
	return fi.String()
}

// authorizerInfo answers api_get_authorizer_info.
func (s *Server) authorizerInfo(w http.ResponseWriter, appID string) {
	s.mu.Lock()
	a := s.auths[appID]
	var cfg Authorizer
	if a != nil {
		cfg = a.cfg
	}
	s.mu.Unlock()
	switch {
	case a == nil:
		s.fail(w, 61003, "")
		return
	case cfg.InfoErrCode != 0:
		s.fail(w, cfg.InfoErrCode, "")
		return
	}
	name, principal := cfg.Name, cfg.Principal
	if name == "" {
		name = NameFor(appID)
	}
	if principal == "" {
		principal = PrincipalFor(appID)
	}
	b, _ := json.Marshal(map[string]any{
		"authorizer_info": map[string]any{"nick_name": name, "head_img": "", "service_type_info": map[string]int{"id": 0},
			"verify_type_info": map[string]int{"id": 0}, "user_name": "gh_" + tail(appID), "principal_name": principal,
			"signature": "", "MiniProgramInfo": map[string]any{}},
		"authorization_info": map[string]any{"authorizer_appid": appID, "func_info": json.RawMessage(funcInfo(cfg.funcIDs()))},
	})
	s.writeAnswer(w, b)
}

// DefaultEnvs is how many environments an authorizer lists by default.
const DefaultEnvs = 2

// CodeTTL is how long an authorization code from Authorize can be
// exchanged at api_query_auth.
const CodeTTL = time.Hour

// fleetPrefix starts the appids FleetAppID makes.
const fleetPrefix = "wxf1ee7"

// authorizer is the server's state of one authorizer.
type authorizer struct {
	cfg        Authorizer
	refresh    string
	exchanged  bool // its code was exchanged (or it was added exchanged)
	authTime   int64
	mints      int
	envCalls   int
	useAnswers bool // the default authorizer answers SetAnswer's getenvinfo
}

type authCode struct {
	appID   string
	expires time.Time
}

// fleet is the part of Server's state that this file and ticket.go keep.
// Fields are guarded by Server.mu.
type fleet struct {
	auths   map[string]*authorizer
	order   []string // appids in the order they authorized
	codes   map[string]authCode
	mints   map[string]int
	tickets map[string]time.Time // ticket -> CreateTime
	ticket  string               // the newest ticket
	strict  bool                 // refuse the static VerifyTicket
	lastTkt string               // the ticket of the last component mint
	push    *Pusher              // where StartPushTicket makes the server push
	pushed  []PushResult
}

func (s *Server) initFleet() {
	s.auths = map[string]*authorizer{}
	s.codes = map[string]authCode{}
	s.mints = map[string]int{}
	s.tickets = map[string]time.Time{}
	s.addLocked(AuthorizerAppID, Authorizer{}, AuthorizerRefreshToken, true)
	s.auths[AuthorizerAppID].useAnswers = true
}

func (s *Server) resetCounters() {
	clear(s.mints)
	for _, a := range s.auths {
		a.mints, a.envCalls = 0, 0
	}
	s.pushed = nil
}

// RefreshTokenFor returns the refresh token the server gives appid's
// authorizer.
func RefreshTokenFor(appID string) string { return "refreshtoken@@@wechattest-" + appID }

// FleetAppID returns the appid of the i-th authorizer SetFleet makes.
func FleetAppID(i int) string { return fmt.Sprintf("%s%011d", fleetPrefix, i) }

// addLocked adds an authorizer if it is not there. Callers hold s.mu.
func (s *Server) addLocked(appID string, cfg Authorizer, refresh string, exchanged bool) *authorizer {
	if a := s.auths[appID]; a != nil {
		return a
	}
	a := &authorizer{cfg: cfg, refresh: refresh, exchanged: exchanged,
		authTime: 1700000000 + int64(len(s.order))}
	s.auths[appID] = a
	s.order = append(s.order, appID)
	return a
}

// AddAuthorizers adds authorizers that have authorized the platform, each
// with its own refresh token (RefreshTokenFor) and the zero Authorizer's
// behaviour. Authorizers already there are left as they are.
func (s *Server) AddAuthorizers(appIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range appIDs {
		s.addLocked(id, Authorizer{}, RefreshTokenFor(id), true)
	}
}

// SetFleet makes the generated fleet FleetAppID(0) … FleetAppID(n-1):
// missing ones are added, generated ones beyond n removed. Authorizers
// added by name are kept. It returns the fleet's appids. Answers are made
// on demand, so a fleet of 10,000 costs a few megabytes.
func (s *Server) SetFleet(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, n)
	for i := range n {
		ids[i] = FleetAppID(i)
		s.addLocked(ids[i], Authorizer{}, RefreshTokenFor(ids[i]), true)
	}
	s.order = slices.DeleteFunc(s.order, func(id string) bool {
		if !strings.HasPrefix(id, fleetPrefix) {
			return false
		}
		i, err := strconv.Atoi(id[len(fleetPrefix):])
		if err != nil || i < n {
			return false
		}
		s.dropLocked(id)
		return true
	})
	return ids
}

// SetAuthorizer sets how appid's authorizer behaves, adding it (as
// authorized and exchanged) if it is not there.
func (s *Server) SetAuthorizer(appID string, cfg Authorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(appID, cfg, RefreshTokenFor(appID), true).cfg = cfg
}

// Authorizers returns the appids of the platform's authorizers, in the
// order api_get_authorizer_list pages them.
func (s *Server) Authorizers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// RefreshToken returns the refresh token appid's authorizer has now, or
// "" when there is no such authorizer.
func (s *Server) RefreshToken(appID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.auths[appID]; a != nil {
		return a.refresh
	}
	return ""
}

// Authorize records that appid authorized the platform (adding it, not yet
// exchanged, if it is new) and returns a new authorization code, as the
// authorized event carries it. The code can be exchanged at api_query_auth
// any number of times within CodeTTL (so a redelivered event can be
// handled again); each exchange mints a new authorizer token and returns
// the authorizer's refresh token. After CodeTTL it answers 61010.
func (s *Server) Authorize(appID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(appID, Authorizer{}, RefreshTokenFor(appID), false)
	s.seq++
	code := fmt.Sprintf("queryauthcode@@@wechattest-%06d-%s", s.seq, appID)
	s.codes[code] = authCode{appID: appID, expires: time.Now().Add(CodeTTL)}
	return code
}

// Unauthorize removes appid's authorizer, as when it revokes the
// authorization: its tokens, codes and refresh token stop working and it
// leaves api_get_authorizer_list.
func (s *Server) Unauthorize(appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auths[appID] == nil {
		return
	}
	s.dropLocked(appID)
	s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == appID })
}

// dropLocked forgets an authorizer's state, tokens and codes, but not its
// place in s.order. Callers hold s.mu.
func (s *Server) dropLocked(appID string) {
	delete(s.auths, appID)
	for tok, info := range s.tokens {
		if info.appID == appID {
			delete(s.tokens, tok)
		}
	}
	for code, c := range s.codes {
		if c.appID == appID {
			delete(s.codes, code)
		}
	}
}

// Mints returns how many tokens of kind ("access", "component",
// "authorizer") the server minted since it started or was Reset;
// api_query_auth's tokens count as authorizer mints.
func (s *Server) Mints(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mints[kind]
}

// AuthorizerMints returns how many authorizer tokens the server minted
// for appid since it started or was Reset.
func (s *Server) AuthorizerMints(appID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.auths[appID]; a != nil {
		return a.mints
	}
	return 0
}

// AuthorizerCalls returns how many getenvinfo requests reached appid's
// authorizer with its token since the server started or was Reset.
func (s *Server) AuthorizerCalls(appID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.auths[appID]; a != nil {
		return a.envCalls
	}
	return 0
}

// authorizerToken answers api_authorizer_token.
func (s *Server) authorizerToken(w http.ResponseWriter, r *http.Request, appID, refresh string) {
	s.mu.Lock()
	a := s.auths[appID]
	var cfg Authorizer
	if a != nil {
		cfg = a.cfg
	}
	s.mu.Unlock()
	if a == nil {
		s.fail(w, 40013, "")
		return
	}
	if !wait(r, cfg.Latency) {
		return
	}
	if cfg.Revoked {
		s.fail(w, 61023, "")
		return
	}
	s.mu.Lock()
	if a = s.auths[appID]; a == nil || refresh != a.refresh {
		// Unauthorized meanwhile, or not (or no longer) its refresh token.
		s.mu.Unlock()
		s.fail(w, 61023, "")
		return
	}
	if cfg.RotateRefresh {
		s.seq++
		a.refresh = fmt.Sprintf("%s-%06d", RefreshTokenFor(appID), s.seq)
	}
	current := a.refresh
	s.mu.Unlock()
	tok, ttl := s.mintToken("authorizer", appID)
	writeJSON(w, map[string]any{"authorizer_access_token": tok, "expires_in": ttl, "authorizer_refresh_token": current})
}

// fleetEnvInfo answers getenvinfo for an authorizer of the fleet and
// reports true, or reports false when the default answer applies (an
// access token, or the default authorizer).
func (s *Server) fleetEnvInfo(w http.ResponseWriter, r *http.Request, appID, env string) bool {
	if appID == "" {
		return false
	}
	s.mu.Lock()
	a := s.auths[appID]
	if a == nil || a.useAnswers {
		if a != nil {
			a.envCalls++
		}
		s.mu.Unlock()
		return false
	}
	a.envCalls++
	cfg := a.cfg
	s.mu.Unlock()
	if !wait(r, cfg.Latency) {
		return true
	}
	if cfg.EnvInfoErrCode != 0 {
		s.fail(w, cfg.EnvInfoErrCode, "")
		return true
	}
	n := cfg.Envs
	if n == 0 {
		n = DefaultEnvs
	}
	s.writeAnswer(w, generateEnvInfo(appID, max(n, 0), cfg.Status, env))
	return true
}

// GenerateEnvInfo returns the getenvinfo answer of an authorizer of the
// fleet: n environments named after appid, the first with status (when
// not empty), the others NORMAL.
func GenerateEnvInfo(appID string, n int, status string) []byte {
	return generateEnvInfo(appID, n, status, "")
}

// EnvID returns the id of the i-th environment GenerateEnvInfo makes for
// appid.
func EnvID(appID string, i int) string {
	tail := appID
	if len(tail) > 6 {
		tail = tail[len(tail)-6:]
	}
	return fmt.Sprintf("env%d-%s", i, strings.ToLower(tail))
}

func generateEnvInfo(appID string, n int, status, only string) []byte {
	b := make([]byte, 0, 48+n*220)
	b = append(b, `{"errcode":0,"errmsg":"ok","info_list":[`...)
	first := true
	for i := range n {
		id := EnvID(appID, i)
		if only != "" && id != only {
			continue
		}
		st := "NORMAL"
		if i == 0 && status != "" {
			st = status
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = fmt.Appendf(b, `{"env":%q,"alias":"env%d","create_time":"2023-03-01 10:00:%02d","update_time":"2026-11-20 08:00:00","status":%q,"package_id":"basic","package_name":"基础版 1"}`,
			id, i, i%60, st)
	}
	return append(b, "]}"...)
}

// queryAuth answers api_query_auth.
func (s *Server) queryAuth(w http.ResponseWriter, code string) {
	s.mu.Lock()
	c, ok := s.codes[code]
	var a *authorizer
	if ok {
		a = s.auths[c.appID]
	}
	if !ok || a == nil || time.Now().After(c.expires) {
		s.mu.Unlock()
		s.fail(w, 61010, "")
		return
	}
	a.exchanged = true
	refresh, cfg := a.refresh, a.cfg
	s.mu.Unlock()
	tok, ttl := s.mintToken("authorizer", c.appID)
	body := fmt.Sprintf(`{"authorization_info":{"authorizer_appid":%q,"authorizer_access_token":%q,"expires_in":%d,"authorizer_refresh_token":%q,"func_info":%s}}`,
		c.appID, tok, ttl, refresh, funcInfo(cfg.funcIDs()))
	s.writeAnswer(w, []byte(body))
}

// authorizerList answers api_get_authorizer_list.
func (s *Server) authorizerList(w http.ResponseWriter, offset, count float64, ok bool) {
	if !ok || offset < 0 || offset != float64(int(offset)) || count < 1 || count > 500 || count != float64(int(count)) {
		s.fail(w, 40097, "")
		return
	}
	s.mu.Lock()
	total := len(s.order)
	from := min(int(offset), total)
	to := min(from+int(count), total)
	b := make([]byte, 0, 64+(to-from)*120)
	b = fmt.Appendf(b, `{"total_count":%d,"list":[`, total)
	for i, id := range s.order[from:to] {
		a := s.auths[id]
		if i > 0 {
			b = append(b, ',')
		}
		refresh := ""
		if a.exchanged {
			refresh = a.refresh
			if a.cfg.StaleList {
				refresh = RefreshTokenFor(id)
			}
		}
		b = fmt.Appendf(b, `{"authorizer_appid":%q,"refresh_token":%q,"auth_time":%d}`, id, refresh, a.authTime)
	}
	s.mu.Unlock()
	b = append(b, "]}"...)
	s.writeAnswer(w, b)
}
