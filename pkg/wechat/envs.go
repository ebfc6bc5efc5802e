package wechat

import (
	"context"
	"encoding/json"
)

// The two cloud environment endpoints.
const (
	GetEnvInfoPath               = "/tcb/getenvinfo"
	DescribeCloudBaseRunEnvsPath = "/componenttcb/describecloudbaserunenvs"
)

// Operation names, as used in the output event and in errors.
const (
	OpGetEnvInfo               = "getenvinfo"
	OpDescribeCloudBaseRunEnvs = "describecloudbaserunenvs"
)

// getEnvInfoBody returns the request body of /tcb/getenvinfo: {"env": env},
// or {} for every environment when env is empty.
func getEnvInfoBody(env string) []byte {
	if env == "" {
		return []byte("{}")
	}
	b, _ := json.Marshal(struct {
		Env string `json:"env"`
	}{env})
	return b
}

// GetEnvInfoRaw calls /tcb/getenvinfo and returns the answer undecoded in
// the Response. ts supplies an authorizer access token (or an access token).
// Response.Health counts the environments; it keeps no resource.
func (c *Client) GetEnvInfoRaw(ctx context.Context, ts TokenSource, env string) (*Response, error) {
	return c.GetEnvInfoRawFilter(ctx, ts, env, nil)
}

// GetEnvInfoRawFilter is GetEnvInfoRaw keeping in Response.Health the
// environments that keep selects, read in the same pass that validates
// the answer.
func (c *Client) GetEnvInfoRawFilter(ctx context.Context, ts TokenSource, env string, keep StatusFilter) (*Response, error) {
	return c.do(ctx, &call{op: OpGetEnvInfo, path: GetEnvInfoPath, tokenParam: "access_token", ts: ts,
		body: getEnvInfoBody(env), want: "info_list", shape: envInfoShape, keep: keep})
}

// GetEnvInfo lists the cloud environments of an authorized mini program,
// or only env when it is not empty.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/cloudbase-common/env-management/api_getenvinfo.html
func (c *Client) GetEnvInfo(ctx context.Context, ts TokenSource, env string) (*EnvInfoList, *Response, error) {
	resp, err := c.GetEnvInfoRaw(ctx, ts, env)
	if err != nil {
		return nil, resp, err
	}
	out := new(EnvInfoList)
	if err := decodeAnswer(OpGetEnvInfo, resp, out); err != nil {
		return nil, resp, err
	}
	return out, resp, nil
}

// DescribeCloudBaseRunEnvsRaw calls /componenttcb/describecloudbaserunenvs
// and returns the answer undecoded in the Response. ts supplies a component
// access token.
// Response.Health counts the environments; it keeps no resource.
func (c *Client) DescribeCloudBaseRunEnvsRaw(ctx context.Context, ts TokenSource) (*Response, error) {
	return c.DescribeCloudBaseRunEnvsRawFilter(ctx, ts, nil)
}

// DescribeCloudBaseRunEnvsRawFilter is DescribeCloudBaseRunEnvsRaw keeping
// in Response.Health the environments, databases and static storages
// that keep selects, read in the same pass that validates the answer.
func (c *Client) DescribeCloudBaseRunEnvsRawFilter(ctx context.Context, ts TokenSource, keep StatusFilter) (*Response, error) {
	return c.do(ctx, &call{op: OpDescribeCloudBaseRunEnvs, path: DescribeCloudBaseRunEnvsPath, tokenParam: "access_token", ts: ts,
		body: []byte("{}"), want: "env_list", shape: runEnvsShape, keep: keep})
}

// DescribeCloudBaseRunEnvs lists the WeChat Cloud Run environments of a
// third-party platform, with their databases, storages, functions, log
// services, static storages and tags.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/cloudrun-batch/cloudenv-mgnt/api_getwxcloudbaserunenvs
func (c *Client) DescribeCloudBaseRunEnvs(ctx context.Context, ts TokenSource) (*RunEnvList, *Response, error) {
	resp, err := c.DescribeCloudBaseRunEnvsRaw(ctx, ts)
	if err != nil {
		return nil, resp, err
	}
	out := new(RunEnvList)
	if err := decodeAnswer(OpDescribeCloudBaseRunEnvs, resp, out); err != nil {
		return nil, resp, err
	}
	return out, resp, nil
}

func decodeAnswer(op string, resp *Response, out any) error {
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &Error{Kind: KindBadResponse, Op: op, StatusCode: resp.StatusCode, Message: "the answer does not match the documented fields", Err: err}
	}
	return nil
}
