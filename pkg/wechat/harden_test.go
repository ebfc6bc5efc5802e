package wechat_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// sink is a server that must never be reached: it records what reaches it.
type sink struct {
	*httptest.Server
	hits   atomic.Int64
	bodies atomic.Value // string: the last body received, query included
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.bodies.Store(r.URL.RawQuery + " " + string(b))
		w.Write([]byte(`{"errcode":0,"errmsg":"ok","info_list":[],"component_access_token":"evil","expires_in":7200}`))
	}))
	t.Cleanup(s.Close)
	return s
}

// redirector answers every request with status and a Location.
func redirector(t *testing.T, status int, location func(r *http.Request) string, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, location(r), status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRedirectsNeverFollowed: a 3xx is kind upstream with its status, not
// retried, and nothing reaches the Location, even with the caller's own
// HTTP client that follows redirects.
func TestRedirectsNeverFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, own := range []bool{false, true} {
			t.Run(http.StatusText(status)+map[bool]string{false: "", true: " own client"}[own], func(t *testing.T) {
				t.Parallel()
				evil := newSink(t)
				var hits atomic.Int64
				srv := redirector(t, status, func(r *http.Request) string { return evil.URL + r.URL.RequestURI() }, &hits)
				opts := []wechat.Option{wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(0, 0), wechat.WithRetries(2)}
				if own {
					opts = append(opts, wechat.WithHTTPClient(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}))
				}
				c, err := wechat.NewClient(opts...)
				if err != nil {
					t.Fatal(err)
				}
				// A mint carries the app secret and the ticket in its body.
				ts := wechat.NewComponentTokenSource(c, "wxcomponent", "redirect-app-secret-0123456789", "redirect-ticket-0123456789")
				_, _, err = c.DescribeCloudBaseRunEnvs(t.Context(), ts)
				var we *wechat.Error
				if !errors.As(err, &we) || we.Kind != wechat.KindUpstream || we.StatusCode != status || we.Retryable {
					t.Fatalf("error = %#v, want upstream %d, not retryable", err, status)
				}
				if evil.hits.Load() != 0 {
					t.Errorf("the Location host got %d requests: %v", evil.hits.Load(), evil.bodies.Load())
				}
				if hits.Load() != 1 {
					t.Errorf("the redirecting server got %d requests, want 1", hits.Load())
				}
				// A token-bearing request too.
				_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("redirect-token-0123456789abcdef"), "")
				if !errors.As(err, &we) || we.Kind != wechat.KindUpstream || we.StatusCode != status {
					t.Fatalf("GetEnvInfo error = %v, want upstream %d", err, status)
				}
				if evil.hits.Load() != 0 || resp.Attempts != 1 {
					t.Errorf("Location got %d requests, attempts %d; want 0, 1", evil.hits.Load(), resp.Attempts)
				}
				if strings.Contains(err.Error(), evil.URL) || strings.Contains(err.Error(), "redirect-token") {
					t.Errorf("error text %q names the Location or the token", err)
				}
			})
		}
	}
	t.Run("loop", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int64
		var srv *httptest.Server
		srv = redirector(t, 302, func(r *http.Request) string { return srv.URL + r.URL.RequestURI() }, &hits)
		c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(0, 0), wechat.WithRetries(2))
		if err != nil {
			t.Fatal(err)
		}
		_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("loop-token-0123456789"), "")
		if !errors.Is(err, wechat.ErrUpstream) || hits.Load() != 1 || resp.Attempts != 1 {
			t.Errorf("error %v, %d requests, %d attempts; want upstream, 1, 1", err, hits.Load(), resp.Attempts)
		}
	})
}

