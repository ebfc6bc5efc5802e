package queue

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/awssig"
)

// SQS limits of SendMessageBatch: 10 messages, 256 KiB in all.
const (
	SQSMaxMessages = 10
	SQSMaxBytes    = 256 << 10
)

// SQS sends batches to an SQS queue with SendMessageBatch. It speaks SQS's
// AWS JSON 1.0 protocol over net/http, signed with Signature Version 4
// (package awssig): the AWS SDK's SQS client linked 1.2 MB and 0.25 ms of
// package initialisation into every binary for this one call
// (docs/queue.md).
type SQS struct {
	hc       *http.Client
	endpoint string
	url      string
	signer   awssig.Signer
	now      func() time.Time
	// backoff is the wait before retry number n (1 for the first).
	backoff func(n int, throttled bool) time.Duration
}

// Lookup reads one variable, as os.LookupEnv does.
type Lookup func(string) (string, bool)

// NewSQS returns a sender to the queue at queueURL. The region is the
// URL's (sqs.REGION.amazonaws.com), else AWS_REGION; the credentials are
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (what
// Lambda sets from the function's role); the endpoint is the URL's own
// scheme and host, so a local SQS-compatible server needs nothing else.
func NewSQS(queueURL string, lookup Lookup, timeout time.Duration) (*SQS, error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("queue: WXCLOUDENV_FLEET_QUEUE is not a queue URL")
	}
	env := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	region := env("AWS_REGION")
	if parts := strings.Split(u.Hostname(), "."); len(parts) >= 4 && parts[0] == "sqs" {
		region = parts[1]
	}
	if region == "" {
		return nil, fmt.Errorf("queue: the queue URL names no region and AWS_REGION is not set")
	}
	id, secret := env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, fmt.Errorf("queue: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to send to the queue")
	}
	return &SQS{
		hc:       newHTTPClient(timeout),
		endpoint: u.Scheme + "://" + u.Host + "/",
		url:      queueURL,
		signer:   awssig.Signer{ID: id, Secret: secret, Session: env("AWS_SESSION_TOKEN"), Region: region, Service: "sqs"},
		now:      time.Now,
		backoff:  jitter,
	}, nil
}

// Limits implements Sender.
func (*SQS) Limits() (int, int) { return SQSMaxMessages, SQSMaxBytes }

// sqsEntry is a SendMessageBatchRequestEntry.
type sqsEntry struct {
	ID          string `json:"Id"`
	MessageBody string `json:"MessageBody"`
}

// sqsBatch is SendMessageBatch's request.
type sqsBatch struct {
	QueueURL string     `json:"QueueUrl"`
	Entries  []sqsEntry `json:"Entries"`
}

// sqsResult is SendMessageBatch's answer: a SendMessageBatchResultEntry or
// a BatchResultErrorEntry for each entry.
type sqsResult struct {
	Successful []struct {
		ID               string `json:"Id"`
		MD5OfMessageBody string `json:"MD5OfMessageBody"`
	} `json:"Successful"`
	Failed []struct {
		ID          string `json:"Id"`
		SenderFault bool   `json:"SenderFault"`
		Code        string `json:"Code"`
		Message     string `json:"Message"`
	} `json:"Failed"`
}

// Send implements Sender: one SendMessageBatch, and once more for the
// entries SQS failed on its own side.
func (s *SQS) Send(ctx context.Context, msgs []Message) error {
	entries := make([]sqsEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = sqsEntry{ID: m.ID, MessageBody: string(m.Body)}
	}
	for attempt := 0; ; attempt++ {
		out, err := s.call(ctx, entries)
		if err != nil {
			var ae *sqsError
			code := ""
			if errors.As(err, &ae) {
				code = ae.code
			}
			return &SendError{Code: code, Err: scrub(fmt.Errorf("queue: SendMessageBatch: %w", err), s.signer.Secret, s.signer.Session)}
		}
		if err := checkMD5(entries, out); err != nil {
			return &SendError{Err: fmt.Errorf("queue: SendMessageBatch: %w", err)}
		}
		if len(out.Failed) == 0 {
			return nil
		}
		retry := entries[:0:0]
		for _, f := range out.Failed {
			if f.SenderFault || attempt > 0 {
				return &SendError{Code: f.Code, Err: fmt.Errorf("queue: SendMessageBatch failed %d of %d messages: %s", len(out.Failed), len(entries), f.Message)}
			}
			for _, e := range entries {
				if e.ID == f.ID {
					retry = append(retry, e)
				}
			}
		}
		entries = retry
	}
}

