package invoke

import (
	"slices"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// runAhead is a fleet run's read-ahead
// (docs/store.md#round-trips-of-a-run): what the run reads once — the
// shared quota reading, the authorizers' names, their alert state and the
// owner robots — is read in the batches of its token preload
// (app.ReadAhead), which it makes anyway, and answered from there by the
// run's store.Buffered (deferredWrites). Keys it reads ahead in vain cost
// no round trip; keys it misses are read as before.
type runAhead struct {
	buf    *store.Buffered
	prefix string
	// names reads ahead the names; state the alert state (of the scopes
	// in ops and of each authorizer's getenvinfo), robots the registry.
	names         bool
	state, robots bool
	ops           []string
	inv           *invocation
	first         bool // the next batch is the first: it reads the run's own keys
}

// startAhead starts the read-ahead of a fleet run planned by pl, before
// the checks (the warnings wait for the quota reading it reads): nil when
// the run is not one (a single check, a queued run, no store).
func (inv *invocation) startAhead(pl plan) *runAhead {
	if !pl.fleet() || pl.queued || inv.rt.Store == nil || !slices.Contains(pl.ops, wechat.OpGetEnvInfo) {
		return nil
	}
	a := &runAhead{buf: inv.deferredWrites(), prefix: inv.rt.Config.StorePrefix, inv: inv, first: true,
		names: inv.rt.Names != nil, ops: pl.ops}
	if t := inv.rt.Alerts; t != nil && pl.env == inv.rt.Config.Env && t.ReadsState(time.Now()) {
		// A run narrowed to one env is not tracked.
		a.state, a.robots = true, t.ReadsRobots()
	}
	a.buf.Expect(inv.rt.Warnings.Reads()...)
	return a
}

// AheadKeys implements app.ReadAhead: appids' names and alert state, and
// in the first batch the run's own keys.
func (a *runAhead) AheadKeys(appids []string) []string {
	var keys []string
	if a.first {
		a.first = false
		keys = a.buf.Waiting() // the quota reading
		if a.state {
			for _, op := range a.ops {
				keys = append(keys, alertstate.Key(a.prefix, alerts.Scope{Operation: op}))
			}
			// The platform-level causes (incidents.go's platformRun).
			for _, c := range []string{incident.CauseComponentToken, incident.CauseAuthorizerList, incident.CauseUnreachable, incident.CauseDeadline} {
				keys = append(keys, alertstate.Key(a.prefix, alerts.Scope{Operation: incident.KeyPrefix + c}))
			}
			if a.inv.rt.Warnings != nil {
				keys = append(keys, alertstate.Key(a.prefix, alerts.Scope{Operation: warnings.OperationComponent}),
					alertstate.Key(a.prefix, alerts.Scope{Operation: warnings.OperationQuota}))
			}
		}
		if a.robots {
			keys = append(keys, robots.Keys(a.prefix)...)
		}
	}
	a.buf.Expect(keys...)
	// The authorizers' keys are expected as groups (no entry each: most
	// are absent), and built for the batch only.
	each := func(family string, ids []string) {
		a.buf.ExpectEach(family, ids)
		for _, id := range ids {
			keys = append(keys, family+id)
		}
	}
	if a.names {
		each(names.Key(a.prefix, ""), a.inv.rt.Names.Lacking(appids))
	}
	if a.state {
		each(alertstate.OperationKeys(a.prefix, wechat.OpGetEnvInfo), appids)
	}
	return keys
}

// Supply implements app.ReadAhead.
func (a *runAhead) Supply(keys []string, vals map[string]store.Value) { a.buf.Supply(keys, vals) }

// done gives up what was not read ahead: those keys are read as before.
func (a *runAhead) done() {
	if a != nil {
		a.buf.Abandon()
	}
}
