package invoke

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// mintTarget names what each minting call makes, and the variables behind it.
var mintTarget = map[string][2]string{
	"stable_token":     {"the access token (stable_token)", "check WECHAT_APPID and WECHAT_APPSECRET, and the app's API IP allow-list"},
	"component_token":  {"the component access token", "check WECHAT_COMPONENT_APPID and WECHAT_COMPONENT_APPSECRET, and that WECHAT_COMPONENT_VERIFY_TICKET is the latest pushed ticket (a ticket lasts 12 hours)"},
	"authorizer_token": {"the authorizer access token", "check WECHAT_AUTHORIZER_APPID and WECHAT_AUTHORIZER_REFRESH_TOKEN; the merchant may have revoked the authorization"},
}

// errorInfo turns an error into the event's error object, with a message
// that says what to do, and no secret.
func (inv *invocation) errorInfo(op string, err error) *ErrorInfo {
	return inv.errorInfoFor(op, "", err)
}

// errorInfoFor is errorInfo for one authorizer of a fleet (none when
// authorizer is empty).
func (inv *invocation) errorInfoFor(op, authorizer string, err error) *ErrorInfo {
	var we *wechat.Error
	if !errors.As(err, &we) {
		return &ErrorInfo{Kind: string(wechat.KindUpstream), Message: inv.scrub(err.Error())}
	}
	info := &ErrorInfo{Kind: string(we.Kind), ErrCode: we.ErrCode, ErrMsg: inv.scrub(we.ErrMsg), RID: we.RID, Retryable: we.Retryable, op: we.Op}
	if we.StatusCode != 0 && we.StatusCode != 200 {
		info.HTTPStatus = we.StatusCode
	}
	what := we.Message
	if what == "" {
		what = string(we.Kind)
	}
	var msg string
	switch {
	case we.Kind == wechat.KindConfig:
		msg = we.Message
	case inv.follows(we.Op):
		// The layout never mints: the message names the key and the
		// service that keeps it, and no minting advice applies.
		msg = what
	case mintTarget[we.Op][0] != "":
		t := mintTarget[we.Op]
		msg = "minting " + t[0] + " failed: " + what
		if we.Kind == wechat.KindAuth || we.Kind == wechat.KindPermission {
			advice := t[1]
			if we.Op == "authorizer_token" && authorizer != "" {
				advice = "the merchant may have revoked or renewed the authorization; the fleet takes each refresh token from the authorization events and WeChat's authorizer list"
			}
			msg += "; " + advice
		}
	case we.Kind == wechat.KindAuth:
		msg = authAdvice(op, we.Reminted, what)
	case we.ErrCode == 61004 || we.ErrCode == 40164:
		msg = what + "; add the function's egress IP to the allow-list (a serverless function needs a fixed egress IP, such as a NAT gateway)"
	case we.ErrCode == 61007:
		msg = what + "; the merchant must grant permission set 49 (cloud development) to the platform"
	default:
		msg = what
	}
	if we.Kind == wechat.KindNetwork || we.Kind == wechat.KindTimeout || we.Kind == wechat.KindBadResponse || we.Kind == wechat.KindStore {
		// The cause: for the store, its text names the backend, the host
		// and the key, with the URL's password removed.
		if we.Err != nil {
			msg += ": " + we.Err.Error()
		}
	}
	if we.Kind == wechat.KindStore {
		msg += "; check WXCLOUDENV_STORE (its URL, password and network path)"
	}
	info.Message = inv.scrub(msg)
	return info
}

// follows reports whether the token op names is read from another
// service's keys (WXCLOUDENV_TOKEN_LAYOUT wxjava or silenceper), and so
// never minted here.
func (inv *invocation) follows(op string) bool {
	if inv.rt == nil || inv.rt.Config.TokenLayout == config.LayoutOwn || inv.rt.Config.TokenLayout == "" {
		return false
	}
	return op == "component_token" || op == "authorizer_token"
}

func authAdvice(op string, minted bool, what string) string {
	if op == wechat.OpDescribeCloudBaseRunEnvs {
		if minted {
			return "the minted component access token was rejected (" + what + ") even after minting it anew; check the component credentials"
		}
		return "the component access token was rejected (" + what + "); set a fresh WECHAT_COMPONENT_ACCESS_TOKEN or the component credentials"
	}
	if minted {
		return "the minted access token for getenvinfo was rejected (" + what + ") even after minting it anew; check the authorizer or app credentials"
	}
	return "the access token for getenvinfo was rejected (" + what + "); set a fresh WECHAT_ACCESS_TOKEN, or the authorizer or app credentials"
}

// failures names each failed operation and its kind.
func failures(ev *Event) string {
	var parts []string
	n := 0
	for _, r := range ev.Results {
		if r.OK || r.Fleet && r.Error == nil {
			continue
		}
		n++
		s := r.Operation + " (" + r.Error.Kind
		if r.Error.ErrCode != 0 {
			s += fmt.Sprintf(", errcode %d", r.Error.ErrCode)
		}
		parts = append(parts, s+"): "+r.Error.Message)
	}
	return fmt.Sprintf("%d of %d operations failed: %s", n, len(ev.Results), strings.Join(parts, "; "))
}

// failedKinds calls fn with the kind of each failure in r: its own error,
// and in a fleet each failed authorizer's.
func failedKinds(r *Result, fn func(kind string)) {
	if r.Error != nil {
		fn(r.Error.Kind)
	}
	for i := range r.auths {
		if a := &r.auths[i]; a.Error != nil {
			fn(a.Error.Kind)
		}
	}
}
