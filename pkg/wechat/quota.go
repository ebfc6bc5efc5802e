package wechat

import (
	"context"
	"encoding/json"
)

// Quota is an API's daily call quota, as /cgi-bin/openapi/quota/get
// answers it.
type Quota struct {
	// DailyLimit is how many calls the account may make today.
	DailyLimit int64 `json:"daily_limit"`
	// Used is how many it has made today.
	Used int64 `json:"used"`
	// Remain is how many are left today.
	Remain int64 `json:"remain"`
}

// RemainingPercent is Remain as a percentage of DailyLimit (100 when
// there is no limit).
func (q Quota) RemainingPercent() float64 {
	if q.DailyLimit <= 0 {
		return 100
	}
	return 100 * float64(max(q.Remain, 0)) / float64(q.DailyLimit)
}

// GetQuota reads the daily quota of the API at cgiPath (such as
// "/cgi-bin/component/api_get_authorizer_list", without the host) at
// /cgi-bin/openapi/quota/get, body {"cgi_path"}. ts supplies the token:
// the component access token for a third-party platform's own APIs.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/en/openApi/OpenApiDoc/openapi/getApiQuota.html
func (c *Client) GetQuota(ctx context.Context, ts TokenSource, cgiPath string) (*Quota, error) {
	if cgiPath == "" || cgiPath[0] != '/' {
		return nil, &Error{Kind: KindInvalidRequest, Op: OpQuota, Message: "the cgi_path must start with /"}
	}
	body, err := json.Marshal(struct {
		CGIPath string `json:"cgi_path"`
	}{cgiPath})
	if err != nil {
		return nil, &Error{Kind: KindConfig, Op: OpQuota, Message: "cannot build the request", Err: err}
	}
	resp, err := c.do(ctx, &call{op: OpQuota, path: QuotaPath, tokenParam: "access_token", ts: ts, body: body, want: "quota"})
	if err != nil {
		return nil, err
	}
	var out struct {
		Quota *Quota `json:"quota"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.Quota == nil {
		return nil, &Error{Kind: KindBadResponse, Op: OpQuota, StatusCode: resp.StatusCode,
			Message: "the answer does not match the documented fields (quota.daily_limit, used, remain)", Err: err}
	}
	return out.Quota, nil
}
