package alerts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
)

// silence marks the changes and reminders an active silence matches
// (docs/silences.md) and returns how many it marked. A resolution is
// silenced by a silence that matches it too. Silences that cannot be read
// silence nothing: the robots hear everything, as without silences.
func (t *Tracker) silence(ctx context.Context, now time.Time, lists ...[]Change) int {
	if t.Silences == nil {
		return 0
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if n == 0 {
		return 0
	}
	active, err := t.Silences.Active(ctx, now)
	if err != nil || len(active) == 0 {
		return 0
	}
	silenced := 0
	for _, l := range lists {
		for i := range l {
			c := &l[i]
			id := silence.Match(active, silence.Target{Authorizer: c.Authorizer, Operation: c.Operation, Env: c.Env,
				Resource: c.Resource, Status: c.Status, Kind: c.Kind, ErrCode: c.ErrCode})
			if id != "" {
				c.Silenced = id
				silenced++
			}
		}
	}
	return silenced
}

// deliverOwners sends each authorizer's own robots that authorizer's
// claimed changes and reminders, grouped as the platform's message is,
// through each robot's own outbox. Platform-level failures (no
// authorizer) go to the platform's robots only.
func (t *Tracker) deliverOwners(ctx context.Context, in Input, claimed []Change, log *slog.Logger) []notify.Outcome {
	if t.Owners == nil || t.Notifier == nil || len(claimed) == 0 {
		return nil
	}
	byAuthorizer := map[string][]Change{}
	var order []string
	for _, c := range claimed {
		if c.Authorizer == "" {
			continue
		}
		if _, ok := byAuthorizer[c.Authorizer]; !ok {
			order = append(order, c.Authorizer)
		}
		byAuthorizer[c.Authorizer] = append(byAuthorizer[c.Authorizer], c)
	}
	type job struct {
		appid string
		ch    notify.Channel
	}
	robots, err := t.Owners.ChannelsOf(ctx, order, t.OwnerSecrets)
	if err != nil {
		log.Warn("the authorizers' own robots could not be read", "error", scrub(err.Error()))
		return nil
	}
	var jobs []job
	for _, appid := range order {
		for _, ch := range robots[appid] {
			jobs = append(jobs, job{appid, ch})
		}
	}
	out := make([]notify.Outcome, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			r := t.deliverTo(ctx, j.ch, in, byAuthorizer[j.appid], log.With("authorizer", j.appid))
			o := r.outcome
			if !r.sent {
				o = notify.Outcome{Channel: j.ch.Name(), Status: notify.StatusSkipped, Error: "nothing to send"}
			}
			o.Channel = "authorizer " + j.appid + ": " + o.Channel
			out[i] = o
		})
	}
	wg.Wait()
	return out
}
