package alerts

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
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

// deliverConcurrency bounds the robots sent to at once: a fleet's owner
// robots may be thousands.
const deliverConcurrency = 32

// deliver makes claimed owed to every robot it is routed to (docs/silences-and-robots.md#owner-robots)
// and sends each what it is owed (docs/reliability.md#delivered-at-least-once).
// stateErr is why the state could not be kept, if it could not.
func (t *Tracker) deliver(ctx context.Context, in Input, targets []target, registryRead bool, claimed []Change, stateErr error, log *slog.Logger) delivery {
	// Each robot's share of what was claimed.
	shares := shares(targets, claimed)
	owners := false
	for _, tg := range targets {
		owners = owners || !tg.all
	}
	// What is not claimed now may still be owed from earlier runs. The
	// platform robots' heads tell, read in one batch; the owner robots
	// are listed in the owed index (one read) when something may be owed
	// to them. Without the index every head is read.
	busy := make([]bool, len(targets))
	unknown := false
	index := owedIndexOf(t.Store, t.Prefix)
	var listed map[string]int64
	if owners {
		var err error
		if listed, err = index.read(ctx); err != nil {
			log.Warn("the list of owner robots owed something could not be read; every one is looked at", "error", t.Scrubber.Scrub(err.Error()))
		}
	}
	var keys []string
	var idle []int
	for i, tg := range targets {
		_, marked := listed[tg.ch.ID()]
		switch {
		case len(shares[i]) > 0:
			busy[i] = true
		case !tg.all && listed != nil:
			busy[i] = marked
		default:
			keys = append(keys, outboxOf(t.Store, t.Prefix, tg.ch).key)
			idle = append(idle, i)
		}
	}
	if len(keys) > 0 {
		heads, err := t.Store.GetMany(ctx, keys)
		if err != nil {
			// Unknown, so not settled: the next run looks again.
			log.Warn("what the robots are owed could not be read", "error", t.Scrubber.Scrub(err.Error()))
			unknown = true
		}
		for j, k := range keys {
			if v, ok := heads[k]; ok && len(decodeHead(v).Batches) > 0 {
				busy[idle[j]] = true
			}
		}
	}
	// Mark the owner robots this run makes something owed to, before it
	// is appended.
	if owners {
		err := index.update(ctx, func(m map[string]int64) bool {
			changed := false
			for i, tg := range targets {
				if !tg.all && len(shares[i]) > 0 {
					bump(m, tg.ch.ID())
					changed = true
				}
			}
			return changed
		})
		if err != nil {
			// Sent now all the same; what stays owed is listed after the
			// sends, or found when the authorizer next changes.
			log.Warn("the owner robots this run owes could not be listed", "error", t.Scrubber.Scrub(err.Error()))
			unknown = true
		}
	}
	d := delivery{settled: !unknown}
	results := make([]robotResult, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, deliverConcurrency)
	for i, tg := range targets {
		if !busy[i] {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = t.deliverTo(ctx, tg, in, shares[i], log)
		})
	}
	wg.Wait()
	if owners {
		t.unlist(ctx, index, targets, registryRead, busy, results, log)
	}
	for i, tg := range targets {
		r := results[i]
		if !busy[i] {
			r = robotResult{settled: true}
		}
		d.dropped += r.dropped
		d.settled = d.settled && r.settled
		switch {
		case r.sent:
			r.outcome.Authorizers = tg.owners
			d.outcomes = append(d.outcomes, r.outcome)
		case !tg.all:
			// An owner robot with nothing to send is not listed.
		case stateErr != nil:
			d.outcomes = append(d.outcomes, notify.Outcome{Channel: tg.ch.Name(), Status: notify.StatusSkipped,
				Error: "the alert state could not be read or written, so changes are unknown"})
		case unknown:
			d.outcomes = append(d.outcomes, notify.Outcome{Channel: tg.ch.Name(), Status: notify.StatusSkipped,
				Error: "what the robot is owed could not be read; a later run sends it"})
		}
	}
	return d
}

// unlist updates the owed index after the sends: an owner robot this run
// left owed something stays listed (its mark bumped, so that a concurrent
// unlist re-reads); one left owed nothing is removed if its outbox is
// still empty when the index is written (a run that appends marks the
// index first, which makes this write retry); one no longer registered
// goes (when the registry was read).
func (t *Tracker) unlist(ctx context.Context, index owedIndex, targets []target, registryRead bool, busy []bool, results []robotResult, log *slog.Logger) {
	current := make(map[string]bool, len(targets))
	var done []int // settled with nothing owed
	for i, tg := range targets {
		if tg.all {
			continue
		}
		current[tg.ch.ID()] = true
		if busy[i] && results[i].settled && results[i].outcome.Owed == 0 {
			done = append(done, i)
		}
	}
	err := index.update(ctx, func(m map[string]int64) bool {
		changed := false
		var keys []string
		for _, i := range done {
			if _, ok := m[targets[i].ch.ID()]; ok {
				keys = append(keys, outboxOf(t.Store, t.Prefix, targets[i].ch).key)
			}
		}
		var heads map[string]store.Value
		if len(keys) > 0 {
			var err error
			if heads, err = t.Store.GetMany(ctx, keys); err != nil {
				heads = nil
				keys = nil // unknown: they stay listed
			}
		}
		empty := make(map[string]bool, len(keys))
		for _, k := range keys {
			v, ok := heads[k]
			empty[k] = !ok || len(decodeHead(v).Batches) == 0
		}
		for i, tg := range targets {
			id := tg.ch.ID()
			if tg.all || !busy[i] {
				continue
			}
			if r := results[i]; r.settled && r.outcome.Owed == 0 {
				if _, ok := m[id]; ok && empty[outboxOf(t.Store, t.Prefix, tg.ch).key] {
					delete(m, id)
					changed = true
				}
				continue
			}
			bump(m, id)
			changed = true
		}
		if registryRead {
			for id := range m {
				if !current[id] {
					delete(m, id)
					changed = true
				}
			}
		}
		return changed
	})
	if err != nil {
		log.Warn("the list of owner robots owed something could not be updated", "error", t.Scrubber.Scrub(err.Error()))
	}
}

// bump lists id with a mark that differs from any it had (so that the
// index's value changes and a concurrent compare-and-swap retries).
func bump(m map[string]int64, id string) {
	m[id] = max(m[id]+1, time.Now().UnixMilli())
}

// deliverTo makes claimed (tg's share) owed to tg's robot, then, holding
// its lease, sends everything it is owed in one message and records what
// it accepted.
func (t *Tracker) deliverTo(ctx context.Context, tg target, in Input, claimed []Change, log *slog.Logger) robotResult {
	ch := tg.ch
	log = log.With("channel", ch.Name())
	if !tg.all {
		log = log.With("authorizers", tg.owners)
	}
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
