// Package alerts owns wxcloudenv's alert path end to end
// (docs/alerts.md): the alert rules ([NeedsAttention], [Of]), the
// comparison of a run with the last-seen state kept in the store (package
// alertstate), delivery to the robots (package notify) at least once
// through a per-robot outbox in the store (docs/reliability.md), and the
// counts the log line's metrics carry ([Metrics]).
//
// A caller (package invoke) builds a [Run] from what its checks saw and
// hands it to [Tracker.Track] with a context whose deadline is the time the
// alert path may use; Track returns the alerts' since, the changes and
// each robot's outcome, and the caller reports them.
package alerts

import (
	"context"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/emf"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// The vocabulary of the alert path, defined once in package alertstate
// (the lowest layer that needs it) and used as is by the event, the
// robots' messages and the local runner.
type (
	// Alert is a resource whose status needs attention.
	Alert = alertstate.Alert
	// Change is a transition since the previous run, or a reminder.
	Change = alertstate.Change
	// Failure is a failed operation, or a failed authorizer of a fleet.
	Failure = alertstate.Failure
	// Scope is an (operation, authorizer) pair that a run checked.
	Scope = alertstate.Scope
	// Run is what one run saw.
	Run = alertstate.Run
)

// Change values and the resource of a failure's change.
const (
	ChangeNew         = alertstate.ChangeNew
	ChangeResolved    = alertstate.ChangeResolved
	ChangeReminder    = alertstate.ChangeReminder
	ResourceOperation = alertstate.ResourceOperation
)

// NotifyBudget bounds the robots' sending when the invocation has time to
// spare; they never run past the deadline of Track's context.
const NotifyBudget = 5 * time.Second

// Tracker is the alert path of one configuration: where the state is kept,
// how often reminders repeat, which robots hear about changes. Build one
// per configuration and keep it: it remembers the last state it confirmed
// so that warm runs that see the same need not read the store. It is safe
// for concurrent use.
type Tracker struct {
	// Store keeps the state (alertstate) and the robots' rate counters.
	Store store.Store
	// Prefix is WXCLOUDENV_STORE_PREFIX.
	Prefix string
	// Repeat is WXCLOUDENV_NOTIFY_REPEAT (0: no reminders).
	Repeat time.Duration
	// Notifier sends to the robots of WXCLOUDENV_NOTIFY (its Channels,
	// which hear everything) and to the authorizers' own robots kept in
	// Store (package robots; each hears its authorizer's changes only).
	// Nil: no robot at all.
	Notifier *notify.Notifier
	// GroupMin is WXCLOUDENV_NOTIFY_GROUP_MIN: changes sharing a cause
	// over at least this many authorizers or envs are one line (package
	// incident); 0 never groups.
	GroupMin int
	// Silences are the silences people created (nil: none); a change or
	// reminder one matches is marked and not sent, nor its resolution.
	Silences *silence.Book
	// Scrubber removes the secrets the runtime keeps from every stored
	// message and every text the alert path reports (nil: none).
	Scrubber *wechat.Scrubber

	memo memo
	// owners is whether the last read found owner robots: then the state
	// update leaves time for sending, as with platform robots.
	owners atomic.Bool
}

// Input is one run handed to the alert path.
type Input struct {
	// Run is what the run saw.
	Run Run
	// Partial is set when the run saw only part of what the configuration
	// covers (narrowed to one env): it is not tracked, since it could
	// neither keep nor resolve what it did not see.
	Partial bool
	// Now is the run's time, as the event reports it.
	Now time.Time
	// Platform and Function name the function in the robots' messages.
	Platform, Function string
	// Log receives the alert path's own lines (the state could not be
	// kept); it carries the request's attributes. Nil: slog.Default().
	Log *slog.Logger
	// Names are the authorizers' names by appid, for the changes and the
	// robots' lines.
	Names map[string]string
	// Store, when set, is the run's view of the Tracker's Store (a
	// store.Buffered over it, which may have read the state and the owner
	// robots ahead): the state and the registry are read through it, and
	// the state compared and swapped through it, which a Buffered passes
	// to the store beneath. Nil: the Tracker's Store.
	Store store.Store
}

// Outcome is what the alert path adds to the event.
type Outcome struct {
	// Tracked is false when the run was not compared with the state
	// (Partial): the event then has no "changes".
	Tracked bool
	// AlertSince[i] is when Run.Alerts[i] was first seen; zero when
	// unknown (the state could not be read or written).
	AlertSince []time.Time
	// Changes are the transitions this run claimed (an empty, non-nil
	// slice when there are none).
	Changes []Change
	// Silenced counts the changes and reminders a silence kept from the
	// robots.
	Silenced int
	// Incidents are this run's changes and reminders grouped by shared
	// cause, as the robots' messages show them (nil when none group).
	Incidents []incident.Incident
	// Notifications are each robot's outcome, nil when nothing was to be
	// sent.
	Notifications []notify.Outcome
	// StateErr is why the state could not be kept, if it could not; it
	// is logged already.
	StateErr error
	// Dropped counts the changes dropped after being owed to a robot for
	// OwedFor (or lost because they could be neither sent nor kept); each
	// drop is logged already.
	Dropped int
}

// Track compares the run with the last-seen state (docs/alerts.md): each
// alert gets its since, the run claims its changes and the reminders due,
// records them as owed to every robot, and sends each robot one message
// with everything it is owed; what a robot does not accept stays owed for
// a later run (for at most OwedFor). Everything runs under ctx: its
// deadline is the alert path's (the state update gets a third of the time
// left), the robots' sends also stop after NotifyBudget. Track never
// fails; the Outcome says what happened.
func (t *Tracker) Track(ctx context.Context, in Input) Outcome {
	if in.Partial {
		return Outcome{}
	}
	log := in.Log
	if log == nil {
		log = slog.Default()
	}
	sum := fingerprint(in.Run)
	// With silences, every run looks at them: one that ended owes its
	// reminders now, not when the memo runs out.
	if since, ok := t.memo.recall(sum, time.Now()); ok && t.Silences == nil {
		// The same state as a run of this tracker confirmed moments ago:
		// nothing can have changed that this run would report.
		return Outcome{Tracked: true, AlertSince: since, Changes: []Change{}}
	}
	// The owner robots are read while the state is updated: one batch,
	// which costs the update no time.
	type loaded struct {
		targets []target
		ok      bool
	}
	reads := in.Store
	if reads == nil {
		reads = t.Store
	}
	tch := make(chan loaded, 1)
	go func() {
		tg, ok := t.targets(ctx, reads, log)
		tch <- loaded{tg, ok}
	}()
	robots := t.Notifier != nil && (len(t.Notifier.Channels) > 0 || t.owners.Load())
	uctx := ctx
	if dl, ok := ctx.Deadline(); ok && robots {
		// What the state update claims must still be recorded as owed
		// before the deadline, and then sent: it gets a third of the time
		// left, recording the next third, sending the rest.
		var cancel context.CancelFunc
		uctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/3))
		defer cancel()
	}
	run := in.Run
	run.Scrubber = t.Scrubber
	st, err := alertstate.Update(uctx, reads, t.Prefix, in.Now, run, t.Repeat)
	out := Outcome{Tracked: true, StateErr: err}
	if err != nil {
		log.Warn("the alert state could not be kept", "error", t.Scrubber.Scrub(err.Error()))
	}
	name(st.Changes, in.Names)
	name(st.Reminders, in.Names)
	out.AlertSince, out.Changes = st.AlertSince, st.Changes
	out.Incidents = notify.Report{Changes: st.Changes, Reminders: st.Reminders, GroupMin: t.GroupMin}.Incidents()
	var released []Change
	out.Silenced, released = t.silence(ctx, in.Now, log, &st.Changes, &st.Reminders)
	name(released, in.Names)
	st.Reminders = append(st.Reminders, released...)
	settled := true
	l := <-tch
	targets, targetsOK := l.targets, l.ok
	if targetsOK && t.Notifier != nil {
		t.owners.Store(len(targets) > len(t.Notifier.Channels))
	}
	if len(targets) > 0 {
		// What a silence matched goes to no robot, platform or owner.
		claimed := make([]Change, 0, len(st.Changes)+len(st.Reminders))
		for _, list := range [][]Change{st.Changes, st.Reminders} {
			for _, c := range list {
				if c.Silenced == "" {
					claimed = append(claimed, c)
				}
			}
		}
		d := t.deliver(ctx, in, targets, targetsOK, claimed, err, log)
		out.Notifications, out.Dropped, settled = d.outcomes, d.dropped, d.settled
	}
	settled = settled && targetsOK
	if err == nil && settled {
		t.memo.remember(sum, st.AlertSince, time.Now())
	} else {
		// What this run saw is not confirmed (or is still owed): the next
		// run must not take an older confirmation for it.
		t.memo.forget()
	}
	return out
}

