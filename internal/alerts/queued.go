package alerts

import (
	"context"
	"log/slog"
)

// Deliver hands the robots changes that were claimed elsewhere: the
// batches of a queued fleet run (docs/queue.md) claim theirs from the
// state and keep them until the run's last batch, whose worker delivers
// them all here. As with what Track claims, they stay owed to each robot
// until it accepts them, and each robot gets one message. Reminders go in
// claimed with the changes, as Track sends them.
func (t *Tracker) Deliver(ctx context.Context, in Input, claimed []Change) Outcome {
	out := Outcome{Tracked: true, Changes: claimed}
	if t.Notifier == nil || len(claimed) == 0 {
		return out
	}
	log := in.Log
	if log == nil {
		log = slog.Default()
	}
	// The platform robots and the authorizers' own robots
	// (docs/silences-and-robots.md#owner-robots).
	targets, read := t.targets(ctx, t.Store, log)
	if len(targets) == 0 {
		return out
	}
	d := t.deliver(ctx, in, targets, read, claimed, nil, log)
	out.Notifications, out.Dropped = d.outcomes, d.dropped
	return out
}
