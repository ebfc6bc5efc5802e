package alerts

import (
	"context"
	"log/slog"
	"slices"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// target is one robot and what it hears (docs/silences-and-robots.md#owner-robots):
// a platform robot (WXCLOUDENV_NOTIFY) everything; an authorizer's own
// robot that authorizer's changes and reminders only, never a
// platform-level one (no authorizer).
type target struct {
	ch     notify.Channel
	all    bool
	owners []string // sorted appids, for an owner robot
}

// shares is each target's part of claimed, in order: everything for a
// platform robot, its authorizers' changes for an owner robot. It indexes
// claimed by authorizer once, so that thousands of owner robots over
// thousands of changes cost one pass.
func shares(targets []target, claimed []Change) [][]Change {
	out := make([][]Change, len(targets))
	var byAuth map[string][]int
	for i, tg := range targets {
		if tg.all {
			out[i] = claimed
			continue
		}
		if byAuth == nil {
			byAuth = map[string][]int{}
			for j, c := range claimed {
				if c.Authorizer != "" {
					byAuth[c.Authorizer] = append(byAuth[c.Authorizer], j)
				}
			}
		}
		var idx []int
		for _, a := range tg.owners {
			idx = append(idx, byAuth[a]...)
		}
		if len(tg.owners) > 1 {
			slices.Sort(idx) // the run's order
		}
		for _, j := range idx {
			out[i] = append(out[i], claimed[j])
		}
	}
	return out
}

// targets are the platform robots, then every owner robot read from the
// store in one batch. A robot that is both is a platform robot (it hears
// everything already); a robot several authorizers registered is one
// target that hears all of theirs. ok is false when the owner robots
// could not all be read (logged): the run is then not settled.
func (t *Tracker) targets(ctx context.Context, st store.Store, log *slog.Logger) (out []target, ok bool) {
	var platform []notify.Channel
	if t.Notifier != nil {
		platform = t.Notifier.Channels
	}
	for _, ch := range platform {
		out = append(out, target{ch: ch, all: true})
	}
	if t.Store == nil || t.Notifier == nil {
		return out, true
	}
	owners, err := robots.Load(ctx, st, t.Prefix)
	if err != nil && ctx.Err() == nil {
		// Once more: what the owner robots miss now is not owed to them.
		owners, err = robots.Load(ctx, st, t.Prefix)
	}
	ok = err == nil
	if err != nil {
		log.Warn("the authorizers' own robots could not all be read; they miss this run's changes", "error", t.Scrubber.Scrub(err.Error()))
	}
	byID := map[string]int{}
	for i, tg := range out {
		byID[tg.ch.ID()] = i
	}
	for _, o := range owners {
		for _, ch := range o.Channels {
			i, seen := byID[ch.ID()]
			switch {
			case !seen:
				byID[ch.ID()] = len(out)
				out = append(out, target{ch: ch, owners: []string{o.Authorizer}})
			case !out[i].all && !slices.Contains(out[i].owners, o.Authorizer):
				out[i].owners = append(out[i].owners, o.Authorizer)
			}
		}
	}
	return out, ok
}
