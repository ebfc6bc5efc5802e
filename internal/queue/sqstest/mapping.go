package sqstest

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wxcloudenv/wxcloudenv/internal/queue"
)

// TB is what the mapping reports through: a testing.TB, or a command's
// own reporter.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Worker hands an SQS event to a function (a built bootstrap through the
// Runtime API) and returns its answer: the body, whether the function
// failed, or why no answer came.
type Worker func(payload []byte, timeout time.Duration) (body []byte, isError bool, err error)

// Mapping plays Lambda's SQS event source mapping against the server: it
// receives up to Most messages, hands them to a worker as an
// events.SQSEvent, deletes the ones the answer does not list in
// batchItemFailures, and leaves the others to come back when their
// visibility timeout ends. A function error, an answer that does not
// decode, or a failure with an empty or unknown itemIdentifier fails the
// whole batch, as Lambda does. The queue itself dead-letters a message
// after MaxReceives receives.
type Mapping struct {
	Server  *Server
	Workers []Worker
	// Most is the messages per event, 1 to 10 (1 when zero).
	Most int32
	// Timeout is each invocation's time limit (20 s when zero).
	Timeout time.Duration
	// Single stops a poller after one event.
	Single bool
	// Before is called for each batch before it is handed to a worker,
	// After once the worker answered (nil: nothing).
	Before, After func(b queue.Batch)

	mu           sync.Mutex
	deliveries   map[int]int
	events       int
	staleDeletes int
}

// StaleDeletes is how many deletes failed because the message had been
// handed out again (a batch worked past its visibility timeout).
func (m *Mapping) StaleDeletes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.staleDeletes
}

// Delivered is how many times batch i was handed to a worker.
func (m *Mapping) Delivered(i int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deliveries[i]
}

// Events is how many events the workers were handed.
func (m *Mapping) Events() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events
}

// Drain runs one poller per worker until the queue is empty (nothing
// visible, nothing in flight) or within passes.
func (m *Mapping) Drain(tb TB, within time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range m.Workers {
		wg.Go(func() { m.Poll(tb, ctx, w) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		tb.Fatalf("sqstest: the queue did not drain within %v", within)
	}
}

// Poll delivers to w until the queue is empty or ctx ends.
func (m *Mapping) Poll(tb TB, ctx context.Context, w Worker) {
	c, url := m.Server.Client, m.Server.QueueURL
	for ctx.Err() == nil {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MaxNumberOfMessages: max(m.Most, 1), MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err != nil {
			if ctx.Err() == nil {
				tb.Errorf("sqstest: ReceiveMessage: %v", err)
			}
			return
		}
		if len(out.Messages) == 0 {
			visible, inFlight, err := m.Server.Depth(ctx, url)
			if err == nil && visible == 0 && inFlight == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		ev := events.SQSEvent{}
		batches := map[string]queue.Batch{}
		for _, msg := range out.Messages {
			b, err := queue.ParseBatch([]byte(aws.ToString(msg.Body)))
			if err != nil {
				tb.Errorf("sqstest: a message that is not a batch: %v", err)
			}
			id := aws.ToString(msg.MessageId)
			batches[id] = b
			m.mu.Lock()
			if m.deliveries == nil {
				m.deliveries = map[int]int{}
			}
			m.deliveries[b.Batch]++
			m.mu.Unlock()
			if m.Before != nil {
				m.Before(b)
			}
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, ReceiptHandle: aws.ToString(msg.ReceiptHandle),
				Body: aws.ToString(msg.Body), EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:" + Account + ":fleet",
				AWSRegion: "us-east-1", Attributes: map[string]string{"ApproximateReceiveCount": msg.Attributes["ApproximateReceiveCount"]}})
		}
		payload, _ := json.Marshal(ev)
		timeout := m.Timeout
		if timeout == 0 {
			timeout = 20 * time.Second
		}
		body, isError, err := w(payload, timeout)
		m.mu.Lock()
		m.events++
		m.mu.Unlock()
		if m.After != nil {
			for _, b := range batches {
				m.After(b)
			}
		}
		if m.Single {
			return
		}
		failed := map[string]bool{}
		whole := err != nil || isError
		if !whole {
			var resp events.SQSEventResponse
			if json.Unmarshal(body, &resp) != nil {
				whole = true
			}
			for _, f := range resp.BatchItemFailures {
				if _, ok := batches[f.ItemIdentifier]; !ok {
					whole = true // an empty or unknown itemIdentifier fails the whole batch
				}
				failed[f.ItemIdentifier] = true
			}
		}
		if whole {
			continue
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, msg := range out.Messages {
			if !failed[aws.ToString(msg.MessageId)] {
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle})
			}
		}
		if len(del) == 0 {
			continue
		}
		res, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
		if err != nil {
			tb.Errorf("sqstest: DeleteMessageBatch: %v", err)
		} else if len(res.Failed) > 0 {
			// A batch worked for longer than the visibility timeout was
			// handed out again meanwhile: its old receipt no longer
			// deletes it, as on SQS. Lambda goes on; so does the mapping.
			m.mu.Lock()
			m.staleDeletes += len(res.Failed)
			m.mu.Unlock()
		}
	}
}
