package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const (
	pushURL    = "https://fn.example/wechat/authorization-events"
	pushAPIKey = "e2e-push-api-key-4242"
)

// invoker sends one payload to a built binary and returns its answer.
type invoker func(t *testing.T, payload []byte) answer

// httpTransport turns HTTP requests into a platform's HTTP event for a
// built binary: a Function URL (HTTP API v2) event on AWS, a Function URL
// event shaped as events/scf-function-url.json on SCF.
type httpTransport struct {
	t      *testing.T
	scf    bool
	invoke invoker
	// answers collects every answer, to look for secrets in them.
	answers *safeBuffer
}

func (h httpTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	var ev any
	if h.scf {
		q := map[string]string{}
		for k, vs := range r.URL.Query() {
			q[k] = vs[0]
		}
		ev = map[string]any{"body": string(body), "headers": headers, "httpMethod": r.Method, "path": r.URL.Path, "queryString": q}
	} else {
		ev = map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": r.URL.Path, "rawQueryString": r.URL.RawQuery,
			"headers": headers, "body": string(body), "isBase64Encoded": false,
			"requestContext": map[string]any{"domainName": r.URL.Host, "requestId": "e2e",
				"http": map[string]any{"method": r.Method, "path": r.URL.Path, "sourceIp": "198.51.100.7"}}}
	}
	raw, _ := json.Marshal(ev)
	a := h.invoke(h.t, raw)
	if h.answers != nil {
		h.answers.Write(a.body)
	}
	if a.isError {
		h.t.Fatalf("HTTP invocation failed: %s", a.body)
	}
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(a.body, &resp); err != nil {
		h.t.Fatalf("answer is not an HTTP answer: %s", a.body)
	}
	hd := http.Header{}
	for k, v := range resp.Headers {
		hd.Set(k, v)
	}
	return &http.Response{StatusCode: resp.StatusCode, Header: hd, Body: io.NopCloser(bytes.NewBufferString(resp.Body)), Request: r}, nil
}

func pushProcessEnv(srv *wechattest.Server, storeURL string) map[string]string {
	e := configtest.MintingVars(srv.URL)
	delete(e, "WECHAT_COMPONENT_VERIFY_TICKET")
	e["WECHAT_COMPONENT_TOKEN"] = wechattest.PushToken
	e["WECHAT_COMPONENT_ENCODING_AES_KEY"] = wechattest.PushEncodingAESKey
	e["WXCLOUDENV_API_KEY"] = pushAPIKey
	e["WXCLOUDENV_STORE"] = storeURL
	e["WECHAT_TIMEOUT"] = "5s"
	return e
}

// platforms starts the binary of each platform with env and returns an
// HTTP transport to it and its output.
func pushPlatforms() []struct {
	name  string
	start func(t *testing.T, env map[string]string) (httpTransport, *safeBuffer)
} {
	return []struct {
		name  string
		start func(t *testing.T, env map[string]string) (httpTransport, *safeBuffer)
	}{
		{"aws-lambda", func(t *testing.T, env map[string]string) (httpTransport, *safeBuffer) {
			api, out := startLambda(t, env)
			return httpTransport{t: t, answers: &safeBuffer{}, invoke: func(t *testing.T, p []byte) answer { a, _ := api.invoke(t, p, 30*time.Second); return a }}, out
		}},
		{"tencent-scf", func(t *testing.T, env map[string]string) (httpTransport, *safeBuffer) {
			f := startSCF(t, env)
			return httpTransport{t: t, scf: true, answers: &safeBuffer{}, invoke: func(t *testing.T, p []byte) answer { a, _ := f.invoke(t, p, 30*time.Second, nil); return a }}, f.out
		}},
	}
}

func describeOK(t *testing.T, tr httpTransport) (map[string]any, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://fn.example/envs/describecloudbaserunenvs", nil)
	req.Header.Set("X-Api-Key", pushAPIKey)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		t.Fatal(err)
	}
	r, _ := ev["results"].(map[string]any)
	d, _ := r["describecloudbaserunenvs"].(map[string]any)
	return d, resp.StatusCode
}

