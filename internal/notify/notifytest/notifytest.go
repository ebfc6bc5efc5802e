// Package notifytest is a fake group-robot server for tests and local runs:
// it plays a WeCom, a DingTalk and a Feishu robot over real HTTP on
// 127.0.0.1, records every message it receives, checks each robot's rules
// (message shape, size, valid UTF-8, DingTalk and Feishu signatures when it
// knows the secret) and answers each robot's own status codes, or any
// errcode or HTTP status a test asks for.
package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

// Paths the robots listen on.
const (
	WeComPath      = "/cgi-bin/webhook/send"
	DingTalkPath   = "/robot/send"
	FeishuPathBase = "/open-apis/bot/v2/hook/"
)

// Options configure a Server.
type Options struct {
	// DingTalkSecret, when set, makes the DingTalk robot require a valid
	// signature (errcode 310000 otherwise).
	DingTalkSecret string
	// FeishuSecret, when set, makes the Feishu bot require a valid
	// signature (code 19021 otherwise).
	FeishuSecret string
}

// Answer overrides the robot's reply for one token.
type Answer struct {
	// HTTPStatus, when not 0 nor 200, is sent with an empty JSON body.
	HTTPStatus int
	// ErrCode is the errcode (Feishu: code) to answer.
	ErrCode int
	// ErrMsg goes with it.
	ErrMsg string
	// Body, when set, is sent as is with status 200.
	Body string
	// Delay is waited before answering, or until the sender gives up (a
	// robot too slow for the sender's deadline).
	Delay time.Duration
}

// Received is one message a robot accepted or refused.
type Received struct {
	// Kind is the robot that received it.
	Kind notify.Kind
	// Token is the key, access_token or hook token it was sent to.
	Token string
	// Title is DingTalk's markdown title; empty for the others.
	Title string
	// Text is the message content.
	Text string
	// Body is the raw request body.
	Body []byte
	// Signed reports whether the message carried a signature.
	Signed bool
	// Accepted reports whether the robot answered its own success (false
	// when a test's raw Answer.Body was sent instead).
	Accepted bool
}

// Server is the fake robot server.
type Server struct {
	// URL is the server's base URL.
	URL string

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	received []Received
	answers  map[string]Answer
}

// NewServer starts a fake robot server on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	s := &Server{opts: opts, answers: map[string]Answer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+WeComPath, s.wecom)
	mux.HandleFunc("POST "+DingTalkPath, s.dingtalk)
	mux.HandleFunc("POST "+FeishuPathBase+"{token}", s.feishu)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// WeComURL is the webhook URL of the WeCom robot with key.
func (s *Server) WeComURL(key string) string { return s.URL + WeComPath + "?key=" + key }

// DingTalkURL is the webhook URL of the DingTalk robot with token.
func (s *Server) DingTalkURL(token string) string {
	return s.URL + DingTalkPath + "?access_token=" + token
}

// FeishuURL is the webhook URL of the Feishu bot with token.
func (s *Server) FeishuURL(token string) string { return s.URL + FeishuPathBase + token }

// SetAnswer makes every later message to token get a; the zero Answer
// restores the robot's normal replies.
func (s *Server) SetAnswer(token string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a == (Answer{}) {
		delete(s.answers, token)
		return
	}
	s.answers[token] = a
}

// Received returns every message received so far, in order.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// ReceivedBy returns the messages sent to token.
func (s *Server) ReceivedBy(token string) []Received {
	var out []Received
	for _, r := range s.Received() {
		if r.Token == token {
			out = append(out, r)
		}
	}
	return out
}

// reply records r and writes the robot's answer: the override for the
// token if any, else code (0 = success) with msg.
func (s *Server) reply(w http.ResponseWriter, req *http.Request, r Received, code int, msg string) {
	s.mu.Lock()
	a, override := s.answers[r.Token]
	s.mu.Unlock()
	if override {
		code, msg = a.ErrCode, a.ErrMsg
	}
	if override && a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-req.Context().Done():
			// The sender gave up before the robot answered: never
			// accepted, as a real robot's answer that never arrives.
			r.Accepted = false
			s.mu.Lock()
			s.received = append(s.received, r)
			s.mu.Unlock()
			return
		}
	}
	r.Accepted = code == 0 && (!override || (a.Body == "" && (a.HTTPStatus == 0 || a.HTTPStatus == http.StatusOK)))
	s.mu.Lock()
	s.received = append(s.received, r)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case override && a.HTTPStatus != 0 && a.HTTPStatus != http.StatusOK:
		if a.HTTPStatus >= 300 && a.HTTPStatus < 400 {
			w.Header().Set("Location", s.URL+"/elsewhere")
		}
		w.WriteHeader(a.HTTPStatus)
		_, _ = io.WriteString(w, "{}")
		return
	case override && a.Body != "":
		_, _ = io.WriteString(w, a.Body)
		return
	}
	var body any
	if r.Kind == notify.Feishu {
		body = map[string]any{"code": code, "msg": msg, "data": map[string]any{}}
	} else {
		body = map[string]any{"errcode": code, "errmsg": msg}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}

