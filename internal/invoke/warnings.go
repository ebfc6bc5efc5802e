package invoke

import (
	"context"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/emf"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
)

// startWarnings runs the platform's warning checks
// (docs/when-tokens-break.md) beside the operations. The returned function
// waits for them until the given time and adds their alerts to ev.
func (inv *invocation) startWarnings(ctx context.Context) func(ev *Event, until time.Time) {
	w := inv.rt.Warnings
	if w == nil {
		return func(*Event, time.Time) {}
	}
	done := make(chan warnings.Report, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				inv.logPanic(r)
				done <- warnings.Report{}
			}
		}()
		done <- w.CheckWith(ctx, inv.runStore())
	}()
	return func(ev *Event, until time.Time) {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case r := <-done:
			inv.addWarnings(ev, r)
		case <-t.C:
			inv.logger().Warn("the platform's warnings were not checked before the deadline", "request_id", inv.requestID)
		}
	}
}

// runStore is the run's view of the store (deferredWrites: reads it read
// ahead, writes kept for its batch), or nil when there is no store.
func (inv *invocation) runStore() store.Store {
	if inv.rt.Store == nil {
		return nil
	}
	return inv.deferredWrites()
}

// addWarnings adds a warning report's alerts to ev; the operations it
// checked are resolved by the alert state like any other scope.
func (inv *invocation) addWarnings(ev *Event, r warnings.Report) {
	for _, a := range r.Alerts {
		ev.Alerts = append(ev.Alerts, Alert{Operation: a.Operation, Resource: a.Resource, Status: a.Status, Message: a.Message})
	}
	ev.warnings = &r
	for _, p := range r.Problems {
		inv.logger().Warn("a platform warning could not be checked", "request_id", inv.requestID, "error", inv.scrub(p))
	}
}

// warningScopes are the alert-state scopes the warnings checked.
func warningScopes(ev *Event) []alerts.Scope {
	if ev.warnings == nil {
		return nil
	}
	out := make([]alerts.Scope, 0, len(ev.warnings.Checked))
	for _, op := range ev.warnings.Checked {
		out = append(out, alerts.Scope{Operation: op})
	}
	return out
}

// warningMetrics adds the warnings' readings to the EMF metrics.
func warningMetrics(ev *Event, m *emf.Metrics) {
	if r := ev.warnings; r != nil {
		if r.HasTicketAge {
			m.VerifyTicketAgeSeconds = emf.Value(r.TicketAge.Seconds())
		}
		if r.HasQuota {
			m.QuotaRemainingPercent = emf.Value(r.QuotaPercent)
		}
	}
}