func postRaw(t *testing.T, tr httpTransport, query, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, pushURL+"?"+query, strings.NewReader(body))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// TestPushThroughBinaries: WeChat's authorization-event pushes reach the
// built binaries as Function URL events on both platforms, with the state
// in a file:// store.
func TestPushThroughBinaries(t *testing.T) {
	t.Parallel()
	for _, pl := range pushPlatforms() {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			srv.StrictTickets(true)
			storeURL := "file://" + filepath.Join(t.TempDir(), "state.db")
			tr, out := pl.start(t, pushProcessEnv(srv, storeURL))
			p, err := srv.Pusher(pushURL, wechattest.PushToken, wechattest.PushEncodingAESKey)
			if err != nil {
				t.Fatal(err)
			}
			p.Client = &http.Client{Transport: tr}

			if d, status := describeOK(t, tr); d == nil || d["ok"] != false {
				t.Fatalf("minted without any ticket: %d %v", status, d)
			}
			// Rejections, each changing nothing.
			bad, _ := srv.Pusher(pushURL, "not-the-token", wechattest.PushEncodingAESKey)
			bad.Client = &http.Client{Transport: tr}
			if res, err := bad.Send(t.Context(), wechattest.TicketMessage(wechattest.ComponentAppID, srv.NewTicket(), time.Now())); err != nil || res.Status != http.StatusUnauthorized {
				t.Errorf("bad signature: %+v %v, want 401", res, err)
			}
			c, _ := authevent.NewCrypter(wechattest.PushEncodingAESKey, "wxanotherappid00")
			body, sig, _ := c.Seal(wechattest.PushToken, "1700000000", "42", wechattest.TicketMessage("wxanotherappid00", srv.NewTicket(), time.Now()))
			if s := postRaw(t, tr, "timestamp=1700000000&nonce=42&encrypt_type=aes&msg_signature="+sig, string(body)); s != http.StatusBadRequest {
				t.Errorf("wrong appid: %d, want 400", s)
			}
			enc := "bm90IGEgY2lwaGVydGV4dCBhdCBhbGwsIGp1c3QgYnl0ZXMh"
			sig = authevent.Signature(wechattest.PushToken, "1700000000", "42", enc)
			if s := postRaw(t, tr, "timestamp=1700000000&nonce=42&encrypt_type=aes&msg_signature="+url.QueryEscape(sig), "<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"); s != http.StatusBadRequest {
				t.Errorf("does not decrypt: %d, want 400", s)
			}
			if d, _ := describeOK(t, tr); d["ok"] != false {
				t.Fatalf("a rejected push stored a ticket: %v", d)
			}

			// The pushed ticket (no API key on the push route) is used by
			// the next mint; a replayed older one is accepted and ignored.
			old := srv.NewTicketAt(time.Now().Add(-time.Hour))
			ticket, res, err := p.Ticket(t.Context())
			if err != nil || res.Status != http.StatusOK || res.Body != "success" {
				t.Fatalf("push: %+v %v", res, err)
			}
			oldCreated, _ := srv.TicketCreated(old)
			if res, err := p.Send(t.Context(), wechattest.TicketMessage(wechattest.ComponentAppID, old, oldCreated)); err != nil || res.Status != http.StatusOK {
				t.Fatalf("replayed older ticket: %+v %v", res, err)
			}
			if d, _ := describeOK(t, tr); d["ok"] != true {
				t.Fatalf("after the push: %v", d)
			}
			if srv.LastMintTicket() != ticket {
				t.Error("the mint did not use the newest pushed ticket")
			}

			// A redelivered authorized: 200 twice, one code exchange.
			const appid = "wxpushedauthz0001"
			code := srv.Authorize(appid)
			req, err := p.Request(t.Context(), wechattest.AuthorizedMessage(authevent.InfoAuthorized, wechattest.ComponentAppID, appid, code, time.Now(), time.Now().Add(time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(req.Body)
			for i := range 2 {
				r2, _ := http.NewRequest(http.MethodPost, req.URL.String(), bytes.NewReader(raw))
				resp, err := tr.RoundTrip(r2)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("delivery %d: %v %v", i, resp, err)
				}
			}
			if n := srv.Calls(wechat.QueryAuthPath); n != 1 {
				t.Errorf("the code was exchanged %d times, want once", n)
			}

			// Another instance of the function on the same store finds the
			// token minted from the pushed ticket: no mint.
			mints := srv.Mints("component")
			tr2, out2 := pl.start(t, pushProcessEnv(srv, storeURL))
			if d, _ := describeOK(t, tr2); d["ok"] != true || srv.Mints("component") != mints {
				t.Errorf("a second instance: %v, component mints %d → %d", d, mints, srv.Mints("component"))
			}
			if strings.Contains(out2.String(), ticket) {
				t.Errorf("the second instance's output holds the ticket")
			}

			// /envs still needs the key.
			r3, _ := http.NewRequest(http.MethodGet, "https://fn.example/envs", nil)
			if resp, _ := tr.RoundTrip(r3); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /envs without the key: %d, want 401", resp.StatusCode)
			}
			for _, secret := range []string{ticket, old, wechattest.PushToken, wechattest.PushEncodingAESKey, pushAPIKey, wechattest.ComponentAppSecret} {
				if strings.Contains(out.String(), secret) || strings.Contains(tr.answers.String(), secret) {
					t.Errorf("the process output or an answer holds a secret")
				}
			}
		})
	}
}
