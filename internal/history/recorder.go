package history

import (
	"context"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// QuietEvery is how often a [Recorder] writes a single run whose outcome
// repeats the last one it wrote: the runs in between are counted into the
// next record instead of written each.
const QuietEvery = time.Minute

// Recorder writes one instance's runs to the history. Fleet, shard and
// batch runs are written each. A single run (one authorizer's token, or
// none: a direct call or an HTTP request, which a dashboard may send every
// few seconds) is written when it claimed a change, when its outcome
// (trigger, ok, operations, failures, alerts) differs from the last single
// run the instance wrote for that trigger, or when that one is
// [QuietEvery] old; otherwise it is only counted, and the next record
// written says how many runs it stands for ([Run.Runs]). So a warm
// single-authorizer invocation costs the store no round trip, and the
// status page draws the same picture: the quiet runs repeat what was
// written. The quiet runs an instance counted since its last record are
// lost when the platform stops the instance. A Recorder is safe for
// concurrent use.
type Recorder struct {
	Prefix string

	mu   sync.Mutex
	last map[string]quiet // by trigger
}

// quiet is the last single run a Recorder wrote for a trigger, and how
// many runs repeated it since.
type quiet struct {
	outcome Run
	at      time.Time
	pending int
}

// outcomeOf is what two single runs must share to be counted together.
func outcomeOf(r Run) Run {
	return Run{Kind: r.Kind, Trigger: r.Trigger, Part: r.Part, OK: r.OK, Operations: r.Operations,
		FailedOperations: r.FailedOperations, Authorizers: r.Authorizers, FailedAuthorizers: r.FailedAuthorizers,
		Alerts: r.Alerts, Failure: r.Failure}
}

// Record writes run and its changes to st as [Record] does, or counts run when
// it is a quiet repeat (see [Recorder]). It reports whether it wrote.
func (r *Recorder) Record(ctx context.Context, st store.Store, id string, run Run, changes []Change) (bool, error) {
	if run.Kind != KindSingle {
		return true, Record(ctx, st, r.Prefix, id, run, changes)
	}
	o := outcomeOf(run)
	r.mu.Lock()
	q, seen := r.last[run.Trigger]
	if seen && len(changes) == 0 && run.Changes == 0 && q.outcome == o &&
		!run.Time.Before(q.at) && run.Time.Sub(q.at) < QuietEvery {
		q.pending++
		r.last[run.Trigger] = q
		r.mu.Unlock()
		return false, nil
	}
	run.Runs = 1 + q.pending
	if r.last == nil {
		r.last = map[string]quiet{}
	}
	// Taken before writing, so that concurrent runs of the same outcome
	// are counted rather than written too; a failed write gives the count
	// back to the next record.
	r.last[run.Trigger] = quiet{outcome: o, at: run.Time}
	r.mu.Unlock()
	if err := Record(ctx, st, r.Prefix, id, run, changes); err != nil {
		r.mu.Lock()
		if cur := r.last[run.Trigger]; cur.outcome == o && cur.at.Equal(run.Time) {
			if seen {
				// Counted into the next record, which is then written
				// (the outcome recorded is the older one).
				q.pending = run.Runs
				r.last[run.Trigger] = q
			} else {
				delete(r.last, run.Trigger)
			}
		}
		r.mu.Unlock()
		return false, err
	}
	return true, nil
}
