package wechat

import (
	"context"
	"encoding/json"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"
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

// RawOptions are the options of Raw; nil means none.
type RawOptions struct {
	// Env limits a getenvinfo call to one environment; empty asks for
	// every one. Other operations ignore it.
	Env string
	// Keep selects, from a resource's kind and status, the resources
	// Response.Health keeps; it is called once per resource, in the pass
	// that validates the answer. Nil keeps none: only Health.Items is
	// counted. A known status (the constants of models.go) reaches Keep
	// without an allocation, so a Keep that selects few resources keeps
	// the pass allocation-free for healthy environments.
	Keep func(kind ResourceKind, status string) bool
}

// Raw calls the environment list endpoint of op, OpGetEnvInfo or
// OpDescribeCloudBaseRunEnvs, with a token from ts (an authorizer access
// token or an access token for getenvinfo, a component access token for
// describecloudbaserunenvs), and returns the answer undecoded in the
// Response: Response.Health counts the environments and holds the
// resources opts.Keep selected.
func (c *Client) Raw(ctx context.Context, op string, ts TokenSource, opts *RawOptions) (*Response, error) {
	if opts == nil {
		opts = &RawOptions{}
	}
	cl := &call{op: op, tokenParam: "access_token", ts: ts, keep: filterOf(opts.Keep)}
	switch op {
	case OpGetEnvInfo:
		cl.path, cl.body, cl.want, cl.shape = GetEnvInfoPath, getEnvInfoBody(opts.Env), "info_list", scan.EnvInfo
	case OpDescribeCloudBaseRunEnvs:
		cl.path, cl.body, cl.want, cl.shape = DescribeCloudBaseRunEnvsPath, []byte("{}"), "env_list", scan.RunEnvs
	default:
		return &Response{}, &Error{Kind: KindConfig, Op: op, Message: "unknown operation"}
	}
	return c.do(ctx, cl)
}

// GetEnvInfo lists the cloud environments of an authorized mini program,
// or only env when it is not empty.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/cloudbase-common/env-management/api_getenvinfo.html
func (c *Client) GetEnvInfo(ctx context.Context, ts TokenSource, env string) (*EnvInfoList, *Response, error) {
	resp, err := c.Raw(ctx, OpGetEnvInfo, ts, &RawOptions{Env: env})
	if err != nil {
		return nil, resp, err
	}
	out := new(EnvInfoList)
	if err := decodeAnswer(OpGetEnvInfo, resp, out); err != nil {
		return nil, resp, err
	}
	return out, resp, nil
}

// DescribeCloudBaseRunEnvs lists the WeChat Cloud Run environments of a
// third-party platform, with their databases, storages, functions, log
// services, static storages and tags.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/openApi/cloudrun-batch/cloudenv-mgnt/api_getwxcloudbaserunenvs
func (c *Client) DescribeCloudBaseRunEnvs(ctx context.Context, ts TokenSource) (*RunEnvList, *Response, error) {
	resp, err := c.Raw(ctx, OpDescribeCloudBaseRunEnvs, ts, nil)
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
