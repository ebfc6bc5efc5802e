package invoke

import (
	"context"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/emf"
)

// alerts hands the run to the alert path (package alerts,
// docs/alerts.md) under ctx, whose deadline is the alert path's, and
// reports what it returns in the event: each alert's since, the changes,
// each robot's outcome. It returns the outcome for the log line's metrics.
func (inv *invocation) alerts(ctx context.Context, ev *Event, run alerts.Run, pl plan) alerts.Outcome {
	run, names := inv.incidents(ctx, ev, run, pl)
	out := inv.rt.Alerts.Track(ctx, alerts.Input{
		Names:    names,
		Run:      run,
		Partial:  pl.env != inv.rt.Config.Env,
		Now:      inv.stamp,
		Platform: inv.h.Platform,
		Function: inv.functionName(),
		Log:      inv.requestLogger(),
		Store:    inv.runStore(),
	})
	if !out.Tracked {
		return out
	}
	for i := range ev.Alerts {
		if i < len(out.AlertSince) && !out.AlertSince[i].IsZero() {
			ev.Alerts[i].Since = out.AlertSince[i]
		}
	}
	ev.Changes = out.Changes
	ev.Incidents = out.Incidents
	for _, o := range out.Notifications {
		ev.Notifications = append(ev.Notifications, Notification{Channel: o.Channel, Status: o.Status, Error: o.Error, Owed: o.Owed, Authorizers: o.Authorizers})
	}
	return out
}

// runOf is what the run saw, for the alert path.
func runOf(ev *Event) alerts.Run { return collectRun(ev, true) }

// collectRun is runOf, its checked scopes left out unless checked is
// set: a fleet's are as many as its authorizers, and a run that has them
// already need not hold them twice.
func collectRun(ev *Event, checked bool) alerts.Run {
	var run alerts.Run
	if checked {
		n := 1
		for i := range ev.Results {
			n += 1 + len(ev.Results[i].auths)
		}
		if ev.warnings != nil {
			n += len(ev.warnings.Checked)
		}
		n += 4 // the platform's scopes a fleet run adds (platformRun)
		run.Checked = make([]alerts.Scope, 0, n)
	}
	check := func(s alerts.Scope) {
		if checked {
			run.Checked = append(run.Checked, s)
		}
	}
	for i := range ev.Results {
		r := &ev.Results[i]
		if !r.Fleet {
			check(alerts.Scope{Operation: r.Operation, Authorizer: r.Authorizer})
			if r.Error != nil {
				run.Failures = append(run.Failures, alerts.Failure{Authorizer: r.Authorizer, Operation: r.Operation,
					Kind: r.Error.Kind, ErrCode: r.Error.ErrCode, Message: r.Error.Message})
			}
			continue
		}
		if r.whole {
			// The fleet as a whole was read: what it had open resolves.
			check(alerts.Scope{Operation: r.Operation})
		}
		if r.Error != nil {
			// The fleet as a whole could not be read: that is the
			// operation's failure; its authorizers speak for themselves.
			run.Failures = append(run.Failures, alerts.Failure{Operation: r.Operation, Kind: r.Error.Kind,
				ErrCode: r.Error.ErrCode, Message: r.Error.Message})
		}
		for j := range r.auths {
			a, id := &r.auths[j], r.appids[j]
			check(alerts.Scope{Operation: r.Operation, Authorizer: id})
			if a.Error != nil {
				run.Failures = append(run.Failures, alerts.Failure{Authorizer: id, Operation: r.Operation,
					Kind: a.Error.Kind, ErrCode: a.Error.ErrCode, Message: a.Error.Message})
			}
		}
	}
	if checked {
		run.Checked = append(run.Checked, warningScopes(ev)...)
	}
	run.Alerts = ev.Alerts
	return run
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
