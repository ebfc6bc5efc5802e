package wechat

import (
	"context"
	"encoding/json"
	"fmt"
)

// Authorization is what api_query_auth returns for an authorization code:
// the authorizer's first access token and its refresh token.
type Authorization struct {
	// AuthorizerAppID is the appid of the account that authorized.
	AuthorizerAppID string `json:"authorizer_appid"`
	// AccessToken is the authorizer access token, with its expiry.
	AccessToken *Token `json:"-"`
	// RefreshToken mints later authorizer access tokens; it prints as
	// REDACTED.
	RefreshToken Secret `json:"authorizer_refresh_token"`
	// FuncIDs are the permission sets (funcscope_category ids) granted
	// to the platform; 49 is cloud development.
	FuncIDs []int `json:"func_ids"`
}

// HasFunc reports whether the permission set id was granted.
func (a *Authorization) HasFunc(id int) bool {
	for _, f := range a.FuncIDs {
		if f == id {
			return true
		}
	}
	return false
}

// QueryAuth exchanges an authorization code (from an authorized or
// updateauthorized event, or the authorization page's redirect) for the
// authorizer's tokens at /cgi-bin/component/api_query_auth. component
// supplies the component access token. The code and the returned tokens
// are kept in the client's Scrubber: no error or log shows them.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_query_auth.html
func (c *Client) QueryAuth(ctx context.Context, component TokenSource, componentAppID, authorizationCode string) (*Authorization, error) {
	if authorizationCode == "" {
		return nil, &Error{Kind: KindInvalidRequest, Op: OpQueryAuth, Message: "no authorization code"}
	}
	c.scrub.KeepForUse(authorizationCode)
	body, err := json.Marshal(map[string]string{"component_appid": componentAppID, "authorization_code": authorizationCode})
	if err != nil {
		return nil, &Error{Kind: KindConfig, Op: OpQueryAuth, Message: "cannot build the request", Err: err}
	}
	resp, err := c.do(ctx, &call{op: OpQueryAuth, path: QueryAuthPath, tokenParam: "access_token", ts: component,
		body: body, want: "authorization_info", secrets: []string{authorizationCode}})
	if err != nil {
		return nil, err
	}
	var out struct {
		Info struct {
			AppID        string    `json:"authorizer_appid"`
			Token        string    `json:"authorizer_access_token"`
			ExpiresIn    ExpiresIn `json:"expires_in"`
			RefreshToken string    `json:"authorizer_refresh_token"`
			FuncInfo     []struct {
				Scope struct {
					ID int `json:"id"`
				} `json:"funcscope_category"`
			} `json:"func_info"`
		} `json:"authorization_info"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, &Error{Kind: KindBadResponse, Op: OpQueryAuth, StatusCode: resp.StatusCode,
			Message: "the answer does not match the documented fields", Err: c.scrub.sanitize(err, authorizationCode)}
	}
	info := out.Info
	c.scrub.KeepForUse(info.RefreshToken)
	if info.AppID == "" || info.RefreshToken == "" {
		return nil, &Error{Kind: KindBadResponse, Op: OpQueryAuth, StatusCode: resp.StatusCode,
			Message: "the answer lacks authorizer_appid or authorizer_refresh_token"}
	}
	if info.Token == "" {
		return nil, &Error{Kind: KindBadResponse, Op: OpQueryAuth, StatusCode: resp.StatusCode, Message: "the answer holds an empty authorizer_access_token"}
	}
	tok := NewToken(info.Token, c.now().Add(info.ExpiresIn.Lifetime()))
	c.scrub.KeepUntil(tok.Expiry, info.Token)
	a := &Authorization{AuthorizerAppID: info.AppID, AccessToken: tok, RefreshToken: Secret(info.RefreshToken)}
	for _, f := range info.FuncInfo {
		a.FuncIDs = append(a.FuncIDs, f.Scope.ID)
	}
	return a, nil
}

// StartPushTicket asks WeChat to start pushing component verify tickets
// to the platform's authorization event URL, at
// /cgi-bin/component/api_start_push_ticket. It needs no token; the secret
// is kept out of every error.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_startpushticket.html
func (c *Client) StartPushTicket(ctx context.Context, componentAppID, componentSecret string) (*Response, error) {
	c.scrub.Keep(componentSecret)
	body, err := json.Marshal(map[string]string{"component_appid": componentAppID, "component_secret": componentSecret})
	if err != nil {
		return &Response{}, &Error{Kind: KindConfig, Op: OpStartPushTicket, Message: "cannot build the request", Err: err}
	}
	return c.do(ctx, &call{op: OpStartPushTicket, path: StartPushTicketPath, body: body, want: "errcode",
		secrets: []string{componentSecret}})
}

// AuthorizerList is one page of a platform's authorizers.
type AuthorizerList struct {
	// TotalCount is how many authorizers the platform has.
	TotalCount int `json:"total_count"`
	// List is this page.
	List []AuthorizerEntry `json:"list"`
}

// AuthorizerEntry is one authorizer in an AuthorizerList.
type AuthorizerEntry struct {
	// AuthorizerAppID is the authorizer's appid.
	AuthorizerAppID string `json:"authorizer_appid"`
	// RefreshToken is its current refresh token; empty when the
	// authorization code was never exchanged. It prints as REDACTED.
	RefreshToken Secret `json:"refresh_token"`
	// AuthTime is when it authorized, in Unix seconds.
	AuthTime int64 `json:"auth_time"`
}

// GetAuthorizerList reads one page of the platform's authorizers at
// /cgi-bin/component/api_get_authorizer_list: count (1 to
// MaxAuthorizerListCount) entries from offset. component supplies the
// component access token. Every refresh token it returns is kept as a
// secret.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_get_authorizer_list.html
func (c *Client) GetAuthorizerList(ctx context.Context, component TokenSource, componentAppID string, offset, count int) (*AuthorizerList, error) {
	if offset < 0 || count < 1 || count > MaxAuthorizerListCount {
		return nil, &Error{Kind: KindInvalidRequest, Op: OpGetAuthorizerList,
			Message: fmt.Sprintf("offset %d and count %d: the offset must not be negative and the count must be 1..%d", offset, count, MaxAuthorizerListCount)}
	}
	body, err := json.Marshal(struct {
		AppID  string `json:"component_appid"`
		Offset int    `json:"offset"`
		Count  int    `json:"count"`
	}{componentAppID, offset, count})
	if err != nil {
		return nil, &Error{Kind: KindConfig, Op: OpGetAuthorizerList, Message: "cannot build the request", Err: err}
	}
	resp, err := c.do(ctx, &call{op: OpGetAuthorizerList, path: GetAuthorizerListPath, tokenParam: "access_token", ts: component,
		body: body, want: "total_count"})
	if err != nil {
		return nil, err
	}
	var out struct {
		TotalCount int `json:"total_count"`
		List       []struct {
			AppID        string `json:"authorizer_appid"`
			RefreshToken string `json:"refresh_token"`
			AuthTime     int64  `json:"auth_time"`
		} `json:"list"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, &Error{Kind: KindBadResponse, Op: OpGetAuthorizerList, StatusCode: resp.StatusCode,
			Message: "the answer does not match the documented fields", Err: err}
	}
	list := &AuthorizerList{TotalCount: out.TotalCount, List: make([]AuthorizerEntry, 0, len(out.List))}
	refresh := make([]string, 0, len(out.List))
	for _, e := range out.List {
		refresh = append(refresh, e.RefreshToken)
	}
	c.scrub.KeepForUse(refresh...) // one registration per page, not per token
	for _, e := range out.List {
		list.List = append(list.List, AuthorizerEntry{AuthorizerAppID: e.AppID, RefreshToken: Secret(e.RefreshToken), AuthTime: e.AuthTime})
	}
	return list, nil
}
