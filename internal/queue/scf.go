package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
)

// SCF's Invoke API takes an asynchronous event of up to 128 KB.
const (
	SCFMaxMessages = 10
	SCFMaxBytes    = 128 << 10
)

// SCF sends each batch as an asynchronous invocation of a function (SCF's
// Invoke API, InvocationType Event, the batch JSON as ClientContext),
// signed TC3-HMAC-SHA256 by Tencent's own SDK.
type SCF struct {
	c                   *common.Client
	namespace, function string
}

// NewSCF returns a sender invoking namespace/function. The credentials are
// the execution role's temporary ones SCF sets (TENCENTCLOUD_SECRETID,
// TENCENTCLOUD_SECRETKEY, TENCENTCLOUD_SESSIONTOKEN); region is
// WXCLOUDENV_SCF_REGION's value, else TENCENTCLOUD_REGION, else
// ap-guangzhou; endpoint is WXCLOUDENV_SCF_ENDPOINT's, else Tencent's.
func NewSCF(namespace, function, region, endpoint string, lookup Lookup, timeout time.Duration) (*SCF, error) {
	env := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	id, key := env("TENCENTCLOUD_SECRETID"), env("TENCENTCLOUD_SECRETKEY")
	if id == "" || key == "" {
		return nil, fmt.Errorf("queue: TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY are not set: give the function an execution role (SCF sets them from it)")
	}
	if region == "" {
		region = env("TENCENTCLOUD_REGION")
	}
	if region == "" {
		region = config.DefaultSCFRegion
	}
	if endpoint == "" {
		endpoint = config.DefaultSCFEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("queue: WXCLOUDENV_SCF_ENDPOINT is not a URL")
	}
	cp := profile.NewClientProfile()
	cp.HttpProfile.Endpoint = u.Host
	cp.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	cp.HttpProfile.ReqMethod = http.MethodPost
	cp.HttpProfile.ReqTimeout = max(1, int(timeout/time.Second))
	cp.SignMethod = "TC3-HMAC-SHA256"
	cp.DisableRegionBreaker = true
	cred := common.NewTokenCredential(id, key, env("TENCENTCLOUD_SESSIONTOKEN"))
	c := common.NewCommonClient(cred, region, cp)
	return &SCF{c: c, namespace: namespace, function: function}, nil
}

// Limits implements Sender: each message is its own Invoke; ten go at once.
func (*SCF) Limits() (int, int) { return SCFMaxMessages, SCFMaxMessages * SCFMaxBytes }

// Send implements Sender.
func (s *SCF) Send(ctx context.Context, msgs []Message) error {
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() { errs[i] = s.invoke(ctx, m.Body) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// retryable are Tencent's error codes worth one more try.
var retryable = map[string]bool{"InternalError": true, "RequestLimitExceeded": true, "ResourceUnavailable": true,
	"InternalError.System": true, "ClientError.NetworkError": true, "ClientError.HttpStatusCodeError": true}

func (s *SCF) invoke(ctx context.Context, body []byte) error {
	if len(body) > SCFMaxBytes {
		return &SendError{Code: "ClientError.TooLarge", Err: fmt.Errorf("queue: a batch of %d bytes is over SCF's 128 KB asynchronous event", len(body))}
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return last
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		req := tchttp.NewCommonRequest("scf", "2018-04-16", "Invoke")
		req.SetContext(ctx)
		if err := req.SetActionParameters(map[string]any{
			"FunctionName":   s.function,
			"Namespace":      s.namespace,
			"InvocationType": "Event",
			"ClientContext":  string(body),
		}); err != nil {
			return err
		}
		resp := tchttp.NewCommonResponse()
		err := s.c.Send(req, resp)
		if err == nil {
			return nil
		}
		code := ""
		var se *tcerr.TencentCloudSDKError
		if errors.As(err, &se) {
			code = se.GetCode()
		}
		last = &SendError{Code: code, Err: fmt.Errorf("queue: SCF Invoke of %s/%s: %w", s.namespace, s.function, err)}
		if code != "" && !retryable[code] {
			return last
		}
	}
	return last
}
