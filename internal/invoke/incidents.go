package invoke

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// minNamesBudget is the least time worth spending on names (a quarter of
// what is left to the alert path); with less, lines show appids alone.
const minNamesBudget = 100 * time.Millisecond

// noCloudDevelopment is a failure's message for an authorizer that has
// not granted permission set 49.
const noCloudDevelopment = incident.NoCloudDevelopment + "; the merchant must grant it to the platform (authorize again with cloud development ticked)"

// incidents prepares a fleet run for the alert path
// (docs/alerts.md#incidents-not-lines): it names the authorizers (results,
// alerts and, through Track, changes and messages), says "permission set
// 49 not granted" where that is why an authorizer fails, and finds the
// run's platform-level failures: their per-authorizer failures are marked
// inhibited_by in the event and left out of the run, so their state stays
// as it was, and each cause joins the run as one failure of its own. It
// returns the run to track and the names by appid. A run without a fleet
// is returned as it is.
func (inv *invocation) incidents(ctx context.Context, ev *Event, run alerts.Run, pl plan) (alerts.Run, map[string]string) {
	var r *Result
	for i := range ev.Results {
		if ev.Results[i].Fleet {
			r = &ev.Results[i]
			break
		}
	}
	if r == nil {
		return inv.cutOff(ev, run, pl), nil
	}
	named := inv.names(ctx, ev, r)
	facts := factsOf(r)
	facts.Advice = advice(r, inv.rt.Config.Concurrency)
	facts.StaleTicket = staleTicket(ev.Alerts)
	a := incident.Analyze(facts)
	if len(a.Causes) > 0 {
		ev.PlatformFailures = a.Causes
	}
	for i := range r.auths {
		if e := r.auths[i].Error; e != nil && a.Inhibitor(i) != "" {
			e.InhibitedBy = a.Inhibitor(i)
		}
	}
	// Other operations that failed for want of the component token
	// (describecloudbaserunenvs) are the same incident.
	inhibitedOps := map[string]bool{}
	for _, c := range a.Causes {
		if c.Cause != incident.CauseComponentToken {
			continue
		}
		for i := range ev.Results {
			if x := &ev.Results[i]; !x.Fleet && x.Error != nil && x.Error.op == incident.OpComponentToken {
				x.Error.InhibitedBy = c.Key
				inhibitedOps[x.Operation] = true
			}
		}
	}
	// The names may have changed failures' messages; what was checked is
	// as run has it (runOf), not collected twice.
	now := collectRun(ev, false)
	now.Checked = run.Checked
	return platformRun(now, r, a, pl, inhibitedOps), named
}

// cutOff handles a fleet run whose operation the deadline cut off before
// its results could be collected: that is the deadline's failure, not the
// operation's.
func (inv *invocation) cutOff(ev *Event, run alerts.Run, pl plan) alerts.Run {
	if !pl.fleet() {
		return run
	}
	for i := range ev.Results {
		x := &ev.Results[i]
		if x.Operation != wechat.OpGetEnvInfo || !x.unreached || x.Error == nil {
			continue
		}
		a := incident.Analyze(incident.Facts{Operation: x.Operation, CutOff: true})
		ev.PlatformFailures = a.Causes
		x.Error.InhibitedBy = a.Causes[0].Key
		fake := &Result{Operation: x.Operation, Fleet: true, Error: x.Error}
		return platformRun(run, fake, a, pl, map[string]bool{})
	}
	return run
}

// names loads the fleet's names (one store read; a few lookups within
// the alert path's time) and puts them on the fleet's results and the
// alerts; failures of authorizers without permission set 49 say so.
func (inv *invocation) names(ctx context.Context, ev *Event, r *Result) map[string]string {
	if inv.rt.Names == nil || len(r.auths) == 0 {
		return nil
	}
	book := *inv.rt.Names
	// What it learns is written with the run's history record, in one batch.
	book.Store = inv.deferredWrites()
	book.Budget = names.Budget
	if dl, ok := ctx.Deadline(); ok {
		book.Budget = min(book.Budget, time.Until(dl)/4)
	}
	if book.Budget < minNamesBudget {
		// Too little time left: the state and the robots come first.
		return nil
	}
	entries, st, err := book.Load(ctx, r.appids, urgentOf(ev, r))
	if err != nil {
		inv.logger().Warn("the authorizers' names could not all be had; lines show appids alone", "request_id", inv.requestID,
			"error", inv.scrub(err.Error()), "looked_up", st.Looked, "missing", st.Missing)
	}
	out := make(map[string]string, len(entries))
	for id, e := range entries {
		if e.Name != "" {
			out[id] = e.Name
		}
	}
	r.names = out
	for i := range r.auths {
		a := &r.auths[i]
		e := entries[r.appids[i]]
		if a.Error != nil && !a.unreached && e.LacksCloudDevelopment() && ownFailure(a.Error.Kind) {
			a.Error.Message = noCloudDevelopment
		}
	}
	for i := range ev.Alerts {
		ev.Alerts[i].Name = out[ev.Alerts[i].Authorizer]
	}
	return out
}