// answerServer answers every request with body and the given headers.
func answerServer(t *testing.T, body []byte, header map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestUntrustedAnswers: answers that are not what WeChat sends are
// bad_response, not retried, and their text is not echoed.
func TestUntrustedAnswers(t *testing.T) {
	t.Parallel()
	ok := []byte(`{"errcode":0,"errmsg":"ok","info_list":[]}`)
	for _, tc := range []struct {
		name    string
		body    []byte
		header  map[string]string
		kind    wechat.Kind
		message string
	}{
		{"null errcode, no list", []byte(`{"errcode":null}`), nil, wechat.KindBadResponse, "neither errcode nor info_list"},
		{"null errcode and errmsg", []byte(`{"errcode":null,"errmsg":"ok"}`), nil, wechat.KindBadResponse, "neither errcode nor info_list"},
		{"gzip header over plain body", ok, map[string]string{"Content-Encoding": "gzip"}, wechat.KindBadResponse, "gzip"},
		{"unknown encoding", ok, map[string]string{"Content-Encoding": "br"}, wechat.KindBadResponse, "content encoding"},
		{"invalid UTF-8", []byte("{\"errcode\":0,\"errmsg\":\"ok\xff\",\"info_list\":[]}"), nil, wechat.KindBadResponse, "not valid UTF-8"},
		{"invalid UTF-8 in a list", []byte("{\"errcode\":0,\"info_list\":[{\"env\":\"\xc3\x28\",\"status\":\"NORMAL\"}]}"), nil, wechat.KindBadResponse, "not valid UTF-8"},
		{"errcode of 5 MB of digits", []byte(`{"errcode":` + strings.Repeat("9", 5<<20) + `}`), nil, wechat.KindBadResponse, "errcode is not an integer"},
		{"errcode float", []byte(`{"errcode":1.5,"info_list":[]}`), nil, wechat.KindBadResponse, "errcode is not an integer"},
		{"errcode beyond int32", []byte(`{"errcode":4294967297,"info_list":[]}`), nil, wechat.KindBadResponse, "errcode is not an integer"},
		{"errcode string", []byte(`{"errcode":"0","info_list":[]}`), nil, wechat.KindBadResponse, "errcode is not an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := answerServer(t, tc.body, tc.header)
			c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(0, 0), wechat.WithRetries(2))
			if err != nil {
				t.Fatal(err)
			}
			_, resp, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("untrusted-token-0123456789"), "")
			var we *wechat.Error
			if !errors.As(err, &we) || we.Kind != tc.kind || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error = %v, want %s with %q", err, tc.kind, tc.message)
			}
			if resp.Attempts != 1 || we.Retryable {
				t.Errorf("attempts %d, retryable %v; want 1, false", resp.Attempts, we.Retryable)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error text is %d bytes", len(err.Error()))
			}
		})
	}
	t.Run("gzip the transport asked for", func(t *testing.T) {
		t.Parallel()
		srv := answerServer(t, gzipped(t, ok), map[string]string{"Content-Encoding": "gzip"})
		c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("gzip-token-0123456789"), ""); err != nil {
			t.Errorf("a real gzip answer: %v", err)
		}
	})
}

// TestBoundedErrors: whatever errmsg WeChat sends, the error carries at
// most MaxErrMsgBytes of it and a request id of at most MaxRIDBytes, with
// no control characters and no kept secret.
func TestBoundedErrors(t *testing.T) {
	t.Parallel()
	secret := "bounded-kept-secret-0123456789abcdef"
	sc := wechat.NewScrubber()
	sc.Keep(secret)
	for _, tc := range []struct {
		name, errmsg, wantRID string
	}{
		{"huge errmsg", strings.Repeat("x", 1<<20) + " rid: 6124-abc", "6124-abc"},
		{"huge rid", "invalid credential rid: " + strings.Repeat("7", 1<<16), strings.Repeat("7", wechat.MaxRIDBytes-len("…")) + "…"},
		{"rid with junk", "invalid rid: 61-ab\"}\n{\"evil\":1", "61-ab"},
		{"control characters", "line\nbreak\x1b[31m rid: r-1", "r-1"},
		{"kept secret echoed", "invalid credential, access_token is " + secret + " rid: r-2", "r-2"},
		{"kept secret cut short", "token " + secret[:20], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, _ := json.Marshal(map[string]any{"errcode": 40001, "errmsg": tc.errmsg})
			srv := answerServer(t, body, nil)
			c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL), wechat.WithScrubber(sc))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("bounded-token-0123456789"), "")
			var we *wechat.Error
			if !errors.As(err, &we) || we.ErrCode != 40001 {
				t.Fatalf("error = %v, want errcode 40001", err)
			}
			if len(we.ErrMsg) > wechat.MaxErrMsgBytes || len(we.RID) > wechat.MaxRIDBytes || we.RID != tc.wantRID {
				t.Errorf("errmsg %d bytes, rid %q; want ≤ %d bytes, %q", len(we.ErrMsg), we.RID, wechat.MaxErrMsgBytes, tc.wantRID)
			}
			if strings.ContainsAny(we.ErrMsg, "\n\x1b") || strings.Contains(err.Error(), secret[:16]) {
				t.Errorf("errmsg %q has control characters or the secret", we.ErrMsg)
			}
		})
	}
}

