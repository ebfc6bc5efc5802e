package notify_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

func TestDingTalkSignVector(t *testing.T) {
	t.Parallel()
	// Computed independently with Python's hmac, hashlib and base64.
	const secret = "SECtest-secret-0123456789"
	if got, want := notify.DingTalkSign(secret, 1700000000000), "loAs986iXlZUJyoAu2REiC16DMGrtdERSegy7jQ3Qtg="; got != want {
		t.Errorf("DingTalkSign = %q, want %q", got, want)
	}
	if got, want := notify.FeishuSign(secret, 1700000000), "YpFWoLBL9zhdyzOSVXoMHmiIUDaTauXPddUO9KPhSVI="; got != want {
		t.Errorf("FeishuSign = %q, want %q", got, want)
	}
}

func report() notify.Report {
	return notify.Report{
		Platform: "local", Function: "local",
		Changes: []alertstate.Change{
			failureChange("wxB", 61023, alertstate.ChangeNew),
			alertChange("wxA", "prod-7c21be", "UNAVAILABLE", alertstate.ChangeNew),
		},
	}
}

func parseOne(t *testing.T, u string, s notify.Secrets) notify.Channel {
	t.Helper()
	chans, err := notify.Parse(u, s)
	if err != nil || len(chans) != 1 {
		t.Fatalf("Parse: %v (%d channels)", err, len(chans))
	}
	return chans[0]
}

func TestSend(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{DingTalkSecret: dingSecret, FeishuSecret: fsSecret})
	t.Cleanup(srv.Close)
	tests := []struct {
		name      string
		url       string
		token     string
		secrets   notify.Secrets
		answer    notifytest.Answer
		wantOK    bool
		wantError string
		wantSent  bool // the robot accepted it
	}{
		{name: "wecom", url: srv.WeComURL(weComKey + "1"), token: weComKey + "1", wantOK: true, wantSent: true},
		{name: "dingtalk signed", url: srv.DingTalkURL(dingToken + "1"), token: dingToken + "1", secrets: notify.Secrets{DingTalk: dingSecret}, wantOK: true, wantSent: true},
		{name: "feishu signed", url: srv.FeishuURL(feishuToken + "1"), token: feishuToken + "1", secrets: notify.Secrets{Feishu: fsSecret}, wantOK: true, wantSent: true},
		{name: "dingtalk wrong secret", url: srv.DingTalkURL(dingToken + "2"), token: dingToken + "2", secrets: notify.Secrets{DingTalk: dingSecret + "x"}, wantError: "robot answered errcode 310000: sign not match"},
		{name: "dingtalk unsigned", url: srv.DingTalkURL(dingToken + "3"), token: dingToken + "3", wantError: "errcode 310000"},
		{name: "feishu wrong secret", url: srv.FeishuURL(feishuToken + "2"), token: feishuToken + "2", secrets: notify.Secrets{Feishu: "wrong-" + fsSecret}, wantError: "robot answered code 19021"},
		{name: "wecom errcode", url: srv.WeComURL(weComKey + "2"), token: weComKey + "2", answer: notifytest.Answer{ErrCode: 45009, ErrMsg: "api freq out of limit, key " + weComKey + "2"}, wantError: "robot answered errcode 45009: api freq out of limit"},
		{name: "http 500", url: srv.WeComURL(weComKey + "3"), token: weComKey + "3", answer: notifytest.Answer{HTTPStatus: 500}, wantError: "HTTP 500"},
		{name: "redirect not followed", url: srv.DingTalkURL(dingToken + "4"), token: dingToken + "4", secrets: notify.Secrets{DingTalk: dingSecret}, answer: notifytest.Answer{HTTPStatus: 307}, wantError: "HTTP 307 (redirects are not followed)"},
		{name: "not JSON", url: srv.FeishuURL(feishuToken + "3"), token: feishuToken + "3", secrets: notify.Secrets{Feishu: fsSecret}, answer: notifytest.Answer{Body: "<html>"}, wantError: "answer is not JSON"},
		{name: "no status code", url: srv.WeComURL(weComKey + "4"), token: weComKey + "4", answer: notifytest.Answer{Body: `{"code":0}`}, wantError: "answer has no status code"},
		{name: "feishu old StatusCode", url: srv.FeishuURL(feishuToken + "4"), token: feishuToken + "4", secrets: notify.Secrets{Feishu: fsSecret}, answer: notifytest.Answer{Body: `{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`}, wantOK: true},
		{name: "feishu old StatusCode error", url: srv.FeishuURL(feishuToken + "5"), token: feishuToken + "5", secrets: notify.Secrets{Feishu: fsSecret}, answer: notifytest.Answer{Body: `{"StatusCode":19001,"StatusMessage":"param invalid"}`}, wantError: "StatusCode 19001: param invalid"},
		{name: "answer too large", url: srv.WeComURL(weComKey + "5"), token: weComKey + "5", answer: notifytest.Answer{Body: `{"errcode":0,"errmsg":"` + strings.Repeat("x", 70<<10) + `"}`}, wantError: "answer over 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch := parseOne(t, tt.url, tt.secrets)
			srv.SetAnswer(tt.token, tt.answer)
			out := notify.Send(t.Context(), nil, ch, notify.Render(ch.Kind, report()))
			if out.OK != tt.wantOK || (out.Status == notify.StatusSent) != tt.wantOK {
				t.Errorf("Send = %+v, want OK %v", out, tt.wantOK)
			}
			if !strings.Contains(out.Error, tt.wantError) || (tt.wantError == "") != (out.Error == "") {
				t.Errorf("Send error = %q, want %q", out.Error, tt.wantError)
			}
			if out.Channel != ch.Name() {
				t.Errorf("Channel = %q, want %q", out.Channel, ch.Name())
			}
			assertNoSecret(t, "outcome", fmt.Sprintf("%+v", out))
			got := srv.ReceivedBy(tt.token)
			if len(got) != 1 {
				t.Fatalf("robot received %d messages, want 1", len(got))
			}
			if got[0].Accepted != tt.wantSent {
				t.Errorf("robot accepted = %v, want %v", got[0].Accepted, tt.wantSent)
			}
			if !strings.Contains(got[0].Text, "FAILING") || !strings.Contains(got[0].Text, "prod-7c21be") {
				t.Errorf("robot received %q, want the failure and the alert", got[0].Text)
			}
			if got[0].Signed != (ch.Signed()) {
				t.Errorf("message signed = %v, want %v", got[0].Signed, ch.Signed())
			}
		})
	}
}

