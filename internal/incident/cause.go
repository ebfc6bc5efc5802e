package incident

import (
	"fmt"
)

// Platform-level causes (contract section 14), in the order their lines
// come at the top of a message.
const (
	// CauseComponentToken: the component access token cannot be had (its
	// mint failed, the verify ticket is missing or stale, the component
	// credentials were rejected).
	CauseComponentToken = "component_token"
	// CauseAuthorizerList: the platform's authorizer list cannot be read.
	CauseAuthorizerList = "authorizer_list"
	// CauseUnreachable: WeChat is unreachable — in a run of at least
	// UnreachableMinChecks checks, at least UnreachablePercent percent
	// failed with kind upstream, timeout or network.
	CauseUnreachable = "wechat_unreachable"
	// CauseDeadline: the run's own deadline came before every authorizer
	// was reached.
	CauseDeadline = "deadline"
)

// KeyPrefix starts a platform cause's key: "platform:" + cause. It is what
// an inhibited item's "inhibited_by" says.
const KeyPrefix = "platform:"

// Thresholds of CauseUnreachable.
const (
	UnreachableMinChecks = 20
	UnreachablePercent   = 90
)

// The ops a failing call reports (wechat.Error.Op) that tie a
// per-authorizer failure to a platform-level one.
const (
	OpComponentToken    = "component_token"
	OpGetAuthorizerList = "get_authorizer_list"
)

// Check is one per-authorizer check of a run, as root cause needs it:
// Facts.Checks[i] is the run's i-th authorizer's (a fleet run has one per
// authorizer, so a check holds no more than this).
type Check struct {
	// Reached is false when the run's deadline came before the check
	// started or answered: it was not checked at all.
	Reached bool
	// Failure is set when the check failed: its Op is the call that
	// failed (wechat.Error.Op), "component_token" when the authorizer's
	// token could not be minted because the component token could not be
	// had; its Message is not read. Most of a fleet's checks have none,
	// and a check is 16 bytes.
	Failure *Failure
}

// failed reports whether c failed with op ("": any call).
func (c *Check) failed(op string) bool {
	return c.Failure != nil && (op == "" || c.Failure.Op == op)
}

// Failure is a platform-level call's own failure: the component token or
// the authorizer list.
type Failure struct {
	// Op is the call that failed; a list read that failed for want of the
	// component token says "component_token".
	Op      string
	Kind    string
	ErrCode int
	Message string
}

// Facts are what one run saw that root cause looks at.
type Facts struct {
	// Operation is the fleet's operation (getenvinfo).
	Operation string
	// Component is set when the run needed the component token and could
	// not have it.
	Component *Failure
	// List is set when an "all" run could not read the authorizer list.
	List *Failure
	// Checks are the fleet's per-authorizer checks.
	Checks []Check
	// Advice is what to change when the deadline cut the run short
	// (timeout, concurrency, shards or the queue); a default is used when
	// empty.
	Advice string
	// CutOff is set when the deadline came before the fleet's results
	// could even be collected: no check is known.
	CutOff bool
	// StaleTicket is the message of the run's verify-ticket warning
	// (resource verify_ticket, status STALE), when it has one: a component
	// token that cannot be had is then explained by it.
	StaleTicket string
}

// Cause is one platform-level failure of a run: one line at the top of a
// message, and one failure in the alert state (authorizer "", operation
// Key).
type Cause struct {
	// Key is KeyPrefix + Cause.
	Key string `json:"key"`
	// Cause is one of the Cause constants.
	Cause string `json:"cause"`
	// Kind and ErrCode are the failure's, when it has them.
	Kind    string `json:"kind,omitempty"`
	ErrCode int    `json:"errcode,omitempty"`
	// Message says what failed and what to do.
	Message string `json:"message"`
	// Inhibited counts the per-authorizer checks it inhibits.
	Inhibited int `json:"inhibited"`
	// Reached and Total are the deadline's counts (Reached of Total
	// authorizers were checked).
	Reached int `json:"reached,omitempty"`
	Total   int `json:"total,omitempty"`
}

// Analysis is root cause's verdict on a run.
type Analysis struct {
	// Causes are the run's platform-level failures, in order.
	Causes []Cause
	// InhibitedBy[i] is the key of the cause that inhibits Checks[i], or
	// "" when it speaks for itself; nil when no check is inhibited (a
	// healthy fleet's run: Inhibitor reads it either way). Unreached
	// checks are inhibited by the deadline: they change no state.
	InhibitedBy []string
}

// Inhibitor returns the key of the cause that inhibits Checks[i], "" when
// none does.
func (a Analysis) Inhibitor(i int) string {
	if i >= len(a.InhibitedBy) {
		return ""
	}
	return a.InhibitedBy[i]
}

// inhibit marks Checks[i] of n as inhibited by key.
func (a *Analysis) inhibit(i, n int, key string) {
	if a.InhibitedBy == nil {
		a.InhibitedBy = make([]string, n)
	}
	a.InhibitedBy[i] = key
}

// DefaultAdvice is what a deadline line says to change.
const DefaultAdvice = "raise the function's timeout or WXCLOUDENV_CONCURRENCY, split the fleet with shard=K/N schedules, or use the queue"

