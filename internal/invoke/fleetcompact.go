package invoke

import "time"

// A fleet run keeps one authResult per authorizer, not a Result: only what
// the event, the incident analysis, the names and the alert path need
// (docs/contract.md#memory-and-tmp). Its appid is the run's list's at the
// same position (Result.appids) and its name the run's names' (Result.names):
// at 10,000 authorizers that is about 0.5 MB at the end of a run instead of
// 2.2 MB. A decoded event holds its authorizers as Results
// (Result.Authorizers).

// authResult is one fleet authorizer's outcome.
type authResult struct {
	Error    *ErrorInfo
	Duration time.Duration
	// rare is what few authorizers have: alerts, a response kept in
	// memory because it could not be spooled.
	rare     *authRare
	off      int64 // where the response starts in the fleet's spool (n > 0)
	n        int32 // the spooled response's length; 0 when not spooled
	Attempts int32
	Items    int32
	OK       bool
	// unreached is set when the run's deadline came before the check.
	unreached bool
}

// authRare is the part of an authorizer's outcome that few have.
type authRare struct {
	response []byte
	alerts   []Alert
}

// compactAuth keeps what a fleet run needs of r, one authorizer's Result
// whose response was spooled (or not) by spoolResponse.
func compactAuth(r *Result) authResult {
	a := authResult{Error: r.Error, Duration: r.Duration,
		off: r.spooled.off, n: r.spooled.n, Attempts: int32(r.Attempts), Items: int32(r.Items), //nolint:gosec // counts of one authorizer's calls and environments
		OK: r.OK, unreached: r.unreached}
	if len(r.Response) > 0 || len(r.alerts) > 0 {
		a.rare = &authRare{response: r.Response, alerts: r.alerts}
	}
	return a
}

// alertsOf returns a's alerts.
func (a *authResult) alertsOf() []Alert {
	if a.rare == nil {
		return nil
	}
	return a.rare.alerts
}

// result is a, the outcome of authorizer (named name), as the Result the
// event writes, its response in s when spooled there.
func (a *authResult) result(op, authorizer, name string, s *spool) Result {
	r := Result{Operation: op, Authorizer: authorizer, Name: name, OK: a.OK, Attempts: int(a.Attempts),
		Duration: a.Duration, Error: a.Error, Items: int(a.Items), unreached: a.unreached}
	if a.n > 0 && s != nil {
		r.spooled = spooledResponse{s: s, off: a.off, n: a.n}
	} else if a.rare != nil {
		r.Response = a.rare.response
	}
	return r
}

// responseLen is the length of a's response, wherever it is.
func (a *authResult) responseLen() int {
	if a.n > 0 {
		return int(a.n)
	}
	if a.rare != nil {
		return len(a.rare.response)
	}
	return 0
}

// total adds the authorizers' attempts, items, alerts and failures to the
// fleet result r.
func (r *Result) total() {
	for i := range r.auths {
		a := &r.auths[i]
		r.Attempts += int(a.Attempts)
		r.Items += int(a.Items)
		r.alerts = append(r.alerts, a.alertsOf()...)
		if !a.OK {
			r.Failed++
			r.OK = false
		}
	}
	r.Total = len(r.auths)
}
