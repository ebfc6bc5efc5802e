package wechat_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func ExampleClient() {
	srv := wechattest.NewServer() // a fake WeChat on 127.0.0.1
	defer srv.Close()

	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// A third-party platform mints its component token from its credentials.
	component := wechat.NewComponentTokenSource(c, wechattest.ComponentAppID, wechattest.ComponentAppSecret, wechattest.VerifyTicket)
	envs, resp, err := c.DescribeCloudBaseRunEnvs(ctx, component)
	if err != nil {
		panic(err)
	}
	for _, e := range envs.EnvList {
		fmt.Printf("%s %s created %s\n", e.EnvID, e.Status, e.CreateTime.Time.UTC().Format("2006-01-02T15:04Z"))
	}
	fmt.Println("attempts:", resp.Attempts)

	// Failures are typed.
	srv.Inject(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 85088})
	_, _, err = c.GetEnvInfo(ctx, wechat.StaticTokenSource(wechattest.AccessToken), "")
	var we *wechat.Error
	if errors.As(err, &we) {
		fmt.Println(we.Kind, we.ErrCode, we.Retryable)
	}
	// Output:
	// wxc47dec912cf1b447-qd-5a17787412 NORMAL created 2021-12-16T07:06Z
	// prod-7c21be NORMAL created 2021-06-01T01:30Z
	// attempts: 1
	// permission 85088 false
}
