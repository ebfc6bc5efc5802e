package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxAnswer bounds what is read of one answer of the queue's API (SQS's
// SendMessageBatch and SCF's Invoke answer a few KB).
const maxAnswer = 1 << 20

// attempts is how many times one call is tried, as the AWS SDK's standard
// retryer does.
const attempts = 3

// readAnswer reads a bounded answer body.
func readAnswer(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > maxAnswer {
		return nil, fmt.Errorf("the answer is over %d bytes", maxAnswer)
	}
	return b, nil
}

// connectionError reports whether err, from an HTTP client, is a failure
// to reach the service that is worth another try: a refused or reset
// connection, a dial or timeout error, as the AWS SDK's retryer decides,
// but never a canceled call or a name that does not exist.
func connectionError(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	text := err.Error()
	return strings.Contains(text, "connection reset") || strings.Contains(text, "connection refused") ||
		strings.Contains(text, "use of closed network connection")
}

// jitter is the AWS SDK's standard backoff before retry number retry (1
// for the first): a random share of base × 2^(retry-1), base being 1 s
// after throttling and 50 ms otherwise.
func jitter(retry int, throttled bool) time.Duration {
	base := 50 * time.Millisecond
	if throttled {
		base = time.Second
	}
	return time.Duration(rand.Float64() * float64(base<<(retry-1)))
}

// wait sleeps d, or less if ctx ends first (then false).
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// scrubbed is an error whose text has the credentials removed; it still
// wraps its cause for errors.Is and errors.As.
type scrubbed struct {
	text  string
	cause error
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.cause }

// scrub returns err with every non-empty secret replaced in its text.
func scrub(err error, secrets ...string) error {
	text := err.Error()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			text = strings.ReplaceAll(text, form, "REDACTED")
		}
	}
	return &scrubbed{text: text, cause: err}
}

// transport is the senders' one transport, kept across invocations so that
// a warm planner reuses its connections: net/http's defaults, with room for
// the ten Invoke calls an SCF Send makes at once to one host.
var transport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = SCFMaxMessages
	return t
})

// newHTTPClient is the client of the queue's API: the shared transport,
// and timeout for each request.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: transport(), Timeout: timeout}
}
