package push

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

func TestOutOfTime(t *testing.T) {
	t.Parallel()
	now := testNow()
	h := &Handler{Now: func() time.Time { return now }}
	stamp := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	ticket := func(d time.Duration) *authevent.Message {
		return &authevent.Message{InfoType: authevent.InfoVerifyTicket, CreateTime: now.Add(d).Unix()}
	}
	unauthorized := &authevent.Message{InfoType: authevent.InfoUnauthorized, CreateTime: now.Add(-25 * time.Hour).Unix()}
	cases := []struct {
		name      string
		timestamp string
		msg       *authevent.Message
		want      string
	}{
		{"now", stamp(0), ticket(0), ""},
		{"an hour ago", stamp(-time.Hour), ticket(-time.Hour), ""},
		{"an hour ahead", stamp(time.Hour), ticket(0), ""},
		{"61 minutes ago", stamp(-61 * time.Minute), ticket(0), OutcomeStaleTimestamp},
		{"61 minutes ahead", stamp(61 * time.Minute), ticket(0), OutcomeStaleTimestamp},
		{"a replay a day later", stamp(-25 * time.Hour), unauthorized, OutcomeStaleTimestamp},
		{"no timestamp", "", ticket(0), OutcomeStaleTimestamp},
		{"not a number", "12:00", ticket(0), OutcomeStaleTimestamp},
		{"ticket 5 minutes ahead", stamp(0), ticket(5 * time.Minute), ""},
		{"ticket 6 minutes ahead", stamp(0), ticket(6 * time.Minute), OutcomeFutureTicket},
		{"ticket ten years ahead", stamp(0), ticket(10 * 365 * 24 * time.Hour), OutcomeFutureTicket},
		{"an old ticket is not refused here", stamp(0), ticket(-13 * time.Hour), ""},
		{"CreateTime ahead on an unauthorized", stamp(0), &authevent.Message{InfoType: authevent.InfoUnauthorized, CreateTime: now.Add(time.Hour).Unix()}, ""},
	}
	for _, tc := range cases {
		if got := h.outOfTime(tc.timestamp, tc.msg); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		code int
		ok   bool
	}{
		{"expired code", &wechat.Error{Kind: wechat.KindUpstream, Op: wechat.OpQueryAuth, ErrCode: 61010}, 61010, true},
		{"invalid request", &wechat.Error{Kind: wechat.KindInvalidRequest, Op: wechat.OpQueryAuth, ErrCode: 40097}, 40097, true},
		{"WeChat busy", &wechat.Error{Kind: wechat.KindUpstream, Op: wechat.OpQueryAuth, ErrCode: -1, Retryable: true}, 0, false},
		{"component token rejected", &wechat.Error{Kind: wechat.KindAuth, Op: wechat.OpQueryAuth, ErrCode: 40001}, 0, false},
		{"stale ticket", &wechat.Error{Kind: wechat.KindAuth, Op: "component_token", ErrCode: 61005}, 0, false},
		{"rate limited", &wechat.Error{Kind: wechat.KindRateLimit, Op: wechat.OpQueryAuth, ErrCode: 45009}, 0, false},
		{"network", &wechat.Error{Kind: wechat.KindNetwork, Op: wechat.OpQueryAuth, Retryable: true}, 0, false},
		{"store", errors.New("store: unavailable"), 0, false},
	}
	for _, tc := range cases {
		code, ok := permanent(tc.err)
		if code != tc.code || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, code, ok, tc.code, tc.ok)
		}
	}
}
