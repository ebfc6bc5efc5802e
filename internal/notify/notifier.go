package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// A rate window: at most Max messages per Width.
type window struct {
	width time.Duration
	max   int
}

// limits are the robots' documented rates.
func limits(k Kind) []window {
	if k == Feishu {
		return []window{{time.Minute, 100}, {time.Second, 5}}
	}
	return []window{{time.Minute, 20}}
}

// maxCASAttempts bounds the retries of a contended rate counter.
const maxCASAttempts = 16

// Allow counts one message to ch in st at now, and reports whether it stays
// within the robot's rate (20 a minute for WeCom and DingTalk; 100 a minute
// and 5 a second for Feishu), across every instance sharing st. Counters
// live under prefix + "notify:rate:" with a hash of the robot's token (never
// the token) and expire a minute after their window.
func Allow(ctx context.Context, st store.Store, prefix string, ch Channel, now time.Time) (bool, error) {
	id := ch.ID()
	for _, w := range limits(ch.Kind) {
		start := now.Truncate(w.width)
		key := prefix + "notify:rate:" + string(ch.Kind) + ":" + id + ":" + w.width.String() + ":" + strconv.FormatInt(start.Unix(), 10)
		ok, err := count(ctx, st, key, w.max, start.Add(w.width+time.Minute))
		if err != nil || !ok {
			return ok, err
		}
	}
	return true, nil
}

// count adds one to the counter under key unless it already reached max.
func count(ctx context.Context, st store.Store, key string, max int, expires time.Time) (bool, error) {
	for range maxCASAttempts {
		var old []byte
		n := 0
		v, err := st.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return false, fmt.Errorf("notify: read rate counter: %w", err)
		default:
			old = v.Data
			if n, err = strconv.Atoi(string(v.Data)); err != nil {
				n = 0 // a corrupt counter restarts
			}
		}
		if n >= max {
			return false, nil
		}
		ok, err := st.CompareAndSwap(ctx, key, old, store.Value{Data: []byte(strconv.Itoa(n + 1)), Expires: expires})
		if err != nil {
			return false, fmt.Errorf("notify: write rate counter: %w", err)
		}
		if ok {
			return true, nil
		}
	}
	return false, fmt.Errorf("notify: rate counter still contended after %d attempts: %w", maxCASAttempts, store.ErrUnavailable)
}

// Notifier sends one run's report to every channel.
type Notifier struct {
	// Channels are the robots (from Parse).
	Channels []Channel
	// HTTP is the client to send with (nil: a default one). Redirects are
	// never followed, whatever its CheckRedirect.
	HTTP *http.Client
	// Store counts messages for the rate limits; nil means no limit.
	Store store.Store
	// Prefix is WXCLOUDENV_STORE_PREFIX.
	Prefix string
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// Scrubber removes the secrets the process keeps from every text of
	// a message and of an outcome (nil: only the channel's own).
	Scrubber *wechat.Scrubber
}

// scrubReport returns r with every text of its changes scrubbed by sc.
func scrubReport(sc *wechat.Scrubber, r Report) Report {
	scrub := func(cs []alertstate.Change) []alertstate.Change {
		out := make([]alertstate.Change, len(cs))
		for i, c := range cs {
			c.Authorizer, c.Operation, c.Env = sc.Scrub(c.Authorizer), sc.Scrub(c.Operation), sc.Scrub(c.Env)
			c.Resource, c.Status, c.Kind, c.Message = sc.Scrub(c.Resource), sc.Scrub(c.Status), sc.Scrub(c.Kind), sc.Scrub(c.Message)
			out[i] = c
		}
		return out
	}
	r.Platform, r.Function = sc.Scrub(r.Platform), sc.Scrub(r.Function)
	r.Changes, r.Reminders = scrub(r.Changes), scrub(r.Reminders)
	return r
}

// Notify sends r to every channel at once and returns each channel's
// outcome, in channel order. An empty report sends nothing and returns nil.
// See [Notifier.Deliver] for one channel. Notify never fails: look at the
// outcomes.
func (n *Notifier) Notify(ctx context.Context, r Report) []Outcome {
	if r.Empty() || len(n.Channels) == 0 {
		return nil
	}
	r = scrubReport(n.Scrubber, r)
	msgs := map[Kind]Message{}
	for _, ch := range n.Channels {
		if _, ok := msgs[ch.Kind]; !ok {
			msgs[ch.Kind] = Render(ch.Kind, r)
		}
	}
	out := make([]Outcome, len(n.Channels))
	var wg sync.WaitGroup
	for i, ch := range n.Channels {
		wg.Go(func() { out[i] = n.deliver(ctx, ch, msgs[ch.Kind]) })
	}
	wg.Wait()
	return out
}

// Deliver renders r for ch and sends it, within the robot's rate. A
// channel over its rate is not sent to (status rate_limited). When the
// rate counter cannot be read or written the message is sent anyway (the
// robot's own limit is the backstop) and the outcome's Error says the
// limit was not checked. The outcome is OK only when the robot accepted
// the message.
func (n *Notifier) Deliver(ctx context.Context, ch Channel, r Report) Outcome {
	return n.deliver(ctx, ch, Render(ch.Kind, scrubReport(n.Scrubber, r)))
}

func (n *Notifier) deliver(ctx context.Context, ch Channel, msg Message) Outcome {
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	note := ""
	if n.Store != nil {
		ok, err := Allow(ctx, n.Store, n.Prefix, ch, now())
		switch {
		case err != nil:
			note = "rate limit not checked: shared store unavailable"
		case !ok:
			return Outcome{Channel: ch.Name(), Status: StatusRateLimited, Error: "over the robot's rate limit; not sent"}
		}
	}
	out := Send(ctx, n.HTTP, ch, msg)
	out.Error = ch.scrub(n.Scrubber, out.Error)
	if note != "" {
		if out.Error != "" {
			note = out.Error + "; " + note
		}
		out.Error = note
	}
	return out
}

// Skipped returns a skipped outcome for every channel, with reason: for a
// run whose changes could not be known (the alert state was unavailable).
func Skipped(chans []Channel, reason string) []Outcome {
	out := make([]Outcome, len(chans))
	for i, ch := range chans {
		out[i] = Outcome{Channel: ch.Name(), Status: StatusSkipped, Error: reason}
	}
	return out
}
