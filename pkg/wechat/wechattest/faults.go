package wechattest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"time"
)

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
		_ = tc.SetLinger(0)
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
