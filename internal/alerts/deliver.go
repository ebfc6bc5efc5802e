package alerts

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

// delivery is what the robots got in one run.
type delivery struct {
	outcomes []notify.Outcome // in channel order; nil when nothing was to be sent
	dropped  int              // changes dropped (owed too long, or lost)
	settled  bool             // nothing known to stay owed
}

// robotResult is one robot's part of a delivery.
type robotResult struct {
	outcome notify.Outcome
	sent    bool // an outcome exists (something was to be sent)
	dropped int
	settled bool
}

// deliver makes claimed owed to every robot and sends each what it is
// owed (docs/reliability.md#delivered-at-least-once). stateErr is why the
// state could not be kept, if it could not.
func (t *Tracker) deliver(ctx context.Context, in Input, claimed []Change, stateErr error, log *slog.Logger) delivery {
	chans := t.Notifier.Channels
	// What is not claimed now may still be owed from earlier runs: one
	// read of every head tells which robots need a turn.
	busy := make([]bool, len(chans))
	unknown := false
	if len(claimed) > 0 {
		for i := range busy {
			busy[i] = true
		}
	} else {
		keys := make([]string, len(chans))
		for i, ch := range chans {
			keys[i] = outboxOf(t.Store, t.Prefix, ch).key
		}
		heads, err := t.Store.GetMany(ctx, keys)
		if err != nil {
			// Unknown, so not settled: the next run looks again.
			log.Warn("what the robots are owed could not be read", "error", t.Scrubber.Scrub(err.Error()))
			unknown = true
		}
		for i, k := range keys {
			if v, ok := heads[k]; ok && len(decodeHead(v).Batches) > 0 {
				busy[i] = true
			}
		}
	}
	d := delivery{settled: !unknown}
	results := make([]robotResult, len(chans))
	var wg sync.WaitGroup
	for i, ch := range chans {
		if !busy[i] {
			continue
		}
		wg.Go(func() { results[i] = t.deliverTo(ctx, ch, in, claimed, log) })
	}
	wg.Wait()
	for i, ch := range chans {
		r := results[i]
		if !busy[i] {
			r = robotResult{settled: true}
		}
		d.dropped += r.dropped
		d.settled = d.settled && r.settled
		switch {
		case r.sent:
			d.outcomes = append(d.outcomes, r.outcome)
		case stateErr != nil:
			d.outcomes = append(d.outcomes, notify.Outcome{Channel: ch.Name(), Status: notify.StatusSkipped,
				Error: "the alert state could not be read or written, so changes are unknown"})
		case unknown:
			d.outcomes = append(d.outcomes, notify.Outcome{Channel: ch.Name(), Status: notify.StatusSkipped,
				Error: "what the robot is owed could not be read; a later run sends it"})
		}
	}
	return d
}