// TestStickyFailover: after the first URL fails, calls start at the one
// that answered, until StickyFailover has passed.
func TestStickyFailover(t *testing.T) {
	t.Parallel()
	var primaryHits, backupHits atomic.Int64
	var primaryDown atomic.Bool
	primaryDown.Store(true)
	ok := []byte(`{"errcode":0,"errmsg":"ok","info_list":[]}`)
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		primaryHits.Add(1)
		if primaryDown.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write(ok)
	}))
	defer primary.Close()
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backupHits.Add(1)
		w.Write(ok)
	}))
	defer backup.Close()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c, err := wechat.NewClient(wechat.WithBaseURLs(primary.URL, backup.URL), wechat.WithBackoff(0, 0),
		wechat.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	ts := wechat.StaticTokenSource("sticky-token-0123456789")
	call := func() int {
		t.Helper()
		_, resp, err := c.GetEnvInfo(t.Context(), ts, "")
		if err != nil {
			t.Fatalf("GetEnvInfo: %v", err)
		}
		return resp.Attempts
	}
	steps := []struct {
		advance               time.Duration
		primaryUp             bool
		attempts              int
		primaryHit, backupHit int64
	}{
		{0, false, 2, 1, 1},                                    // fails over
		{time.Second, true, 1, 1, 2},                           // sticks to the backup though the primary is back
		{wechat.StickyFailover - 2*time.Second, true, 1, 1, 3}, // still within the period
		{2 * time.Second, true, 1, 2, 3},                       // period over: the primary again
		{time.Second, true, 1, 3, 3},                           // and it stays there
	}
	for i, st := range steps {
		now.Add(int64(st.advance))
		primaryDown.Store(!st.primaryUp)
		if a := call(); a != st.attempts || primaryHits.Load() != st.primaryHit || backupHits.Load() != st.backupHit {
			t.Fatalf("step %d: attempts %d, primary %d, backup %d; want %d, %d, %d", i, a,
				primaryHits.Load(), backupHits.Load(), st.attempts, st.primaryHit, st.backupHit)
		}
	}
}

// TestResponseLimit: the default is below the largest accepted limit, and
// limits above 64 MiB are refused.
func TestResponseLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n  int64
		ok bool
	}{{1, true}, {wechat.DefaultMaxResponseBytes, true}, {wechat.MaxResponseBytesLimit, true}, {wechat.MaxResponseBytesLimit + 1, false}, {0, false}, {-1, false}} {
		_, err := wechat.NewClient(wechat.WithMaxResponseBytes(tc.n))
		if (err == nil) != tc.ok {
			t.Errorf("WithMaxResponseBytes(%d): %v, want ok=%v", tc.n, err, tc.ok)
		}
	}
}

// TestDefaultBaseURLs: the default list is WeChat's two domains.
func TestDefaultBaseURLs(t *testing.T) {
	t.Parallel()
	urls, err := wechat.ParseBaseURLs(strings.Split(wechat.DefaultBaseURLs, ",")...)
	if err != nil || len(urls) != 2 || urls[0].Host != "api.weixin.qq.com" || urls[1].Host != "api2.weixin.qq.com" {
		t.Errorf("DefaultBaseURLs = %q: %v", wechat.DefaultBaseURLs, err)
	}
}

// TestTokensKept: a token the client has used once is kept: another
// call's errmsg that echoes it, whole or cut short, shows REDACTED.
func TestTokensKept(t *testing.T) {
	t.Parallel()
	first := "kept-first-token-0123456789ABCDEFGHIJ"
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Write([]byte(`{"errcode":0,"errmsg":"ok","info_list":[]}`))
			return
		}
		body, _ := json.Marshal(map[string]any{"errcode": 40001, "errmsg": "token " + first + " and " + first[:20] + " rid: r-9"})
		w.Write(body)
	}))
	defer srv.Close()
	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(first), ""); err != nil {
		t.Fatalf("first call: %v", err)
	}
	_, _, err = c.GetEnvInfo(t.Context(), wechat.StaticTokenSource("kept-second-token-0123456789"), "")
	var we *wechat.Error
	if !errors.As(err, &we) || we.ErrCode != 40001 {
		t.Fatalf("second call: %v", err)
	}
	if strings.Contains(err.Error(), first[:16]) || we.ErrMsg != "token REDACTED and REDACTED rid: r-9" {
		t.Errorf("errmsg %q, error %q: the first token shows", we.ErrMsg, err)
	}
}
