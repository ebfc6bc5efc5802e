package invoke

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/fleet"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/queue"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// TriggerQueue is the trigger a worker reports: a batch of a queued fleet
// run (docs/queue.md).
const TriggerQueue trigger.Kind = "queue"

// senderTimeout bounds one call to the queue.
const senderTimeout = 10 * time.Second

// runs returns the queued runs' bookkeeping.
func (inv *invocation) runs() *queue.Runs {
	return &queue.Runs{Store: inv.rt.Store, Prefix: inv.rt.Config.StorePrefix}
}

// sender returns the queue the configuration names.
func (inv *invocation) sender() (queue.Sender, error) {
	c := inv.rt.Config
	if ns, fn, ok := c.SCFQueue(); ok {
		return queue.NewSCF(ns, fn, c.SCFRegion, c.SCFEndpoint, queue.Lookup(inv.lookup()), senderTimeout)
	}
	return queue.NewSQS(c.FleetQueue, queue.Lookup(inv.lookup()), senderTimeout)
}

// planFleet plans a scheduled fleet run onto the queue instead of checking
// it here (docs/queue.md): the result is the fleet result with the planned
// totals, and the event's "planned".
func (inv *invocation) planFleet(ctx context.Context, pl plan) (res Result) {
	start := time.Now()
	op := wechat.OpGetEnvInfo
	res = Result{Operation: op, Fleet: true}
	defer func() { res.Duration = time.Since(start) }()
	if inv.rt.Fleet == nil {
		res.Error = inv.errorInfo(op, inv.rt.FleetErr)
		return res
	}
	f, ok := inv.rt.Fleet.(queue.Fleet)
	if !ok {
		res.Error = &ErrorInfo{Kind: string(wechat.KindConfig), Message: "this fleet cannot be read page by page, so it cannot be queued"}
		return res
	}
	sender, err := inv.sender()
	if err != nil {
		res.Error = &ErrorInfo{Kind: string(wechat.KindConfig), Message: inv.scrub(err.Error())}
		return res
	}
	p := &queue.Planner{Runs: inv.runs(), Sender: sender, Batch: inv.rt.Config.FleetBatch, ShardK: pl.shardK, ShardN: pl.shardN}
	planned, err := p.Plan(ctx, inv.tick, f)
	if errors.Is(err, queue.ErrBusy) {
		// Another attempt plans this tick right now: nothing to send.
		if planned == nil {
			planned = &queue.Planned{Run: queue.ShardRunOf(inv.tick, pl.shardK, pl.shardN)}
		}
		planned.Repeated, err = true, nil
	}
	if planned != nil && planned.Previous != nil {
		inv.queuedNotes = append(inv.queuedNotes, inv.reportMissing(ctx, *planned.Previous)...)
	}
	if err != nil {
		res.Error = inv.planError(err)
		return res
	}
	res.OK, res.Total = true, planned.Authorizers
	inv.planned = planned
	if planned.Finished {
		inv.queuedNotes = append(inv.queuedNotes, inv.sendRun(ctx, planned.Run, planned.Batches)...)
	}
	return res
}

// planError is a failed plan's error: the queue's refusal is kind upstream
// with the service's error code, the store's kind store.
func (inv *invocation) planError(err error) *ErrorInfo {
	var se *queue.SendError
	switch {
	case errors.As(err, &se):
		msg := "the queue refused the batches"
		if se.Code != "" {
			msg += " (" + se.Code + ")"
		}
		return &ErrorInfo{Kind: string(wechat.KindUpstream), Message: inv.scrub(msg + ": " + err.Error() + "; the batches already sent stay recorded")}
	case errors.Is(err, store.ErrUnavailable):
		return &ErrorInfo{Kind: string(wechat.KindStore), Retryable: true, Message: inv.scrub(err.Error())}
	}
	return inv.errorInfo(wechat.OpGetEnvInfo, err)
}

// reportMissing tells the robots that the previous run had batches that
// were not worked by this tick.
func (inv *invocation) reportMissing(ctx context.Context, m queue.Missing) []Notification {
	inv.logger().Warn("queued fleet run incomplete", "request_id", inv.requestID, "run", m.Run, "missing", m.Missing, "batches", m.Batches)
	return inv.notifyQueued(ctx, notify.Report{Platform: inv.h.Platform, Function: inv.functionName(), Changes: []alertstate.Change{{
		Change: alertstate.ChangeNew, Operation: wechat.OpGetEnvInfo, Resource: alertstate.ResourceOperation,
		Kind: "incomplete", Message: m.Message(), Since: inv.stamp,
	}}})
}

