package wechattest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func newClient(t testing.TB, srv *wechattest.Server, opts ...wechat.Option) *wechat.Client {
	t.Helper()
	base := []wechat.Option{wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(time.Millisecond, 5*time.Millisecond), wechat.WithRetries(0)}
	c, err := wechat.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func errcode(err error) int {
	var we *wechat.Error
	if errors.As(err, &we) {
		return we.ErrCode
	}
	return 0
}

func TestTickets(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	ctx := context.Background()
	mint := func(ticket string) error {
		_, err := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, ticket).Token(ctx)
		return err
	}
	// The static ticket works until StrictTickets.
	if err := mint(wechattest.VerifyTicket); err != nil {
		t.Fatal(err)
	}
	srv.StrictTickets(true)
	if err := mint(wechattest.VerifyTicket); errcode(err) != 61006 {
		t.Fatalf("static ticket when strict: %v, want 61006", err)
	}
	if err := mint("ticket@@@never-issued"); errcode(err) != 61006 {
		t.Fatalf("unknown ticket: %v, want 61006", err)
	}
	cur := srv.Ticket()
	old := srv.NewTicketAt(time.Now().Add(-wechattest.TicketTTL - time.Minute))
	if err := mint(old); errcode(err) != 61005 {
		t.Fatalf("ticket older than 12 h: %v, want 61005", err)
	}
	if srv.Ticket() != cur {
		t.Fatal("an older ticket replaced the current one")
	}
	if cur != srv.Ticket() {
		t.Fatal("Ticket changes without NewTicket")
	}
	if err := mint(cur); err != nil {
		t.Fatal(err)
	}
	if srv.LastMintTicket() != cur {
		t.Fatal("LastMintTicket is not the ticket just used")
	}
	next := srv.NewTicket()
	if next == cur || srv.Ticket() != next {
		t.Fatal("NewTicket does not make a new current ticket")
	}
	// An earlier ticket stays valid within its 12 hours.
	if err := mint(cur); err != nil {
		t.Fatalf("the previous ticket: %v", err)
	}
	if got := srv.Mints("component"); got != 3 {
		t.Fatalf("component mints = %d, want 3", got)
	}
}

// receiver is an authorization event URL that opens every push with
// authevent and records the messages.
type receiver struct {
	mu   sync.Mutex
	msgs []*authevent.Message
	got  chan struct{}
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{got: make(chan struct{}, 16)}
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		if q.Get("encrypt_type") != "aes" || q.Get("signature") == "" || r.URL.Path != "/wechat/authorization-events" {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		m, err := authevent.Open(wechattest.PushToken, wechattest.PushEncodingAESKey, wechattest.ComponentAppID,
			q.Get("timestamp"), q.Get("nonce"), q.Get("msg_signature"), body)
		if errors.Is(err, authevent.ErrSignature) {
			http.Error(w, "signature", http.StatusUnauthorized)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.msgs = append(rc.msgs, m)
		rc.mu.Unlock()
		io.WriteString(w, "success")
		rc.got <- struct{}{}
	}))
	t.Cleanup(h.Close)
	return rc, h.URL + "/wechat/authorization-events"
}

func (rc *receiver) last() *authevent.Message {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.msgs[len(rc.msgs)-1]
}

