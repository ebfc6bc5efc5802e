package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// SQS limits of SendMessageBatch: 10 messages, 256 KiB in all.
const (
	SQSMaxMessages = 10
	SQSMaxBytes    = 256 << 10
)

// SQS sends batches to an SQS queue with SendMessageBatch.
type SQS struct {
	c   *sqs.Client
	url string
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
	if err != nil || u.Host == "" {
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
	cfg := aws.Config{
		Region:           region,
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, env("AWS_SESSION_TOKEN"))),
		HTTPClient:       &http.Client{Timeout: timeout},
		RetryMaxAttempts: 3,
	}
	endpoint := u.Scheme + "://" + u.Host
	c := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	return &SQS{c: c, url: queueURL}, nil
}

// Limits implements Sender.
func (*SQS) Limits() (int, int) { return SQSMaxMessages, SQSMaxBytes }

// Send implements Sender: one SendMessageBatch, and once more for the
// entries SQS failed on its own side.
func (s *SQS) Send(ctx context.Context, msgs []Message) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(m.ID), MessageBody: aws.String(string(m.Body))}
	}
	for attempt := 0; ; attempt++ {
		out, err := s.c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.url), Entries: entries})
		if err != nil {
			return &SendError{Code: apiCode(err), Err: fmt.Errorf("queue: SendMessageBatch: %w", err)}
		}
		if len(out.Failed) == 0 {
			return nil
		}
		retry := entries[:0:0]
		for _, f := range out.Failed {
			if f.SenderFault || attempt > 0 {
				return &SendError{Code: aws.ToString(f.Code), Err: fmt.Errorf("queue: SendMessageBatch failed %d of %d messages: %s", len(out.Failed), len(entries), aws.ToString(f.Message))}
			}
			for _, e := range entries {
				if aws.ToString(e.Id) == aws.ToString(f.Id) {
					retry = append(retry, e)
				}
			}
		}
		entries = retry
	}
}

// SendError is a queue that refused batches; Code is the service's error
// code.
type SendError struct {
	Code string
	Err  error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
