package authevent

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
)

// The InfoType values of the events WeChat pushes to the authorization
// event URL.
const (
	InfoVerifyTicket     = "component_verify_ticket"
	InfoAuthorized       = "authorized"
	InfoUpdateAuthorized = "updateauthorized"
	InfoUnauthorized     = "unauthorized"
)

// Message is one decrypted authorization event. Its ticket and codes are
// secrets: String, GoString, LogValue and MarshalJSON never show them.
type Message struct {
	// AppID is the component appid the event is for.
	AppID string `xml:"AppId"`
	// CreateTime is when WeChat made the event, in Unix seconds.
	CreateTime int64 `xml:"CreateTime"`
	// InfoType is what happened: one of the Info constants, or another
	// type this package does not know.
	InfoType string `xml:"InfoType"`
	// ComponentVerifyTicket is the new ticket (component_verify_ticket).
	ComponentVerifyTicket string `xml:"ComponentVerifyTicket"`
	// AuthorizerAppID is the authorizer's appid (authorized,
	// updateauthorized, unauthorized).
	AuthorizerAppID string `xml:"AuthorizerAppid"`
	// AuthorizationCode is exchanged at api_query_auth (authorized,
	// updateauthorized).
	AuthorizationCode string `xml:"AuthorizationCode"`
	// AuthorizationCodeExpiredTime is when the code expires, in Unix
	// seconds.
	AuthorizationCodeExpiredTime int64 `xml:"AuthorizationCodeExpiredTime"`
	// PreAuthCode is the pre-authorization code the authorization used.
	PreAuthCode string `xml:"PreAuthCode"`
}

// redacted stands in for a secret in any output of Message.
const redacted = "REDACTED"

func hide(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// ParseMessage parses a decrypted event and checks that it has what its
// InfoType needs: a ticket, an authorizer appid of 1–64 characters of
// [A-Za-z0-9_], a code. An unknown InfoType is accepted as is. Errors wrap
// ErrMalformed and never hold the message's text.
func ParseMessage(b []byte) (*Message, error) {
	if len(b) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: the message has %d bytes, over %d", ErrMalformed, len(b), MaxBodyBytes)
	}
	var x struct {
		XMLName struct{} `xml:"xml"`
		Message
	}
	if err := strictUnmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("%w: the message is not <xml>: %s", ErrMalformed, xmlErrorText(err))
	}
	m := &x.Message
	if m.InfoType == "" {
		return nil, fmt.Errorf("%w: the message has no InfoType", ErrMalformed)
	}
	switch m.InfoType {
	case InfoVerifyTicket:
		if m.ComponentVerifyTicket == "" {
			return nil, fmt.Errorf("%w: %s without ComponentVerifyTicket", ErrMalformed, m.InfoType)
		}
	case InfoAuthorized, InfoUpdateAuthorized, InfoUnauthorized:
		if !ValidAppID(m.AuthorizerAppID) {
			return nil, fmt.Errorf("%w: %s without a valid AuthorizerAppid", ErrMalformed, m.InfoType)
		}
		if m.InfoType != InfoUnauthorized && m.AuthorizationCode == "" {
			return nil, fmt.Errorf("%w: %s without AuthorizationCode", ErrMalformed, m.InfoType)
		}
	}
	return m, nil
}

// xmlErrorText keeps the kind of an XML error without quoting input: a
// syntax error's text may repeat a secret from the message.
func xmlErrorText(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return "syntax error"
	}
	return "it does not decode"
}

// ValidAppID reports whether s is 1–64 characters of [A-Za-z0-9_].
func ValidAppID(s string) bool { return appid.Valid(s) }

// view is what Message shows of itself.
type view struct {
	AppID                        string `json:"app_id,omitempty"`
	CreateTime                   int64  `json:"create_time,omitempty"`
	InfoType                     string `json:"info_type"`
	ComponentVerifyTicket        string `json:"component_verify_ticket,omitempty"`
	AuthorizerAppID              string `json:"authorizer_appid,omitempty"`
	AuthorizationCode            string `json:"authorization_code,omitempty"`
	AuthorizationCodeExpiredTime int64  `json:"authorization_code_expired_time,omitempty"`
	PreAuthCode                  string `json:"pre_auth_code,omitempty"`
}

func (m Message) view() view {
	return view{
		AppID: m.AppID, CreateTime: m.CreateTime, InfoType: m.InfoType,
		ComponentVerifyTicket: hide(m.ComponentVerifyTicket), AuthorizerAppID: m.AuthorizerAppID,
		AuthorizationCode: hide(m.AuthorizationCode), AuthorizationCodeExpiredTime: m.AuthorizationCodeExpiredTime,
		PreAuthCode: hide(m.PreAuthCode),
	}
}

// String describes the message with its ticket and codes redacted.
func (m Message) String() string {
	v := m.view()
	return fmt.Sprintf("authevent.Message{InfoType:%q AppId:%q CreateTime:%d AuthorizerAppid:%q ComponentVerifyTicket:%q AuthorizationCode:%q PreAuthCode:%q}",
		v.InfoType, v.AppID, v.CreateTime, v.AuthorizerAppID, v.ComponentVerifyTicket, v.AuthorizationCode, v.PreAuthCode)
}

// GoString is String, so that %#v redacts too.
func (m Message) GoString() string { return m.String() }

// Format prints String for every verb, so that no verb (%v, %+v, %#v, %s,
// %q, %x) shows a secret field.
func (m Message) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// LogValue logs the message's fields with its ticket and codes redacted.
func (m Message) LogValue() slog.Value {
	v := m.view()
	return slog.GroupValue(
		slog.String("info_type", v.InfoType),
		slog.String("app_id", v.AppID),
		slog.Int64("create_time", v.CreateTime),
		slog.String("authorizer_appid", v.AuthorizerAppID),
		slog.String("component_verify_ticket", v.ComponentVerifyTicket),
		slog.String("authorization_code", v.AuthorizationCode),
		slog.String("pre_auth_code", v.PreAuthCode),
	)
}

// MarshalJSON encodes the message with its ticket and codes redacted.
func (m Message) MarshalJSON() ([]byte, error) { return json.Marshal(m.view()) }