// checkMD5 compares the MD5 SQS computed of each message's body with the
// body sent, as the AWS SDK does.
func checkMD5(entries []sqsEntry, out *sqsResult) error {
	for _, ok := range out.Successful {
		if ok.MD5OfMessageBody == "" {
			continue
		}
		for _, e := range entries {
			if e.ID != ok.ID {
				continue
			}
			sum := md5.Sum([]byte(e.MessageBody))
			if !strings.EqualFold(hex.EncodeToString(sum[:]), ok.MD5OfMessageBody) {
				return fmt.Errorf("the MD5 of message %s's body in the answer does not match the body sent", e.ID)
			}
		}
	}
	return nil
}

// sqsError is an error answer of SQS.
type sqsError struct {
	status int
	// code is the error's code: x-amzn-query-error's (e.g.
	// AWS.SimpleQueueService.NonExistentQueue), else the __type's shape
	// name (QueueDoesNotExist), as the AWS SDK's ErrorCode() is.
	code string
	// typ is the __type's shape name (or X-Amzn-ErrorType's).
	typ string
	msg string
}

func (e *sqsError) Error() string {
	code := e.code
	if code == "" {
		code = "error"
	}
	return fmt.Sprintf("%s (HTTP %d): %s", code, e.status, e.msg)
}

// throttleCodes are the AWS SDK's throttling error codes
// (aws/retry.DefaultThrottleErrorCodes).
var throttleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true, "RequestThrottledException": true,
	"TooManyRequestsException": true, "ProvisionedThroughputExceededException": true, "TransactionInProgressException": true,
	"RequestLimitExceeded": true, "BandwidthLimitExceeded": true, "LimitExceededException": true, "RequestThrottled": true,
	"SlowDown": true, "PriorRequestNotComplete": true, "EC2ThrottledException": true,
}

// throttled reports whether SQS asked to slow down.
func (e *sqsError) throttled() bool {
	return throttleCodes[e.code] || throttleCodes[e.typ] || e.status == http.StatusTooManyRequests
}

// retryable reports whether the call did not take effect and is worth
// another try, as the AWS SDK's standard retryer decides: throttling, a
// timeout, or the service's own failure (HTTP 500, 502, 503, 504).
func (e *sqsError) retryable() bool {
	switch e.status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	switch e.typ {
	case "RequestTimeout", "RequestTimeoutException":
		return true
	}
	return e.throttled()
}

// call sends one SendMessageBatch, tried up to three times.
func (s *SQS) call(ctx context.Context, entries []sqsEntry) (*sqsResult, error) {
	body, err := json.Marshal(sqsBatch{QueueURL: s.url, Entries: entries})
	if err != nil {
		return nil, err
	}
	for n := 1; ; n++ {
		out, err := s.send(ctx, body)
		if err == nil || n == attempts {
			return out, err
		}
		var ae *sqsError
		throttled := false
		switch {
		case errors.As(err, &ae):
			if !ae.retryable() {
				return nil, err
			}
			throttled = ae.throttled()
		case !connectionError(ctx, err):
			return nil, err
		}
		if !wait(ctx, s.backoff(n, throttled)) {
			return nil, err
		}
	}
}

// send sends one signed request and decodes its answer.
func (s *SQS) send(ctx context.Context, body []byte) (*sqsResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessageBatch")
	// The query-compatible mode: error answers carry the codes of SQS's
	// older query protocol in x-amzn-query-error, as the AWS SDK asks.
	req.Header.Set("X-Amzn-Query-Mode", "true")
	s.signer.Sign(req, body, s.now())
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ans, err := readAnswer(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeSQSError(resp, ans)
	}
	var out sqsResult
	if err := json.Unmarshal(ans, &out); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return &out, nil
}

// decodeSQSError reads an error answer: X-Amzn-ErrorType, else the body's
// __type (or code), without its namespace ("com.amazonaws.sqs#"), and
// x-amzn-query-error's code ("CODE;Sender") in place of it when present.
func decodeSQSError(resp *http.Response, ans []byte) *sqsError {
	var e struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(ans, &e)
	typ := resp.Header.Get("X-Amzn-ErrorType")
	if typ == "" {
		typ = e.Type
	}
	if typ == "" {
		typ = e.Code
	}
	if _, after, ok := strings.Cut(typ, "#"); ok {
		typ = after
	}
	typ, _, _ = strings.Cut(typ, ":")
	se := &sqsError{status: resp.StatusCode, typ: typ, code: typ, msg: e.Message}
	if q, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Query-Error"), ";"); q != "" {
		se.code = q
	}
	if se.msg == "" {
		se.msg = e.Message2
	}
	if se.msg == "" {
		se.msg = http.StatusText(resp.StatusCode)
	}
	return se
}

// SendError is a queue that refused batches; Code is the service's error
// code.
type SendError struct {
	Code string
	Err  error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }
