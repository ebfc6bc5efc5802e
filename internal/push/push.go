// Package push serves WeChat's authorization-event push
// (docs/contract.md#the-authorization-event-push): it checks the
// signature, decrypts the event, keeps the component_verify_ticket, and
// keeps the fleet of authorizers as they authorize and leave.
package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// Keeper keeps what pushes bring in the shared store.
type Keeper interface {
	// SaveTicket stores a verify ticket unless a newer one is stored.
	SaveTicket(ctx context.Context, componentAppID, ticket string, created time.Time) (bool, error)
	// SaveAuthorization stores an authorizer's tokens and adds it to the
	// fleet.
	SaveAuthorization(ctx context.Context, componentAppID string, a Authorization) error
	// Forget deletes an authorizer's tokens and removes it from the fleet.
	Forget(ctx context.Context, componentAppID, authorizerAppID string) error
}

// Authorization is what exchanging an authorization code gives.
type Authorization struct {
	AuthorizerAppID string
	AccessToken     string
	Expiry          time.Time
	RefreshToken    string
}

// Exchange trades an authorization code for the authorizer's tokens at
// /cgi-bin/component/api_query_auth.
type Exchange func(ctx context.Context, code string) (Authorization, error)

// Handler handles pushes for one third-party platform.
type Handler struct {
	Token          string // WECHAT_COMPONENT_TOKEN
	EncodingAESKey string // WECHAT_COMPONENT_ENCODING_AES_KEY
	ComponentAppID string
	Keeper         Keeper
	Exchange       Exchange
	// Store and Prefix record handled pushes, so that a redelivery
	// changes nothing more.
	Store  store.Store
	Prefix string
	// Now returns the current time (time.Now by default).
	Now func() time.Time
}

// Answer is the HTTP answer to a push and what to log of it.
type Answer struct {
	Status int
	Body   string // "success", or what went wrong
	// Logged fields: never the ticket, the code or a token.
	InfoType   string
	Authorizer string
	Outcome    string
}

// handledFor is how long a handled push is remembered. WeChat redelivers
// a push it got no "success" for within seconds to minutes.
const handledFor = 24 * time.Hour

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle answers one push with its query and (decoded) body. The order of
// checks is the contract's: 500 config when the platform's token or key is
// not configured; 401 for a missing or wrong signature, before anything is
// decrypted or stored; 400 for a body that does not decrypt or parse, or a
// wrong appid; 500 when the store or the code exchange fails, so that WeChat
// pushes again; 200 success otherwise.
func (h *Handler) Handle(ctx context.Context, q url.Values, body []byte) Answer {
	if h.Token == "" || h.EncodingAESKey == "" || h.ComponentAppID == "" {
		return Answer{Status: http.StatusInternalServerError, Outcome: "config",
			Body: "set WECHAT_COMPONENT_TOKEN, WECHAT_COMPONENT_ENCODING_AES_KEY and WECHAT_COMPONENT_APPID to receive authorization events"}
	}
	sig := q.Get("msg_signature")
	if sig == "" {
		return Answer{Status: http.StatusUnauthorized, Outcome: "unsigned", Body: "msg_signature is missing"}
	}
	msg, err := authevent.Open(h.Token, h.EncodingAESKey, h.ComponentAppID, q.Get("timestamp"), q.Get("nonce"), sig, body)
	switch {
	case errors.Is(err, authevent.ErrSignature):
		return Answer{Status: http.StatusUnauthorized, Outcome: "bad_signature", Body: "the signature does not match"}
	case errors.Is(err, authevent.ErrKey):
		return Answer{Status: http.StatusInternalServerError, Outcome: "config", Body: "WECHAT_COMPONENT_ENCODING_AES_KEY or WECHAT_COMPONENT_APPID is not usable"}
	case errors.Is(err, authevent.ErrAppID):
		return Answer{Status: http.StatusBadRequest, Outcome: "wrong_appid", Body: "the event is for another appid"}
	case err != nil:
		return Answer{Status: http.StatusBadRequest, Outcome: "undecryptable", Body: "the body does not decrypt or parse"}
	}
	a := Answer{Status: http.StatusOK, Body: "success", InfoType: msg.InfoType, Authorizer: msg.AuthorizerAppID}
	if refused := h.outOfTime(q.Get("timestamp"), msg); refused != "" {
		a.Status, a.Outcome, a.Body = http.StatusBadRequest, refused, refusals[refused]
		return a
	}
	key := h.Prefix + "push:" + digest(body)
	if _, err := h.Store.Get(ctx, key); err == nil {
		a.Outcome = "redelivered"
		return a
	}
	a.Outcome, err = h.apply(ctx, msg)
	if err != nil {
		if code, ok := permanent(err); ok {
			// Pushing again cannot help: answer success so that WeChat
			// stops, and say so in the log line.
			a.Outcome += fmt.Sprintf(" permanently (errcode %d); not retried", code)
			return a
		}
		a.Status, a.Body = http.StatusInternalServerError, "not handled; push again"
		return a
	}
	if err := h.Store.Set(ctx, key, store.Value{Data: []byte{1}, Expires: h.now().Add(handledFor)}); err != nil {
		// The event is kept; only the redelivery guard is not. Handling
		// it again is harmless.
		a.Outcome += "; not recorded as handled"
	}
	return a
}

// apply does what the event asks and returns the outcome to log.
func (h *Handler) apply(ctx context.Context, msg *authevent.Message) (string, error) {
	switch msg.InfoType {
	case authevent.InfoVerifyTicket:
		if msg.ComponentVerifyTicket == "" {
			return "no ticket", nil
		}
		saved, err := h.Keeper.SaveTicket(ctx, h.ComponentAppID, msg.ComponentVerifyTicket, time.Unix(msg.CreateTime, 0))
		if err != nil {
			return "store failed", err
		}
		if !saved {
			return "older ticket ignored", nil
		}
		return "ticket stored", nil
	case authevent.InfoAuthorized, authevent.InfoUpdateAuthorized:
		auth, err := h.Exchange(ctx, msg.AuthorizationCode)
		if err != nil {
			return "code exchange failed", err
		}
		if auth.AuthorizerAppID == "" {
			auth.AuthorizerAppID = msg.AuthorizerAppID
		}
		if err := h.Keeper.SaveAuthorization(ctx, h.ComponentAppID, auth); err != nil {
			return "store failed", err
		}
		return "authorizer stored", nil
	case authevent.InfoUnauthorized:
		if err := h.Keeper.Forget(ctx, h.ComponentAppID, msg.AuthorizerAppID); err != nil {
			return "store failed", err
		}
		return "authorizer removed", nil
	}
	return "ignored", nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}
