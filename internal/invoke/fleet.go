package invoke

import (
	"context"

	"slices"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/app"
	"github.com/wxcloudenv/wxcloudenv/internal/fleet"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// fleet runs getenvinfo for every authorizer the plan names
// (docs/contract.md#the-fleet), at most WXCLOUDENV_CONCURRENCY at a time,
// and returns one fleet result. Authorizers not reached by the deadline are
// reported as timeout, never dropped. A failure to read the fleet as a
// whole (the authorizer list, the component token) is the fleet result's
// own error, beside the results of the authorizers that could be read.
//
// ahead (nil: none) reads along with the fleet's tokens what the run
// reads once (ahead.go); what it has not read once the tokens are
// preloaded is read as before.
func (inv *invocation) fleet(ctx context.Context, pl plan, grace time.Duration, ahead *runAhead) Result {
	defer ahead.done()
	start := time.Now()
	op := wechat.OpGetEnvInfo
	res := Result{Operation: op, Fleet: true}
	f := inv.rt.Fleet
	if f == nil {
		res.Error = inv.errorInfo(op, inv.rt.FleetErr)
		res.Duration = time.Since(start)
		return res
	}
	appids := pl.authorizers
	var listErr, refreshErr error
	if pl.all {
		appids, listErr = f.All(ctx)
	} else if refreshErr = f.Refresh(ctx); refreshErr != nil {
		// Named authorizers with stored refresh tokens still run; the
		// others report that no refresh token could be had.
		inv.logger().Warn("reading the authorizer list failed", "request_id", inv.requestID, "error", inv.scrub(refreshErr.Error()))
	}
	// The list was read, with the component token: the fleet as a whole
	// was checked.
	res.whole = listErr == nil && refreshErr == nil
	if !pl.all {
		// The configuration's list is not the run's to sort (All's is).
		appids = slices.Clone(appids)
	}
	slices.Sort(appids)
	appids = slices.Compact(appids)
	appids = fleet.InShard(appids, pl.shardK, pl.shardN)
	var ra app.ReadAhead
	if ahead != nil {
		ra = ahead
	}
	err := f.Preload(ctx, appids, ra)
	ahead.done()
	if err != nil && listErr == nil {
		// A store that cannot be read in bulk is read per authorizer;
		// each authorizer then reports the store's failure itself.
		inv.logger().Debug("preloading the fleet's tokens failed", "request_id", inv.requestID, "error", inv.scrub(err.Error()))
	}
	res.responses = inv.responses
	res.appids = appids
	res.auths = fleet.Run(ctx, appids, inv.rt.Config.Concurrency, grace,
		func(ctx context.Context, appid string) authResult {
			r := inv.operationWith(ctx, op, pl.env, f.Source(appid), appid)
			// A check the run's own deadline cut short says nothing about
			// the merchant (docs/alerts.md#incidents-not-lines).
			r.unreached = r.Error != nil && ctx.Err() != nil && cutShort(r.Error.Kind)
			spoolResponse(inv.responses, &r)
			return compactAuth(&r)
		},
		func(string) authResult {
			return authResult{Duration: time.Since(start), unreached: true, Error: &ErrorInfo{
				Kind: string(wechat.KindTimeout), Retryable: true,
				Message: "not reached before the invocation's deadline; narrow the run with a shard or raise the function's timeout"}}
		})
	res.OK = listErr == nil
	res.total()
	if listErr != nil {
		res.Error = inv.errorInfo(op, listErr)
		if res.Error.Message != "" {
			res.Error.Message = fleetWholePrefix + res.Error.Message
		}
	}
	res.Duration = time.Since(start)
	return res
}

// cutShort reports whether a failure of kind, met once the run's deadline
// had passed, may be the deadline's doing (a call, a token mint or a store
// read given up) rather than an answer about the merchant.
func cutShort(kind string) bool {
	switch wechat.Kind(kind) {
	case wechat.KindTimeout, wechat.KindStore, wechat.KindNetwork:
		return true
	}
	return false
}

// fleetWholePrefix starts the message of a fleet that could not be read
// as a whole.
const fleetWholePrefix = "the fleet could not be read as a whole: "

// wholeRunFailed reports whether a scheduled run must fail the invocation:
// an operation failed, or a fleet could not be read as a whole. Authorizers
// that fail on their own do not fail it (docs/contract.md#the-fleet).
func wholeRunFailed(ev *Event) bool {
	for _, r := range ev.Results {
		if r.Fleet && r.Error == nil {
			continue
		}
		if !r.OK {
			return true
		}
	}
	return false
}
