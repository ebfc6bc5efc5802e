package invoke

import (
	"context"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/app"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/emf"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

// notifyBudget bounds the robots' sending when the invocation has time to
// spare; they never run past the upstream deadline's reserve.
const notifyBudget = 5 * time.Second

// track compares the run with the last-seen state in the store
// (docs/contract.md#alerts-and-robots): each alert gets since, the event
// gets changes, and the robots get one message per channel with what
// changed. A run narrowed to one env is not tracked: it has not seen the
// others, so it could neither keep nor resolve them.
//
// The robots may use the time up to deadline, which the caller sets a
// little past the upstream deadline, still before the platform's.
func (inv *invocation) track(ctx context.Context, ev *Event, pl plan, deadline time.Time) {
	if pl.env != inv.rt.Config.Env {
		return
	}
	run := runOf(ev)
	sum := fingerprint(run)
	if since, ok := inv.h.memo.recall(inv.rt, sum, time.Now()); ok {
		// The same state as a run of this instance confirmed moments ago:
		// nothing can have changed that this run would report.
		for i := range ev.Alerts {
			ev.Alerts[i].Since = since[i]
		}
		ev.Changes = []Change{}
		return
	}
	run.Scrubber = inv.rt.Scrubber
	out, err := alertstate.Update(ctx, inv.rt.Store, inv.rt.Config.StorePrefix, inv.stamp, run, inv.rt.Config.NotifyRepeat)
	if err != nil {
		inv.logger().Warn("the alert state could not be kept", "request_id", inv.requestID, "error", inv.scrub(err.Error()))
	}
	if out == nil {
		return
	}
	for i := range ev.Alerts {
		if i < len(out.AlertSince) && !out.AlertSince[i].IsZero() {
			ev.Alerts[i].Since = out.AlertSince[i].UTC().Format(time.RFC3339)
		}
	}
	if err == nil {
		since := make([]string, len(ev.Alerts))
		for i := range ev.Alerts {
			since[i] = ev.Alerts[i].Since
		}
		inv.h.memo.remember(inv.rt, sum, since, time.Now())
	}
	ev.Changes = make([]Change, 0, len(out.Changes))
	for _, c := range out.Changes {
		ev.Changes = append(ev.Changes, changeOf(c))
	}
	chans := inv.rt.Notifier.Channels
	if len(chans) == 0 {
		return
	}
	report := notify.Report{Platform: inv.h.Platform, Function: inv.functionName(), Changes: out.Changes, Reminders: out.Reminders}
	if report.Empty() {
		if err != nil {
			for _, o := range notify.Skipped(chans, "the alert state could not be read or written, so changes are unknown") {
				ev.Notifications = append(ev.Notifications, Notification{Channel: o.Channel, Status: o.Status, Error: o.Error})
			}
		}
		return
	}
	until := time.Now().Add(notifyBudget)
	if deadline.Before(until) {
		until = deadline
	}
	nctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), until)
	defer cancel()
	for _, o := range inv.rt.Notifier.Notify(nctx, report) {
		ev.Notifications = append(ev.Notifications, Notification{Channel: o.Channel, Status: o.Status, Error: inv.scrub(o.Error)})
	}
}

// runOf is what the run saw, for the alert state.
func runOf(ev *Event) alertstate.Run {
	var run alertstate.Run
	add := func(r *Result) {
		run.Checked = append(run.Checked, alertstate.Scope{Operation: r.Operation, Authorizer: r.Authorizer})
		if r.Error != nil {
			run.Failures = append(run.Failures, alertstate.Failure{Authorizer: r.Authorizer, Operation: r.Operation,
				Kind: r.Error.Kind, ErrCode: r.Error.ErrCode, Message: r.Error.Message})
		}
	}
	for i := range ev.Results {
		r := &ev.Results[i]
		if !r.Fleet {
			add(r)
			continue
		}
		if r.Error != nil {
			// The fleet as a whole could not be read: that is the
			// operation's failure; its authorizers speak for themselves.
			run.Failures = append(run.Failures, alertstate.Failure{Operation: r.Operation, Kind: r.Error.Kind,
				ErrCode: r.Error.ErrCode, Message: r.Error.Message})
		}
		for j := range r.Authorizers {
			add(&r.Authorizers[j])
		}
	}
	for _, a := range ev.Alerts {
		run.Alerts = append(run.Alerts, alertstate.Alert{Authorizer: a.Authorizer, Operation: a.Operation, Env: a.Env,
			Resource: a.Resource, Status: a.Status, Message: a.Message})
	}
	return run
}

func changeOf(c alertstate.Change) Change {
	out := Change{Change: c.Change, Authorizer: c.Authorizer, Operation: c.Operation, Env: c.Env, Resource: c.Resource,
		Status: c.Status, Kind: c.Kind, ErrCode: c.ErrCode, Message: c.Message}
	if !c.Since.IsZero() {
		out.Since = c.Since.UTC().Format(time.RFC3339)
	}
	return out
}

// functionName is the platform's name for the function, for the robots'
// messages and the metrics' dimension.
func (inv *invocation) functionName() string {
	for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "SCF_FUNCTIONNAME", "FUNCTION_NAME"} {
		if v, ok := inv.lookup()(k); ok && v != "" {
			return v
		}
	}
	return emf.DimensionValue("")
}

// metrics counts what the EMF metrics report.
func metrics(ev *Event) emf.Metrics {
	m := emf.Metrics{Alerts: len(ev.Alerts)}
	for _, r := range ev.Results {
		if r.Fleet {
			m.Authorizers += r.Total
			m.FailedAuthorizers += r.Failed
		}
		if r.Error != nil || !r.Fleet && !r.OK {
			m.FailedOperations++
		}
	}
	return m
}

// memoFor is how long a run's confirmed state spares the next runs of the
// same instance the store's round trip when they see exactly the same.
// Another instance's view reaches this one at most this late.
const memoFor = time.Minute

// alertMemo is the last state a run of this instance confirmed with the
// store: warm invocations that see the same state (a dashboard polling, a
// steady outage) need not read the store again to learn that nothing
// changed.
type alertMemo struct {
	mu    sync.Mutex
	rt    *app.Runtime
	sum   uint64
	at    time.Time
	since []string
}

func (m *alertMemo) recall(rt *app.Runtime, sum uint64, now time.Time) ([]string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rt != rt || m.sum != sum || now.Sub(m.at) >= memoFor {
		return nil, false
	}
	return m.since, true
}

func (m *alertMemo) remember(rt *app.Runtime, sum uint64, since []string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rt, m.sum, m.since, m.at = rt, sum, since, now
}

// fingerprint hashes everything a run's state comparison depends on: the
// pairs it checked, its alerts and its failures, in order.
func fingerprint(run alertstate.Run) uint64 {
	h := fnv.New64a()
	put := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	for _, c := range run.Checked {
		put("c", c.Operation, c.Authorizer)
	}
	for _, a := range run.Alerts {
		put("a", a.Authorizer, a.Operation, a.Env, a.Resource, a.Status, a.Message)
	}
	for _, f := range run.Failures {
		put("f", f.Authorizer, f.Operation, f.Kind, strconv.Itoa(f.ErrCode))
	}
	return h.Sum64()
}
