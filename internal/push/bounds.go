package push

import (
	"errors"
	"strconv"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Bounds in time of a push (docs/contract.md#pushes-are-bounded-in-time).
const (
	// MaxTimestampSkew is how far a push's timestamp may be from the
	// clock, either way: a signed push replayed later is refused.
	MaxTimestampSkew = time.Hour
	// MaxTicketAhead is how far ahead of the clock a verify ticket's
	// CreateTime may be: one from the future would block every real
	// ticket after it.
	MaxTicketAhead = 5 * time.Minute
)

// Outcomes of a push refused for its time, and the answers' bodies.
const (
	OutcomeStaleTimestamp = "timestamp_out_of_range"
	OutcomeFutureTicket   = "ticket_from_the_future"
)

var refusals = map[string]string{
	OutcomeStaleTimestamp: "the timestamp is more than 1 hour from the function's clock",
	OutcomeFutureTicket:   "the ticket's CreateTime is more than 5 minutes ahead of the function's clock",
}

// outOfTime returns the outcome of a push refused for its time, or "".
func (h *Handler) outOfTime(timestamp string, msg *authevent.Message) string {
	now := h.now()
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || absDuration(now.Sub(time.Unix(ts, 0))) > MaxTimestampSkew {
		return OutcomeStaleTimestamp
	}
	if msg.InfoType == authevent.InfoVerifyTicket && time.Unix(msg.CreateTime, 0).Sub(now) > MaxTicketAhead {
		return OutcomeFutureTicket
	}
	return ""
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// permanent reports whether err is WeChat refusing the authorization
// code itself (61010 expired or used, or any other errcode api_query_auth
// answers that no retry changes), and its errcode. A failure of the
// component token, a rate limit, the network or the store is not: WeChat
// should push again.
func permanent(err error) (int, bool) {
	var e *wechat.Error
	if !errors.As(err, &e) || e.Op != wechat.OpQueryAuth || e.ErrCode == 0 || e.Retryable {
		return 0, false
	}
	switch e.Kind {
	case wechat.KindAuth, wechat.KindRateLimit, wechat.KindTimeout, wechat.KindNetwork, wechat.KindStore:
		return 0, false
	}
	return e.ErrCode, true
}