// TestSendTransportErrors checks that network errors, whose *url.Error text
// carries the whole URL, reach the outcome without the key.
func TestSendTransportErrors(t *testing.T) {
	t.Parallel()
	// A port that refuses connections: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-block:
		}
	}))
	t.Cleanup(func() { close(block); slow.Close() })

	tests := []struct {
		name    string
		url     string
		client  *http.Client
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		wantErr string
	}{
		{name: "refused", url: "http://" + refused + "/cgi-bin/webhook/send?key=" + weComKey, wantErr: "connection refused"},
		{name: "client timeout", url: slow.URL + "/robot/send?access_token=" + dingToken, client: &http.Client{Timeout: 50 * time.Millisecond}, wantErr: "post: timeout"},
		{name: "context deadline", url: slow.URL + "/open-apis/bot/v2/hook/" + feishuToken, ctx: func(c context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(c, 50*time.Millisecond)
		}, wantErr: "post: context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch := parseOne(t, tt.url, notify.Secrets{DingTalk: dingSecret, Feishu: fsSecret})
			ctx, cancel := context.WithCancel(t.Context())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx(t.Context())
			}
			defer cancel()
			out := notify.Send(ctx, tt.client, ch, notify.Render(ch.Kind, report()))
			if out.OK || out.Status != notify.StatusFailed || !strings.Contains(out.Error, tt.wantErr) {
				t.Errorf("Send = %+v, want failed with %q", out, tt.wantErr)
			}
			assertNoSecret(t, "outcome", fmt.Sprintf("%+v", out))
		})
	}
}

func TestNotifierRateLimit(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{FeishuSecret: fsSecret})
	t.Cleanup(srv.Close)
	tests := []struct {
		name      string
		url, tok  string
		instances int
		sends     int
		wantSent  int
	}{
		{name: "wecom 20 a minute", url: srv.WeComURL(weComKey + "rl"), tok: weComKey + "rl", instances: 1, sends: 25, wantSent: 20},
		{name: "dingtalk 20 a minute across 4 instances", url: srv.DingTalkURL(dingToken + "rl"), tok: dingToken + "rl", instances: 4, sends: 8, wantSent: 20},
		{name: "feishu 5 a second", url: srv.FeishuURL(feishuToken + "rl"), tok: feishuToken + "rl", instances: 3, sends: 4, wantSent: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The store and the notifiers share one clock.
			at := time.Date(2026, 11, 22, 8, 0, 30, 0, time.UTC)
			var clock atomic.Int64
			clock.Store(at.UnixNano())
			mem := store.NewMemory()
			mem.Now = func() time.Time { return time.Unix(0, clock.Load()) }
			st := &readTogether{Memory: mem, n: tt.instances, open: make(chan struct{})}
			ch := parseOne(t, tt.url, notify.Secrets{Feishu: fsSecret})
			var sent, limited atomic.Int64
			var wg sync.WaitGroup
			for range tt.instances {
				n := &notify.Notifier{Channels: []notify.Channel{ch}, Store: st, Prefix: "wxcloudenv:", Now: mem.Now}
				wg.Go(func() {
					for range tt.sends {
						for _, o := range n.Notify(t.Context(), report()) {
							switch o.Status {
							case notify.StatusSent:
								sent.Add(1)
							case notify.StatusRateLimited:
								limited.Add(1)
								if o.OK {
									t.Errorf("rate-limited outcome with OK: %+v", o)
								}
							default:
								t.Errorf("unexpected outcome %+v", o)
							}
						}
					}
				})
			}
			wg.Wait()
			if got := sent.Load(); got != int64(tt.wantSent) {
				t.Errorf("%d sent, want %d", got, tt.wantSent)
			}
			if got, want := limited.Load(), int64(tt.instances*tt.sends-tt.wantSent); got != want {
				t.Errorf("%d rate limited, want %d", got, want)
			}
			if got := len(srv.ReceivedBy(tt.tok)); got != tt.wantSent {
				t.Errorf("robot received %d, want %d", got, tt.wantSent)
			}
			// The next window sends again.
			clock.Store(at.Add(time.Minute).UnixNano())
			n := &notify.Notifier{Channels: []notify.Channel{ch}, Store: st, Prefix: "wxcloudenv:", Now: mem.Now}
			if out := n.Notify(t.Context(), report()); len(out) != 1 || out[0].Status != notify.StatusSent {
				t.Errorf("next minute: %+v, want sent", out)
			}
			keys, err := st.Keys(t.Context(), "wxcloudenv:notify:rate:")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				assertNoSecret(t, "rate key", k)
			}
		})
	}
}

