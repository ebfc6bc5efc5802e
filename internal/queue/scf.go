package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/tc3"
)

// SCF's Invoke API takes an asynchronous event of up to 128 KB.
const (
	SCFMaxMessages = 10
	SCFMaxBytes    = 128 << 10
)

// The Invoke call of Tencent Cloud API 3.0.
const (
	scfService = "scf"
	scfVersion = "2018-04-16"
	scfAction  = "Invoke"
)

// SCF sends each batch as an asynchronous invocation of a function (SCF's
// Invoke API, InvocationType Event, the batch JSON as ClientContext). It
// speaks Tencent Cloud API 3.0 over net/http, signed TC3-HMAC-SHA256
// (package tc3): tencentcloud-sdk-go's common client linked 0.3 MB into
// every binary for this one call (docs/queue.md).
type SCF struct {
	hc                  *http.Client
	endpoint            string
	region              string
	signer              tc3.Signer
	namespace, function string
	now                 func() time.Time
	// backoff is the wait before retry number n (1 for the first).
	backoff func(n int) time.Duration
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
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("queue: WXCLOUDENV_SCF_ENDPOINT is not a URL")
	}
	return &SCF{
		hc:        newHTTPClient(timeout),
		endpoint:  u.Scheme + "://" + u.Host + "/",
		region:    region,
		signer:    tc3.Signer{ID: id, Key: key, Token: env("TENCENTCLOUD_SESSIONTOKEN")},
		namespace: namespace, function: function,
		now:     time.Now,
		backoff: func(n int) time.Duration { return time.Duration(n) * 200 * time.Millisecond },
	}, nil
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

// retryable are Tencent's error codes worth one more try, and the client's
// own for a failed connection or an HTTP status other than 200 (the codes
// tencentcloud-sdk-go gives them).
var retryable = map[string]bool{"InternalError": true, "RequestLimitExceeded": true, "ResourceUnavailable": true,
	"InternalError.System": true, "ClientError.NetworkError": true, "ClientError.HttpStatusCodeError": true}

// scfError is a failed Invoke: Tencent's error code and message, or the
// client's own code for a failure to get an answer.
type scfError struct {
	Code, Message, RequestID string
	cause                    error
}

func (e *scfError) Error() string {
	s := "Code=" + e.Code + ", Message=" + e.Message
	if e.RequestID != "" {
		s += ", RequestId=" + e.RequestID
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *scfError) Unwrap() error { return e.cause }

func (s *SCF) invoke(ctx context.Context, body []byte) error {
	if len(body) > SCFMaxBytes {
		return &SendError{Code: "ClientError.TooLarge", Err: fmt.Errorf("queue: a batch of %d bytes is over SCF's 128 KB asynchronous event", len(body))}
	}
	payload, err := json.Marshal(struct {
		FunctionName   string
		Namespace      string
		InvocationType string
		ClientContext  string
	}{s.function, s.namespace, "Event", string(body)})
	if err != nil {
		return err
	}
	var last error
	for n := 0; n < attempts; n++ {
		if n > 0 && !wait(ctx, s.backoff(n)) {
			return last
		}
		err := s.send(ctx, payload)
		if err == nil {
			return nil
		}
		code := ""
		var se *scfError
		if errors.As(err, &se) {
			code = se.Code
		}
		last = &SendError{Code: code, Err: scrub(fmt.Errorf("queue: SCF Invoke of %s/%s: %w", s.namespace, s.function, err), s.signer.Key, s.signer.Token)}
		if code != "" && !retryable[code] {
			return last
		}
	}
	return last
}

// send sends one signed Invoke and reads its answer.
func (s *SCF) send(ctx context.Context, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", scfAction)
	req.Header.Set("X-TC-Version", scfVersion)
	req.Header.Set("X-TC-Region", s.region)
	req.Header.Set("X-TC-Language", "zh-CN")
	s.signer.Sign(req, scfService, payload, s.now())
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &scfError{Code: "ClientError.NetworkError", Message: "Fail to get response", cause: err}
	}
	defer resp.Body.Close()
	ans, err := readAnswer(resp.Body)
	if err != nil {
		return &scfError{Code: "ClientError.IOError", Message: "reading the answer", cause: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &scfError{Code: "ClientError.HttpStatusCodeError", Message: fmt.Sprintf("HTTP %s: %.200s", resp.Status, ans)}
	}
	var out struct {
		Response struct {
			Error struct {
				Code    string
				Message string
			}
			RequestID string `json:"RequestId"`
		}
	}
	if err := json.Unmarshal(ans, &out); err != nil {
		return &scfError{Code: "ClientError.ParseJsonError", Message: "the answer is not JSON", cause: err}
	}
	if e := out.Response.Error; e.Code != "" {
		return &scfError{Code: e.Code, Message: e.Message, RequestID: out.Response.RequestID}
	}
	return nil
}
