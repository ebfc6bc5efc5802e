// Package sqstest starts a real SQS-compatible server for tests: goaws
// (github.com/Admiral-Piett/goaws v0.5.4, the first version that speaks the
// JSON protocol of the current aws-sdk-go-v2), installed into bin/goaws by
// `make bin/goaws` (make test does it). It runs on a free loopback port
// with a queue "fleet" whose messages move to "fleet-dlq" after 3
// receives, as template.yaml's queue does.
//
// goaws listens on every interface of its port (it has no listen-address
// setting); the queue URLs it hands out, and every request the tests send,
// are on 127.0.0.1.
package sqstest

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

// Account is the account id in the queue URLs.
const Account = "100010001000"

// MaxReceives is how many receives a message gets before it is
// dead-lettered.
const MaxReceives = 3

// Server is a running goaws.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	// QueueURL and DLQURL are the fleet queue and its dead-letter queue.
	QueueURL, DLQURL string
	// Client talks to it with the test credentials.
	Client *sqs.Client

	mu       sync.Mutex
	requests map[string]int // by action (X-Amz-Target without its service)
}

// Requests returns how many requests of each action (SendMessageBatch,
// ReceiveMessage, ...) reached the server since it started: every client
// talks to it through a counting proxy on Endpoint.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// Credentials are what a process needs in its environment to reach the
// server (goaws does not check signatures; the SDK still signs).
var Credentials = map[string]string{"AWS_ACCESS_KEY_ID": "AKIDSQSTEST", "AWS_SECRET_ACCESS_KEY": "sqstest-secret", "AWS_REGION": "us-east-1"}

// InstallHint says how to install goaws.
const InstallHint = "run `make bin/goaws` (GOBIN=$PWD/bin/.goaws go install github.com/Admiral-Piett/goaws/app/cmd@v0.5.4, then mv bin/.goaws/cmd bin/goaws)"

// Binary finds goaws: bin/goaws under root, else goaws on PATH.
func Binary(root string) (string, error) {
	p, err := filepath.Abs(filepath.Join(root, "bin", "goaws"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("goaws"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("sqstest: goaws (the SQS-compatible test server) is not installed: %s", InstallHint)
}

// Start starts goaws for the rest of the test. visibility is the fleet
// queue's visibility timeout in seconds.
func Start(t testing.TB, visibility int) *Server {
	t.Helper()
	bin, err := Binary(storetest.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	s, stop, err := Launch(bin, t.TempDir(), visibility)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// Launch starts goaws from bin with its configuration in dir, on a free
// loopback port behind a counting proxy, and waits until it answers; stop
// ends both.
func Launch(bin, dir string, visibility int) (s *Server, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`Local:
  Host: 127.0.0.1
  Port: %d
  AccountId: "%s"
  LogToFile: false
  EnableDuplicates: false
  QueueAttributeDefaults:
    VisibilityTimeout: %d
    ReceiveMessageWaitTimeSeconds: 0
    MaximumMessageSize: 262144
  Queues:
    - Name: fleet-dlq
    - Name: fleet
      RedrivePolicy: '{"maxReceiveCount": %d, "deadLetterTargetArn":"arn:aws:sqs::%s:fleet-dlq"}'
  Topics: []
`, port, Account, visibility, MaxReceives, Account)
	cfgPath := filepath.Join(dir, "goaws.yaml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "-config", cfgPath, "-loglevel", "warn", "Local")
	cmd.Dir = dir
	out := &tail{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("sqstest: starting goaws: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	direct, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(port))
	s = &Server{requests: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(direct)
	rp.ErrorLog = log.New(io.Discard, "", 0) // refused while goaws starts: the readiness loop retries
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(action, '.'); i >= 0 {
			action = action[i+1:]
		}
		s.mu.Lock()
		s.requests[action]++
		s.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	stop = func() {
		proxy.Close()
		_ = cmd.Process.Kill()
		<-exited
	}
	endpoint := proxy.URL
	s.Endpoint, s.QueueURL, s.DLQURL = endpoint, endpoint+"/"+Account+"/fleet", endpoint+"/"+Account+"/fleet-dlq"
	s.Client = NewClient(endpoint)
	deadline := time.Now().Add(storetest.ReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.QueueURL)})
		cancel()
		if err == nil {
			return s, stop, nil
		}
		select {
		case <-exited:
			stop()
			return nil, nil, fmt.Errorf("sqstest: goaws exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("sqstest: goaws not ready after %v: %v\n%s", storetest.ReadyTimeout, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewClient returns an SQS client for endpoint with the test credentials.
func NewClient(endpoint string) *sqs.Client {
	cfg := aws.Config{Region: Credentials["AWS_REGION"], HTTPClient: &http.Client{Timeout: 30 * time.Second},
		Credentials: credentials.NewStaticCredentialsProvider(Credentials["AWS_ACCESS_KEY_ID"], Credentials["AWS_SECRET_ACCESS_KEY"], "")}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// Depth returns the visible and in-flight messages of a queue.
func (s *Server) Depth(ctx context.Context, queueURL string) (visible, inFlight int, err error) {
	out, err := s.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		return 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight, nil
}

type tail struct {
	mu sync.Mutex
	b  []byte
}

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > 4096 {
		b.b = b.b[len(b.b)-4096:]
	}
	return len(p), nil
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