// ReadsState reports whether a run tracked at now would read the state
// and the owner robots: not when this tracker confirmed the state moments
// ago (a run that sees the same answers from that), unless silences are
// kept. A run may read them ahead (Input.Store).
func (t *Tracker) ReadsState(now time.Time) bool {
	return t.Silences != nil || !t.memo.fresh(now)
}

// ReadsRobots reports whether a run that reads the state reads the owner
// robots too.
func (t *Tracker) ReadsRobots() bool { return t.Store != nil && t.Notifier != nil }

// name sets each change's authorizer name from names.
func name(changes []Change, names map[string]string) {
	if len(names) == 0 {
		return
	}
	for i := range changes {
		if n := names[changes[i].Authorizer]; n != "" {
			changes[i].Name = n
		}
	}
}

// Metrics counts what the log line's EMF metrics report of a run: its
// alerts, the operations that failed as a whole (a fleet that could not be
// read counts; one authorizer's failure does not), the fleet authorizers
// it reported and those that failed, and the changes the alert path
// dropped (out's).
func Metrics(run Run, out Outcome) emf.Metrics {
	m := emf.Metrics{Alerts: len(run.Alerts), DroppedNotifications: out.Dropped, SilencedChanges: out.Silenced}
	for _, c := range run.Checked {
		if c.Authorizer != "" {
			m.Authorizers++
		}
	}
	for _, f := range run.Failures {
		if f.Authorizer == "" {
			m.FailedOperations++
		} else {
			m.FailedAuthorizers++
		}
	}
	return m
}

// memoFor is how long a run's confirmed state spares the next runs of the
// same tracker the store's round trip when they see exactly the same.
// Another instance's view reaches this one at most this late.
const memoFor = time.Minute

// memo is the last state a run of this tracker confirmed with the store:
// warm invocations that see the same state (a dashboard polling, a steady
// outage) need not read the store again to learn that nothing changed.
type memo struct {
	mu    sync.Mutex
	set   bool
	sum   uint64
	at    time.Time
	since []time.Time
}

func (m *memo) recall(sum uint64, now time.Time) ([]time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.set || m.sum != sum || now.Sub(m.at) >= memoFor {
		return nil, false
	}
	return m.since, true
}

// fresh reports whether a confirmation moments old is kept.
func (m *memo) fresh(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set && now.Sub(m.at) < memoFor
}

func (m *memo) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set = false
}

func (m *memo) remember(sum uint64, since []time.Time, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set, m.sum, m.since, m.at = true, sum, since, now
}

// fingerprint hashes everything a run's state comparison depends on: the
// pairs it checked, its alerts and its failures, in order.
func fingerprint(run Run) uint64 {
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