func TestPusher(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	ctx := context.Background()
	rc, url := newReceiver(t)
	p, err := srv.Pusher(url, wechattest.PushToken, wechattest.PushEncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}

	ticket, res, err := p.Ticket(ctx)
	if err != nil || res.Status != 200 || res.Body != "success" {
		t.Fatalf("ticket push: %+v, %v", res, err)
	}
	m := rc.last()
	created, _ := srv.TicketCreated(ticket)
	if m.InfoType != authevent.InfoVerifyTicket || m.ComponentVerifyTicket != ticket || m.CreateTime != created.Unix() || m.AppID != wechattest.ComponentAppID {
		t.Fatalf("pushed %v", m)
	}

	const appID = "wxpushed00000001"
	code, res, err := p.Authorized(ctx, appID)
	if err != nil || res.Status != 200 {
		t.Fatalf("authorized push: %+v, %v", res, err)
	}
	m = rc.last()
	if m.InfoType != authevent.InfoAuthorized || m.AuthorizerAppID != appID || m.AuthorizationCode != code || m.AuthorizationCodeExpiredTime <= m.CreateTime {
		t.Fatalf("pushed %v", m)
	}
	comp := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, ticket)
	a, err := c.QueryAuth(ctx, comp, wechattest.ComponentAppID, m.AuthorizationCode)
	if err != nil || a.AuthorizerAppID != appID {
		t.Fatalf("exchanging the pushed code: %+v, %v", a, err)
	}
	if _, _, err := p.UpdateAuthorized(ctx, appID); err != nil || rc.last().InfoType != authevent.InfoUpdateAuthorized {
		t.Fatalf("updateauthorized push: %v", err)
	}

	res, err = p.Unauthorized(ctx, appID)
	if err != nil || res.Status != 200 || rc.last().InfoType != authevent.InfoUnauthorized || rc.last().AuthorizerAppID != appID {
		t.Fatalf("unauthorized push: %+v, %v", res, err)
	}
	for _, id := range srv.Authorizers() {
		if id == appID {
			t.Fatal("an unauthorized authorizer is still listed")
		}
	}
	if _, _, err := c.GetEnvInfo(ctx, wechat.StaticTokenSource(a.AccessToken.Value.Reveal()), ""); errcode(err) != 40001 {
		t.Fatalf("the token of an unauthorized authorizer: %v, want 40001", err)
	}
	ts := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, appID, a.RefreshToken.Reveal())
	if _, err := ts.Token(ctx); errcode(err) != 40013 {
		t.Fatalf("the refresh token of an unauthorized authorizer: %v, want 40013", err)
	}

	// A pusher with another token is refused by the receiver.
	bad, err := srv.Pusher(url, "another-token", wechattest.PushEncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := bad.Ticket(ctx); err != nil || res.Status != http.StatusUnauthorized {
		t.Fatalf("push with the wrong token: %+v, %v", res, err)
	}
	if _, err := srv.Pusher(url, wechattest.PushToken, "short"); !errors.Is(err, authevent.ErrKey) {
		t.Fatalf("pusher with a bad key: %v", err)
	}
	var zero wechattest.Pusher
	if _, _, err := zero.Ticket(ctx); err == nil {
		t.Fatal("a zero Pusher pushed")
	}
	if _, err := zero.Send(ctx, []byte("<xml/>")); err == nil {
		t.Fatal("a zero Pusher sent")
	}
}

func TestStartPushTicketPushes(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	rc, url := newReceiver(t)
	p, err := srv.Pusher(url, wechattest.PushToken, wechattest.PushEncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.PushTicketsTo(p)
	if _, err := c.StartPushTicket(context.Background(), wechattest.ComponentAppID, wechattest.ComponentAppSecret); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rc.got:
	case <-time.After(30 * time.Second):
		t.Fatalf("no ticket pushed; results %+v", srv.PushResults())
	}
	if m := rc.last(); m.ComponentVerifyTicket != srv.Ticket() {
		t.Fatalf("pushed %v, not the current ticket", m)
	}
}

func TestFleetCounters(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	ctx := context.Background()
	comp := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
	ids := srv.SetFleet(3)
	sources := map[string]wechat.TokenSource{}
	for _, id := range ids {
		sources[id] = wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, id, srv.RefreshToken(id))
	}
	for run := range 2 {
		for _, id := range ids {
			if _, _, err := c.GetEnvInfo(ctx, sources[id], ""); err != nil {
				t.Fatalf("run %d, %s: %v", run, id, err)
			}
		}
	}
	for _, id := range ids {
		if srv.AuthorizerMints(id) != 1 || srv.AuthorizerCalls(id) != 2 {
			t.Fatalf("%s: %d mints, %d calls; want 1 and 2", id, srv.AuthorizerMints(id), srv.AuthorizerCalls(id))
		}
	}
	if srv.Mints("authorizer") != 3 || srv.Mints("component") != 1 || srv.Calls(wechat.AuthorizerTokenPath) != 3 {
		t.Fatalf("mints: authorizer %d, component %d", srv.Mints("authorizer"), srv.Mints("component"))
	}
	// The default authorizer keeps SetAnswer's answer.
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":0,"errmsg":"ok","info_list":[]}`))
	def := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, wechattest.AuthorizerAppID, wechattest.AuthorizerRefreshToken)
	if l, _, err := c.GetEnvInfo(ctx, def, ""); err != nil || len(l.InfoList) != 0 {
		t.Fatalf("default authorizer: %+v, %v", l, err)
	}
	// SetFleet shrinks the generated fleet.
	srv.SetFleet(1)
	if got := srv.Authorizers(); len(got) != 2 || got[1] != ids[0] {
		t.Fatalf("after SetFleet(1): %v", got)
	}
	srv.Reset()
	if srv.Mints("authorizer") != 0 || srv.AuthorizerMints(ids[0]) != 0 {
		t.Fatal("Reset keeps the mint counters")
	}
	// SetLatency still delays the fleet's paths: a short client timeout
	// meets it.
	srv.SetLatency(wechat.GetEnvInfoPath, time.Second)
	short := newClient(t, srv, wechat.WithTimeout(50*time.Millisecond))
	if _, _, err := short.GetEnvInfo(ctx, sources[ids[0]], ""); !errors.Is(err, wechat.ErrTimeout) {
		t.Fatalf("with SetLatency: %v, want a timeout", err)
	}
	srv.SetLatency(wechat.GetEnvInfoPath, 0)
	srv.SetAuthorizer(ids[0], wechattest.Authorizer{Latency: time.Second})
	if _, _, err := short.GetEnvInfo(ctx, sources[ids[0]], ""); !errors.Is(err, wechat.ErrTimeout) {
		t.Fatalf("with the authorizer's latency: %v, want a timeout", err)
	}
}

