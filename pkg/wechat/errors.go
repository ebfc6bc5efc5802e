package wechat

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"
)

// Kind classifies a failure by what the caller can do about it.
type Kind string

// The kinds of failure, as named in the output event.
const (
	KindConfig         Kind = "config"          // a token cannot be had from the configuration
	KindAuth           Kind = "auth"            // a token, secret, ticket or refresh token was rejected
	KindPermission     Kind = "permission"      // the account lacks the API, the IP is not allow-listed, or cloud development is off
	KindRateLimit      Kind = "rate_limit"      // a daily or per-minute quota is used up
	KindInvalidRequest Kind = "invalid_request" // WeChat rejected the request itself
	KindUpstream       Kind = "upstream"        // WeChat failed, or answered with an unknown errcode
	KindNetwork        Kind = "network"         // the connection failed: refused, reset, DNS, TLS
	KindTimeout        Kind = "timeout"         // an attempt or the whole call ran out of time
	KindBadResponse    Kind = "bad_response"    // the answer is not JSON, lacks the expected fields, or is too large
	KindStore          Kind = "store"           // the shared store could not be read or written (retryable)
)

// Sentinel errors, one per kind, for use with [errors.Is]:
// errors.Is(err, wechat.ErrAuth) reports whether err is an *Error of kind auth.
var (
	ErrConfig         = &Error{Kind: KindConfig}
	ErrAuth           = &Error{Kind: KindAuth}
	ErrPermission     = &Error{Kind: KindPermission}
	ErrRateLimit      = &Error{Kind: KindRateLimit}
	ErrInvalidRequest = &Error{Kind: KindInvalidRequest}
	ErrUpstream       = &Error{Kind: KindUpstream}
	ErrNetwork        = &Error{Kind: KindNetwork}
	ErrTimeout        = &Error{Kind: KindTimeout}
	ErrBadResponse    = &Error{Kind: KindBadResponse}
)

// Error is a failed WeChat call. Its text never holds a token or a secret.
type Error struct {
	// Kind classifies the failure.
	Kind Kind
	// Op names the call that failed, such as "getenvinfo" or "component_token".
	Op string
	// ErrCode and ErrMsg are what WeChat sent; ErrCode is 0 when it sent none.
	ErrCode int
	ErrMsg  string
	// RID is the request id parsed out of ErrMsg ("... rid: 6124-...").
	RID string
	// StatusCode is the HTTP status of the last attempt, 0 when none arrived.
	StatusCode int
	// Retryable reports whether the failure is transient.
	Retryable bool
	// Message says what went wrong in words, without secrets.
	Message string
	// Reminted reports that WeChat rejected a minted token, and then the
	// token minted anew too.
	Reminted bool
	// Err is the underlying cause, if any; URLs in it are redacted.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("wechat: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Kind))
	if e.ErrCode != 0 {
		fmt.Fprintf(&b, ": errcode %d", e.ErrCode)
		if e.ErrMsg != "" {
			fmt.Fprintf(&b, " (%s)", e.ErrMsg)
		}
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error whose set fields all match e:
// a target with only Kind set matches every error of that kind, and one with
// ErrCode set matches that errcode.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (t.Kind == "" || t.Kind == e.Kind) &&
		(t.ErrCode == 0 || t.ErrCode == e.ErrCode) &&
		(t.Op == "" || t.Op == e.Op)
}

// IsTokenRejected reports whether err says that the token used was invalid or
// expired (errcode 40001, 40014 or 42001): a minted token is then re-minted.
func IsTokenRejected(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.ErrCode {
	case 40001, 40014, 42001:
		return true
	}
	return false
}

// classes maps each known errcode to its kind. Every errcode not listed is
// KindUpstream.
var classes = map[int]Kind{
	40001: KindAuth, 40013: KindAuth, 40014: KindAuth, 40125: KindAuth,
	41001: KindAuth, 41004: KindAuth, 42001: KindAuth, 61005: KindAuth,
	61006: KindAuth, 61023: KindAuth,

	48001: KindPermission, 61004: KindPermission, 61007: KindPermission,
	40164: KindPermission, 85088: KindPermission,

	45009: KindRateLimit, 45011: KindRateLimit,

	40097: KindInvalidRequest, 40101: KindInvalidRequest, 43002: KindInvalidRequest,
	44002: KindInvalidRequest, 47001: KindInvalidRequest,
}

// hints explains the errcodes users meet most, in words that say what to do.
var hints = map[int]string{
	-1:    "WeChat is busy; try again later",
	-1000: "WeChat had a system error; try again later",
	40001: "the token is invalid or not the latest",
	40013: "the appid is invalid",
	40014: "the token is invalid",
	40125: "the app secret is invalid",
	40164: "the caller's IP is not on the account's API IP allow-list",
	41001: "the token is missing",
	41004: "the app secret is missing",
	42001: "the token has expired",
	45009: "the daily API quota is used up",
	45011: "the per-minute API quota is used up; slow down",
	48001: "the account is not authorized for this API",
	61004: "the caller's IP is not on the third-party platform's IP allow-list",
	61005: "the component verify ticket has expired; use the latest pushed ticket",
	61006: "the component verify ticket is invalid",
	61007: "the authorizer has not granted this API to the platform",
	61023: "the authorizer refresh token is invalid",
	85088: "the app has no cloud development (qbase) privilege",
}

// Classify returns the kind of an errcode and whether it is transient.
func Classify(errcode int) (Kind, bool) {
	if k, ok := classes[errcode]; ok {
		return k, false
	}
	return KindUpstream, errcode == -1 || errcode == -1000
}

// Bounds on the upstream values an Error carries, so that a log line stays
// small whatever WeChat sent.
const (
	maxErrMsgBytes = 512
	maxRIDBytes    = 64
)

// newAPIError builds the error for a non-zero errcode. errmsg, already
// scrubbed of the call's secrets, is scrubbed of those sc keeps, cleaned
// of control characters and bounded.
func newAPIError(sc *Scrubber, op string, status, errcode int, errmsg string) *Error {
	kind, retryable := Classify(errcode)
	rid := sc.Scrub(parseRID(errmsg))
	if len(errmsg) > 8*maxErrMsgBytes {
		errmsg = errmsg[:8*maxErrMsgBytes]
	}
	return &Error{
		Kind:       kind,
		Op:         op,
		ErrCode:    errcode,
		ErrMsg:     boundText(sc.Scrub(errmsg), maxErrMsgBytes),
		RID:        rid,
		StatusCode: status,
		Retryable:  retryable,
		Message:    hints[errcode],
	}
}

// parseRID returns the request id WeChat appends to errmsg as "rid: xxx",
// or "" when there is none. A request id is letters, digits and '-'; it
// is bounded to MaxRIDBytes.
func parseRID(errmsg string) string {
	i := strings.LastIndex(errmsg, "rid:")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(errmsg[i+len("rid:"):], " ")
	j := 0
	for j < len(rest) && isRIDByte(rest[j]) {
		j++
	}
	return boundText(rest[:j], maxRIDBytes)
}

func isRIDByte(c byte) bool {
	return c == '-' || c == '_' || c-'0' < 10 || (c|0x20)-'a' < 26
}

// boundText returns s with control characters and invalid UTF-8 replaced
// by U+FFFD, cut to at most n bytes at a rune boundary and ending in "…"
// when cut. Every upstream value that reaches an error, an event or a log
// passes through it.
func boundText(s string, n int) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		for _, r := range s {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
				r = utf8.RuneError
			}
			b.WriteRune(r)
			if b.Len() > n {
				break
			}
		}
		s = b.String()
	}
	return scan.Bounded(s, n)
}
