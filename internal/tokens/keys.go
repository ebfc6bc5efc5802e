package tokens

import "strings"

// DefaultPrefix is the default of WXCLOUDENV_STORE_PREFIX, the prefix of
// every key this function writes.
const DefaultPrefix = "wxcloudenv:"

// Keys builds the store keys of the wxcloudenv layout (docs/tokens.md).
// Every key starts with Prefix.
type Keys struct {
	// Prefix is WXCLOUDENV_STORE_PREFIX.
	Prefix string
}

// ComponentToken is the key of a platform's component access token.
func (k Keys) ComponentToken(componentAppID string) string {
	return k.Prefix + "token:component:" + componentAppID
}

// AuthorizerToken is the key of an authorizer's access token.
func (k Keys) AuthorizerToken(componentAppID, authorizerAppID string) string {
	return k.Prefix + "token:authorizer:" + componentAppID + ":" + authorizerAppID
}

// StableToken is the key of an app's stable access token.
func (k Keys) StableToken(appID string) string {
	return k.Prefix + "token:stable:" + appID
}

// Lease is the key of the lease that guards the mint of the token under
// tokenKey (a full key, as the other builders return it).
func (k Keys) Lease(tokenKey string) string {
	return k.Prefix + "lease:" + strings.TrimPrefix(tokenKey, k.Prefix)
}

// Refresh is the key of an authorizer's refresh token.
func (k Keys) Refresh(componentAppID, authorizerAppID string) string {
	return k.Prefix + "refresh:" + componentAppID + ":" + authorizerAppID
}

// Ticket is the key of a platform's latest verify ticket.
func (k Keys) Ticket(componentAppID string) string {
	return k.Prefix + "ticket:" + componentAppID
}

// Fleet is the key that makes an authorizer a member of a platform's fleet.
func (k Keys) Fleet(componentAppID, authorizerAppID string) string {
	return k.FleetPrefix(componentAppID) + authorizerAppID
}

// FleetPrefix is the prefix of the fleet keys of a platform.
func (k Keys) FleetPrefix(componentAppID string) string {
	return k.Prefix + "fleet:" + componentAppID + ":"
}

// Layout names whose keys hold the tokens (WXCLOUDENV_TOKEN_LAYOUT).
type Layout string

// The layouts.
const (
	// LayoutOwn is this function's own keys; it mints when needed.
	LayoutOwn Layout = "wxcloudenv"
	// LayoutWxJava follows WxJava's (weixin-java-open) Redis keys.
	LayoutWxJava Layout = "wxjava"
	// LayoutSilenceper follows silenceper/wechat's Redis keys.
	LayoutSilenceper Layout = "silenceper"
)

// ForeignKeys builds the keys of a foreign layout. Its methods return ""
// for a key the layout does not have.
type ForeignKeys struct {
	Layout Layout
	// KeyPrefix is WxJava's keyPrefix (WXCLOUDENV_TOKEN_KEY_PREFIX); keys
	// then start with "KeyPrefix:".
	KeyPrefix string
}

func (f ForeignKeys) wxjava(key string) string {
	if f.KeyPrefix != "" {
		return f.KeyPrefix + ":" + key
	}
	return key
}

// ComponentToken is the key of the component access token.
func (f ForeignKeys) ComponentToken(componentAppID string) string {
	switch f.Layout {
	case LayoutWxJava:
		return f.wxjava("wechat_component_access_token:" + componentAppID)
	case LayoutSilenceper:
		return "component_access_token_" + componentAppID
	}
	return ""
}

// AuthorizerToken is the key of an authorizer access token.
func (f ForeignKeys) AuthorizerToken(componentAppID, authorizerAppID string) string {
	switch f.Layout {
	case LayoutWxJava:
		return f.wxjava("wechat_authorizer_access_token:" + componentAppID + ":" + authorizerAppID)
	case LayoutSilenceper:
		return "authorizer_access_token_" + authorizerAppID
	}
	return ""
}

// Ticket is the key of the verify ticket ("" with silenceper).
func (f ForeignKeys) Ticket(componentAppID string) string {
	if f.Layout == LayoutWxJava {
		return f.wxjava("wechat_component_verify_ticket:" + componentAppID)
	}
	return ""
}

// Refresh is the key of an authorizer's refresh token ("" with
// silenceper).
func (f ForeignKeys) Refresh(componentAppID, authorizerAppID string) string {
	if f.Layout == LayoutWxJava {
		return f.wxjava("wechat_authorizer_refresh_token:" + componentAppID + ":" + authorizerAppID)
	}
	return ""
}

// service names who keeps a foreign layout's keys, for error messages.
func (f ForeignKeys) service() string {
	if f.Layout == LayoutWxJava {
		return "the platform's WxJava (weixin-java-open) token service"
	}
	return "the platform's silenceper/wechat token service"
}