// urgentOf orders the authorizers whose names a message may show: the
// first few of each cause (a grouped line names five), then the others
// in trouble.
func urgentOf(ev *Event, r *Result) []string {
	type cause struct {
		kind    string
		errcode int
	}
	perCause := map[cause]int{}
	var first, rest []string
	add := func(c cause, appid string) {
		if perCause[c] < incident.MaxNames {
			perCause[c]++
			first = append(first, appid)
		} else {
			rest = append(rest, appid)
		}
	}
	for i := range r.auths {
		if a := &r.auths[i]; a.Error != nil && !a.unreached {
			add(cause{a.Error.Kind, a.Error.ErrCode}, r.appids[i])
		}
	}
	for i := range ev.Alerts {
		if a := &ev.Alerts[i]; a.Authorizer != "" {
			add(cause{"alert " + a.Operation + " " + a.Resource + " " + a.Status, 0}, a.Authorizer)
		}
	}
	return append(first, rest...)
}

// ownFailure reports whether a failure of kind is about the authorizer
// itself rather than the way to WeChat.
func ownFailure(kind string) bool {
	switch wechat.Kind(kind) {
	case wechat.KindTimeout, wechat.KindNetwork, wechat.KindUpstream, wechat.KindStore, wechat.KindRateLimit:
		return false
	}
	return true
}

// advice is what a deadline line tells to change, with this run's numbers.
func advice(r *Result, concurrency int) string {
	reached := 0
	for i := range r.auths {
		if !r.auths[i].unreached {
			reached++
		}
	}
	total := len(r.auths)
	if reached == 0 || reached == total {
		return ""
	}
	shards := (total + reached - 1) / reached
	return fmt.Sprintf("raise the function's timeout or WXCLOUDENV_CONCURRENCY (now %d), split the fleet into at least %d schedules with shard=K/%d, or use the queue",
		concurrency, shards, shards)
}

// factsOf is what root cause needs of a fleet result.
func factsOf(r *Result) incident.Facts {
	f := incident.Facts{Operation: r.Operation, Checks: make([]incident.Check, len(r.auths))}
	if r.Error != nil {
		// The fleet as a whole could not be read: the list, or the
		// component token the list needs.
		op := r.Error.op
		if op != incident.OpComponentToken {
			op = incident.OpGetAuthorizerList
		}
		f.List = &incident.Failure{Op: op, Kind: r.Error.Kind, ErrCode: r.Error.ErrCode,
			Message: strings.TrimPrefix(r.Error.Message, fleetWholePrefix)}
	}
	for i := range r.auths {
		a := &r.auths[i]
		c := incident.Check{Reached: !a.unreached}
		if a.Error != nil {
			c.Failure = &incident.Failure{Op: a.Error.op, Kind: a.Error.Kind, ErrCode: a.Error.ErrCode}
		}
		f.Checks[i] = c
	}
	return f
}

// platformRun is run without the fleet authorizers that a cause inhibits
// (their state stays as it was) and without the fleet's own failure when a
// cause stands for it, plus one failure per cause and one checked scope
// per platform-level thing this run saw working, so that it resolves.
func platformRun(run alerts.Run, r *Result, a incident.Analysis, pl plan, inhibitedOps map[string]bool) alerts.Run {
	inhibited := map[string]bool{}
	reached := 0
	for i := range r.auths {
		if a.Inhibitor(i) != "" {
			inhibited[r.appids[i]] = true
		}
		if !r.auths[i].unreached {
			reached++
		}
	}
	keep := func(op, authorizer string) bool {
		if op != r.Operation {
			return !inhibitedOps[op]
		}
		if authorizer == "" {
			return r.Error == nil // a cause stands for the fleet's own failure
		}
		return !inhibited[authorizer]
	}
	out := alerts.Run{Alerts: run.Alerts, Checked: run.Checked, Failures: run.Failures}
	if len(inhibited) > 0 || len(inhibitedOps) > 0 || r.Error != nil {
		// Something is left out: a copy (a fleet's checked scopes are as
		// many as its authorizers, so they are not copied otherwise; what
		// is added below goes past the end of run's).
		out.Checked = make([]alerts.Scope, 0, len(run.Checked)+4)
		out.Failures = make([]alerts.Failure, 0, len(run.Failures)+len(a.Causes))
		for _, c := range run.Checked {
			if keep(c.Operation, c.Authorizer) {
				out.Checked = append(out.Checked, c)
			}
		}
		for _, f := range run.Failures {
			if keep(f.Operation, f.Authorizer) {
				out.Failures = append(out.Failures, f)
			}
		}
	}
	has := map[string]bool{}
	for _, c := range a.Causes {
		has[c.Cause] = true
		out.Failures = append(out.Failures, alerts.Failure{Operation: c.Key, Kind: c.Kind, ErrCode: c.ErrCode, Message: c.Message})
	}
	working := func(cause string, ok bool) {
		if ok && !has[cause] {
			out.Checked = append(out.Checked, alerts.Scope{Operation: incident.KeyPrefix + cause})
		}
	}
	working(incident.CauseComponentToken, reached > 0 || pl.all && r.Error == nil)
	working(incident.CauseAuthorizerList, pl.all && r.Error == nil)
	working(incident.CauseUnreachable, reached > 0)
	working(incident.CauseDeadline, true)
	return out
}

// staleTicket returns the message of the run's verify-ticket warning, or
// "": a component token that cannot be had is explained by it.
func staleTicket(alerts []Alert) string {
	for _, a := range alerts {
		if a.Authorizer == "" && a.Resource == warnings.ResourceVerifyTicket && a.Status == warnings.StatusStale {
			return a.Message
		}
	}
	return ""
}