// deliverTo makes claimed owed to ch, then, holding ch's lease, sends
// everything ch is owed in one message and records what ch accepted.
func (t *Tracker) deliverTo(ctx context.Context, ch notify.Channel, in Input, claimed []Change, log *slog.Logger) robotResult {
	log = log.With("channel", ch.Name())
	ob := outboxOf(t.Store, t.Prefix, ch)
	var res robotResult
	drop := func(n int, reason string) {
		if n > 0 {
			res.dropped += n
			log.Warn("changes owed to a robot were dropped", "dropped", n, "reason", reason)
		}
	}
	// direct holds what was claimed but could not be made owed: it goes
	// with this run's message or is lost, loudly.
	var direct []Change
	if len(claimed) > 0 {
		over, err := ob.append(ctx, claimed, in.Now)
		drop(over, "more than "+strconv.Itoa(maxBatches*batchSize)+" changes owed")
		if err != nil {
			log.Warn("the changes could not be recorded as owed to the robot; sending them now", "error", t.Scrubber.Scrub(err.Error()))
			direct = claimed
		}
	}

	sendBy := time.Now().Add(NotifyBudget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-settleTime).Before(sendBy) {
		sendBy = dl.Add(-settleTime)
	}
	owner := randomID()
	h, err := ob.acquire(ctx, owner, sendBy)
	leased := err == nil
	switch {
	case errors.Is(err, errLeased) && len(direct) == 0:
		res.sent = true
		res.outcome = notify.Outcome{Channel: ch.Name(), Status: notify.StatusDeferred,
			Error: "another instance is sending to this robot; what this run claimed stays owed for the next message"}
		return res
	case err != nil && !errors.Is(err, errLeased):
		log.Warn("what the robot is owed could not be read", "error", t.Scrubber.Scrub(err.Error()))
	}

	done := map[string]bool{}
	var owed []Change
	var read []batchRef
	if leased {
		var live []batchRef
		expired := 0
		for _, r := range h.Batches {
			if in.Now.Sub(time.UnixMilli(r.At)) >= OwedFor {
				expired += r.N
				done[r.ID] = true
				continue
			}
			live = append(live, r)
		}
		drop(expired, "owed for "+OwedFor.String()+" without the robot accepting them")
		changes, missing, err := ob.read(ctx, live)
		if err != nil {
			log.Warn("what the robot is owed could not be read", "error", t.Scrubber.Scrub(err.Error()))
		} else {
			gone := 0
			for _, r := range missing {
				gone += r.N
				done[r.ID] = true
			}
			drop(gone, "their batch is gone from the store")
			owed, read = changes, live
			for _, r := range missing {
				read = without(read, r.ID)
			}
		}
	}

	report := notify.Report{Platform: in.Platform, Function: in.Function, Names: in.Names, GroupMin: t.GroupMin}
	for _, c := range dedupe(append(owed, direct...)) {
		if c.Change == ChangeReminder {
			report.Reminders = append(report.Reminders, c)
		} else {
			report.Changes = append(report.Changes, c)
		}
	}
	if !report.Empty() {
		res.sent = true
		if time.Until(sendBy) <= 0 {
			res.outcome = notify.Outcome{Channel: ch.Name(), Status: notify.StatusFailed,
				Error: "no time left before the invocation's deadline; not sent"}
		} else {
			sctx, cancel := context.WithDeadline(ctx, sendBy)
			res.outcome = t.Notifier.Deliver(sctx, ch, report)
			cancel()
			res.outcome.Error = t.Scrubber.Scrub(res.outcome.Error)
		}
		if res.outcome.OK {
			for _, r := range read {
				done[r.ID] = true
			}
		} else {
			drop(len(direct), "the robot did not accept them and they could not be recorded as owed")
		}
	}
	if leased {
		left, err := ob.settle(ctx, owner, done)
		if err != nil {
			// The lease runs out with this run's deadline; what the
			// robot accepted may be sent again.
			log.Warn("what the robot accepted could not be recorded", "error", t.Scrubber.Scrub(err.Error()))
			left = 0
			for _, r := range h.Batches {
				if !done[r.ID] {
					left += r.N
				}
			}
		}
		res.outcome.Owed = left
		res.settled = err == nil && left == 0
	}
	return res
}

func without(refs []batchRef, id string) []batchRef {
	out := refs[:0:0]
	for _, r := range refs {
		if r.ID != id {
			out = append(out, r)
		}
	}
	return out
}

// dedupe drops repeated changes (a change recorded twice when a write's
// answer was lost), keeping the first.
func dedupe(cs []Change) []Change {
	type id struct {
		change, authorizer, operation, env, resource, status, kind string
		errcode                                                    int
		since                                                      int64
	}
	seen := make(map[id]bool, len(cs))
	out := cs[:0:0]
	for _, c := range cs {
		k := id{c.Change, c.Authorizer, c.Operation, c.Env, c.Resource, c.Status, c.Kind, c.ErrCode, c.Since.Unix()}
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}
