package wechattest

import (
	"net/http"
)

// DefaultQuotaLimit is the daily_limit /cgi-bin/openapi/quota/get answers
// for a path whose quota was not set.
const DefaultQuotaLimit = 10000

type quota struct{ limit, used int64 }

// SetQuota sets what /cgi-bin/openapi/quota/get answers for cgiPath: a
// daily limit and the calls used today (remain is the difference).
func (s *Server) SetQuota(cgiPath string, dailyLimit, used int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quotas == nil {
		s.quotas = map[string]quota{}
	}
	s.quotas[cgiPath] = quota{limit: dailyLimit, used: used}
}

// quotaGet answers /cgi-bin/openapi/quota/get: any valid token, body
// {"cgi_path"}; 76003 for a path that does not start with "/".
func (s *Server) quotaGet(w http.ResponseWriter, r *http.Request, cgiPath string) {
	if code := s.checkToken(r.URL.Query().Get("access_token"), "access", "component", "authorizer"); code != 0 {
		s.fail(w, code, "")
		return
	}
	if cgiPath == "" || cgiPath[0] != '/' {
		s.fail(w, 76003, "")
		return
	}
	s.mu.Lock()
	q, ok := s.quotas[cgiPath]
	s.mu.Unlock()
	if !ok {
		q = quota{limit: DefaultQuotaLimit}
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok",
		"quota": map[string]int64{"daily_limit": q.limit, "used": q.used, "remain": max(q.limit-q.used, 0)}})
}
