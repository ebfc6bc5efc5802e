package invoke_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

const pushURL = "https://fn.lambda-url.example/wechat/authorization-events"

// pushEnv receives pushes and mints the component token from the pushed
// ticket alone: WECHAT_COMPONENT_VERIFY_TICKET is unset.
func pushEnv(srv *wechattest.Server) env {
	e := mintEnv(srv)
	delete(e, "WECHAT_COMPONENT_VERIFY_TICKET")
	e["WECHAT_COMPONENT_TOKEN"] = wechattest.PushToken
	e["WECHAT_COMPONENT_ENCODING_AES_KEY"] = wechattest.PushEncodingAESKey
	e["WXCLOUDENV_API_KEY"] = "push-test-api-key-0042"
	return e
}

func pusher(t *testing.T, srv *wechattest.Server, hs *harness, token string) *wechattest.Pusher {
	t.Helper()
	p, err := srv.Pusher(pushURL, token, wechattest.PushEncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	p.Client = &http.Client{Transport: functionURL{hs.h}}
	return p
}

// describe runs describecloudbaserunenvs with the API key and returns its
// result object.
func describe(t *testing.T, hs *harness) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://fn.lambda-url.example/envs/describecloudbaserunenvs", nil)
	req.Header.Set("X-Api-Key", "push-test-api-key-0042")
	resp, err := functionURL{hs.h}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		t.Fatal(err)
	}
	return ev["results"].(map[string]any)["describecloudbaserunenvs"].(map[string]any)
}

// TestPushedTicketIsUsed: the function keeps the ticket WeChat pushes, and
// the next component mint uses it; an older ticket never replaces it.
func TestPushedTicketIsUsed(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.StrictTickets(true)
	hs := newHarness(t, srv, pushEnv(srv))
	if r := describe(t, hs); r["ok"] != false {
		t.Fatalf("minted without any ticket: %v", r)
	}
	p := pusher(t, srv, hs, wechattest.PushToken)
	old := srv.NewTicketAt(time.Now().Add(-time.Hour))
	ticket, res, err := p.Ticket(t.Context())
	if err != nil || res.Status != http.StatusOK || res.Body != "success" {
		t.Fatalf("push: %+v %v", res, err)
	}
	oldCreated, _ := srv.TicketCreated(old)
	if res, err := p.Send(t.Context(), wechattest.TicketMessage(wechattest.ComponentAppID, old, oldCreated)); err != nil || res.Status != http.StatusOK {
		t.Fatalf("replayed older ticket: %+v %v", res, err)
	}
	if r := describe(t, hs); r["ok"] != true {
		t.Fatalf("after the push: %v", r)
	}
	if srv.LastMintTicket() != ticket {
		t.Error("the mint did not use the newest pushed ticket")
	}
	for _, l := range hs.log.Lines(t) {
		if l["msg"] == "authorization event" && (l["info_type"] != "component_verify_ticket" || l["outcome"] == nil) {
			t.Errorf("push log line = %v", l)
		}
	}
	for _, secret := range []string{ticket, old, wechattest.PushToken, wechattest.PushEncodingAESKey} {
		if strings.Contains(hs.log.String(), secret) {
			t.Errorf("the log holds a secret")
		}
	}
}