func (s *Server) wecom(w http.ResponseWriter, r *http.Request) {
	rec := Received{Kind: notify.WeCom, Token: r.URL.Query().Get("key")}
	body, err := readBody(r)
	rec.Body = body
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	switch {
	case rec.Token == "":
		s.reply(w, r, rec, 93000, "invalid webhook url")
	case err != nil || json.Unmarshal(body, &m) != nil:
		s.reply(w, r, rec, 40000, "invalid json")
	case m.MsgType != "markdown":
		s.reply(w, r, rec, 40008, "invalid message type")
	default:
		rec.Text = m.Markdown.Content
		switch {
		case rec.Text == "":
			s.reply(w, r, rec, 44004, "empty content")
		case len(rec.Text) > notify.WeComMaxContent:
			s.reply(w, r, rec, 40058, "markdown.content exceed max length 4096")
		case !utf8.ValidString(rec.Text):
			s.reply(w, r, rec, 40033, "invalid charset")
		default:
			s.reply(w, r, rec, 0, "ok")
		}
	}
}

func (s *Server) dingtalk(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rec := Received{Kind: notify.DingTalk, Token: q.Get("access_token"), Signed: q.Get("sign") != ""}
	body, err := readBody(r)
	rec.Body = body
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
	}
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	rec.Title, rec.Text = m.Markdown.Title, m.Markdown.Text
	switch {
	case rec.Token == "":
		s.reply(w, r, rec, 300001, "token is not exist")
	case s.opts.DingTalkSecret != "" && !dingTalkSigned(s.opts.DingTalkSecret, q.Get("timestamp"), q.Get("sign")):
		s.reply(w, r, rec, 310000, "sign not match")
	case err != nil:
		s.reply(w, r, rec, 300002, "invalid json")
	case m.MsgType != "markdown" || m.Markdown.Title == "" || m.Markdown.Text == "":
		s.reply(w, r, rec, 400101, "invalid markdown message")
	case !utf8.ValidString(rec.Text) || !utf8.ValidString(rec.Title):
		s.reply(w, r, rec, 400102, "invalid charset")
	default:
		s.reply(w, r, rec, 0, "ok")
	}
}

func dingTalkSigned(secret, ts, sign string) bool {
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sign == "" {
		return false
	}
	if d := time.Since(time.UnixMilli(ms)); d > time.Hour || d < -time.Hour {
		return false
	}
	// The query is already URL-decoded by Query(). The signature is
	// computed here on its own, not with the client's code.
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "\n" + secret))
	return hmac.Equal([]byte(sign), []byte(base64.StdEncoding.EncodeToString(m.Sum(nil))))
}

func (s *Server) feishu(w http.ResponseWriter, r *http.Request) {
	rec := Received{Kind: notify.Feishu, Token: r.PathValue("token")}
	body, err := readBody(r)
	rec.Body = body
	var m struct {
		Timestamp string `json:"timestamp"`
		Sign      string `json:"sign"`
		MsgType   string `json:"msg_type"`
		Content   struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	rec.Text, rec.Signed = m.Content.Text, m.Sign != ""
	switch {
	case err != nil:
		s.reply(w, r, rec, 9499, "Bad Request")
	case len(body) > notify.FeishuMaxBody:
		s.reply(w, r, rec, 9499, fmt.Sprintf("request body over %d bytes", notify.FeishuMaxBody))
	case s.opts.FeishuSecret != "" && !feishuSigned(s.opts.FeishuSecret, m.Timestamp, m.Sign):
		s.reply(w, r, rec, 19021, "sign match fail or timestamp is not within one hour from current time")
	case m.MsgType != "text" || strings.TrimSpace(rec.Text) == "" || !utf8.ValidString(rec.Text):
		s.reply(w, r, rec, 9499, "invalid text message")
	default:
		s.reply(w, r, rec, 0, "success")
	}
}

func feishuSigned(secret, ts, sign string) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sign == "" {
		return false
	}
	if d := time.Since(time.Unix(sec, 0)); d > time.Hour || d < -time.Hour {
		return false
	}
	m := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return hmac.Equal([]byte(sign), []byte(base64.StdEncoding.EncodeToString(m.Sum(nil))))
}
