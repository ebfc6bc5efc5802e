package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/wxcloudenv/wxcloudenv/internal/queue"
	"github.com/wxcloudenv/wxcloudenv/internal/queue/sqstest"
)

func credentials(k string) (string, bool) { v, ok := sqstest.Credentials[k]; return v, ok }

// TestSQSOnGoaws sends batches with the SQS sender to a real
// SQS-compatible server (goaws) and receives them with the AWS SDK's
// client: the same bodies arrive.
func TestSQSOnGoaws(t *testing.T) {
	t.Parallel()
	sq := sqstest.Start(t, 60)
	s, err := queue.NewSQS(sq.QueueURL, credentials, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for call := range 2 {
		var msgs []queue.Message
		for i := range queue.SQSMaxMessages {
			body := fmt.Sprintf(`{"run":"20261206T120000Z","batch":%d,"authorizers":["wx%016d","wx<&>"]}`, call*10+i, i)
			msgs = append(msgs, queue.Message{ID: fmt.Sprint(i), Body: []byte(body)})
			want = append(want, body)
		}
		if err := s.Send(t.Context(), msgs); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		out, err := sq.Client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(sq.QueueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("received %d messages:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	if n := sq.Requests()["SendMessageBatch"]; n != 2 {
		t.Errorf("%d SendMessageBatch requests, want 2", n)
	}

	// A queue that does not exist: the service's code (the AWS SDK gave
	// the same), and no retry.
	missing, err := queue.NewSQS(sq.Endpoint+"/"+sqstest.Account+"/nowhere", credentials, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = missing.Send(context.Background(), []queue.Message{{ID: "0", Body: []byte("{}")}})
	var se *queue.SendError
	if !errors.As(err, &se) || se.Code != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("err = %v, want a SendError with the service's code AWS.SimpleQueueService.NonExistentQueue", err)
	}
	if n := sq.Requests()["SendMessageBatch"]; n != 3 {
		t.Errorf("%d SendMessageBatch requests, want 3: a missing queue is not retried", n)
	}
	if strings.Contains(err.Error(), sqstest.Credentials["AWS_SECRET_ACCESS_KEY"]) {
		t.Fatalf("the error holds the secret: %v", err)
	}
}