// TestPushRejections: each bad push is answered as the contract says and
// changes nothing.
func TestPushRejections(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.StrictTickets(true)
	tests := []struct {
		name   string
		send   func(t *testing.T, hs *harness) (int, string)
		status int
	}{
		{"bad signature", func(t *testing.T, hs *harness) (int, string) {
			res, err := pusher(t, srv, hs, "not-the-token").Send(t.Context(), wechattest.TicketMessage(wechattest.ComponentAppID, srv.NewTicket(), time.Now()))
			return res.Status, errText(err)
		}, http.StatusUnauthorized},
		{"no signature", func(t *testing.T, hs *harness) (int, string) {
			req, _ := http.NewRequest(http.MethodPost, pushURL, strings.NewReader("<xml><Encrypt>x</Encrypt></xml>"))
			resp, err := functionURL{hs.h}.RoundTrip(req)
			return resp.StatusCode, errText(err)
		}, http.StatusUnauthorized},
		{"wrong appid", func(t *testing.T, hs *harness) (int, string) {
			c, _ := authevent.NewCrypter(wechattest.PushEncodingAESKey, "wxanotherappid00")
			body, sig, _ := c.Seal(wechattest.PushToken, "1700000000", "42", wechattest.TicketMessage("wxanotherappid00", srv.NewTicket(), time.Now()))
			return post(t, hs, "timestamp=1700000000&nonce=42&encrypt_type=aes&msg_signature="+sig, string(body))
		}, http.StatusBadRequest},
		{"does not decrypt", func(t *testing.T, hs *harness) (int, string) {
			enc := "bm90IGEgY2lwaGVydGV4dCBhdCBhbGwsIGp1c3QgYnl0ZXMh"
			sig := authevent.Signature(wechattest.PushToken, "1700000000", "42", enc)
			return post(t, hs, "timestamp=1700000000&nonce=42&encrypt_type=aes&msg_signature="+sig, "<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>")
		}, http.StatusBadRequest},
		{"GET", func(t *testing.T, hs *harness) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, pushURL, nil)
			resp, err := functionURL{hs.h}.RoundTrip(req)
			return resp.StatusCode, errText(err)
		}, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, srv, pushEnv(srv))
			status, err := tt.send(t, hs)
			if status != tt.status || err != "" {
				t.Fatalf("status %d (%s), want %d", status, err, tt.status)
			}
			if r := describe(t, hs); r["ok"] != false {
				t.Errorf("a rejected push stored a ticket: %v", r)
			}
		})
	}
}

// TestPushAuthorizations: authorized joins the fleet (a redelivery changes
// nothing more), unauthorized leaves it; the push route needs no API key
// while the others still do.
func TestPushAuthorizations(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	e := pushEnv(srv)
	e["WECHAT_COMPONENT_VERIFY_TICKET"] = wechattest.VerifyTicket
	hs := newHarness(t, srv, e)
	p := pusher(t, srv, hs, wechattest.PushToken)
	const appid = "wxpushedauthz0001"
	code := srv.Authorize(appid)
	msg := wechattest.AuthorizedMessage(authevent.InfoAuthorized, wechattest.ComponentAppID, appid, code, time.Now(), time.Now().Add(time.Hour))
	req, err := p.Request(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	for i := range 2 { // WeChat redelivers the very same request
		r2, _ := http.NewRequest(http.MethodPost, req.URL.String(), strings.NewReader(string(body)))
		resp, err := functionURL{hs.h}.RoundTrip(r2)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: %v %v", i, resp, err)
		}
	}
	if n := srv.Calls(wechat.QueryAuthPath); n != 1 {
		t.Errorf("the code was exchanged %d times, want once", n)
	}
	// The authorizer is in the fleet: a fleet run covers it with its own
	// token, minted from the stored refresh token.
	out, err := hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":"all"}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Results map[string]struct {
			Total       int                       `json:"total"`
			Authorizers map[string]map[string]any `json:"authorizers"`
		} `json:"results"`
	}
	json.Unmarshal(out, &ev)
	if a := ev.Results["getenvinfo"].Authorizers[appid]; a == nil || a["ok"] != true {
		t.Errorf("the pushed authorizer is not in the fleet run: %s", out)
	}
	if res, err := p.Unauthorized(t.Context(), appid); err != nil || res.Status != http.StatusOK {
		t.Fatalf("unauthorized: %+v %v", res, err)
	}
	out, _ = hs.invoke(t, []byte(`{"operations":["getenvinfo"],"authorizers":"all"}`), 10*time.Second)
	ev.Results = nil
	json.Unmarshal(out, &ev)
	if _, still := ev.Results["getenvinfo"].Authorizers[appid]; still {
		t.Errorf("the unauthorized authorizer is still in the fleet: %s", out)
	}
	// Other routes still need the key.
	r3, _ := http.NewRequest(http.MethodGet, "https://fn.lambda-url.example/envs", nil)
	if resp, _ := (functionURL{hs.h}).RoundTrip(r3); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /envs without the key: %d", resp.StatusCode)
	}
}

func post(t *testing.T, hs *harness, query, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, pushURL+"?"+query, strings.NewReader(body))
	resp, err := functionURL{hs.h}.RoundTrip(req)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
