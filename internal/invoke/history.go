package invoke

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// recordHistory keeps the run's summary and changes for the status page
// (internal/history): one store write, two when something changed, none
// for a single run that repeats the instance's last (history.Recorder). Like
// the alert state, a run narrowed to one env is not kept. A store failure
// is logged and changes nothing else. ctx is the alert path's: it ends
// before the answer is due.
func (inv *invocation) recordHistory(ctx context.Context, ev *Event, pl plan) {
	defer inv.flushWrites(ctx)
	if pl.env != inv.rt.Config.Env {
		return
	}
	kind, part := history.KindSingle, ""
	for _, r := range ev.Results {
		if r.Fleet {
			kind = history.KindFleet
			if pl.shardN > 0 {
				kind, part = history.KindShard, strconv.Itoa(pl.shardK)+"/"+strconv.Itoa(pl.shardN)
			}
		}
	}
	inv.record(ctx, ev, kind, part, inv.requestID)
}

// recordBatch keeps a worked batch of a queued fleet run (batch i of run)
// as recordHistory keeps a run.
func (inv *invocation) recordBatch(ctx context.Context, ev *Event, run string, i int) {
	// One invocation may work several batches: each is its own record.
	defer inv.flushWrites(ctx)
	inv.record(ctx, ev, history.KindBatch, strconv.Itoa(i)+" of "+run, inv.requestID+"-b"+strconv.Itoa(i))
}

// record writes one history record under id (unique per run).
func (inv *invocation) record(ctx context.Context, ev *Event, kind history.Kind, part, id string) {
	run := history.Run{Time: ev.Time, Kind: kind, Part: part, Trigger: ev.Trigger, OK: ev.OK, Operations: len(ev.Results),
		Alerts: len(ev.Alerts), Changes: len(ev.Changes)}
	var failed []string
	for _, r := range ev.Results {
		if r.Fleet {
			run.Authorizers += r.Total
			run.FailedAuthorizers += r.Failed
		}
		if r.Error != nil || !r.Fleet && !r.OK {
			run.FailedOperations++
			if r.Error != nil {
				failed = append(failed, r.Operation+": "+r.Error.Kind)
			}
		}
	}
	run.Failure = strings.Join(failed, ", ")
	changes := make([]history.Change, 0, min(len(ev.Changes), history.MaxChangesPerRun))
	for _, c := range ev.Changes[:min(len(ev.Changes), history.MaxChangesPerRun)] {
		changes = append(changes, history.Change{Change: c.Change, Authorizer: c.Authorizer, Operation: c.Operation, Env: c.Env,
			Resource: c.Resource, Status: c.Status, Kind: c.Kind, ErrCode: c.ErrCode, Message: inv.scrub(c.Message), Since: c.Since})
	}
	run.DurationMS = time.Since(inv.start).Milliseconds()
	if _, err := inv.rt.History.Record(ctx, inv.deferredWrites(), id, run, changes); err != nil {
		inv.logger().Warn("the run history could not be kept", "request_id", inv.requestID, "kind", "store", "error", inv.scrub(err.Error()))
	}
}

// deferredWrites is the run's view of the store: writes to keys nobody
// else writes at once (the names it learnt, its history record, a quota
// reading made under the hour's lease) go to the store in one batch
// (store.SetMany) when the run flushes it, and a fleet run's reads of what
// it read ahead are answered from its token preload's batches (ahead.go).
// A queued invocation works its batches at once: each may ask.
func (inv *invocation) deferredWrites() *store.Buffered {
	inv.writesOnce.Do(func() { inv.writes = store.NewBuffered(inv.rt.Store) })
	return inv.writes
}

// flushWrites writes the run's deferred writes; a failure is logged and
// changes nothing else (the names are learnt again, the record is lost,
// the quota reading is made again after the lease's hour).
func (inv *invocation) flushWrites(ctx context.Context) {
	w := inv.deferredWrites()
	if w.Pending() == 0 {
		return
	}
	if err := w.Flush(ctx); err != nil {
		inv.logger().Warn("the run history, the names learnt and the quota reading could not be kept", "request_id", inv.requestID, "kind", "store", "error", inv.scrub(err.Error()))
	}
}