// A fleet of 10,000 costs little memory, pages whole, and every authorizer
// answers on demand.
func TestFleetTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("large fleet")
	}
	// Not parallel: the heap is measured while no other test allocates.
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ids := srv.SetFleet(10000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > 16<<20 {
		t.Fatalf("a fleet of 10,000 holds %d MB", grew>>20)
	}
	t.Logf("a fleet of 10,000 holds %.1f MB", float64(grew)/(1<<20))
	c := newClient(t, srv)
	ctx := context.Background()
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	seen := 0
	for off := 0; ; off += 500 {
		page, err := c.GetAuthorizerList(ctx, comp, wechattest.ComponentAppID, off, 500)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.List)
		if page.TotalCount != 10001 {
			t.Fatalf("total_count %d", page.TotalCount)
		}
		if len(page.List) < 500 {
			break
		}
	}
	if seen != 10001 {
		t.Fatalf("paged %d", seen)
	}
	for _, id := range []string{ids[0], ids[4999], ids[9999]} {
		ts := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, id, srv.RefreshToken(id))
		l, _, err := c.GetEnvInfo(ctx, ts, "")
		if err != nil || len(l.InfoList) != wechattest.DefaultEnvs || !strings.HasSuffix(l.InfoList[0].Env, strings.ToLower(id[len(id)-6:])) {
			t.Fatalf("%s: %+v, %v", id, l, err)
		}
	}
}

func BenchmarkFleetEnvInfo(b *testing.B) {
	srv := wechattest.NewServer()
	b.Cleanup(srv.Close)
	ids := srv.SetFleet(10000)
	c := newClient(b, srv)
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	ts := make([]wechat.TokenSource, 64)
	for i := range ts {
		ts[i] = wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, ids[i*150], srv.RefreshToken(ids[i*150]))
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := c.GetEnvInfo(ctx, ts[i%len(ts)], ""); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// With RotateRefresh, every mint hands out a new refresh token and the old
// one stops working; wechat's authorizer source follows it.
func TestRotateRefresh(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	ctx := context.Background()
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	const appID = "wxrotate00000001"
	srv.SetAuthorizer(appID, wechattest.Authorizer{RotateRefresh: true})
	first := srv.RefreshToken(appID)
	ts := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, appID, first)
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := srv.RefreshToken(appID)
	if second == first {
		t.Fatal("the refresh token did not rotate")
	}
	stale := wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, appID, first)
	if _, err := stale.Token(ctx); errcode(err) != 61023 {
		t.Fatalf("the old refresh token: %v, want 61023", err)
	}
	ts.Invalidate(tok)
	if _, err := ts.Token(ctx); err != nil {
		t.Fatalf("the source that kept the new refresh token: %v", err)
	}
	if srv.RefreshToken(appID) == second || srv.AuthorizerMints(appID) != 2 {
		t.Fatalf("after two mints: rotated %v, %d mints", srv.RefreshToken(appID) != second, srv.AuthorizerMints(appID))
	}
}
