package wechat

import (
	"context"
	"encoding/json"
	"slices"
)

// Values of the component API: the permission set (funcscope_category id)
// of cloud development, which getenvinfo needs, and the largest page
// api_get_authorizer_list serves.
const (
	FuncCloudDevelopment   = 49
	MaxAuthorizerListCount = 500
)

// AuthorizerInfo is what api_get_authorizer_info tells about an authorizer.
type AuthorizerInfo struct {
	// AuthorizerAppID is the authorizer's appid
	// (authorization_info.authorizer_appid; the one asked for when the
	// answer leaves it out).
	AuthorizerAppID string `json:"authorizer_appid"`
	// NickName is the account's display name (authorizer_info.nick_name).
	NickName string `json:"nick_name"`
	// PrincipalName is the entity that owns it
	// (authorizer_info.principal_name), a company's registered name.
	PrincipalName string `json:"principal_name"`
	// FuncIDs are the permission sets granted to the platform
	// (authorization_info.func_info[].funcscope_category.id), sorted.
	FuncIDs []int `json:"func_ids"`
}

// HasFunc reports whether the permission set id was granted.
func (a *AuthorizerInfo) HasFunc(id int) bool { return slices.Contains(a.FuncIDs, id) }

// GetAuthorizerInfo reads one authorizer's names and granted permission
// sets at /cgi-bin/component/api_get_authorizer_info, with the component
// access token from component, body {"component_appid",
// "authorizer_appid"}. The answer's other fields (head image, QR code,
// mini program settings) are not kept.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerinfo.html
func (c *Client) GetAuthorizerInfo(ctx context.Context, component TokenSource, componentAppID, authorizerAppID string) (*AuthorizerInfo, error) {
	if authorizerAppID == "" {
		return nil, &Error{Kind: KindInvalidRequest, Op: OpGetAuthorizerInfo, Message: "no authorizer appid"}
	}
	body, err := json.Marshal(struct {
		ComponentAppID  string `json:"component_appid"`
		AuthorizerAppID string `json:"authorizer_appid"`
	}{componentAppID, authorizerAppID})
	if err != nil {
		return nil, &Error{Kind: KindConfig, Op: OpGetAuthorizerInfo, Message: "cannot build the request", Err: err}
	}
	resp, err := c.do(ctx, &call{op: OpGetAuthorizerInfo, path: GetAuthorizerInfoPath, tokenParam: "access_token", ts: component,
		body: body, want: "authorizer_info"})
	if err != nil {
		return nil, err
	}
	var out struct {
		Authorizer struct {
			NickName      string `json:"nick_name"`
			PrincipalName string `json:"principal_name"`
		} `json:"authorizer_info"`
		Authorization struct {
			AppID    string `json:"authorizer_appid"`
			FuncInfo []struct {
				Scope struct {
					ID int `json:"id"`
				} `json:"funcscope_category"`
			} `json:"func_info"`
		} `json:"authorization_info"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, &Error{Kind: KindBadResponse, Op: OpGetAuthorizerInfo, StatusCode: resp.StatusCode,
			Message: "the answer does not match the documented fields", Err: err}
	}
	info := &AuthorizerInfo{AuthorizerAppID: out.Authorization.AppID, NickName: out.Authorizer.NickName,
		PrincipalName: out.Authorizer.PrincipalName, FuncIDs: make([]int, 0, len(out.Authorization.FuncInfo))}
	if info.AuthorizerAppID == "" {
		info.AuthorizerAppID = authorizerAppID
	}
	for _, f := range out.Authorization.FuncInfo {
		info.FuncIDs = append(info.FuncIDs, f.Scope.ID)
	}
	slices.Sort(info.FuncIDs)
	info.FuncIDs = slices.Compact(info.FuncIDs)
	return info, nil
}
