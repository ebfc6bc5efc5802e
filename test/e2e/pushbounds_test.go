package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// sealedPush posts msg signed with the given timestamp and answers the
// status.
func sealedPush(t *testing.T, tr httpTransport, ts time.Time, msg []byte) int {
	t.Helper()
	c, err := authevent.NewCrypter(wechattest.PushEncodingAESKey, wechattest.ComponentAppID)
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	body, sig, err := c.Seal(wechattest.PushToken, stamp, "7301", msg)
	if err != nil {
		t.Fatal(err)
	}
	return postRaw(t, tr, "timestamp="+stamp+"&nonce=7301&encrypt_type=aes&msg_signature="+url.QueryEscape(sig), string(body))
}

// authorizerOK runs getenvinfo for one named authorizer over HTTP and
// reports whether it succeeded.
func authorizerOK(t *testing.T, tr httpTransport, appid string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://fn.example/envs/getenvinfo?authorizers="+appid, nil)
	req.Header.Set("X-Api-Key", pushAPIKey)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Results map[string]struct {
			Authorizers map[string]struct {
				OK bool `json:"ok"`
			} `json:"authorizers"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		t.Fatal(err)
	}
	return ev.Results[wechat.OpGetEnvInfo].Authorizers[appid].OK
}

// TestPushesBoundedInTime: through the built binaries, a ticket from the
// future and pushes whose timestamp is more than an hour off are refused
// (400) and store nothing; minting continues with the real tickets; a
// signed unauthorized replayed a day later deletes nothing; an authorized
// whose code WeChat refuses for good (61010) is answered success and
// logged (docs/contract.md#pushes-are-bounded-in-time).
func TestPushesBoundedInTime(t *testing.T) {
	t.Parallel()
	for _, pl := range pushPlatforms() {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			srv := wechattest.NewServer()
			t.Cleanup(srv.Close)
			srv.StrictTickets(true)
			tr, out := pl.start(t, pushProcessEnv(srv, "file://"+filepath.Join(t.TempDir(), "state.db")))
			p, err := srv.Pusher(pushURL, wechattest.PushToken, wechattest.PushEncodingAESKey)
			if err != nil {
				t.Fatal(err)
			}
			p.Client = &http.Client{Transport: tr}
			now := time.Now()

			// A ticket ten years ahead, correctly signed: refused.
			future := now.AddDate(10, 0, 0)
			if s := sealedPush(t, tr, now, wechattest.TicketMessage(wechattest.ComponentAppID, srv.NewTicketAt(future), future)); s != http.StatusBadRequest {
				t.Fatalf("future ticket: %d, want 400", s)
			}
			if d, _ := describeOK(t, tr); d["ok"] != false {
				t.Fatalf("the future ticket was stored and minted with: %v", d)
			}
			// Timestamps more than an hour off, either way: refused.
			for _, off := range []time.Duration{-2 * time.Hour, 2 * time.Hour} {
				if s := sealedPush(t, tr, now.Add(off), wechattest.TicketMessage(wechattest.ComponentAppID, srv.NewTicket(), now)); s != http.StatusBadRequest {
					t.Errorf("timestamp %v off: %d, want 400", off, s)
				}
			}
			if d, _ := describeOK(t, tr); d["ok"] != false {
				t.Fatalf("a refused push stored its ticket: %v", d)
			}
			// Real tickets mint, and keep minting.
			first, res, err := p.Ticket(t.Context())
			if err != nil || res.Status != http.StatusOK {
				t.Fatalf("ticket push: %+v %v", res, err)
			}
			if d, _ := describeOK(t, tr); d["ok"] != true || srv.LastMintTicket() != first {
				t.Fatalf("after a real ticket: %v", d)
			}
			later := now.Add(time.Minute) // within the 5 minutes allowed ahead
			second := srv.NewTicketAt(later)
			if res, err := p.Send(t.Context(), wechattest.TicketMessage(wechattest.ComponentAppID, second, later)); err != nil || res.Status != http.StatusOK {
				t.Fatalf("second ticket push: %+v %v", res, err)
			}
			srv.RevokeTokens()
			if d, _ := describeOK(t, tr); d["ok"] != true || srv.LastMintTicket() != second {
				t.Fatalf("minting did not continue with the newest ticket: %v", d)
			}

			// An authorizer authorizes; a signed unauthorized for it,
			// replayed a day later, deletes nothing.
			const appid = "wxboundedtime01"
			if _, res, err := p.Authorized(t.Context(), appid); err != nil || res.Status != http.StatusOK {
				t.Fatalf("authorized: %+v %v", res, err)
			}
			if s := sealedPush(t, tr, now.Add(-25*time.Hour), wechattest.UnauthorizedMessage(wechattest.ComponentAppID, appid, now.Add(-25*time.Hour))); s != http.StatusBadRequest {
				t.Errorf("replayed unauthorized: %d, want 400", s)
			}
			mints := srv.Mints("authorizer")
			if !authorizerOK(t, tr, appid) || srv.Mints("authorizer") != mints {
				t.Errorf("after the replayed unauthorized: the stored token was lost (mints %d → %d)", mints, srv.Mints("authorizer"))
			}

			// An authorized whose code WeChat refuses for good: success,
			// logged, no retry loop.
			msg := wechattest.AuthorizedMessage(authevent.InfoAuthorized, wechattest.ComponentAppID, "wxexpiredcode01",
				"queryauthcode@@@wechattest-expired", now, now.Add(-time.Minute))
			if s := sealedPush(t, tr, now, msg); s != http.StatusOK {
				t.Errorf("authorized with an expired code: %d, want 200", s)
			}
			if !eventually(func() bool { return strings.Contains(out.String(), "permanently (errcode 61010)") }) {
				t.Errorf("the permanent failure is not logged:\n%s", out.String())
			}
			refusals := strings.Count(out.String(), "timestamp_out_of_range") + strings.Count(out.String(), "ticket_from_the_future")
			if refusals != 4 {
				t.Errorf("%d log lines name a refusal, want 4 (one per refused push)", refusals)
			}
			for _, secret := range []string{first, second, wechattest.PushToken, wechattest.PushEncodingAESKey, "queryauthcode@@@wechattest-expired"} {
				if strings.Contains(out.String(), secret) {
					t.Errorf("the process output holds a secret")
				}
			}
		})
	}
}

// eventually reports whether cond holds within 10 seconds: a log line may
// reach the process output after the answer.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