// readTogether is a real Memory store whose first n Gets wait for each
// other, so that the instances all read the counter before any writes it.
type readTogether struct {
	*store.Memory
	n       int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
}

func (r *readTogether) Get(ctx context.Context, key string) (store.Value, error) {
	v, err := r.Memory.Get(ctx, key)
	r.mu.Lock()
	r.arrived++
	if r.arrived == r.n {
		close(r.open)
	}
	r.mu.Unlock()
	select {
	case <-r.open:
	case <-ctx.Done():
		return store.Value{}, ctx.Err()
	}
	return v, err
}

// downStore is a real Memory store whose every call fails as an outage.
type downStore struct{ *store.Memory }

func (downStore) Get(context.Context, string) (store.Value, error) {
	return store.Value{}, fmt.Errorf("dial: %w", store.ErrUnavailable)
}

func TestNotifier(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{DingTalkSecret: dingSecret})
	t.Cleanup(srv.Close)
	chans, err := notify.Parse(strings.Join([]string{srv.WeComURL(weComKey + "n"), srv.DingTalkURL(dingToken + "n"), srv.FeishuURL(feishuToken + "n")}, ","), notify.Secrets{DingTalk: dingSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAnswer(feishuToken+"n", notifytest.Answer{HTTPStatus: 502})

	t.Run("empty report sends nothing", func(t *testing.T) {
		n := &notify.Notifier{Channels: chans, Store: store.NewMemory()}
		if out := n.Notify(t.Context(), notify.Report{Platform: "local"}); out != nil {
			t.Errorf("Notify(empty) = %+v, want nil", out)
		}
		if got := len(srv.Received()); got != 0 {
			t.Errorf("robots received %d messages, want 0", got)
		}
	})
	t.Run("one message per channel, failures reported", func(t *testing.T) {
		n := &notify.Notifier{Channels: chans, Store: downStore{store.NewMemory()}, Prefix: "p:"}
		out := n.Notify(t.Context(), report())
		want := []struct {
			status, err string
		}{
			{notify.StatusSent, "rate limit not checked"},
			{notify.StatusSent, "rate limit not checked"},
			{notify.StatusFailed, "HTTP 502; rate limit not checked"},
		}
		if len(out) != len(want) {
			t.Fatalf("%d outcomes, want %d", len(out), len(want))
		}
		for i, w := range want {
			if out[i].Status != w.status || !strings.Contains(out[i].Error, w.err) || out[i].Channel != chans[i].Name() {
				t.Errorf("outcome %d = %+v, want %s with %q", i, out[i], w.status, w.err)
			}
			assertNoSecret(t, "outcome", fmt.Sprintf("%+v", out[i]))
		}
		if got := len(srv.Received()); got != 3 {
			t.Errorf("robots received %d messages, want 3", got)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		out := notify.Skipped(chans, "alert state unavailable")
		for i, o := range out {
			if o.Status != notify.StatusSkipped || o.OK || o.Channel != chans[i].Name() {
				t.Errorf("Skipped[%d] = %+v", i, o)
			}
		}
	})
}

// TestNotifierScrubs: a secret the runtime's scrubber keeps never reaches
// a robot, even inside a change's message or ids.
func TestNotifierScrubs(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(srv.Close)
	chans, err := notify.Parse(srv.WeComURL(weComKey+"s"), notify.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "notify-kept-token-8c1f0e2d4b6a"
	sc := wechat.NewScrubber()
	sc.Keep(secret)
	n := &notify.Notifier{Channels: chans, Scrubber: sc}
	r := notify.Report{Platform: "local", Changes: []alertstate.Change{{Operation: "getenvinfo", Env: "e-" + secret,
		Resource: "operation", Kind: "auth", Message: "access_token " + secret + " rejected", Change: alertstate.ChangeNew}}}
	if out := n.Notify(t.Context(), r); len(out) != 1 || !out[0].OK {
		t.Fatalf("Notify = %+v", out)
	}
	got := srv.ReceivedBy(weComKey + "s")
	if len(got) != 1 || strings.Contains(string(got[0].Body), secret) || !strings.Contains(got[0].Text, wechat.Redacted) {
		t.Fatalf("the robot received %+v", got)
	}
}
