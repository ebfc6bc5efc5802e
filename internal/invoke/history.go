package invoke

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/history"
)

// recordHistory keeps the run's summary and changes for the status page
// (internal/history): one store write, two when something changed. Like
// the alert state, a run narrowed to one env is not kept. A store failure
// is logged and changes nothing else. ctx is the alert path's: it ends
// before the answer is due.
func (inv *invocation) recordHistory(ctx context.Context, ev *Event, pl plan) {
	if pl.env != inv.rt.Config.Env {
		return
	}
	run := history.Run{Time: ev.Time, Kind: history.KindSingle, Trigger: ev.Trigger, OK: ev.OK, Operations: len(ev.Results),
		Alerts: len(ev.Alerts), Changes: len(ev.Changes)}
	var failed []string
	for _, r := range ev.Results {
		if r.Fleet {
			run.Kind = history.KindFleet
			if pl.shardN > 0 {
				run.Kind, run.Part = history.KindShard, strconv.Itoa(pl.shardK)+"/"+strconv.Itoa(pl.shardN)
			}
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
			Resource: c.Resource, Status: c.Status, Kind: c.Kind, ErrCode: c.ErrCode, Message: c.Message, Since: c.Since})
	}
	run.DurationMS = time.Since(inv.start).Milliseconds()
	if err := history.Record(ctx, inv.rt.Store, inv.rt.Config.StorePrefix, inv.requestID, run, changes); err != nil {
		inv.logger().Warn("the run history could not be kept", "request_id", inv.requestID, "kind", "store", "error", inv.scrub(err.Error()))
	}
}