func unreachableKind(kind string) bool {
	return kind == "upstream" || kind == "timeout" || kind == "network"
}

// Analyze finds the platform-level causes of a run and the per-authorizer
// checks each inhibits:
//   - the component token: every check whose failure came from the
//     component token (Op "component_token");
//   - the authorizer list: every check whose failure came from the list;
//   - WeChat unreachable: in at least UnreachableMinChecks reached checks
//     not already inhibited, at least UnreachablePercent percent failed with
//     kind upstream, timeout or network; those failures are inhibited;
//   - the deadline: checks not reached.
func Analyze(f Facts) Analysis {
	var a Analysis
	n := len(f.Checks)
	var comp, list, unreach, deadline Cause
	comp = Cause{Key: KeyPrefix + CauseComponentToken, Cause: CauseComponentToken}
	list = Cause{Key: KeyPrefix + CauseAuthorizerList, Cause: CauseAuthorizerList}
	unreach = Cause{Key: KeyPrefix + CauseUnreachable, Cause: CauseUnreachable}
	deadline = Cause{Key: KeyPrefix + CauseDeadline, Cause: CauseDeadline, Total: len(f.Checks)}

	compSeen := f.Component != nil || f.List != nil && f.List.Op == OpComponentToken
	if f.Component != nil {
		comp.Kind, comp.ErrCode, comp.Message = f.Component.Kind, f.Component.ErrCode, f.Component.Message
	} else if compSeen {
		comp.Kind, comp.ErrCode, comp.Message = f.List.Kind, f.List.ErrCode, f.List.Message
	}
	listSeen := f.List != nil && f.List.Op != OpComponentToken
	if listSeen {
		list.Kind, list.ErrCode, list.Message = f.List.Kind, f.List.ErrCode, f.List.Message
	}
	reached, failedUp := 0, 0
	for i := range f.Checks {
		c := &f.Checks[i]
		switch {
		case !c.Reached:
			a.inhibit(i, n, deadline.Key)
			continue
		case c.failed(OpComponentToken):
			if !compSeen {
				compSeen = true
				comp.Kind, comp.ErrCode = c.Failure.Kind, c.Failure.ErrCode
			}
			a.inhibit(i, n, comp.Key)
			comp.Inhibited++
			continue
		case c.failed(OpGetAuthorizerList) && listSeen:
			a.inhibit(i, n, list.Key)
			list.Inhibited++
			continue
		}
		reached++
		if c.failed("") && unreachableKind(c.Failure.Kind) {
			failedUp++
		}
	}
	deadline.Reached = len(f.Checks) - countKey(a.InhibitedBy, deadline.Key)
	if reached >= UnreachableMinChecks && failedUp*100 >= UnreachablePercent*reached {
		for i := range f.Checks {
			c := &f.Checks[i]
			if a.Inhibitor(i) == "" && c.failed("") && unreachableKind(c.Failure.Kind) {
				a.inhibit(i, n, unreach.Key)
				unreach.Inhibited++
			}
		}
		unreach.Kind = "upstream"
		unreach.Message = fmt.Sprintf("WeChat unreachable: %d of %d authorizer checks failed with upstream, timeout or network errors", failedUp, reached)
	}
	if compSeen {
		comp.Message = componentMessage(comp, f.StaleTicket)
		a.Causes = append(a.Causes, comp)
	}
	if listSeen {
		list.Message = "the authorizer list could not be read" + suffix(list.Message)
		a.Causes = append(a.Causes, list)
	}
	if unreach.Inhibited > 0 {
		a.Causes = append(a.Causes, unreach)
	}
	if f.CutOff {
		advice := f.Advice
		if advice == "" {
			advice = DefaultAdvice
		}
		deadline.Message = "the run's deadline came before the fleet's results could be collected; no authorizer changes state; " + advice
		a.Causes = append(a.Causes, deadline)
	} else if deadline.Reached < deadline.Total {
		advice := f.Advice
		if advice == "" {
			advice = DefaultAdvice
		}
		deadline.Inhibited = deadline.Total - deadline.Reached
		deadline.Message = fmt.Sprintf("the run's deadline came first: reached %d of %d authorizers; the %d others were not checked and keep their state; %s",
			deadline.Reached, deadline.Total, deadline.Inhibited, advice)
		a.Causes = append(a.Causes, deadline)
	}
	return a
}

func componentMessage(c Cause, staleTicket string) string {
	msg := "the component access token cannot be had"
	if staleTicket != "" {
		// The root cause: the verify ticket stopped arriving.
		msg += " because the verify ticket is stale: " + staleTicket
	}
	if c.Inhibited > 0 {
		msg += fmt.Sprintf(": %d authorizer checks could not run", c.Inhibited)
	}
	return msg + suffix(c.Message)
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func countKey(keys []string, k string) int {
	n := 0
	for _, v := range keys {
		if v == k {
			n++
		}
	}
	return n
}

// NoCloudDevelopment is the message of a failure of an authorizer whose
// func_info lacks permission set 49, in place of the bare errcode.
const NoCloudDevelopment = "permission set 49 (cloud development) not granted"