// notifyQueued delivers what a queued run has to tell through the alert
// path's outboxes (at least once, one message per robot) and returns each
// robot's outcome.
func (inv *invocation) notifyQueued(ctx context.Context, r notify.Report) []Notification {
	if len(inv.rt.Notifier.Channels) == 0 || r.Empty() {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*alerts.NotifyBudget)
	defer cancel()
	claimed := append(append([]alerts.Change{}, r.Changes...), r.Reminders...)
	out := inv.rt.Alerts.Deliver(dctx, alerts.Input{Now: inv.stamp, Platform: r.Platform, Function: r.Function,
		Log: inv.logger().With("request_id", inv.requestID)}, claimed)
	var notes []Notification
	for _, o := range out.Notifications {
		notes = append(notes, Notification{Channel: o.Channel, Status: o.Status, Error: inv.scrub(o.Error)})
	}
	return notes
}

// sendRun sends a finished run's one message per robot: every change and
// reminder its batches kept.
func (inv *invocation) sendRun(ctx context.Context, run string, batches int) []Notification {
	changes, reminders, err := inv.runs().Collect(ctx, run, batches)
	if err != nil {
		inv.logger().Warn("the run's outboxes could not be read whole", "request_id", inv.requestID, "run", run, "error", inv.scrub(err.Error()))
	}
	inv.logger().Info("queued fleet run finished", "request_id", inv.requestID, "run", run, "batches", batches, "changes", len(changes), "reminders", len(reminders))
	return inv.notifyQueued(ctx, notify.Report{Platform: inv.h.Platform, Function: inv.functionName(), Changes: changes, Reminders: reminders})
}

// work checks the batches a worker was handed and answers which must come
// back (docs/queue.md#workers).
func (inv *invocation) work(ctx context.Context, d queue.Delivery) ([]byte, error) {
	inv.req = &trigger.Request{Kind: TriggerQueue, Source: trigger.Source(d.Source)}
	if inv.cfgErr != nil {
		msg := "wxcloudenv: invalid configuration: " + inv.cfgErr.Error()
		inv.logRejected("invalid configuration", 0, msg)
		return nil, &InvocationError{Message: msg}
	}
	dl := inv.deadlines(ctx)
	// The batches are worked at once, their authorizers sharing
	// WXCLOUDENV_CONCURRENCY, so that no batch's last round leaves the
	// others' slots idle.
	sem := make(chan struct{}, inv.rt.Config.Concurrency)
	done := make([]bool, len(d.Records))
	var wg sync.WaitGroup
	for i, it := range d.Records {
		wg.Go(func() { done[i] = time.Until(dl.checks) >= dl.collect && inv.workBatch(ctx, it.Body, dl, sem) })
	}
	wg.Wait()
	var failed []string
	for i, it := range d.Records {
		if !done[i] {
			failed = append(failed, it.ID)
		}
	}
	if d.Source == queue.SourceSCF && len(failed) > 0 {
		// SCF retries a failed asynchronous invocation twice.
		return nil, &InvocationError{Message: "wxcloudenv: the batch must come back (the store was unavailable or the deadline was reached); see the function's log"}
	}
	return queue.Answer(d, failed), nil
}

// workBatch checks one batch exactly as a fleet run checks its authorizers
// and reports whether it is done (false: it must come back). Only what can
// succeed later makes it come back: the store unavailable, the deadline
// reached. A batch already done changes nothing.
func (inv *invocation) workBatch(ctx context.Context, body []byte, dl deadlines, sem chan struct{}) bool {
	log := inv.logger()
	b, err := queue.ParseBatch(body)
	if err != nil {
		// It would fail the same way every time: not sent back.
		log.Warn("not a fleet batch; dropped", "request_id", inv.requestID, "error", inv.scrub(err.Error()))
		return true
	}
	runs := inv.runs()
	done, err := runs.Done(ctx, b.Run, b.Batch)
	if err != nil {
		log.Warn("batch comes back: the store is unavailable", "request_id", inv.requestID, "run", b.Run, "batch", b.Batch, "error", inv.scrub(err.Error()))
		return false
	}
	if done {
		log.Info("batch already worked; nothing to do", "request_id", inv.requestID, "run", b.Run, "batch", b.Batch)
		return true
	}
	ev := &Event{Platform: inv.h.Platform, Trigger: string(TriggerQueue), RequestID: inv.requestID, Time: inv.stamp, OK: true}
	cctx, cancel := dl.checksCtx(ctx)
	res, retry := inv.checkBatch(cctx, b.Authorizers, dl, sem)
	cancel()
	ev.Results = []Result{res}
	ev.OK = res.OK
	ev.Alerts = res.alerts
	run := runOf(ev)
	if retry != "" {
		inv.logEvent(ev, alerts.Metrics(run, alerts.Outcome{}), 0, "batch "+fmt.Sprint(b.Batch)+" of run "+b.Run+" comes back: "+retry)
		return false
	}
	actx, cancel := dl.alertsCtx(ctx)
	defer cancel()
	// The state is updated as the alert path does, but the changes go to
	// the batch's outbox: workers send no robot message.
	out, err := alertstate.Update(actx, inv.rt.Store, inv.rt.Config.StorePrefix, inv.stamp, run, inv.rt.Config.NotifyRepeat)
	if out != nil {
		for i := range ev.Alerts {
			if i < len(out.AlertSince) && !out.AlertSince[i].IsZero() {
				ev.Alerts[i].Since = out.AlertSince[i]
			}
		}
		ev.Changes = out.Changes
		// What was claimed is kept even when the rest failed: nobody
		// else will claim it.
		if kerr := runs.Keep(actx, b.Run, b.Batch, out.Changes, out.Reminders); kerr != nil && err == nil {
			err = kerr
		}
	}
	if err != nil {
		inv.logEvent(ev, alerts.Metrics(run, alerts.Outcome{}), 0, "batch "+fmt.Sprint(b.Batch)+" of run "+b.Run+" comes back: the alert state could not be kept: "+err.Error())
		return false
	}
	last, err := runs.Finish(actx, b.Run, b.Batch)
	if err != nil {
		inv.logEvent(ev, alerts.Metrics(run, alerts.Outcome{}), 0, "batch "+fmt.Sprint(b.Batch)+" of run "+b.Run+" comes back: "+err.Error())
		return false
	}
	inv.recordBatch(actx, ev, b.Run, b.Batch)
	if last {
		rec, _, err := runs.Get(actx, b.Run)
		if err == nil && rec != nil {
			ev.Notifications = inv.sendRun(ctx, b.Run, rec.Batches)
		}
	}
	inv.logEvent(ev, alerts.Metrics(run, alerts.Outcome{}), 0, "")
	return true
}

// checkBatch runs getenvinfo for a batch's authorizers as a fleet run does
// (tokens preloaded in one read, at most WXCLOUDENV_CONCURRENCY at once).
// retry says why the batch must come back, when it must.
func (inv *invocation) checkBatch(ctx context.Context, appids []string, dl deadlines, sem chan struct{}) (Result, string) {
	start := time.Now()
	op := wechat.OpGetEnvInfo
	res := Result{Operation: op, Fleet: true}
	f := inv.rt.Fleet
	if f == nil {
		res.Error = inv.errorInfo(op, inv.rt.FleetErr)
		res.Duration = time.Since(start)
		return res, "" // a configuration error: the next tick reports the batch missing
	}
	if err := f.Preload(ctx, appids, nil); err != nil {
		return res, "the store is unavailable: " + err.Error()
	}
	cut := false
	res.appids = appids
	res.auths = fleet.Run(ctx, appids, inv.rt.Config.Concurrency, dl.fleet,
		func(ctx context.Context, appid string) authResult {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				return authResult{Error: &ErrorInfo{Kind: string(wechat.KindTimeout), Retryable: true,
					Message: "not reached before the invocation's deadline"}}
			}
			r := inv.operationWith(ctx, op, "", f.Source(appid), appid)
			return compactAuth(&r)
		},
		func(string) authResult {
			cut = true
			return authResult{Error: &ErrorInfo{Kind: string(wechat.KindTimeout), Retryable: true,
				Message: "not reached before the invocation's deadline"}}
		})
	res.OK = true
	res.total()
	retry := ""
	for i := range res.auths {
		if a := &res.auths[i]; !a.OK && a.Error != nil && a.Error.Kind == string(wechat.KindStore) {
			retry = "the store is unavailable for authorizer " + res.appids[i]
			break
		}
	}
	if cut || time.Now().After(dl.checks) && ctx.Err() != nil {
		retry = "the deadline was reached before the batch finished"
	}
	res.Duration = time.Since(start)
	return res, strings.TrimSpace(retry)
}
